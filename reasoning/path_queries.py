"""Relation paths as SPARQL: the query that follows a path from a topic, and the facts that explain an answer.

Used by the SPARQL planner (:mod:`reasoning.planner`) and the ranking of ``auto``
(:mod:`reasoning.ranking`). User text only enters a query as escaped terms.

>>> from reasoning.paraphrases import Step
>>> print(path_patterns([Step("http://ex/p", True), Step("http://ex/p", False)], "<http://ex/a>", inferred=False)[-1])
FILTER(?ans != <http://ex/a>)
"""
from __future__ import annotations

import pyoxigraph as ox
from rdflib import URIRef

from kg.namespaces import INFERRED_GRAPH, KGQA, RDF
from kg.terms import sparql_term, to_rdflib
from reasoning.answers import EvidenceStep
from reasoning.paraphrases import Step
from reasoning.question import GraphIndex


# ------------------------------------------------------------------------------------------ SPARQL
def _pattern(subject: str, predicate: str, obj: str, flag: str | None) -> str:
    """A triple pattern over asserted facts, or asserted UNION inferred (binding ``flag`` to the graph)."""
    if flag is None:
        return f"{subject} {predicate} {obj} ."
    inferred = sparql_term(INFERRED_GRAPH)
    return (f"{{ {subject} {predicate} {obj} . BIND(false AS {flag}) }} UNION "
            f"{{ GRAPH {inferred} {{ {subject} {predicate} {obj} }} BIND(true AS {flag}) }}")


def path_patterns(path, topic: str, *, inferred: bool, end: str = "?ans") -> list[str]:
    """Triple patterns from ``topic`` (a SPARQL term) along ``path`` to ``end``; hops bind ?x1, ?x2, ..."""
    lines = []
    names = [topic] + [end if i == len(path) - 1 else f"?x{i + 1}" for i in range(len(path))]
    for i, step in enumerate(path):
        prev, nxt = names[i], names[i + 1]
        s, o = (prev, nxt) if step.forward else (nxt, prev)
        lines.append(_pattern(s, sparql_term(URIRef(step.predicate)), o, f"?inf{i}" if inferred else None))
        if i and _there_and_back(path[i - 1], step) and names[i - 1] != nxt:
            # "films that share actors with X" are the other films: the way back never ends where it began
            lines.append(f"FILTER({nxt} != {names[i - 1]})")
    return lines


def _there_and_back(a: Step, b: Step) -> bool:
    return a.predicate == b.predicate and a.forward != b.forward


def compile_path(path, topic: str, *, inferred: bool, constraints: list[tuple] = (), count: bool = False,
                 also: tuple = ()) -> str:
    """The SELECT query of a path from ``topic`` (a SPARQL term), answers grouped with their support.

    ``constraints`` are ``(Step, term)`` pairs the answer must also satisfy (``films ... that starred Y``).
    ``also`` are other paths whose answers are answers too (a UNION: a symmetric relation read both ways).
    """
    bodies = []
    for one in (path, *also):
        body = path_patterns(one, topic, inferred=inferred)
        for step, term in constraints:
            s, o = ("?ans", term) if step.forward else (term, "?ans")
            body.append(_pattern(s, sparql_term(URIRef(step.predicate)), o, None))
        body.append(f"FILTER(?ans != {topic})")
        bodies.append("\n  ".join(body))
    inner = bodies[0] if len(bodies) == 1 else "{ " + "\n  } UNION {\n  ".join(bodies) + " }"
    if count:
        return f"SELECT (COUNT(DISTINCT ?ans) AS ?n) WHERE {{\n  {inner}\n}}"
    return (f"SELECT ?ans (COUNT(*) AS ?support) WHERE {{\n  {inner}\n}} GROUP BY ?ans "
            f"ORDER BY DESC(?support) ?ans")


def _evidence_query(path, topic: str, answer: str, *, inferred: bool) -> str:
    body = path_patterns(path, topic, inferred=inferred, end=answer)
    names = " ".join([f"?x{i + 1}" for i in range(len(path) - 1)] + [f"?inf{i}" for i in range(len(path))
                                                                     if inferred])
    return f"SELECT {names or '*'} WHERE {{\n  " + "\n  ".join(body) + "\n} LIMIT 1"


# ------------------------------------------------------------------------------------------ evidence
def _term_of(node) -> str:
    return sparql_term(to_rdflib(node))


def _rule_name(kg, s, p, o) -> str:
    """The rule that derived (s, p, o), from the rule engine's derivation records ("inferred" if none)."""
    try:
        from reasoning.rules.reasoner import rule_name
    except ImportError:  # the rule engine is optional here
        return "inferred"
    try:
        return rule_name(kg, s, p, o) or "inferred"
    except Exception:  # an unexpected derivation layout must not lose the answer
        return "inferred"


def evidence_step(kg, index: GraphIndex, s, p: str, o, *, inferred: bool) -> EvidenceStep:
    """One fact with labels, IRIs, its first source sentence (facts read from text) or its rule."""
    rs, rp, ro = to_rdflib(s), URIRef(p), to_rdflib(o)
    source = None
    rule = None
    if inferred:
        rule = _rule_name(kg, rs, rp, ro)
    else:
        for src, _conf in kg.sources(rs, rp, ro):
            if src.sentence:
                source = {"document": src.document, "sentence": src.sentence}
                break
    predicate_label = index.relations[p].label if p in index.relations else index.label(ox.NamedNode(p))
    return EvidenceStep(index.label(s), predicate_label, index.label(o), source, rule,
                        str(rs), p, str(ro) if isinstance(ro, URIRef) else None)


def explain(kg, index: GraphIndex, path, topic_node, answer_node, *, inferred: bool) -> list[EvidenceStep]:
    """The facts along ``path`` from the topic to one answer (one witness path)."""
    q = _evidence_query(path, _term_of(topic_node), _term_of(answer_node), inferred=inferred)
    rows = list(kg.query(q, max_rows=1))
    if not rows:
        return []
    row = rows[0]
    nodes = [topic_node] + [_to_ox(row[f"x{i + 1}"]) for i in range(len(path) - 1)] + [answer_node]
    steps = []
    for i, step in enumerate(path):
        a, b = nodes[i], nodes[i + 1]
        s, o = (a, b) if step.forward else (b, a)
        flag = row[f"inf{i}"] if inferred else None
        steps.append(evidence_step(kg, index, s, step.predicate, o, inferred=bool(flag is not None and flag.toPython())))
    return steps


def _to_ox(term):
    from kg.terms import to_ox

    return to_ox(term)

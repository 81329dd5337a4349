"""SPARQL planning: from a parsed question to a relation path, a SPARQL query, and explained answers.

How a question is planned:

1. the topic entity comes from :mod:`reasoning.question`;
2. candidate relation paths of 1 to 3 hops start from the topic, bounded by the graph's schema
   (which relations meet at the nodes a relation leads to);
3. each path is scored by the MiniLM similarity between the question (topic masked as ``X``) and the
   path's paraphrases generated from the graph's own relation labels (:mod:`reasoning.paraphrases`),
   with a small penalty per extra hop;
4. the best path is compiled to SPARQL (user text only enters as escaped terms), run on the store,
   and each answer gets the path of facts that reaches it, with sources and rule names.

Facts in the inferred graph (rule conclusions) are matched too, and their evidence steps name the rule.

>>> from kg import KnowledgeGraph
>>> kg = KnowledgeGraph.open("memory")
>>> _ = kg.import_file("tests/data/qa_films.txt", "pipe")
>>> path = [Step("https://kgqa.dev/relation/directed_by", True)]
>>> print(compile_path(path, "<https://kgqa.dev/entity/Night_Harbour>", inferred=False))  # doctest: +NORMALIZE_WHITESPACE
SELECT ?ans (COUNT(*) AS ?support) WHERE {
  <https://kgqa.dev/entity/Night_Harbour> <https://kgqa.dev/relation/directed_by> ?ans .
  FILTER(?ans != <https://kgqa.dev/entity/Night_Harbour>)
} GROUP BY ?ans ORDER BY DESC(?support) ?ans
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyoxigraph as ox
from rdflib import URIRef

from kg.namespaces import INFERRED_GRAPH, KGQA, RDF
from kg.terms import sparql_term, to_rdflib
from reasoning.answers import Answer, AnswerSet, EvidenceStep
from reasoning.paraphrases import Step, path_paraphrases
from reasoning.question import Encoder, GraphIndex, Question, parse_question
from reasoning.resolver import register_reasoner

#: below this similarity no relation path is trusted (``auto`` then asks another reasoner)
CONFIDENT = 0.45
#: similarity subtracted per hop beyond the first, so that a short path wins a near tie
HOP_PENALTY = 0.015
MAX_HOPS = 3


@dataclass
class PathScore:
    path: tuple[Step, ...]
    score: float
    paraphrase: str


# ------------------------------------------------------------------------------------------ schema
def _schema(index: GraphIndex):
    """options[node] is computed on demand; transitions[step] = steps available where ``step`` leads."""
    cached = index.caches.get("schema")
    if cached is not None:
        return cached
    node_options: dict = {}

    def options(node) -> frozenset:
        found = node_options.get(node)
        if found is None:
            found = frozenset([Step(p, True) for p, _ in index.out.get(node, ())]
                              + [Step(p, False) for p, _ in index.inn.get(node, ())])
            node_options[node] = found
        return found

    transitions: dict[Step, set] = defaultdict(set)
    for s, edges in index.out.items():
        s_opts = options(s)
        for p, o in edges:
            transitions[Step(p, True)] |= options(o)
            transitions[Step(p, False)] |= s_opts
    labels = {iri: (info.label,) + tuple(a for a in info.aliases if a != info.label)
              for iri, info in index.relations.items()}
    answer_types = _answer_types(index)
    schema = (options, {k: frozenset(v) for k, v in transitions.items()}, labels, answer_types)
    index.caches["schema"] = schema
    return schema


def _answer_types(index: GraphIndex) -> dict[Step, str]:
    """For each step, the label of the class most of the nodes it leads to belong to (typed graphs only)."""
    if not index.types:
        return {}
    counts: dict[Step, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s, edges in index.out.items():
        for p, o in edges[:50]:
            for t in index.types.get(o, ()):
                counts[Step(p, True)][t] += 1
            for t in index.types.get(s, ()):
                counts[Step(p, False)][t] += 1
    out = {}
    for step, by_type in counts.items():
        best, n = max(by_type.items(), key=lambda kv: kv[1])
        label = index.class_labels.get(best, "")
        if label and n >= 1:
            out[step] = label.lower()
    return out


def candidate_paths(index: GraphIndex, topic, *, max_hops: int = MAX_HOPS) -> list[tuple[Step, ...]]:
    """Relation paths of 1..max_hops hops that the schema allows from ``topic`` (may still be empty for it)."""
    options, transitions, _, _ = _schema(index)
    paths: list[tuple[Step, ...]] = [(step,) for step in sorted(options(topic))]
    frontier = list(paths)
    for _ in range(max_hops - 1):
        grown = []
        for path in frontier:
            for step in sorted(transitions.get(path[-1], ())):
                grown.append(path + (step,))
        paths += grown
        frontier = grown
    return paths


def _path_vectors(index: GraphIndex, paths: list[tuple[Step, ...]]):
    """Stacked paraphrase embeddings of ``paths`` and the row where each path's block starts."""
    _, _, labels, answer_types = _schema(index)
    store = index.caches.setdefault("path_vectors", {})
    texts_store = index.caches.setdefault("path_texts", {})
    missing = [p for p in paths if p not in store]
    if missing:
        texts = {p: path_paraphrases(p, labels, answer_type=answer_types.get(p[-1])) for p in missing}
        flat = [t for p in missing for t in texts[p]]
        vectors = Encoder.get().encode(flat)
        row = 0
        for p in missing:
            n = len(texts[p])
            store[p] = vectors[row:row + n]
            texts_store[p] = texts[p]
            row += n
    return store, texts_store


def score_paths(index: GraphIndex, question: Question, paths: list[tuple[Step, ...]]) -> list[PathScore]:
    """Paths ranked by max cosine similarity of the masked question to their paraphrases, minus hop penalty."""
    if not paths:
        return []
    store, texts = _path_vectors(index, paths)
    qvec = Encoder.get().encode([question.masked or question.clean])[0]
    key = tuple(paths)
    cache = index.caches.setdefault("stacked", {})
    stacked = cache.get(key)
    if stacked is None:
        blocks = [store[p] for p in paths]
        starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
        stacked = (np.concatenate(blocks), starts)
        if len(cache) > 5000:
            cache.clear()
        cache[key] = stacked
    matrix, starts = stacked
    sims = matrix @ qvec
    best = np.maximum.reduceat(sims, starts)
    arg = [int(starts[i] + np.argmax(sims[starts[i]:(starts[i + 1] if i + 1 < len(starts) else len(sims))]))
           for i in range(len(paths))]
    out = []
    for i, p in enumerate(paths):
        score = float(best[i]) - HOP_PENALTY * (len(p) - 1)
        out.append(PathScore(p, score, texts[p][arg[i] - int(starts[i])]))
    out.sort(key=lambda ps: (-ps.score, len(ps.path)))
    return out


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
    prev = topic
    for i, step in enumerate(path):
        nxt = end if i == len(path) - 1 else f"?x{i + 1}"
        s, o = (prev, nxt) if step.forward else (nxt, prev)
        lines.append(_pattern(s, sparql_term(URIRef(step.predicate)), o, f"?inf{i}" if inferred else None))
        prev = nxt
    return lines


def compile_path(path, topic: str, *, inferred: bool, constraints: list[tuple] = (), count: bool = False) -> str:
    """The SELECT query of a path from ``topic`` (a SPARQL term), answers grouped with their support.

    ``constraints`` are ``(Step, term)`` pairs the answer must also satisfy (``films ... that starred Y``).
    """
    body = path_patterns(path, topic, inferred=inferred)
    for step, term in constraints:
        s, o = ("?ans", term) if step.forward else (term, "?ans")
        body.append(_pattern(s, sparql_term(URIRef(step.predicate)), o, None))
    body.append(f"FILTER(?ans != {topic})")
    inner = "\n  ".join(body)
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


def _rule_name(kg, s, p, o) -> str | None:
    """The rule that derived (s, p, o), from the inferred graph's kgqa:Derivation records."""
    inferred = sparql_term(INFERRED_GRAPH)
    st, sp, so = sparql_term(s), sparql_term(p), sparql_term(o)
    q = f"""SELECT ?rule ?label WHERE {{ GRAPH {inferred} {{
          ?d {sparql_term(RDF.type)} {sparql_term(KGQA.Derivation)} ; {sparql_term(KGQA.rule)} ?rule ;
             {sparql_term(KGQA.conclusion)} ?c .
          ?c {sparql_term(RDF.subject)} {st} ; {sparql_term(RDF.predicate)} {sp} ; {sparql_term(RDF.object)} {so} }}
          OPTIONAL {{ ?rule <http://www.w3.org/2000/01/rdf-schema#label> ?label }} }} LIMIT 1"""
    try:
        rows = list(kg.query(q))
    except Exception:  # an unexpected derivation layout must not lose the answer
        rows = []
    if not rows:
        return "inferred"
    rule, label = rows[0]["rule"], rows[0]["label"]
    if label is not None:
        return str(label)
    text = str(rule)
    return text.rsplit("/", 1)[-1].rsplit("#", 1)[-1] if isinstance(rule, URIRef) else text


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


# ------------------------------------------------------------------------------------------ planner
class SparqlPlanner:
    """The ``sparql`` reasoner: relation-path planning compiled to SPARQL (see the module docstring).

    >>> from kg import KnowledgeGraph                                        # doctest: +SKIP
    >>> SparqlPlanner().answer(kg, parse_question(kg, "who directed [Kismet]")).top  # doctest: +SKIP
    'William Dieterle'
    """

    name = "sparql"

    def __init__(self, *, max_hops: int = MAX_HOPS, confident: float = CONFIDENT, tries: int = 4,
                 evidence: bool = True):
        self.max_hops = max_hops
        self.confident = confident
        self.tries = tries
        self.evidence = evidence

    # -------------------------------------------------------------- entry point
    def answer(self, kg, question: Question | str, *, k: int = 10) -> AnswerSet:
        if isinstance(question, str):
            question = parse_question(kg, question)
        index = question.index
        result = AnswerSet(question.text, [], self.name, None, [])
        topic = question.topic
        if topic is None or not topic.nodes:
            what = f"no entity of the graph matches {topic.text!r}" if topic else \
                "found no entity of the graph in the question"
            result.warnings.append(what + "; put the entity's name in [square brackets] or check its spelling")
            return result
        if question.kind == "boolean":
            return self._boolean(kg, index, question, result)
        return self._select(kg, index, question, result, k)

    # -------------------------------------------------------------- who/what/which, lists, how many
    def _select(self, kg, index, question: Question, result: AnswerSet, k: int) -> AnswerSet:
        topic_node = question.topic.node
        paths = candidate_paths(index, topic_node, max_hops=self.max_hops)
        ranked = score_paths(index, question, paths)
        if not ranked:
            result.warnings.append(f"{question.topic.text!r} has no facts in the graph")
            return result
        if ranked[0].score < self.confident:
            result.warnings.append(f"no confident relation path (best {ranked[0].score:.2f}: "
                                   f"{ranked[0].paraphrase!r})")
            result.method = self.name
            result.low_confidence = True  # read by ``auto`` to try another reasoner
            return result
        inferred = bool(index.inferred)
        constraint_nodes = [m.node for m in question.others if m.nodes]
        topic_term = _term_of(topic_node)
        for candidate in ranked[: self.tries]:
            if candidate.score < self.confident:
                break
            constraints = self._constraints(index, candidate.path, topic_node, constraint_nodes)
            if constraints is None:
                continue
            sparql = compile_path(candidate.path, topic_term, inferred=inferred, constraints=constraints,
                                  count=question.kind == "count")
            rows = list(kg.query(sparql))
            if question.kind == "count":
                n = int(rows[0]["n"].toPython()) if rows and rows[0]["n"] is not None else 0
                if n == 0:
                    continue
                result.sparql = sparql
                evidence = []
                if self.evidence:
                    listing = compile_path(candidate.path, topic_term, inferred=inferred, constraints=constraints)
                    for row in list(kg.query(listing))[:10]:
                        evidence += explain(kg, index, candidate.path, topic_node, _to_ox(row["ans"]),
                                            inferred=inferred)
                result.answers = [Answer(str(n), None, round(candidate.score, 4), evidence)]
                return result
            if not rows:
                continue
            result.sparql = sparql
            support_total = sum(int(r["support"].toPython()) for r in rows) or 1
            for row in rows[:k]:
                node = _to_ox(row["ans"])
                share = int(row["support"].toPython()) / support_total
                evidence = explain(kg, index, candidate.path, topic_node, node, inferred=inferred) \
                    if self.evidence else []
                iri = str(row["ans"]) if isinstance(row["ans"], URIRef) else None
                result.answers.append(Answer(index.label(node), iri, round(candidate.score * (0.9 + 0.1 * share), 4),
                                             evidence))
            return result
        result.warnings.append("the best relation paths lead to no answer in the graph")
        return result

    def _constraints(self, index, path, topic_node, constraint_nodes) -> list[tuple] | None:
        """For each other entity in the question, the relation that ties it to the answers; None if none does."""
        if not constraint_nodes:
            return []
        out = []
        for node in constraint_nodes:
            steps = {Step(p, False) for p, _ in index.out.get(node, ())} | \
                    {Step(p, True) for p, _ in index.inn.get(node, ())}
            # answers reached by the path's last step: find the step that ties the constraint to them
            last_nodes = _reach(index, topic_node, path, cap=5000)
            best = None
            for step in steps:
                linked = {n for p, n in (index.out.get(node, ()) if not step.forward else index.inn.get(node, ()))
                          if p == step.predicate}
                hits = len(linked & last_nodes)
                if hits and (best is None or hits > best[0]):
                    best = (hits, step)
            if best is None:
                return None
            out.append((best[1], _term_of(node)))
        return out

    # -------------------------------------------------------------- yes / no
    def _boolean(self, kg, index, question: Question, result: AnswerSet) -> AnswerSet:
        linked = [m for m in question.mentions if m.nodes]
        if len(linked) < 2:
            result.warnings.append("a yes/no question needs two entities of the graph (e.g. 'did [X] direct [Y]')")
            return result
        subject, obj = linked[0], linked[1]
        best = None
        for a, b in ((subject, obj), (obj, subject)):
            paths = candidate_paths(index, a.node, max_hops=min(2, self.max_hops))
            reaching = [p for p in paths if b.node in _reach(index, a.node, p, cap=5000)]
            for ps in score_paths(index, question, reaching)[:1]:
                if best is None or ps.score > best[0].score:
                    best = (ps, a, b)
        inferred = bool(index.inferred)
        if best is not None and best[0].score >= self.confident:
            ps, a, b = best
            body = "\n  ".join(path_patterns(ps.path, _term_of(a.node), inferred=inferred, end=_term_of(b.node)))
            result.sparql = f"ASK {{\n  {body}\n}}"
            if bool(kg.query(result.sparql)):
                evidence = explain(kg, index, ps.path, a.node, b.node, inferred=inferred)
                result.answers = [Answer("yes", None, round(ps.score, 4), evidence)]
                return result
        # "no" only when the graph knows the relation the question asks about for the subject
        question_paths = score_paths(index, question, candidate_paths(index, subject.node, max_hops=1))
        if question_paths and question_paths[0].score >= self.confident:
            ps = question_paths[0]
            sparql = compile_path(ps.path, _term_of(subject.node), inferred=inferred)
            rows = list(kg.query(sparql))
            if rows:
                result.sparql = sparql
                evidence = []
                for row in rows[:3]:
                    evidence += explain(kg, index, ps.path, subject.node, _to_ox(row["ans"]), inferred=inferred)
                result.answers = [Answer("no", None, round(ps.score, 4), evidence)]
                return result
        result.warnings.append("the graph has no facts that decide this question")
        return result


def _reach(index: GraphIndex, start, path, *, cap: int) -> set:
    """Nodes reached from ``start`` along ``path`` in the in-memory index (frontiers capped at ``cap``)."""
    frontier = {start}
    for step in path:
        nxt = set()
        for node in frontier:
            edges = index.out.get(node, ()) if step.forward else index.inn.get(node, ())
            nxt.update(n for p, n in edges if p == step.predicate)
            if len(nxt) > cap:
                break
        frontier = nxt
    return frontier


register_reasoner("sparql", SparqlPlanner)

"""Applying rules to a store: load the asserted facts once, compute the closure, write what is new.

How conclusions are kept (plain RDF, any SPARQL store can hold it):

* ``GRAPH <https://kgqa.dev/graph/inferred>`` holds each inferred fact once, as a plain triple, and
  only facts that are not asserted: ``GRAPH <.../inferred> { ?s rel:bornInCountry ?o }`` lists the
  conclusions, the default graph still lists exactly the asserted facts;
* ``GRAPH <https://kgqa.dev/graph/derivations>`` holds one derivation per inferred fact. The
  derivation node is also the reified conclusion, so one node per conclusion carries everything::

      <https://kgqa.dev/derivation/H> a kgqa:Derivation ;
          rdf:subject S ; rdf:predicate P ; rdf:object O ;        # the conclusion
          kgqa:rule <https://kgqa.dev/rule/born-in-country> ;
          kgqa:premise <https://kgqa.dev/triple/H1> ,              # an asserted premise
                       <https://kgqa.dev/derivation/H2> .          # an inferred premise: its derivation
      <https://kgqa.dev/triple/H1> rdf:subject S1 ; rdf:predicate P1 ; rdf:object O1 .
      <https://kgqa.dev/rule/born-in-country> rdfs:label "born-in-country" ; rdfs:comment "<the rule>" .

  ``H`` is a hash of the triple's N-Triples text, so an asserted triple has one node however many
  derivations use it. Following ``kgqa:premise`` from a derivation walks its proof tree and always
  ends at asserted facts (a fact is only derived from facts found in earlier rounds).
  (``kgqa:conclusion`` is not written: the derivation node *is* its conclusion, which keeps the
  records at 5 + premises triples per conclusion.)

Every run computes the whole closure from the asserted facts and then brings both graphs to it,
deleting what no longer follows (a retracted premise takes its conclusions with it, unless they
have another derivation) and adding what is new; an unchanged graph writes nothing.

>>> from kg import KnowledgeGraph
>>> from reasoning.rules.parser import parse_rules
>>> kg = KnowledgeGraph.open("memory")
>>> kg.update('''PREFIX rel: <https://kgqa.dev/relation/> PREFIX ent: <https://kgqa.dev/entity/>
...   INSERT DATA { ent:Ada rel:bornIn ent:London . ent:London rel:locatedIn ent:England }''')
>>> report = apply_rules(kg, parse_rules("bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)"))
>>> report.inferred, report.iterations
(1, 2)
>>> apply_rules(kg, parse_rules("bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)")).added
0
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import pyoxigraph as ox
from rdflib import Literal, URIRef

from kg.errors import KGQAError
from kg.namespaces import BASE, DERIVATION_GRAPH, INFERRED_GRAPH, KGQA, RDF, RDFS, SKOS, entity_iri, slug
from kg.terms import sparql_term
from reasoning.rules.builtin import OWL_RL_RULES, RDFS_RULES
from reasoning.rules.engine import Closure, evaluate, nt
from reasoning.rules.model import Atom, Rule
from reasoning.rules.parser import LabelRef, RuleSyntaxError, load_rules

TRIPLE_NS = BASE + "triple/"
DERIVATION_NS = BASE + "derivation/"
RULE_NS = BASE + "rule/"

_DELETE_CHUNK = 5000
_BULK_LINES = 50_000


class NoRulesError(KGQAError):
    code = "E-RULES-NONE"


@dataclass
class RulesReport:
    """What :func:`apply_rules` did: counts, rounds and where the time went."""

    rules: int
    asserted: int
    inferred: int
    iterations: int
    added: int = 0
    retracted: int = 0
    per_rule: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds_load: float = 0.0
    seconds_closure: float = 0.0
    seconds_write: float = 0.0

    @property
    def seconds(self) -> float:
        return self.seconds_load + self.seconds_closure + self.seconds_write

    def summary(self) -> str:
        """One line for people: ``5 rules, 3 rounds: 120 inferred (+12, -3) in 0.41 s``."""
        return (f"{self.rules} rules over {self.asserted:,} facts, {self.iterations} rounds: "
                f"{self.inferred:,} inferred (+{self.added:,} new, -{self.retracted:,} retracted) "
                f"in {self.seconds:.2f} s (load {self.seconds_load:.2f} s, closure "
                f"{self.seconds_closure:.2f} s, write {self.seconds_write:.2f} s)")


def collect_rules(rules=None, *, rdfs: bool = False, owl_rl: bool = False) -> list[Rule]:
    """The rule list for :func:`apply_rules`: a rules file path, rules, and/or the built-in sets."""
    out: list[Rule] = []
    if owl_rl:
        out.extend(OWL_RL_RULES)  # OWL RL includes the RDFS rules (under their OWL names)
    elif rdfs:
        out.extend(RDFS_RULES)
    if rules is not None:
        if isinstance(rules, (str, os.PathLike)):
            user = load_rules(rules)
        elif isinstance(rules, Rule):
            user = [rules]
        else:
            user = list(rules)
            for r in user:
                if not isinstance(r, Rule):
                    raise TypeError(f"rules must be Rule objects or a path, got {type(r).__name__}")
        taken = {r.name for r in out}
        for r in user:
            if r.name in taken:  # a user rule named like a built-in one keeps its own name apart
                r = Rule(f"{r.name} (user)", r.body, r.head, r.source, r.line)
            taken.add(r.name)
            out.append(r)
    if not out:
        raise NoRulesError("no rules to apply; give a rules file, or --rdfs / --owl-rl for the built-in rules")
    return out


def resolve_labels(kg, rules: Sequence[Rule], warnings: list[str] | None = None) -> list[Rule]:
    """Replace quoted labels in rules by the IRI of the entity with that label (an alias if no label).

    A label naming several entities is an error (write the IRI instead); a label naming none
    becomes the IRI kgqa would mint for it (``entity_iri(label)``) and adds a warning.
    """
    cache: dict[str, URIRef] = {}

    def resolve(t, rule):
        if not isinstance(t, LabelRef):
            return t
        if t.label not in cache:
            cache[t.label] = _entity_by_label(kg, t.label, rule, t.line, warnings)
        return cache[t.label]

    out = []
    for r in rules:
        if any(isinstance(x, LabelRef) for a in (*r.body, *r.head) for x in a):
            r = Rule(r.name, tuple(Atom(*(resolve(x, r) for x in a)) for a in r.body),
                     tuple(Atom(*(resolve(x, r) for x in a)) for a in r.head), r.source, r.line)
        out.append(r)
    return out


def _entity_by_label(kg, label: str, rule: Rule, line: int, warnings) -> URIRef:
    lit = sparql_term(Literal(label))
    for pred in (RDFS.label, SKOS.altLabel):
        rows = list(kg.query(f"SELECT DISTINCT ?e WHERE {{ ?e {sparql_term(pred)} {lit} }} LIMIT 6"))
        found = sorted({str(r["e"]) for r in rows if isinstance(r["e"], URIRef)})
        if len(found) == 1:
            return URIRef(found[0])
        if len(found) > 1:
            shown = ", ".join(f"<{f}>" for f in found[:5])
            raise RuleSyntaxError(f"rule {rule.name!r}: the label \"{label}\" names several entities "
                                  f"({shown}); write the one you mean as an IRI in <...>",
                                  path=rule.source or "rules", line=line)
    iri = entity_iri(label)
    if warnings is not None:
        warnings.append(f"rule {rule.name!r} (line {line}): no entity is labelled \"{label}\"; "
                        f"the rule uses <{iri}>, which no fact mentions yet")
    return iri


# ---------------------------------------------------------------------- reading the store
def _graph_lines(kg, graph) -> list[str]:
    """The triples of one graph as N-Triples lines without the final `` .``."""
    oxi = getattr(kg.store, "oxigraph", None)
    node = ox.DefaultGraph() if graph is None else ox.NamedNode(str(graph))
    if oxi is not None:
        data = oxi.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=node).decode("utf-8")
        return [line[:-2] for line in data.splitlines() if line]
    return [f"{q.subject} {q.predicate} {q.object}" for q in kg.store.quads(node)]


def asserted_triples(kg) -> Iterable[tuple[str, str, str]]:
    """The asserted facts (default graph) as ``(s, p, o)`` N-Triples strings."""
    for line in _graph_lines(kg, None):
        if line.startswith("<<"):  # RDF 1.2 triple terms: not rule material
            continue
        s, p, o = line.split(" ", 2)
        yield s, p, o


# ---------------------------------------------------------------------- writing
def _key(s: str, p: str, o: str) -> str:
    return hashlib.blake2b(f"{s} {p} {o}".encode(), digest_size=12).hexdigest()


def derivation_lines(closure: Closure) -> tuple[list[str], list[str]]:
    """The N-Triples lines of the inferred graph and of the derivation graph for a closure."""
    dec = closure.terms.decode
    derivations = closure.derivations
    rule_nodes = []
    lines_der: list[str] = []
    for r in closure.rules:
        node = f"<{RULE_NS}{slug(r.name)}>"
        rule_nodes.append(node)
        lines_der.append(f"{node} <{RDFS.label}> {nt(Literal(r.name))}")
        lines_der.append(f"{node} <{RDFS.comment}> {nt(Literal(str(r)))}")
    lines_inf: list[str] = []
    a_deriv = f"<{RDF.type}> <{KGQA.Derivation}>"
    p_rule, p_prem = f"<{KGQA.rule}>", f"<{KGQA.premise}>"
    p_s, p_p, p_o = f"<{RDF.subject}>", f"<{RDF.predicate}>", f"<{RDF.object}>"
    nodes: dict = {}

    def node_of(t) -> str:
        """The derivation node of an inferred triple, the (described once) triple node of an asserted one."""
        n = nodes.get(t)
        if n is None:
            s, p, o = dec(t[0]), dec(t[1]), dec(t[2])
            key = _key(s, p, o)
            if t in derivations:
                n = nodes[t] = f"<{DERIVATION_NS}{key}>"
            else:
                n = nodes[t] = f"<{TRIPLE_NS}{key}>"
                lines_der.append(f"{n} {p_s} {s}")
                lines_der.append(f"{n} {p_p} {p}")
                lines_der.append(f"{n} {p_o} {o}")
        return n

    for t, (ri, premises) in derivations.items():
        s, p, o = dec(t[0]), dec(t[1]), dec(t[2])
        lines_inf.append(f"{s} {p} {o}")
        d = node_of(t)
        lines_der.append(f"{d} {a_deriv}")
        lines_der.append(f"{d} {p_s} {s}")
        lines_der.append(f"{d} {p_p} {p}")
        lines_der.append(f"{d} {p_o} {o}")
        lines_der.append(f"{d} {p_rule} {rule_nodes[ri]}")
        for prem in dict.fromkeys(premises):  # a rule may match one fact twice
            lines_der.append(f"{d} {p_prem} {node_of(prem)}")
    return lines_inf, lines_der


def _add_lines(kg, graph, lines: list[str]) -> None:
    if not lines:
        return
    g = f"<{graph}>"
    data = "".join(f"{line} {g} .\n" for line in lines).encode("utf-8")
    oxi = getattr(kg.store, "oxigraph", None)
    if oxi is not None and b"_:" not in data:
        if len(lines) > _BULK_LINES:
            # big closures: the bulk loader is several times faster (on disk ~5x); it is not one
            # transaction, but a run that stops half-way is repaired by the next run
            oxi.bulk_load(data, format=ox.RdfFormat.N_QUADS)
        else:
            oxi.load(data, format=ox.RdfFormat.N_QUADS)  # one transaction, parsed in Rust
    else:  # parse keeps blank node ids, so conclusions about blank nodes stay attached
        kg.store.extend(list(ox.parse(data, format=ox.RdfFormat.N_QUADS)))


def _delete_lines(kg, graph, lines: list[str]) -> None:
    g = sparql_term(URIRef(str(graph)))
    for i in range(0, len(lines), _DELETE_CHUNK):
        chunk = lines[i:i + _DELETE_CHUNK]
        kg.update(f"DELETE DATA {{ GRAPH {g} {{\n" + " .\n".join(chunk) + " .\n} }")


def _sync_graph(kg, graph, new_lines: list[str]) -> tuple[int, int]:
    """Bring ``graph`` to exactly ``new_lines``; returns (added, removed)."""
    old = set(_graph_lines(kg, graph))
    new = set(new_lines)
    removed = [line for line in old if line not in new]
    added = [line for line in dict.fromkeys(new_lines) if line not in old]
    if removed and len(removed) > len(old) // 2:
        # mostly new: cheaper to drop the graph and write it again
        kg.update(f"DROP SILENT GRAPH {sparql_term(URIRef(str(graph)))}")
        _add_lines(kg, graph, list(dict.fromkeys(new_lines)))
    else:
        _add_lines(kg, graph, added)
        _delete_lines(kg, graph, removed)
    return len(added), len(removed)


def write_closure(kg, closure: Closure) -> tuple[int, int]:
    """Bring the inferred and derivation graphs to ``closure``; returns (added, retracted) facts."""
    lines_inf, lines_der = derivation_lines(closure)
    added, retracted = _sync_graph(kg, INFERRED_GRAPH, lines_inf)
    _sync_graph(kg, DERIVATION_GRAPH, lines_der)
    kg.store.flush()
    return added, retracted


# ---------------------------------------------------------------------- entry point
def apply_rules(kg, rules=None, *, rdfs: bool = False, owl_rl: bool = False,
                max_facts: int | None = None) -> RulesReport:
    """Compute the closure of the asserted facts under ``rules`` (a rules file path or Rule objects)
    and/or the built-in RDFS / OWL RL rules, and store it (see the module docstring).

    Each run replaces the previous conclusions with this run's: apply every rule set you want in
    one call (``apply_rules(kg, "my.rules", owl_rl=True)``).
    """
    rules = collect_rules(rules, rdfs=rdfs, owl_rl=owl_rl)
    warnings: list[str] = []
    rules = resolve_labels(kg, rules, warnings)
    t0 = time.perf_counter()
    facts = list(asserted_triples(kg))
    t1 = time.perf_counter()
    closure = evaluate(facts, rules, max_facts=max_facts)
    t2 = time.perf_counter()
    _warn_unused_predicates(closure, warnings)
    added, retracted = write_closure(kg, closure)
    t3 = time.perf_counter()
    return RulesReport(len(rules), closure.asserted, len(closure), closure.iterations, added, retracted,
                       dict(closure.per_rule.most_common()), warnings, t1 - t0, t2 - t1, t3 - t2)


def _warn_unused_predicates(closure: Closure, warnings: list[str]) -> None:
    ids = closure.terms.ids
    for r in closure.rules:
        if r.source == "builtin":
            continue
        for a in r.body:
            if isinstance(a.predicate, URIRef):
                pid = ids.get(nt(a.predicate))
                if pid is None or not closure.index.get(pid):
                    name = str(a.predicate)
                    warnings.append(f"rule {r.name!r}: no fact uses <{name}>, so the rule never fires; "
                                    "check the relation name (`kgqa stats` and SPARQL list the relations)")


__all__ = ["apply_rules", "RulesReport", "collect_rules", "resolve_labels", "write_closure",
           "asserted_triples", "NoRulesError"]

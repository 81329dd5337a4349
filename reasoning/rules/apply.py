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

  A triple node is named by a hash of the triple's N-Triples text, so an asserted triple has one
  node however many derivations use it; a derivation node by a hash of its conclusion, rule and
  premise nodes, so a node already in the store is already right. Following ``kgqa:premise`` from
  a derivation walks its proof tree and always ends at asserted facts (a fact is only derived from
  facts found in earlier rounds). ``kgqa:conclusion`` is not written: the derivation node *is* its
  conclusion, which keeps the records at 5 + premises triples per conclusion. The graph node
  ``<https://kgqa.dev/graph/derivations>`` itself carries a ``kgqa:contentHash`` of the records.

Every run computes the whole closure from the asserted facts and then brings both graphs to it,
deleting what no longer follows (a retracted premise takes its conclusions with it, unless they
have another derivation) and adding what is new; an unchanged closure writes nothing (its
fingerprint matches), a changed one touches only the derivation nodes that changed.

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
from kg.namespaces import BASE, DERIVATION_GRAPH, INFERRED_GRAPH, KGQA, OWL, RDF, RDFS, entity_iri, slug
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
    found = kg.entities_by_label(label)
    if len(found) == 1:
        return found[0]
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
def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


_A_DERIVATION = f"<{RDF.type}> <{KGQA.Derivation}>"
_P_RULE, _P_PREMISE = f"<{KGQA.rule}>", f"<{KGQA.premise}>"
_P_S, _P_P, _P_O = f"<{RDF.subject}>", f"<{RDF.predicate}>", f"<{RDF.object}>"


class _Records:
    """The derivation records of a closure, one node per triple, named by content.

    A derivation node's IRI hashes its conclusion, rule and premise nodes, so a node whose IRI is
    already in the store is already right: updating the store is a set difference of node IRIs.
    """

    def __init__(self, closure: Closure):
        self.closure = closure
        dec = closure.terms.decode
        self.rule_nodes = [f"<{RULE_NS}{slug(r.name)}>" for r in closure.rules]
        self.node: dict = {}  # triple ids -> node IRI text "<...>"
        derivations = closure.derivations
        for t, (ri, premises) in derivations.items():  # premises were found in earlier rounds: named already
            prem_nodes = [self._asserted_node(p) if p not in derivations else self.node[p] for p in premises]
            text = " ".join((dec(t[0]), dec(t[1]), dec(t[2]), self.rule_nodes[ri], *prem_nodes))
            self.node[t] = f"<{DERIVATION_NS}{_hash(text)}>"

    def _asserted_node(self, t) -> str:
        n = self.node.get(t)
        if n is None:
            dec = self.closure.terms.decode
            n = self.node[t] = f"<{TRIPLE_NS}{_hash(f'{dec(t[0])} {dec(t[1])} {dec(t[2])}')}>"
        return n

    def fingerprint(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for r in self.closure.rules:
            h.update(str(r).encode())
        for n in sorted(self.node.values()):
            h.update(n.encode())
        return h.hexdigest()

    def rule_lines(self) -> list[str]:
        out = []
        for r, node in zip(self.closure.rules, self.rule_nodes):
            out.append(f"{node} <{RDFS.label}> {nt(Literal(r.name))}")
            out.append(f"{node} <{RDFS.comment}> {nt(Literal(str(r)))}")
        return out

    def lines(self, triples) -> tuple[list[str], list[str]]:
        """Inferred-graph and derivation-graph lines for the nodes of ``triples``."""
        dec = self.closure.terms.decode
        derivations = self.closure.derivations
        inf, der = [], []
        for t in triples:
            s, p, o = dec(t[0]), dec(t[1]), dec(t[2])
            n = self.node[t]
            der += (f"{n} {_P_S} {s}", f"{n} {_P_P} {p}", f"{n} {_P_O} {o}")
            if t in derivations:
                ri, premises = derivations[t]
                inf.append(f"{s} {p} {o}")
                der += (f"{n} {_A_DERIVATION}", f"{n} {_P_RULE} {self.rule_nodes[ri]}")
                der += [f"{n} {_P_PREMISE} {self.node[x]}" for x in dict.fromkeys(premises)]
        return inf, der


def derivation_lines(closure: Closure) -> tuple[list[str], list[str]]:
    """All N-Triples lines of the inferred graph and of the derivation graph for a closure."""
    rec = _Records(closure)
    inf, der = rec.lines(rec.node)
    return inf, rec.rule_lines() + der


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


def _delete_nodes(kg, graph, nodes: list[str]) -> None:
    g = sparql_term(URIRef(str(graph)))
    for i in range(0, len(nodes), _DELETE_CHUNK):
        values = " ".join(nodes[i:i + _DELETE_CHUNK])
        kg.update(f"DELETE {{ GRAPH {g} {{ ?n ?p ?o }} }} WHERE {{ VALUES ?n {{ {values} }} GRAPH {g} {{ ?n ?p ?o }} }}")


def _count(kg, query: str) -> int:
    rows = list(kg.query(query))
    return int(rows[0]["n"].toPython()) if rows and rows[0]["n"] is not None else 0


_FINGERPRINT_NODE = URIRef(str(DERIVATION_GRAPH))


def write_closure(kg, closure: Closure) -> tuple[int, int]:
    """Bring the inferred and derivation graphs to ``closure``; returns (added, retracted) conclusions.

    Unchanged records are not touched: the derivation graph keeps a fingerprint of its content,
    and a changed closure only deletes the nodes that no longer hold and adds the new ones.
    """
    rec = _Records(closure)
    fingerprint = rec.fingerprint()
    der, inf = sparql_term(DERIVATION_GRAPH), sparql_term(INFERRED_GRAPH)
    fp_pred = sparql_term(KGQA.contentHash)
    rows = list(kg.query(f"SELECT ?h WHERE {{ GRAPH {der} {{ {sparql_term(_FINGERPRINT_NODE)} {fp_pred} ?h }} }}"))
    old_fp = str(rows[0]["h"]) if rows else None
    n_inferred = _count(kg, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {inf} {{ ?s ?p ?o }} }}")
    if old_fp == fingerprint and n_inferred == len(closure):
        return 0, 0
    derivations = closure.derivations
    old_nodes: set = set()
    if old_fp is not None and n_inferred:
        q = f"SELECT ?n WHERE {{ GRAPH {der} {{ ?n {sparql_term(RDF.subject)} ?s }} }}"
        old_nodes = {f"<{r['n']}>" for r in kg.query(q)}
    new_nodes = set(rec.node.values())
    stale = [n for n in old_nodes if n not in new_nodes]
    fresh = [t for t, n in rec.node.items() if n not in old_nodes]
    if old_fp is None or not old_nodes or len(stale) > len(old_nodes) // 2:
        # first run, a foreign layout or mostly new: write both graphs from scratch
        old_inf = set(_graph_lines(kg, INFERRED_GRAPH)) if n_inferred else set()
        kg.update(f"DROP SILENT GRAPH {der} ; DROP SILENT GRAPH {inf}")
        lines_inf, lines_der = rec.lines(rec.node)
        _add_lines(kg, INFERRED_GRAPH, lines_inf)
        _add_lines(kg, DERIVATION_GRAPH, rec.rule_lines() + lines_der + [
            f"{sparql_term(_FINGERPRINT_NODE)} {fp_pred} {nt(Literal(fingerprint))}"])
        new_inf = set(lines_inf)
        return len(new_inf - old_inf), len(old_inf - new_inf)
    # conclusions of stale derivations leave the inferred graph unless still derived (differently)
    ids = closure.terms.ids
    gone: list[str] = []
    changed = 0
    stale_derivations = [n for n in stale if n.startswith(f"<{DERIVATION_NS}")]
    for i in range(0, len(stale_derivations), _DELETE_CHUNK):
        values = " ".join(stale_derivations[i:i + _DELETE_CHUNK])
        q = (f"SELECT ?s ?p ?o WHERE {{ VALUES ?n {{ {values} }} GRAPH {der} {{ ?n {sparql_term(RDF.subject)} ?s ; "
             f"{sparql_term(RDF.predicate)} ?p ; {sparql_term(RDF.object)} ?o }} }}")
        for r in kg.query(q):
            s, p, o = (nt(x) for x in (r["s"], r["p"], r["o"]))
            t = (ids.get(s), ids.get(p), ids.get(o))
            if t in derivations:
                changed += 1
            else:
                gone.append(f"{s} {p} {o}")
    rule_nodes = [f"<{r['r']}>" for r in kg.query(
        f"SELECT DISTINCT ?r WHERE {{ GRAPH {der} {{ ?r {sparql_term(RDFS.label)} ?l }} }}")]
    _delete_nodes(kg, DERIVATION_GRAPH, stale + rule_nodes + [sparql_term(_FINGERPRINT_NODE)])
    _delete_lines(kg, INFERRED_GRAPH, gone)
    lines_inf, lines_der = rec.lines(fresh)
    _add_lines(kg, INFERRED_GRAPH, lines_inf)
    _add_lines(kg, DERIVATION_GRAPH, rec.rule_lines() + lines_der + [
        f"{sparql_term(_FINGERPRINT_NODE)} {fp_pred} {nt(Literal(fingerprint))}"])
    added = sum(1 for t in fresh if t in derivations) - changed
    return added, len(gone)


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
    _warn_large_same_as(closure, warnings)
    added, retracted = write_closure(kg, closure)
    kg.store.flush()
    t3 = time.perf_counter()
    return RulesReport(len(rules), closure.asserted, len(closure), closure.iterations, added, retracted,
                       dict(closure.per_rule.most_common()), warnings, t1 - t0, t2 - t1, t3 - t2)


#: owl:sameAs groups larger than this get a warning (each member copies every fact of the group)
SAME_AS_WARNING = 50


def _warn_large_same_as(closure: Closure, warnings: list[str]) -> None:
    same = closure.terms.ids.get(nt(OWL.sameAs))
    groups = closure.index.get(same) if same is not None else None
    if not groups:
        return
    largest = max(len(members) for members in groups.values())
    if largest > SAME_AS_WARNING:
        warnings.append(f"an owl:sameAs group has {largest} members: each copies every fact of the others; "
                        "check for wrong sameAs links (the closure stops at its fact limit)")


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

"""Built-in rule sets: RDFS and an OWL 2 RL subset, named after the W3C rule tables.

RDFS (https://www.w3.org/TR/rdf11-mt/#rdfs-entailment): rdfs2 (domain), rdfs3 (range), rdfs5 and rdfs7
(subPropertyOf), rdfs9 and rdfs11 (subClassOf). The "trivial" RDFS rules that conclude something
about every resource or every class (rdfs1, rdfs4a/b, rdfs6, rdfs8, rdfs10, rdfs12, rdfs13,
rdf1, the axiomatic triples and datatype triples) are left out on purpose: they add one or more
triples per term of the graph and never help to answer a question.

OWL 2 RL (https://www.w3.org/TR/owl2-profiles/#Reasoning_in_OWL_2_RL_and_RDF_Graphs_using_Rules),
the subset kgqa supports on top of RDFS: prp-dom, prp-rng, prp-spo1, prp-inv1/2, prp-symp, prp-trp,
prp-eqp1/2, cax-sco, cax-eqc1/2, scm-sco, scm-spo, scm-eqc1/2, scm-eqp1/2, scm-dom1/2, scm-rng1/2,
and equality: eq-sym, eq-trans, eq-rep-s, eq-rep-p, eq-rep-o. Equality is bounded: ``x owl:sameAs x``
for every term (eq-ref) is not materialised, and :func:`reasoning.rules.engine.evaluate` stops with
a clear error when the closure outgrows its fact limit. Not supported (no conclusion, no error):
property chains, hasKey, functional and inverse-functional properties, class expressions
(someValuesFrom, allValuesFrom, hasValue, intersectionOf, unionOf, ...), and the consistency checks.

>>> [r.name for r in RDFS_RULES]
['rdfs2', 'rdfs3', 'rdfs5', 'rdfs7', 'rdfs9', 'rdfs11']
>>> len(OWL_RL_RULES)
27
"""
from __future__ import annotations

from rdflib import OWL, RDF, RDFS

from reasoning.rules.model import Atom, Rule, Var

_v = {n: Var(n) for n in ("x", "y", "z", "p", "q", "r", "c", "d", "e", "s", "s2", "o", "o2", "p2")}


def _a(s, p, o) -> Atom:
    return Atom(*(_v[t[1:]] if type(t) is str else t for t in (s, p, o)))


def _rule(name: str, body: list, head: list) -> Rule:
    return Rule(name, tuple(_a(*b) for b in body), tuple(_a(*h) for h in head), source="builtin")


TYPE, SCO, SPO, DOM, RNG = RDF.type, RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range

RDFS_RULES: tuple[Rule, ...] = (
    _rule("rdfs2", [("?p", DOM, "?c"), ("?x", "?p", "?y")], [("?x", TYPE, "?c")]),
    _rule("rdfs3", [("?p", RNG, "?c"), ("?x", "?p", "?y")], [("?y", TYPE, "?c")]),
    _rule("rdfs5", [("?p", SPO, "?q"), ("?q", SPO, "?r")], [("?p", SPO, "?r")]),
    _rule("rdfs7", [("?p", SPO, "?q"), ("?x", "?p", "?y")], [("?x", "?q", "?y")]),
    _rule("rdfs9", [("?c", SCO, "?d"), ("?x", TYPE, "?c")], [("?x", TYPE, "?d")]),
    _rule("rdfs11", [("?c", SCO, "?d"), ("?d", SCO, "?e")], [("?c", SCO, "?e")]),
)

_RDFS_AS_OWL = {"rdfs2": "prp-dom", "rdfs3": "prp-rng", "rdfs5": "scm-spo", "rdfs7": "prp-spo1",
                "rdfs9": "cax-sco", "rdfs11": "scm-sco"}

OWL_RL_RULES: tuple[Rule, ...] = tuple(
    Rule(_RDFS_AS_OWL[r.name], r.body, r.head, source="builtin") for r in RDFS_RULES
) + (
    _rule("prp-inv1", [("?p", OWL.inverseOf, "?q"), ("?x", "?p", "?y")], [("?y", "?q", "?x")]),
    _rule("prp-inv2", [("?p", OWL.inverseOf, "?q"), ("?x", "?q", "?y")], [("?y", "?p", "?x")]),
    _rule("prp-symp", [("?p", TYPE, OWL.SymmetricProperty), ("?x", "?p", "?y")], [("?y", "?p", "?x")]),
    _rule("prp-trp", [("?p", TYPE, OWL.TransitiveProperty), ("?x", "?p", "?y"), ("?y", "?p", "?z")],
          [("?x", "?p", "?z")]),
    _rule("prp-eqp1", [("?p", OWL.equivalentProperty, "?q"), ("?x", "?p", "?y")], [("?x", "?q", "?y")]),
    _rule("prp-eqp2", [("?p", OWL.equivalentProperty, "?q"), ("?x", "?q", "?y")], [("?x", "?p", "?y")]),
    _rule("cax-eqc1", [("?c", OWL.equivalentClass, "?d"), ("?x", TYPE, "?c")], [("?x", TYPE, "?d")]),
    _rule("cax-eqc2", [("?c", OWL.equivalentClass, "?d"), ("?x", TYPE, "?d")], [("?x", TYPE, "?c")]),
    _rule("scm-eqc1", [("?c", OWL.equivalentClass, "?d")], [("?c", SCO, "?d"), ("?d", SCO, "?c")]),
    _rule("scm-eqc2", [("?c", SCO, "?d"), ("?d", SCO, "?c")], [("?c", OWL.equivalentClass, "?d")]),
    _rule("scm-eqp1", [("?p", OWL.equivalentProperty, "?q")], [("?p", SPO, "?q"), ("?q", SPO, "?p")]),
    _rule("scm-eqp2", [("?p", SPO, "?q"), ("?q", SPO, "?p")], [("?p", OWL.equivalentProperty, "?q")]),
    _rule("scm-dom1", [("?p", DOM, "?c"), ("?c", SCO, "?d")], [("?p", DOM, "?d")]),
    _rule("scm-dom2", [("?q", DOM, "?c"), ("?p", SPO, "?q")], [("?p", DOM, "?c")]),
    _rule("scm-rng1", [("?p", RNG, "?c"), ("?c", SCO, "?d")], [("?p", RNG, "?d")]),
    _rule("scm-rng2", [("?q", RNG, "?c"), ("?p", SPO, "?q")], [("?p", RNG, "?c")]),
    _rule("eq-sym", [("?x", OWL.sameAs, "?y")], [("?y", OWL.sameAs, "?x")]),
    _rule("eq-trans", [("?x", OWL.sameAs, "?y"), ("?y", OWL.sameAs, "?z")], [("?x", OWL.sameAs, "?z")]),
    _rule("eq-rep-s", [("?s", OWL.sameAs, "?s2"), ("?s", "?p", "?o")], [("?s2", "?p", "?o")]),
    _rule("eq-rep-p", [("?p", OWL.sameAs, "?p2"), ("?s", "?p", "?o")], [("?s", "?p2", "?o")]),
    _rule("eq-rep-o", [("?o", OWL.sameAs, "?o2"), ("?s", "?p", "?o")], [("?s", "?p", "?o2")]),
)

RULE_SETS = {"rdfs": RDFS_RULES, "owl-rl": OWL_RL_RULES}

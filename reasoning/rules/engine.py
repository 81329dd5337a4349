"""Semi-naive evaluation of rules to a fixpoint, in memory, on integer-encoded triples.

Terms are numbered once (IRIs and blank nodes > 0, literals < 0, so "is this a literal" is one
comparison). Facts live in dictionaries of sets indexed by predicate (``SP[p][s] -> {o}`` and
``OP[p][o] -> {s}``, plus subject and object indexes when a rule needs them). Each rule is compiled
once per body atom into a small Python function of nested loops — the atom that reads the facts
new in the last round first, then the other atoms in the order that binds the most variables — so
one round of one rule is a handful of dictionary look-ups per new fact. Each conclusion keeps the
first derivation found (rule and premise triples); since a round only reads facts of earlier
rounds, following derivations always ends at asserted facts.

>>> from rdflib import URIRef
>>> from reasoning.rules.model import Atom, Rule, Var
>>> ex = lambda n: URIRef("http://ex/" + n)
>>> X, Y, Z = Var("X"), Var("Y"), Var("Z")
>>> ancestor = [Rule("base", (Atom(X, ex("parent"), Y),), (Atom(X, ex("ancestor"), Y),)),
...             Rule("step", (Atom(X, ex("parent"), Y), Atom(Y, ex("ancestor"), Z)), (Atom(X, ex("ancestor"), Z),))]
>>> facts = [(ex("a"), ex("parent"), ex("b")), (ex("b"), ex("parent"), ex("c"))]
>>> closure = evaluate(facts, ancestor)
>>> sorted(o for s, p, o in closure.inferred() if s == "<http://ex/a>")
['<http://ex/b>', '<http://ex/c>']
>>> closure.iterations
3
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import pyoxigraph as ox
from rdflib import Literal, URIRef  # noqa: F401  (doctests)

from kg.errors import KGQAError
from kg.terms import to_ox
from reasoning.rules.model import Atom, Rule, Var, unsafe_head_variables

#: the closure may hold at most this many facts per asserted fact (bounds sameAs and runaway rules)
DEFAULT_GROWTH_LIMIT = 50
_EMPTY: frozenset = frozenset()
_EMPTY_D: dict = {}


class RuleLimitError(KGQAError):
    """The closure grew past its fact limit."""

    code = "E-RULES-LIMIT"


class UnsafeRuleError(KGQAError):
    """A head variable that no body atom binds."""

    code = "E-RULES-UNSAFE"


def nt(term) -> str:
    """A term (rdflib, pyoxigraph or a plain IRI string) in N-Triples syntax, the engine's term key.

    >>> nt(URIRef("http://ex/a")), nt(Literal("say \\"hi\\"")), nt(Literal(3))
    ('<http://ex/a>', '"say \\\\"hi\\\\""', '"3"^^<http://www.w3.org/2001/XMLSchema#integer>')
    """
    return str(to_ox(term))


def from_nt(text: str):
    """The pyoxigraph term of an N-Triples term string (inverse of :func:`nt`)."""
    if text[0] == "<":
        return ox.NamedNode(text[1:-1])
    if text[0] == "_":
        return ox.BlankNode(text[2:])
    return next(iter(ox.parse(f"<x:s> <x:p> {text} .", format=ox.RdfFormat.N_TRIPLES))).object


class TermTable:
    """Numbers terms given in N-Triples syntax: IRIs and blank nodes get ids > 0, literals ids < 0.

    >>> t = TermTable()
    >>> t.encode("<http://ex/a>"), t.encode('"a"'), t.encode("<http://ex/a>")
    (1, -1, 1)
    >>> t.decode(-1)
    '"a"'
    """

    def __init__(self):
        self.ids: dict[str, int] = {}
        self._pos: list = [None]
        self._neg: list = [None]

    def encode(self, term: str) -> int:
        i = self.ids.get(term)
        if i is None:
            if term[0] == '"':
                self._neg.append(term)
                i = 1 - len(self._neg)
            else:
                self._pos.append(term)
                i = len(self._pos) - 1
            self.ids[term] = i
        return i

    def decode(self, i: int) -> str:
        return self._pos[i] if i > 0 else self._neg[-i]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Closure:
    """The result of :func:`evaluate`: asserted + inferred facts, one derivation per inferred fact."""

    terms: TermTable
    rules: list[Rule]
    asserted: int
    #: inferred triple (ids) -> (index of the rule in ``rules``, premise triples (ids) in body order)
    derivations: dict = field(default_factory=dict)
    iterations: int = 0
    seconds: float = 0.0
    per_rule: Counter = field(default_factory=Counter)
    #: predicate id -> {subject id -> {object ids}} over asserted + inferred facts
    index: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.derivations)

    def inferred(self):
        """Inferred triples ``(s, p, o)`` as N-Triples term strings, in the order they were found."""
        dec = self.terms.decode
        for s, p, o in self.derivations:
            yield dec(s), dec(p), dec(o)

    def derivation(self, triple):
        """``(rule, [premise triples as N-Triples strings])`` of an inferred triple (given as ids)."""
        ri, premises = self.derivations[triple]
        dec = self.terms.decode
        return self.rules[ri], [(dec(s), dec(p), dec(o)) for s, p, o in premises]


# ---------------------------------------------------------------------- compiling rules
def _is_var(t) -> bool:
    return isinstance(t, Var)


class _Compiler:
    """Writes one Python function per (rule, delta atom); see the module docstring."""

    def __init__(self, terms: TermTable):
        self.terms = terms
        self.const_predicates: set[int] = set()

    def const(self, term) -> int:
        return self.terms.encode(nt(term))

    def compile(self, rule: Rule, ri: int, j: int):
        lines: list[str] = []
        names: dict[str, str] = {}
        counter = [0]

        def local(v: Var) -> str:
            if v.name not in names:
                names[v.name] = f"v{len(names)}"
            return names[v.name]

        def tmp() -> str:
            counter[0] += 1
            return f"t{counter[0]}"

        bound: set[str] = set()

        def expr(t) -> str | None:
            """Code for a term's value if it is known here, else None."""
            if _is_var(t):
                return local(t) if t.name in bound else None
            return str(self.const(t))

        def pred_dicts(p) -> tuple[str, str]:
            if not _is_var(p):
                c = self.const(p)
                self.const_predicates.add(c)
                return f"SP_{c}", f"OP_{c}"
            return f"SP.get({local(p)}, EMPTY_D)", f"OP.get({local(p)}, EMPTY_D)"

        depth = [1]

        def emit(line: str) -> None:
            lines.append("    " * depth[0] + line)

        def open_(line: str) -> None:
            emit(line)
            depth[0] += 1

        def targets(positions) -> tuple[list[str], list[str]]:
            """Loop target names for terms about to be bound; equality checks for repeats/constants."""
            outs, checks = [], []
            for t in positions:
                e = expr(t)
                if e is None:
                    name = local(t)
                    bound.add(t.name)
                    outs.append(name)
                else:
                    name = tmp()
                    outs.append(name)
                    checks.append(f"{name} == {e}")
            return outs, checks

        def guard(checks: list[str]) -> None:
            if checks:
                open_("if " + " and ".join(checks) + ":")

        def full_atom(a: Atom) -> None:
            s, p, o = a
            se, pe, oe = expr(s), expr(p), expr(o)
            if pe is not None:
                sp, op = pred_dicts(p)
                if se is not None and oe is not None:
                    open_(f"if {oe} in {sp}.get({se}, EMPTY):")
                elif se is not None:
                    (ov,), chk = targets([o])
                    open_(f"for {ov} in {sp}.get({se}, EMPTY):")
                    guard(chk)
                elif oe is not None:
                    (sv,), chk = targets([s])
                    open_(f"for {sv} in {op}.get({oe}, EMPTY):")
                    guard(chk)
                else:
                    d = tmp()
                    (sv,), chk1 = targets([s])
                    open_(f"for {sv}, {d} in {sp}.items():")
                    (ov,), chk2 = targets([o])
                    open_(f"for {ov} in {d}:")
                    guard(chk1 + chk2)
            elif se is not None:
                # a subject with any predicate: scanning the (few) predicates beats a subject index
                d = tmp()
                (pv,), chk1 = targets([p])
                open_(f"for {pv}, {d} in SP.items():")
                (ov,), chk2 = targets([o])
                open_(f"for {ov} in {d}.get({se}, EMPTY):")
                guard(chk1 + chk2)
            elif oe is not None:
                d = tmp()
                (pv,), chk1 = targets([p])
                open_(f"for {pv}, {d} in OP.items():")
                (sv,), chk2 = targets([s])
                open_(f"for {sv} in {d}.get({oe}, EMPTY):")
                guard(chk1 + chk2)
            else:
                d1, d2 = tmp(), tmp()
                (pv,), chk1 = targets([p])
                open_(f"for {pv}, {d1} in SP.items():")
                (sv,), chk2 = targets([s])
                open_(f"for {sv}, {d2} in {d1}.items():")
                (ov,), chk3 = targets([o])
                open_(f"for {ov} in {d2}:")
                guard(chk1 + chk2 + chk3)

        def score(a: Atom) -> int:
            sb, pb, ob = (expr(t) is not None for t in a)
            if sb and pb and ob:
                return 100
            if pb and (sb or ob):
                return 50
            if sb or ob:
                return 30
            return 10 if pb else 0

        delta = rule.body[j]
        rest = [a for i, a in enumerate(rule.body) if i != j]
        pairs = None
        if _is_var(delta.predicate):
            pairs = tmp()
            (pv,), chk = targets([delta.predicate])
            open_(f"for {pv}, {pairs} in DP.items():")
            guard(chk)
        else:
            c = self.const(delta.predicate)
            (sv, ov), chk = targets([delta.subject, delta.object])
            open_(f"for {sv}, {ov} in DP.get({c}, EMPTY):")
            guard(chk)
        while rest or pairs is not None:
            best = max(rest, key=score, default=None)
            if pairs is not None and (best is None or score(best) < 40):
                (sv, ov), chk = targets([delta.subject, delta.object])
                open_(f"for {sv}, {ov} in {pairs}:")
                guard(chk)
                pairs = None
                continue
            rest.remove(best)
            full_atom(best)
        premises = "(" + ", ".join("(" + ", ".join(expr(t) for t in a) + ")" for a in rule.body) + ",)"
        for h in rule.head:
            se, pe, oe = (expr(t) for t in h)
            checks = []
            if _is_var(h.subject):
                checks.append(f"{se} > 0")
            if _is_var(h.predicate):
                checks.append(f"{pe} > 0")
                checks.append(f"{oe} not in SP.get({pe}, EMPTY_D).get({se}, EMPTY)")
            else:
                sp, _ = pred_dicts(h.predicate)
                checks.append(f"{oe} not in {sp}.get({se}, EMPTY)")
            open_("if " + " and ".join(checks) + ":")
            emit(f"t = ({se}, {pe}, {oe})")
            open_("if t not in new:")
            emit(f"new[t] = ({ri}, {premises})")
            depth[0] -= 2
        return lines

    def function(self, rule: Rule, ri: int, j: int, fn_name: str) -> str:
        body = self.compile(rule, ri, j)
        return "\n".join([f"def {fn_name}(DP, new):"] + body + ["    return None"])


def compile_rules(rules: list[Rule], terms: TermTable):
    """Compile ``rules`` into Python source and bind it to index dictionaries.

    Returns ``(functions, state)``: ``functions`` is a list of ``(rule index, fn(DP, new))``;
    ``state`` holds the indexes ``SP`` and ``OP`` the functions read.
    """
    comp = _Compiler(terms)
    sources = []
    names = []
    for ri, rule in enumerate(rules):
        bad = unsafe_head_variables(rule)
        if bad:
            raise UnsafeRuleError(
                f"rule {rule.name!r}: head variable(s) {', '.join(sorted(bad))} do not occur in the body; "
                "every variable of the conclusion must be bound by a condition")
        for j in range(len(rule.body)):
            name = f"r{ri}_d{j}"
            sources.append(comp.function(rule, ri, j, name))
            names.append((ri, name))
    SP: dict = {}
    OP: dict = {}
    for c in comp.const_predicates:
        SP[c] = {}
        OP[c] = {}
    state = {"SP": SP, "OP": OP}
    prologue = "\n".join(f"SP_{c} = SP[{c}]\nOP_{c} = OP[{c}]" for c in sorted(comp.const_predicates))
    code = prologue + "\n\n" + "\n\n".join(sources)
    scope = {"EMPTY": _EMPTY, "EMPTY_D": _EMPTY_D, **state}
    exec(compile(code, "<kgqa-rules>", "exec"), scope)
    return [(ri, scope[name]) for ri, name in names], state, code


# ---------------------------------------------------------------------- evaluation
def evaluate(triples: Iterable, rules: Iterable[Rule], *, terms: TermTable | None = None,
             max_facts: int | None = None) -> Closure:
    """The fixpoint of ``rules`` over ``triples``: ``(s, p, o)`` as N-Triples strings (see :func:`nt`),
    or as rdflib / pyoxigraph terms.

    ``max_facts`` caps asserted + inferred facts (default: :data:`DEFAULT_GROWTH_LIMIT` times the
    asserted facts, at least one million); past it :class:`RuleLimitError` names the busiest rules.
    """
    started = time.perf_counter()
    terms = terms or TermTable()
    rules = list(rules)
    functions, state, _ = compile_rules(rules, terms)
    SP, OP = state["SP"], state["OP"]
    ids = terms.ids
    enc = terms.encode

    # asserted facts are both the full set and the first round's delta
    DP: dict = {}
    asserted = 0
    for triple in triples:
        s, p, o = triple if type(triple[0]) is str else map(nt, triple)
        s = ids.get(s) or enc(s)
        p = ids.get(p) or enc(p)
        o = ids.get(o) or enc(o)
        d = SP.get(p)
        if d is None:
            SP[p] = d = {}
            OP[p] = {}
        os_ = d.get(s)
        if os_ is None:
            d[s] = {o}
        elif o in os_:
            continue
        else:
            os_.add(o)
        ss = OP[p].get(o)
        if ss is None:
            OP[p][o] = {s}
        else:
            ss.add(s)
        pairs = DP.get(p)
        if pairs is None:
            DP[p] = [(s, o)]
        else:
            pairs.append((s, o))
        asserted += 1
    if max_facts is None:
        max_facts = max(1_000_000, DEFAULT_GROWTH_LIMIT * asserted)

    closure = Closure(terms, rules, asserted, index=SP)
    derivations = closure.derivations
    total = asserted
    while DP:
        closure.iterations += 1
        new: dict = {}
        for _, fn in functions:
            fn(DP, new)
        DP = {}
        for t in new:
            s, p, o = t
            d = SP.get(p)
            if d is None:
                SP[p] = d = {}
                OP[p] = {}
            os_ = d.get(s)
            if os_ is None:
                d[s] = {o}
            else:
                os_.add(o)
            ss = OP[p].get(o)
            if ss is None:
                OP[p][o] = {s}
            else:
                ss.add(s)
            pairs = DP.get(p)
            if pairs is None:
                DP[p] = [(s, o)]
            else:
                pairs.append((s, o))
        derivations.update(new)
        total += len(new)
        if total > max_facts:
            busy = Counter(ri for ri, _ in new.values()).most_common(3)
            raise RuleLimitError(
                f"the closure passed {max_facts:,} facts after {closure.iterations} rounds "
                f"(busiest rules: {', '.join(rules[ri].name for ri, _ in busy)}); check those rules "
                "(or large owl:sameAs groups) or raise the limit with max_facts=")
    closure.per_rule = Counter(rules[ri].name for ri, _ in derivations.values())
    closure.seconds = time.perf_counter() - started
    return closure

"""Semi-naive evaluation of rules to a fixpoint, in memory, on integer-encoded triples.

Terms are numbered once (IRIs and blank nodes > 0, literals < 0, so "is this a literal" is one
comparison). Facts live in dictionaries of sets indexed by predicate (``SP[p][s] -> {o}`` and
``OP[p][o] -> {s}``). Each rule is compiled once per body atom into a small Python function of
nested loops: the atom that reads the facts new in the last round first, then the other atoms in
the order that binds the most variables, and a loop whose variables nothing later needs stops at
its first match. One round of one rule is then a handful of dictionary look-ups per new fact.
Each conclusion keeps the first derivation found (rule and premise triples); since a round only
reads facts of earlier rounds, following derivations always ends at asserted facts, and the
first derivation is one of the shallowest.

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

import gc
import time
from collections import Counter
from contextlib import contextmanager
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

    def names(self) -> list[str]:
        """A list ``names`` with ``names[i] == decode(i)`` for every id (literals from the end):
        one index per term where many terms are decoded.

        >>> t = TermTable()
        >>> ids = [t.encode(x) for x in ("<http://ex/a>", '"a"', '"b"')]
        >>> [t.names()[i] for i in ids]
        ['<http://ex/a>', '"a"', '"b"']
        """
        return self._pos + self._neg[:0:-1]

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
    #: the compiled rules' globals (they hold the object index too), for :meth:`release`
    _scope: dict | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.derivations)

    def release(self) -> None:
        """Free the closure's facts: its indexes, derivations and compiled rules (empty afterwards).

        Freeing the millions of small sets and tuples of a big closure takes a while (50 ms at 60k
        conclusions); :func:`reasoning.rules.derivations.write_closure` does it while the store
        writes. The compiled rules and their globals form a cycle that only the collector would free.
        """
        if self._scope is not None:
            self._scope.clear()
            self._scope = None
        self.index = {}
        self.derivations = {}

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
    """Writes one Python function per (rule, delta atom); see the module docstring.

    Planning first fixes the order of the atoms (delta atom first, then greedily the atom with the
    most bound positions). Generation then knows which variables later steps need: a loop whose
    variables nothing later needs only has to find one witness, so it stops after its first match
    (``rdfs2`` needs one fact per subject, not every fact).
    """

    def __init__(self, terms: TermTable):
        self.terms = terms
        self.const_predicates: set[int] = set()

    def const(self, term) -> int:
        return self.terms.encode(nt(term))

    @staticmethod
    def _score(a: Atom, bound: set) -> int:
        sb, pb, ob = ((not _is_var(t)) or t.name in bound for t in a)
        if sb and pb and ob:
            return 100
        if pb and (sb or ob):
            return 50
        if sb or ob:
            return 30
        return 10 if pb else 0

    def plan(self, rule: Rule, j: int) -> list[tuple[str, Atom]]:
        """Steps ``("delta", atom)``, ``("delta_p", atom)``, ``("delta_so", atom)`` or ``("full", atom)``."""
        delta = rule.body[j]
        rest = [a for i, a in enumerate(rule.body) if i != j]
        bound: set = set()
        steps: list[tuple[str, Atom]] = []
        pending_so = False
        if _is_var(delta.predicate):
            steps.append(("delta_p", delta))
            bound.add(delta.predicate.name)
            pending_so = True
        else:
            steps.append(("delta", delta))
            bound |= delta.variables()
        while rest or pending_so:
            best = max(rest, key=lambda a: self._score(a, bound), default=None)
            if pending_so and (best is None or self._score(best, bound) < 40):
                steps.append(("delta_so", delta))
                bound |= delta.variables()
                pending_so = False
                continue
            rest.remove(best)
            steps.append(("full", best))
            bound |= best.variables()
        return steps

    def compile(self, rule: Rule, ri: int, j: int) -> list[str]:
        steps = self.plan(rule, j)
        head_vars = set().union(*(h.variables() for h in rule.head))
        # needed_after[i]: variables read by steps after i or by the head
        needed_after = []
        acc = set(head_vars)
        for kind, atom in reversed(steps):
            needed_after.append(set(acc))
            acc |= atom.variables() if kind != "delta_p" else {atom.predicate.name}
        needed_after.reverse()

        lines: list[str] = []
        names: dict[str, str] = {}
        counter = [0]
        bound: set[str] = set()
        depth = [1]
        witness_loops: list[int] = []  # body depths of loops that may stop at their first match

        def local(v: Var) -> str:
            if v.name not in names:
                names[v.name] = f"v{len(names)}"
            return names[v.name]

        def tmp() -> str:
            counter[0] += 1
            return f"t{counter[0]}"

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

        def emit(line: str) -> None:
            lines.append("    " * depth[0] + line)

        def targets(positions) -> tuple[list[str], list[str], set]:
            """Loop target names for terms about to be bound; equality checks for repeats/constants."""
            outs, checks, newly = [], [], set()
            for t in positions:
                e = expr(t)
                if e is None:
                    bound.add(t.name)
                    newly.add(t.name)
                    outs.append(local(t))
                else:
                    name = tmp()
                    outs.append(name)
                    checks.append(f"{name} == {e}")
            return outs, checks, newly

        def loop(header: str, checks: list[str], newly: set, needed: set) -> None:
            """``for ...:`` plus its guard; marks it a witness loop when nothing later needs its variables."""
            emit(header)
            depth[0] += 1
            if checks:
                emit("if " + " and ".join(checks) + ":")
                depth[0] += 1
            if not (newly & needed):
                witness_loops.append(depth[0])

        def full_atom(a: Atom, needed: set) -> None:
            s, p, o = a
            se, pe, oe = expr(s), expr(p), expr(o)
            vs = s.name if _is_var(s) else None
            vo = o.name if _is_var(o) else None
            if pe is not None:
                sp, op = pred_dicts(p)
                if se is not None and oe is not None:
                    emit(f"if {oe} in {sp}.get({se}, EMPTY):")
                    depth[0] += 1
                elif se is not None:
                    (ov,), chk, new = targets([o])
                    loop(f"for {ov} in {sp}.get({se}, EMPTY):", chk, new, needed)
                elif oe is not None:
                    (sv,), chk, new = targets([s])
                    loop(f"for {sv} in {op}.get({oe}, EMPTY):", chk, new, needed)
                elif vs not in needed and vo in needed:
                    # only the object matters: walk objects, one subject each
                    d = tmp()
                    (ov,), chk1, new1 = targets([o])
                    loop(f"for {ov}, {d} in {op}.items():", chk1, new1, needed | {vs})
                    (sv,), chk2, new2 = targets([s])
                    loop(f"for {sv} in {d}:", chk2, new2, needed)
                else:
                    d = tmp()
                    (sv,), chk1, new1 = targets([s])
                    loop(f"for {sv}, {d} in {sp}.items():", chk1, new1, needed | {vo})
                    (ov,), chk2, new2 = targets([o])
                    loop(f"for {ov} in {d}:", chk2, new2, needed)
            elif se is not None:
                # a subject with any predicate: scanning the (few) predicates beats a subject index
                d = tmp()
                (pv,), chk1, new1 = targets([p])
                loop(f"for {pv}, {d} in SP.items():", chk1, new1, needed | a.variables())
                (ov,), chk2, new2 = targets([o])
                loop(f"for {ov} in {d}.get({se}, EMPTY):", chk2, new2 | new1, needed)
            elif oe is not None:
                d = tmp()
                (pv,), chk1, new1 = targets([p])
                loop(f"for {pv}, {d} in OP.items():", chk1, new1, needed | a.variables())
                (sv,), chk2, new2 = targets([s])
                loop(f"for {sv} in {d}.get({oe}, EMPTY):", chk2, new2 | new1, needed)
            else:
                d1, d2 = tmp(), tmp()
                (pv,), chk1, new1 = targets([p])
                loop(f"for {pv}, {d1} in SP.items():", chk1, new1, needed | a.variables())
                (sv,), chk2, new2 = targets([s])
                loop(f"for {sv}, {d2} in {d1}.items():", chk2, new2, needed | a.variables())
                (ov,), chk3, new3 = targets([o])
                loop(f"for {ov} in {d2}:", chk3, new3 | new2 | new1, needed)

        pairs = None
        for i, (kind, atom) in enumerate(steps):
            needed = needed_after[i]
            if kind == "delta_p":
                pairs = tmp()
                (pv,), chk, new = targets([atom.predicate])
                loop(f"for {pv}, {pairs} in DP.items():", chk, new, needed | atom.variables())
            elif kind == "delta_so":
                (sv, ov), chk, new = targets([atom.subject, atom.object])
                loop(f"for {sv}, {ov} in {pairs}:", chk, new, needed)
            elif kind == "delta":
                c = self.const(atom.predicate)
                (sv, ov), chk, new = targets([atom.subject, atom.object])
                loop(f"for {sv}, {ov} in DP.get({c}, EMPTY):", chk, new, needed)
            else:
                full_atom(atom, needed)

        premises = "(" + ", ".join("(" + ", ".join(expr(t) for t in a) + ")" for a in rule.body) + ",)"
        base = depth[0]
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
            depth[0] = base
            emit("if " + " and ".join(checks) + ":")
            depth[0] += 1
            emit(f"t = ({se}, {pe}, {oe})")
            emit("if t not in new:")
            depth[0] += 1
            emit(f"new[t] = ({ri}, {premises})")
        # close witness loops innermost first: the break ends the loop after its first full match
        for d in sorted(witness_loops, reverse=True):
            lines.append("    " * d + "break")
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
@contextmanager
def paused_gc():
    """The cyclic garbage collector paused: a closure allocates millions of small sets and tuples,
    none of them in cycles, and the collector's passes over them cost a third of the run."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def evaluate(triples: Iterable, rules: Iterable[Rule], *, terms: TermTable | None = None,
             max_facts: int | None = None) -> Closure:
    """The fixpoint of ``rules`` over ``triples``: ``(s, p, o)`` as N-Triples strings (see :func:`nt`),
    or as rdflib / pyoxigraph terms.

    ``max_facts`` caps asserted + inferred facts (default: :data:`DEFAULT_GROWTH_LIMIT` times the
    asserted facts, at least one million); past it :class:`RuleLimitError` names the busiest rules.
    """
    with paused_gc():
        return _evaluate(triples, rules, terms, max_facts)


def _evaluate(triples, rules, terms, max_facts) -> Closure:
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

    closure = Closure(terms, rules, asserted, index=SP, _scope=functions[0][1].__globals__ if functions else None)
    derivations = closure.derivations
    total = asserted
    while DP:
        closure.iterations += 1
        new: dict = {}
        for _, fn in functions:
            fn(DP, new)
        DP = {}
        sp_get, op_get, dp_get = SP.get, OP.get, DP.get  # bound once: this loop runs per new fact
        for t in new:
            s, p, o = t
            d = sp_get(p)
            if d is None:
                SP[p] = d = {}
                OP[p] = {}
            os_ = d.get(s)
            if os_ is None:
                d[s] = {o}
            else:
                os_.add(o)
            od = op_get(p)
            ss = od.get(o)
            if ss is None:
                od[o] = {s}
            else:
                ss.add(s)
            pairs = dp_get(p)
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

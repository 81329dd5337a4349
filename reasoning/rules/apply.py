"""Applying rules to a store: load the asserted facts once, compute the closure, write what is new.

Conclusions go to ``GRAPH <https://kgqa.dev/graph/inferred>``, one plain triple each and only facts
that are not asserted (the default graph still lists exactly the asserted facts); their derivations
go to ``GRAPH <https://kgqa.dev/graph/derivations>`` as compact records, one line per conclusion
(rule + premises), a few hundred lines per literal: :mod:`reasoning.rules.derivations` has the
layout and the writer.

A run whose asserted facts and rules are those of the stored closure (same hash, see
:func:`reasoning.rules.derivations.input_key`) and whose conclusions and records are all in place
reads the facts, finds nothing to do and stops there. Any other run computes the whole closure
from the asserted facts and then brings both graphs to it,
deleting what no longer follows (a retracted premise takes its conclusions with it, unless they
have another derivation) and adding what is new; an unchanged closure writes nothing (its
fingerprint matches), a changed one touches only the conclusions and record buckets that changed.

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

import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from rdflib import URIRef

from kg.errors import KGQAError
from kg.namespaces import OWL, entity_iri
from reasoning.rules.builtin import OWL_RL_RULES, RDFS_RULES
from reasoning.rules.derivations import Run, _graph_lines, _graph_text, input_key, stored_run, write_closure
from reasoning.rules.engine import Closure, evaluate, nt, paused_gc
from reasoning.rules.model import Atom, Rule
from reasoning.rules.parser import LabelRef, RuleSyntaxError, load_rules


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
    #: the asserted facts and rules were those of the stored closure: nothing computed or written
    unchanged: bool = False

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
def asserted_triples(kg, lines: list[str] | None = None) -> Iterable[tuple[str, str, str]]:
    """The asserted facts (default graph) as ``(s, p, o)`` N-Triples strings (from ``lines``, the
    default graph's N-Triples lines, when already read)."""
    for line in _graph_lines(kg, None) if lines is None else lines:
        if line.startswith("<<"):  # RDF 1.2 triple terms: not rule material
            continue
        s, p, o = line.split(" ", 2)
        yield s, p, o


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
    with paused_gc():  # reading and writing build many small objects too (see paused_gc)
        t0 = time.perf_counter()
        text = _graph_text(kg, None)
        key = input_key(text, rules, max_facts)
        prior = stored_run(kg, key)
        if prior is not None:  # the stored closure is this run's: nothing to compute or write
            return _report_of(prior, rules, warnings, time.perf_counter() - t0)
        facts = list(asserted_triples(kg, _graph_lines(kg, None, text)))
        del text
        t1 = time.perf_counter()
        closure = evaluate(facts, rules, max_facts=max_facts)
        t2 = time.perf_counter()
        del facts
        found: list[str] = []  # warnings about the closure, kept with it for an unchanged re-run
        _warn_unused_predicates(closure, found)
        _warn_large_same_as(closure, found)
        per_rule = dict(closure.per_rule.most_common())
        run = Run(key, {"asserted": closure.asserted, "inferred": len(closure), "iterations": closure.iterations,
                        "per_rule": per_rule, "warnings": found})
        report = RulesReport(len(rules), closure.asserted, len(closure), closure.iterations, 0, 0,
                             per_rule, warnings + found, t1 - t0, t2 - t1)
        # the closure is freed inside the write (while the store writes) and with the collector still
        # paused: else its first pass after the pause walks the millions of objects the closure allocated
        report.added, report.retracted = write_closure(kg, closure, run, release=True)
        del closure
        kg.store.flush()
        report.seconds_write = time.perf_counter() - t2
    return report


def _report_of(prior: dict, rules, warnings: list[str], seconds: float) -> RulesReport:
    """The report of a run that found the stored closure up to date."""
    per_rule = prior.get("per_rule") or {}
    return RulesReport(len(rules), int(prior.get("asserted", 0)), int(prior.get("inferred", 0)),
                       int(prior.get("iterations", 0)), 0, 0, dict(per_rule),
                       warnings + [str(w) for w in prior.get("warnings") or []], seconds, unchanged=True)


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

"""What a rule is: atoms (triple patterns) over variables and constants, a body and a head.

A rule says: whenever every body atom matches facts of the graph (with one value per variable),
the head atoms hold too.

>>> from rdflib import URIRef
>>> born, located, country = (URIRef("http://ex/" + n) for n in ("bornIn", "locatedIn", "bornInCountry"))
>>> rule = Rule("born-in-country", (Atom(Var("X"), born, Var("C")), Atom(Var("C"), located, Var("Y"))),
...             (Atom(Var("X"), country, Var("Y")),))
>>> print(rule)
born-in-country: (?X <http://ex/bornIn> ?C), (?C <http://ex/locatedIn> ?Y) -> (?X <http://ex/bornInCountry> ?Y)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from rdflib.term import Identifier


@dataclass(frozen=True)
class Var:
    """A rule variable, written ``X`` in Horn rules and ``?x`` in CONSTRUCT rules."""

    name: str

    def __str__(self) -> str:
        return "?" + self.name


Term = Union[Var, Identifier]


@dataclass(frozen=True)
class Atom:
    """One triple pattern: subject, predicate, object, each a :class:`Var` or an rdflib term."""

    subject: Term
    predicate: Term
    object: Term

    def __iter__(self):
        return iter((self.subject, self.predicate, self.object))

    def variables(self) -> set[str]:
        return {t.name for t in self if isinstance(t, Var)}

    def __str__(self) -> str:
        return "(" + " ".join(str(t) if isinstance(t, Var) else t.n3() for t in self) + ")"


@dataclass(frozen=True)
class Rule:
    """``body -> head``: a name (shown in explanations), body atoms, head atoms, where it was written.

    Every head variable must occur in the body (:func:`check_rule` says so otherwise).
    """

    name: str
    body: tuple[Atom, ...]
    head: tuple[Atom, ...]
    source: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.name}: " + ", ".join(map(str, self.body)) + " -> " + ", ".join(map(str, self.head))


def unsafe_head_variables(rule: Rule) -> set[str]:
    """Head variables that no body atom binds (such a rule could conclude anything).

    >>> unsafe_head_variables(Rule("r", (Atom(Var("X"), Var("P"), Var("Y")),), (Atom(Var("X"), Var("P"), Var("Z")),)))
    {'Z'}
    """
    bound = set().union(*(a.variables() for a in rule.body)) if rule.body else set()
    return set().union(*(a.variables() for a in rule.head)) - bound

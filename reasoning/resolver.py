"""The reasoner registry (PyKEEN's resolver habit): look a reasoner up by name, class or instance.

A reasoner answers a parsed question over a graph::

    class Reasoner(Protocol):
        name: str
        def answer(self, kg, question: Question, *, k: int = 10) -> AnswerSet: ...

>>> class Echo:
...     name = "echo"
...     def answer(self, kg, question, *, k=10):
...         return None
>>> register_reasoner("echo", Echo)
>>> get_reasoner("echo").name, get_reasoner(Echo).name, isinstance(get_reasoner(Echo()), Echo)
('echo', 'echo', True)
>>> unregister_reasoner("echo")
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kg.errors import KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from reasoning.answers import AnswerSet
    from reasoning.question import Question


@runtime_checkable
class Reasoner(Protocol):
    """Anything with a ``name`` and ``answer(kg, question, *, k)`` returning an :class:`AnswerSet`."""

    name: str

    def answer(self, kg, question: "Question", *, k: int = 10) -> "AnswerSet": ...


class UnknownReasonerError(KGQAError):
    code = "E-REASONER"


_REGISTRY: dict[str, type] = {}
# Reasoners that live in optional sub-packages register themselves on import; we import them lazily.
_LAZY = {"sparql": "reasoning.planner", "rules": "reasoning.rules", "gnn": "reasoning.gnn"}


def register_reasoner(name: str, cls: type) -> None:
    """Make ``cls`` available as ``get_reasoner(name)`` (and ``--method name``)."""
    _REGISTRY[name.lower()] = cls


def unregister_reasoner(name: str) -> None:
    _REGISTRY.pop(name.lower(), None)


def _load_lazy(name: str) -> None:
    module = _LAZY.get(name)
    if module and name not in _REGISTRY:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def reasoner_names() -> list[str]:
    """Names registered so far plus those whose package is installed (loaded on demand)."""
    for name in _LAZY:
        _load_lazy(name)
    return sorted(_REGISTRY)


def has_reasoner(name: str) -> bool:
    _load_lazy(name.lower())
    return name.lower() in _REGISTRY


def get_reasoner(reasoner: "str | type | object", **kwargs):
    """A reasoner instance from a name (``"sparql"``), a class, or an instance (returned as is)."""
    if isinstance(reasoner, str):
        key = reasoner.lower()
        _load_lazy(key)
        if key not in _REGISTRY:
            known = ", ".join(reasoner_names()) or "none"
            raise UnknownReasonerError(f"no reasoner named {reasoner!r}; use one of: auto, {known}")
        return _REGISTRY[key](**kwargs)
    if isinstance(reasoner, type):
        return reasoner(**kwargs)
    if hasattr(reasoner, "answer"):
        return reasoner
    raise UnknownReasonerError(f"{reasoner!r} is not a reasoner (a name, a class or an object with .answer)")

"""Read SpERT-style JSON: sentences with typed entity spans and directed typed relations.

The format is a JSON list of records::

    {"tokens": ["Ada", "works", "for", "Acme", "."],
     "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}],
     "relations": [{"type": "Work_For", "head": 0, "tail": 1}]}

``start``/``end`` are word indexes (end exclusive); ``head``/``tail`` index into ``entities``.
A file that cannot be read at all raises :class:`kg.errors.ParseError`; a single malformed record
is skipped and counted, so one bad sentence never throws away the rest of a corpus.

>>> data = parse_spert([{"tokens": ["Ada", "works", "for", "Acme"],
...                      "entities": [{"type": "Peop", "start": 0, "end": 1},
...                                   {"type": "Org", "start": 3, "end": 4}],
...                      "relations": [{"type": "Work_For", "head": 0, "tail": 1}]},
...                     {"tokens": "not a list"}])
>>> len(data.examples), data.skipped
(1, 1)
>>> data.schema().relation_types
('Work_For',)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from kg.errors import ParseError


@dataclass(frozen=True)
class Span:
    """A typed entity mention over words ``[start, end)``."""

    type: str
    start: int
    end: int


@dataclass(frozen=True)
class Link:
    """A directed typed relation between two entities of the same sentence (indexes into entities)."""

    type: str
    head: int
    tail: int


@dataclass(frozen=True)
class Example:
    """One sentence: its words, gold entity spans and gold relations."""

    tokens: tuple[str, ...]
    entities: tuple[Span, ...] = ()
    relations: tuple[Link, ...] = ()

    def relation_triples(self) -> set[tuple]:
        """Strict-match keys ``((start, end, type), (start, end, type), relation_type)``."""
        return {(_key(self.entities[r.head]), _key(self.entities[r.tail]), r.type) for r in self.relations}

    def entity_keys(self) -> set[tuple]:
        return {_key(e) for e in self.entities}


def _key(span: Span) -> tuple:
    return (span.start, span.end, span.type)


@dataclass(frozen=True)
class Schema:
    """The entity and relation types a model predicts, in a fixed order."""

    entity_types: tuple[str, ...]
    relation_types: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"entity_types": list(self.entity_types), "relation_types": list(self.relation_types)}

    @classmethod
    def from_dict(cls, data: dict) -> "Schema":
        return cls(tuple(data["entity_types"]), tuple(data["relation_types"]))


@dataclass
class SpertData:
    """Parsed examples plus how many records were skipped and why (first few reasons)."""

    examples: list[Example]
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    source: str = "input"

    def schema(self) -> Schema:
        """Types found in the data, sorted so the same data always gives the same class indexes."""
        ents = sorted({e.type for ex in self.examples for e in ex.entities})
        rels = sorted({r.type for ex in self.examples for r in ex.relations})
        return Schema(tuple(ents), tuple(rels))


def parse_record(record: Any) -> Example:
    """Validate one record and return it as an :class:`Example`; raise ``ValueError`` saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("record is not an object")
    tokens = record.get("tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise ValueError("'tokens' must be a non-empty list of strings")
    spans = []
    for ent in record.get("entities") or []:
        if not isinstance(ent, dict):
            raise ValueError("an entity is not an object")
        etype, start, end = ent.get("type"), ent.get("start"), ent.get("end")
        if not isinstance(etype, str) or not etype:
            raise ValueError("an entity has no 'type'")
        if not (_is_int(start) and _is_int(end) and 0 <= start < end <= len(tokens)):
            raise ValueError(f"entity span [{start}, {end}) is outside the {len(tokens)} tokens")
        spans.append(Span(etype, start, end))
    links = []
    for rel in record.get("relations") or []:
        if not isinstance(rel, dict):
            raise ValueError("a relation is not an object")
        rtype, head, tail = rel.get("type"), rel.get("head"), rel.get("tail")
        if not isinstance(rtype, str) or not rtype:
            raise ValueError("a relation has no 'type'")
        if not (_is_int(head) and _is_int(tail) and 0 <= head < len(spans) and 0 <= tail < len(spans)):
            raise ValueError(f"relation head/tail ({head}, {tail}) do not index the {len(spans)} entities")
        if head == tail:
            raise ValueError("a relation links an entity to itself")
        links.append(Link(rtype, head, tail))
    return Example(tuple(tokens), tuple(spans), tuple(links))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_spert(records: Iterable[Any], *, source: str = "input") -> SpertData:
    """Parse already-loaded records, skipping (and counting) the malformed ones."""
    data = SpertData([], source=source)
    for i, record in enumerate(records):
        try:
            data.examples.append(parse_record(record))
        except ValueError as err:
            data.skipped += 1
            if len(data.reasons) < 5:
                data.reasons.append(f"record {i}: {err}")
    return data


def read_spert(path: str | Path) -> SpertData:
    """Read a SpERT JSON file.

    Raises :class:`kg.errors.ParseError` when the file is missing, is not JSON, is not a list, or
    holds no valid record at all.
    """
    path = Path(path)
    if not path.is_file():
        raise ParseError("file not found; pass a SpERT-style JSON file", path=str(path))
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ParseError("not UTF-8 text; pass a SpERT-style JSON file", path=str(path)) from None
    except json.JSONDecodeError as err:
        raise ParseError(f"not valid JSON ({err.msg})", path=str(path), line=err.lineno) from None
    if not isinstance(records, list):
        raise ParseError('expected a JSON list of {"tokens", "entities", "relations"} records',
                         path=str(path))
    data = parse_spert(records, source=str(path))
    if records and not data.examples:
        raise ParseError(f"no valid record (first problem: {data.reasons[0]})", path=str(path))
    return data

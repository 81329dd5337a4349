"""Read DocRED-style JSON: whole documents with entity clusters and document-level relations.

The format (DocRED, Re-DocRED) is a JSON list of documents::

    {"title": "Ada Lovelace",
     "sents": [["Ada", "Lovelace", "was", "born", "in", "London", "."], ["She", ...]],
     "vertexSet": [[{"name": "Ada Lovelace", "sent_id": 0, "pos": [0, 2], "type": "PER"}, ...], ...],
     "labels": [{"h": 0, "t": 1, "r": "P19", "evidence": [0]}]}

``vertexSet`` lists the document's entities, each as its mentions (``pos`` is a word range of
sentence ``sent_id``, end exclusive); ``labels`` holds directed relations between entities
(``h``/``t`` index ``vertexSet``) with the sentences that state them (``evidence``, may be empty).
Documents to predict need no ``labels``. A file that cannot be read raises
:class:`kg.errors.ParseError`; a malformed document is skipped and counted, a malformed mention or
label inside a good document is dropped and counted, so one bad record never loses the rest.

>>> data = parse_docred([{"title": "t", "sents": [["Ada", "met", "Bob", "."]],
...     "vertexSet": [[{"name": "Ada", "sent_id": 0, "pos": [0, 1], "type": "PER"}],
...                   [{"name": "Bob", "sent_id": 0, "pos": [2, 3], "type": "PER"}]],
...     "labels": [{"h": 0, "t": 1, "r": "P3373", "evidence": [0]}, {"h": 0, "t": 9, "r": "P26"}]},
...     {"sents": "not a list"}])
>>> len(data.documents), data.skipped, data.dropped
(1, 1, 1)
>>> data.relation_types(), data.entity_types()
(('P3373',), ('PER',))
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from kg.errors import ParseError


@dataclass(frozen=True)
class DocMention:
    """One mention: words ``[start, end)`` of sentence ``sent``."""

    sent: int
    start: int
    end: int
    type: str = ""
    name: str = ""


@dataclass(frozen=True)
class DocFact:
    """A directed relation between entities ``head`` and ``tail`` of a document."""

    head: int
    tail: int
    relation: str
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class DocExample:
    """A document: sentences of words, entities (each a tuple of mentions) and gold facts."""

    sents: tuple[tuple[str, ...], ...]
    entities: tuple[tuple[DocMention, ...], ...]
    facts: tuple[DocFact, ...] = ()
    title: str = ""

    def entity_type(self, index: int) -> str:
        """The most frequent mention type of an entity (ties: the first mention's)."""
        types = [m.type for m in self.entities[index] if m.type]
        return max(types, key=lambda t: (types.count(t), -types.index(t))) if types else ""

    def entity_names(self, index: int) -> set[str]:
        """Every surface form of an entity (the mention names, else the words they cover)."""
        return {m.name or " ".join(self.sents[m.sent][m.start:m.end]) for m in self.entities[index]}


@dataclass
class DocredData:
    """Parsed documents plus how much was skipped (whole documents) or dropped (mentions, labels)."""

    documents: list[DocExample]
    skipped: int = 0
    dropped: int = 0
    source: str = ""
    problems: list[str] = field(default_factory=list)

    def relation_types(self) -> tuple[str, ...]:
        return tuple(sorted({f.relation for d in self.documents for f in d.facts}))

    def entity_types(self) -> tuple[str, ...]:
        return tuple(sorted({m.type for d in self.documents for e in d.entities for m in e if m.type}))


def _mention(raw: Any, sents: Sequence[Sequence[str]]) -> DocMention | None:
    if not isinstance(raw, dict):
        return None
    try:
        sent = int(raw["sent_id"])
        start, end = (int(x) for x in raw["pos"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (0 <= sent < len(sents)) or not (0 <= start < end <= len(sents[sent])):
        return None
    return DocMention(sent, start, end, str(raw.get("type") or ""), str(raw.get("name") or ""))


def _document(raw: Any) -> tuple[DocExample | None, int, str]:
    """One document, the number of mentions/labels dropped from it, and why it was skipped."""
    if not isinstance(raw, dict):
        return None, 0, "not a JSON object"
    sents = raw.get("sents")
    if not isinstance(sents, list) or not sents or not all(
            isinstance(s, list) and all(isinstance(w, str) for w in s) for s in sents):
        return None, 0, "'sents' must be a non-empty list of lists of words"
    sents_t = tuple(tuple(s) for s in sents)
    vertex = raw.get("vertexSet", [])
    if not isinstance(vertex, list):
        return None, 0, "'vertexSet' must be a list of entities (lists of mentions)"
    dropped = 0
    entities: list[tuple[DocMention, ...]] = []
    index_map: dict[int, int] = {}
    for i, ent in enumerate(vertex):
        mentions = [m for m in (_mention(r, sents_t) for r in (ent if isinstance(ent, list) else []))
                    if m is not None]
        dropped += (len(ent) if isinstance(ent, list) else 1) - len(mentions)
        if mentions:
            index_map[i] = len(entities)
            entities.append(tuple(mentions))
    facts = []
    for lab in raw.get("labels", []) or []:
        try:
            h, t, r = index_map[int(lab["h"])], index_map[int(lab["t"])], str(lab["r"])
            evidence = tuple(sorted({int(e) for e in lab.get("evidence", []) or [] if 0 <= int(e) < len(sents_t)}))
        except (KeyError, TypeError, ValueError):
            dropped += 1
            continue
        if h == t:
            dropped += 1
            continue
        facts.append(DocFact(h, t, r, evidence))
    unique = tuple(dict.fromkeys(facts))
    return DocExample(sents_t, tuple(entities), unique, str(raw.get("title") or "")), dropped, ""


def parse_docred(records: Iterable[Any], source: str = "") -> DocredData:
    """Parse already-loaded DocRED records (see the module docstring)."""
    data = DocredData([], source=source)
    for number, raw in enumerate(records):
        doc, dropped, why = _document(raw)
        if doc is None:
            data.skipped += 1
            if len(data.problems) < 20:
                data.problems.append(f"document {number}: {why}")
            continue
        data.dropped += dropped
        data.documents.append(doc)
    return data


def read_docred(path: str | Path, *, docs: slice | None = None) -> DocredData:
    """Read a DocRED JSON file; ``docs`` keeps a slice of its documents (e.g. ``slice(0, 400)``)."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ParseError(f"cannot read {path}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParseError(f"{path} is not DocRED JSON ({err}); expected a list of documents with "
                         "'sents', 'vertexSet' and 'labels'") from None
    if not isinstance(records, list):
        raise ParseError(f"{path} is not DocRED JSON: the top level must be a list of documents")
    if docs is not None:
        records = records[docs]
    return parse_docred(records, source=str(path))


def parse_slice(text: str | None) -> slice | None:
    """``"0:400"`` -> ``slice(0, 400)``; ``None``/``""`` -> None.

    >>> parse_slice("400:"), parse_slice(None)
    (slice(400, None, None), None)
    """
    if not text:
        return None
    try:
        lo, _, hi = text.partition(":")
        return slice(int(lo) if lo.strip() else None, int(hi) if hi.strip() else None)
    except ValueError:
        raise ValueError(f"document range {text!r} must look like 0:400 or 400:") from None


def read_rel_info(path: str | Path | None) -> dict[str, str]:
    """A ``rel_info.json``-style map of relation ids to names (``{"P19": "place of birth"}``)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParseError(f"cannot read relation names from {path}: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ParseError(f"{path} must map relation ids to names, like {{\"P19\": \"place of birth\"}}")
    return {str(k): v for k, v in data.items()}


def is_docre_model(path: str | Path) -> bool:
    """Whether a folder holds a document-level model (``config.json`` of kind ``docre``); cheap,
    no torch import."""
    try:
        data = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == "docre"


__all__ = ["is_docre_model", "DocMention", "DocFact", "DocExample", "DocredData", "parse_docred", "read_docred",
           "read_rel_info", "parse_slice"]

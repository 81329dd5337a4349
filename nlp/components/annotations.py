"""What the kgqa spaCy components write on a Doc (``doc._.kgqa_*``).

* ``doc._.kgqa_mentions``: list of :class:`Mention` — named mentions (from NER and name rules),
  dates and numbers (values: no cluster), and, after coreference, pronouns and nominals ("the
  company") pointing at an entity cluster;
* ``doc._.kgqa_entities``: list of :class:`EntityCluster` — the document's canonical entities;
* ``doc._.kgqa_relations``: list of :class:`RelationMention` — schema and open relations between
  clusters (or a cluster and a date), each with its sentence and confidence.

>>> m = Mention(0, 2, "PERSON", "name", cluster=0)
>>> m.is_entity
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

from spacy.tokens import Doc


@dataclass
class Mention:
    """Tokens ``[start, end)`` of a Doc that refer to something.

    ``kind`` is ``name`` (NER span or name rule), ``date`` (type ``DATE``), ``number`` (type ``NUM``:
    counts, quantities, amounts, percentages), ``pronoun`` or ``nominal``; ``cluster`` indexes
    ``doc._.kgqa_entities`` (None for dates and numbers, which are values with no entity);
    ``confidence`` is how sure we are of that link.
    """

    start: int
    end: int
    type: str
    kind: str
    cluster: int | None = None
    confidence: float = 1.0
    text: str = ""

    @property
    def is_entity(self) -> bool:
        return self.cluster is not None


@dataclass
class EntityCluster:
    """One canonical entity of a document: its label, every surface form, type and links."""

    id: int
    label: str
    type: str
    aliases: list[str] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)  # indexes into doc._.kgqa_mentions
    gender: str | None = None  # "m"/"f" once a gendered pronoun or title tied to it
    iri: str | None = None  # set when linked to an entity already in the graph or a KB
    same_as: list[str] = field(default_factory=list)
    description: str | None = None
    link_score: float = 1.0

    def add_alias(self, text: str) -> None:
        if text and text not in self.aliases:
            self.aliases.append(text)


@dataclass
class RelationMention:
    """A relation read in one sentence: ``subject`` is a cluster id; ``object`` a cluster id or a
    date literal (``obj_literal``: ISO string, ``obj_datatype``: "date"/"gYear"/"gYearMonth")."""

    subject: int
    relation: str
    object: int | None
    sent_start: int  # character offsets of the sentence in the document
    sent_end: int
    confidence: float
    extractor: str
    open: bool = False
    obj_literal: str | None = None
    obj_datatype: str | None = None
    label: str | None = None  # relation label (open relations: verb phrase)


def ensure_extensions() -> None:
    """Register the ``doc._.kgqa_*`` extensions once per process."""
    for name in ("kgqa_mentions", "kgqa_entities", "kgqa_relations"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


__all__ = ["Mention", "EntityCluster", "RelationMention", "ensure_extensions"]

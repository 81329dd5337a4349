"""The one fact model that crosses the layers.

A :class:`Fact` is a triple with where it came from (:class:`Source`) and how sure we are of it:

>>> from kg.namespaces import entity_iri, relation_iri
>>> f = Fact(entity_iri("Marie Curie"), relation_iri("place_of_birth"), entity_iri("Warsaw"),
...          Source("curie.txt", "Marie Curie was born in Warsaw.", 0, 31, "relation_extractor"), 0.92)
>>> f.confidence
0.92
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Literal, URIRef
from rdflib.term import Identifier


@dataclass(frozen=True)
class Source:
    """Where one fact was read: document id, the sentence text and its character offsets in the document."""

    document: str
    sentence: str | None = None
    start: int | None = None
    end: int | None = None
    extractor: str = "import"


@dataclass(frozen=True)
class Fact:
    """subject, predicate, object (rdflib terms), its source and a confidence in [0, 1]."""

    subject: URIRef
    predicate: URIRef
    object: Identifier
    source: Source | None = None
    confidence: float = 1.0

    def __post_init__(self):
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if not isinstance(self.subject, URIRef) or not isinstance(self.predicate, URIRef):
            raise TypeError("a fact's subject and predicate are IRIs (rdflib.URIRef)")
        if not isinstance(self.object, (URIRef, Literal)):
            raise TypeError("a fact's object is an IRI or a Literal")

    @property
    def triple(self) -> tuple[URIRef, URIRef, Identifier]:
        return (self.subject, self.predicate, self.object)


@dataclass(frozen=True)
class Entity:
    """A canonical entity: IRI, preferred label, aliases (skos:altLabel), types, optional same-as IRIs."""

    iri: URIRef
    label: str
    aliases: tuple[str, ...] = ()
    types: tuple[URIRef, ...] = ()
    same_as: tuple[URIRef, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class Relation:
    """A relation property with its label and aliases; ``open`` marks a relation outside the schema."""

    iri: URIRef
    label: str
    aliases: tuple[str, ...] = ()
    open: bool = False


@dataclass(frozen=True)
class Document:
    """A document record as kept in the store's meta graph."""

    id: str
    iri: URIRef
    content_hash: str | None = None
    source_path: str | None = None
    extractor: str | None = None
    fact_count: int = 0
    added_at: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

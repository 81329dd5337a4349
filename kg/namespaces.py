"""Every IRI kgqa mints or reads comes from here.

The project's own vocabulary ``KGQA`` is closed, so a misspelt term fails loudly:

>>> KGQA.confidence
rdflib.term.URIRef('https://kgqa.dev/ns#confidence')
>>> KGQA.confidance  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
AttributeError: term 'confidance' not in namespace 'https://kgqa.dev/ns#'
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from rdflib import OWL, RDF, RDFS, SKOS, XSD, Namespace
from rdflib.namespace import DefinedNamespace

BASE = "https://kgqa.dev/"
ENT = Namespace(BASE + "entity/")
REL = Namespace(BASE + "relation/")
DOC = Namespace(BASE + "doc/")
STMT = Namespace(BASE + "statement/")
GRAPH = Namespace(BASE + "graph/")
#: entity classes minted by the text pipeline (TYPE.Person, TYPE.Place, ...)
TYPE = Namespace(BASE + "type/")

#: named graph holding one record per document (hash, path, extractor, ...)
META_GRAPH = GRAPH["meta"]
#: named graph holding facts inferred by the rule engine (their derivations: DERIVATION_GRAPH)
INFERRED_GRAPH = GRAPH["inferred"]
#: named graph holding one derivation record (rule + premises) per inferred fact
DERIVATION_GRAPH = GRAPH["derivations"]
#: named graph holding link predictions (never asserted facts)
PREDICTED_GRAPH = GRAPH["predicted"]
#: kgqa's own bookkeeping graphs (documents, meta, inferred, derivations, predicted, ...) live under
#: these two namespaces; SPARQL hides them from ``GRAPH ?g`` unless asked (see KnowledgeGraph.query)
BOOKKEEPING_NAMESPACES = (str(DOC), str(GRAPH))


def is_bookkeeping_graph(iri) -> bool:
    """Whether a named graph is one of kgqa's own (a document's graph, meta, inferred, ...) rather than
    a graph of the user's data.

    >>> is_bookkeeping_graph(META_GRAPH), is_bookkeeping_graph("https://kgqa.dev/doc/bio.txt")
    (True, True)
    >>> is_bookkeeping_graph("http://example.org/g1")
    False
    """
    return str(iri).startswith(BOOKKEEPING_NAMESPACES)


class KGQA(DefinedNamespace):
    """kgqa's own vocabulary (closed)."""

    _NS = Namespace(BASE + "ns#")
    _fail = True

    # classes
    Document: object
    Statement: object
    Entity: object
    Relation: object
    OpenRelation: object
    Derivation: object
    Prediction: object
    # document records
    contentHash: object
    sourcePath: object
    extractor: object
    addedAt: object
    factCount: object
    text: object
    # statement records (provenance of one asserted fact)
    document: object
    sentence: object
    start: object
    end: object
    confidence: object
    # rules and predictions
    rule: object
    premise: object
    conclusion: object
    score: object
    model: object


def slug(text: str) -> str:
    """A readable IRI path segment for a label.

    >>> slug("Marie Skłodowska-Curie")
    'Marie_Sk%C5%82odowska-Curie'
    >>> slug("  place of   birth ")
    'place_of_birth'
    """
    text = unicodedata.normalize("NFC", text).strip()
    text = re.sub(r"\s+", "_", text)
    return quote(text, safe="-_.~()'!*,;:@") or "_"


def entity_iri(label: str):
    """The IRI minted for an entity label: ``entity_iri("Ada Lovelace")`` is ``ENT["Ada_Lovelace"]``."""
    return ENT[slug(label)]


def relation_iri(name: str):
    """The IRI minted for a relation name: ``relation_iri("directed_by")`` is ``REL["directed_by"]``."""
    return REL[slug(name)]


def document_iri(doc_id: str):
    """The IRI (and named graph) of a document id."""
    return DOC[slug(doc_id)]


def local_name(iri) -> str:
    """A readable name for an IRI without a label: its last segment, unquoted, ``_`` as spaces.

    >>> local_name("https://kgqa.dev/entity/Marie_Sk%C5%82odowska-Curie")
    'Marie Skłodowska-Curie'
    """
    from urllib.parse import unquote

    return unquote(str(iri).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]).replace("_", " ")


def label_from_name(name: str) -> str:
    """A relation label from a name: ``label_from_name("directed_by")`` is ``'directed by'``."""
    return re.sub(r"[_\s]+", " ", name).strip()


__all__ = [
    "BASE", "ENT", "REL", "DOC", "STMT", "GRAPH", "TYPE", "META_GRAPH", "INFERRED_GRAPH", "PREDICTED_GRAPH",
    "DERIVATION_GRAPH", "BOOKKEEPING_NAMESPACES", "is_bookkeeping_graph",
    "KGQA", "RDF", "RDFS", "OWL", "SKOS", "XSD", "slug", "entity_iri", "relation_iri",
    "document_iri", "label_from_name", "local_name",
]

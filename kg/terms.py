"""Conversions between rdflib terms (the public API) and pyoxigraph terms (the storage).

Plain literals come back from Oxigraph typed ``xsd:string``; we turn them back into plain
rdflib literals so that ``Literal("x") == row["o"]`` holds.

>>> to_rdflib(to_ox(Literal("x"))) == Literal("x")
True
"""
from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Identifier

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


_NAMED_NODE, _LITERAL = ox.NamedNode, ox.Literal
_new_str = str.__new__
# Converting a literal builds an rdflib Literal (lexical parsing included): the costly part of reading
# rows. Short literals repeat a lot (numbers, dates, labels), so conversions are memoised, boundedly.
_LITERALS: dict = {}
_LITERALS_MAX = 65_536
_LITERAL_CACHE_CHARS = 256


def to_rdflib(term):
    """pyoxigraph term -> rdflib term (``None`` stays ``None``)."""
    if term is None:
        return None
    kind = type(term)
    if kind is _NAMED_NODE:
        # Oxigraph only holds valid IRIs, so rdflib's per-call IRI validation can be skipped
        return _new_str(URIRef, term.value)
    if kind is _LITERAL:
        hit = _LITERALS.get(term)
        if hit is not None:
            return hit
        lit = _literal(term)
        if len(lit) <= _LITERAL_CACHE_CHARS:
            if len(_LITERALS) >= _LITERALS_MAX:
                _LITERALS.clear()
            _LITERALS[term] = lit
        return lit
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.Literal):
        return _literal(term)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.DefaultGraph):
        return None
    return URIRef(str(term))  # RDF-star triples: rare, shown as their text


def _literal(term) -> Literal:
    if term.language:
        return Literal(term.value, lang=term.language)
    dt = term.datatype.value
    if dt == _XSD_STRING:
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(dt))


def to_ox(term):
    """rdflib term (or a plain str IRI) -> pyoxigraph term."""
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return term
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) not in (_XSD_STRING, _RDF_LANGSTRING):
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, str):
        return ox.NamedNode(term)
    if isinstance(term, (int, float, bool)):
        return to_ox(Literal(term))
    raise TypeError(f"cannot store {term!r} as an RDF term")


def sparql_term(term) -> str:
    """An rdflib term (or str IRI) written safely into SPARQL text; user text enters queries only this way.

    >>> sparql_term(Literal('say "hi" } DROP ALL'))
    '"say \\\\"hi\\\\" } DROP ALL"'
    """
    if isinstance(term, str) and not isinstance(term, Identifier):
        term = URIRef(term)
    if isinstance(term, URIRef):
        iri = str(term)
        if any(c in iri for c in '<>"{}|^`\\ \n\t'):
            raise ValueError(f"not a valid IRI: {iri!r}")
        return f"<{iri}>"
    return term.n3()

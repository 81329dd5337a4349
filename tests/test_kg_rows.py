"""Rows read the same after the fast paths in kg.results.Row and kg.terms.to_rdflib (positions, memoised literals)."""
from __future__ import annotations

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from kg import KnowledgeGraph
from kg import terms


@pytest.fixture
def kg():
    with KnowledgeGraph.open("memory") as graph:
        graph.update('''PREFIX ex: <http://example.org/> INSERT DATA {
            ex:a ex:age 42 ; ex:name "Ada"@en ; ex:nick "ada" .
            ex:b ex:age 42 .
            ex:c ex:age "042"^^<http://www.w3.org/2001/XMLSchema#integer> ; ex:bio "%s" }''' % ("x" * 1000))
        yield graph


def test_row_access_by_name_position_attribute_and_iteration(kg):
    rows = list(kg.query("PREFIX ex: <http://example.org/> SELECT ?s ?age ?name WHERE { ?s ex:age ?age "
                         "OPTIONAL { ?s ex:name ?name } } ORDER BY ?s"))
    a, b, c = rows
    assert a["s"] == a[0] == a.s == a[-3] == URIRef("http://example.org/a")
    assert a["name"] == a[-1] == Literal("Ada", lang="en")
    assert list(b) == [URIRef("http://example.org/b"), Literal(42), None]
    assert b.asdict() == {"s": URIRef("http://example.org/b"), "age": Literal(42)}
    assert b["nope"] is None and b.get("name", "n/a") == "n/a"
    with pytest.raises(IndexError):
        a[3]
    assert a["age"].toPython() == 42 and a["age"] == b["age"]
    assert c["age"].datatype == XSD.integer and c["age"].toPython() == 42


def test_memoised_literals_are_equal_and_long_ones_are_not_kept(kg):
    terms._LITERALS.clear()
    plain = [r["o"] for r in kg.query('SELECT ?o WHERE { <http://example.org/a> <http://example.org/nick> ?o }')]
    assert plain == [Literal("ada")] and plain[0].datatype is None
    one = [r["o"] for r in kg.query('SELECT ?o WHERE { VALUES ?o { 1 "1" "1"@en "1"^^<http://example.org/t> } }')]
    assert one == [Literal(1), Literal("1"), Literal("1", lang="en"), Literal("1", datatype=URIRef("http://example.org/t"))]
    assert [type(o.toPython()) for o in one[:2]] == [int, str]
    bio = list(kg.query('SELECT ?o WHERE { ?s <http://example.org/bio> ?o }'))[0]["o"]
    assert bio == Literal("x" * 1000)
    assert all(len(lit) <= terms._LITERAL_CACHE_CHARS for lit in terms._LITERALS.values())

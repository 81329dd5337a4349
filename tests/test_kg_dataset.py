"""The dataset SPARQL sees: the user's data by default, kgqa's bookkeeping graphs by name or on request."""
from __future__ import annotations

import pytest
from rdflib import URIRef

from kg import KnowledgeGraph
from kg.errors import KGQAError, ParseError
from kg.namespaces import META_GRAPH, document_iri
from tests.conftest import DATA

GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
META = str(META_GRAPH)


def graphs(kg, **kw):
    return [str(r["g"]) for r in kg.query(GRAPHS, **kw)]


@pytest.fixture(params=["memory", "disk", "mirrored"])
def store(request, tmp_path):
    if request.param == "memory":
        kg = KnowledgeGraph.open("memory")
    elif request.param == "disk":
        kg = KnowledgeGraph.open(tmp_path / "store")
    else:
        KnowledgeGraph.open(tmp_path / "store").close()
        kg = KnowledgeGraph.open(tmp_path / "store", in_memory=True)
    yield kg
    kg.close()


def test_graph_variable_sees_only_the_users_named_graphs(store):
    store.import_file(DATA / "kg_people.nq")  # one default-graph triple, one in <http://example.org/g1>
    assert graphs(store) == ["http://example.org/g1"]
    everything = graphs(store, all_graphs=True)
    assert META in everything and str(document_iri("kg_people.nq")) in everything
    # the default graph holds the asserted facts only, never the document records
    assert not bool(store.query(f"ASK {{ ?d a <https://kgqa.dev/ns#Document> }}"))
    assert bool(store.query("ASK { <http://example.org/a> <http://example.org/p> <http://example.org/b> }"))


def test_empty_dataset_stays_empty(store):
    store.import_file(DATA / "kg_people.ttl")  # default graph only: a document graph and meta appear
    assert not bool(store.query("ASK { GRAPH ?g { } }"))
    assert not bool(store.query("ASK { GRAPH ?g { ?s ?p ?o } }"))
    rows = store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g").rows()
    assert rows == []
    assert bool(store.query("ASK { GRAPH ?g { } }", all_graphs=True))


def test_bookkeeping_graphs_answer_by_name(store):
    store.import_file(DATA / "kg_people.ttl")
    doc = f"<{document_iri('kg_people.ttl')}>"
    by_constant = f"SELECT ?d WHERE {{ GRAPH <{META}> {{ ?d a <https://kgqa.dev/ns#Document> }} }}"
    assert [str(r["d"]) for r in store.query(by_constant)] == [str(document_iri("kg_people.ttl"))]
    # named anywhere in a query that also has GRAPH ?g: a prefixed name, a FILTER, VALUES
    prefixed = ("PREFIX kg: <https://kgqa.dev/graph/> SELECT ?g WHERE { GRAPH ?g { ?d ?p ?o } "
                "FILTER(?g = kg:meta) } LIMIT 1")
    assert [str(r["g"]) for r in store.query(prefixed)] == [META]
    values = f"SELECT DISTINCT ?g WHERE {{ VALUES ?g {{ {doc} }} GRAPH ?g {{ ?s ?p ?o }} }}"
    assert [str(r["g"]) for r in store.query(values)] == [str(document_iri("kg_people.ttl"))]
    from_named = f"SELECT DISTINCT ?g FROM NAMED <{META}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert [str(r["g"]) for r in store.query(from_named)] == [META]
    # a query that names one bookkeeping graph sees that one (also through GRAPH ?g), not the others
    assert graphs(store) == []
    mixed = f"SELECT DISTINCT ?g WHERE {{ {{ GRAPH ?g {{ ?s ?p ?o }} }} UNION {{ GRAPH <{META}> {{ ?s ?p ?o }} }} }}"
    assert [str(r["g"]) for r in store.query(mixed) if r["g"] is not None] == [META]


def test_provenance_and_stats_still_read_the_document_graphs(store):
    from kg import Fact, Source
    from kg.namespaces import entity_iri, relation_iri

    ada, born, london = entity_iri("Ada"), relation_iri("born_in"), entity_iri("London")
    store.add_document("bio", [Fact(ada, born, london, Source("bio", "Ada was born in London.", 0, 23, "t"), 0.8)])
    assert [s.sentence for s, _ in store.sources(ada, born, london)] == ["Ada was born in London."]
    assert store.stats()["statements"] == 1 and store.stats()["documents"] == 1
    assert store.confidence(ada, born, london) == pytest.approx(0.8)


def test_import_resolves_relative_iris_against_the_file(tmp_path):
    (tmp_path / "people.ttl").write_text("<#ada> <knows> <other.ttl#bob> .\n")
    # RDF/XML whose rdf:resource is empty: the file itself (the W3C subquery tests' sq01.rdf)
    (tmp_path / "empty_base.rdf").write_text(
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex/">'
        '<rdf:Description rdf:about="http://ex/c"><ex:p rdf:resource=""/></rdf:Description></rdf:RDF>\n')
    base = (tmp_path / "people.ttl").resolve().as_uri()
    with KnowledgeGraph.open("memory") as kg:
        kg.import_file(tmp_path / "people.ttl")
        kg.import_file(tmp_path / "empty_base.rdf")
        rows = {tuple(map(str, r)) for r in kg.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }")}
        assert (base + "#ada", (tmp_path / "knows").resolve().as_uri(), (tmp_path / "other.ttl").resolve().as_uri()
                + "#bob") in rows
        assert ("http://ex/c", "http://ex/p", (tmp_path / "empty_base.rdf").resolve().as_uri()) in rows
        kg.import_file(tmp_path / "people.ttl", doc_id="p2", base_iri="http://example.org/data/")
        assert bool(kg.query("ASK { <http://example.org/data/#ada> ?p <http://example.org/data/other.ttl#bob> }"))
        with pytest.raises(ParseError, match="absolute IRI"):
            kg.import_file(tmp_path / "people.ttl", doc_id="p3", base_iri="not an iri")


def test_import_into_a_named_graph(tmp_path):
    with KnowledgeGraph.open("memory") as kg:
        report = kg.import_file(DATA / "kg_people.ttl", graph="http://example.org/people")
        assert graphs(kg) == ["http://example.org/people"]
        assert report.triples == len(kg.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }").rows()) > 0
        assert not bool(kg.query("ASK { ?s ?p ?o }"))  # not asserted into the default graph
        with pytest.raises(KGQAError, match="kgqa's own graphs"):
            kg.import_file(DATA / "kg_people.ttl", graph=META)
        with pytest.raises(KGQAError, match="not an IRI"):
            kg.import_file(DATA / "kg_people.ttl", graph="no spaces allowed")


def test_http_endpoint_and_cli_show_the_users_dataset(tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from ui.cli import app as cli
    from ui.http import create_app

    location = tmp_path / "store"
    with KnowledgeGraph.open(location) as kg:
        kg.import_file(DATA / "kg_people.nq")
        for all_graphs, expected in ((False, 1), (True, 3)):
            with TestClient(create_app(kg, all_graphs=all_graphs)) as client:
                resp = client.get("/sparql", params={"query": GRAPHS})
                assert resp.status_code == 200
                assert len(resp.json()["results"]["bindings"]) == expected
    plain = CliRunner().invoke(cli, ["sparql", GRAPHS, "--store", str(location), "--format", "csv"])
    every = CliRunner().invoke(cli, ["sparql", GRAPHS, "--store", str(location), "--format", "csv", "--all-graphs"])
    assert plain.exit_code == 0 and every.exit_code == 0
    assert plain.output.split() == ["g", "http://example.org/g1"]
    assert META in every.output.split()


# ---------------------------------------------------------------------- a dataset chosen by the caller
EXG = "http://example.org/"
THREE_GRAPHS = (f"INSERT DATA {{ <{EXG}s> <{EXG}p> 'default' . GRAPH <{EXG}g1> {{ <{EXG}s> <{EXG}p> 'g1' }} "
                f"GRAPH <{EXG}g2> {{ <{EXG}s> <{EXG}p> 'g2' }} }}")
OBJECTS = "SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o"


def objects(kg, sparql=OBJECTS, **kw):
    return [str(r["o"]) for r in kg.query(sparql, **kw)]


def test_dataset_arguments_choose_the_graphs(kg):  # conftest's kg: memory, disk and a remote endpoint
    kg.update(THREE_GRAPHS)
    g1, g2 = EXG + "g1", EXG + "g2"
    assert objects(kg) == ["default"]
    assert objects(kg, default_graphs=[g1]) == ["g1"]
    assert objects(kg, default_graphs=[g1, URIRef(g2)]) == ["g1", "g2"]  # merged into one default graph
    # only named graphs given: the default graph is empty, GRAPH reaches those graphs only
    assert objects(kg, named_graphs=[g2]) == []
    assert graphs(kg, named_graphs=[g2]) == [g2]
    assert graphs(kg, default_graphs=[g1]) == []  # only default graphs given: no named graphs
    assert graphs(kg, default_graphs=[g1], named_graphs=[g1, g2]) == [g1, g2]
    # the arguments take precedence over FROM / FROM NAMED in the query (SPARQL 1.1 Protocol 2.1.4)
    assert objects(kg, f"SELECT ?o FROM <{g2}> WHERE {{ ?s ?p ?o }}") == ["g2"]
    assert objects(kg, f"SELECT ?o FROM <{g2}> WHERE {{ ?s ?p ?o }}", default_graphs=[g1]) == ["g1"]
    from_named = f"SELECT DISTINCT ?g FROM NAMED <{g1}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert [str(r["g"]) for r in kg.query(from_named, named_graphs=[g2])] == [g2]
    assert [str(r["g"]) for r in kg.query(from_named, default_graphs=[g2])] == []
    assert objects(kg, default_graphs=[EXG + "missing"]) == []  # an absent graph is an empty one
    with pytest.raises(KGQAError, match="default_graphs 'g1' is not an absolute IRI") as err:
        kg.query(OBJECTS, default_graphs=["g1"])
    assert err.value.code == "E-GRAPH-IRI"
    if kg.store.kind == "sparql":  # the protocol has no way to ask a remote endpoint for an empty dataset
        with pytest.raises(KGQAError, match="empty dataset"):
            kg.query(OBJECTS, default_graphs=[])
    else:
        assert objects(kg, default_graphs=[]) == []


def test_dataset_arguments_may_name_bookkeeping_graphs(store):
    store.import_file(DATA / "kg_people.nq")
    doc = str(document_iri("kg_people.nq"))
    assert graphs(store, named_graphs=[META, doc]) == [doc, META]
    assert bool(store.query("ASK { ?d a <https://kgqa.dev/ns#Document> }", default_graphs=[META]))
    # the document's graph holds a copy of its default-graph triple
    assert [tuple(map(str, r)) for r in store.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", default_graphs=[doc])] == [
        (EXG + "a", EXG + "p", EXG + "b")]


def test_updates_see_every_graph_unless_they_name_theirs(store):
    """Oxigraph's updates take no dataset: GRAPH ?g in an update reaches kgqa's graphs (as documented)."""
    store.import_file(DATA / "kg_people.nq")
    store.update(f"DELETE {{ GRAPH ?g {{ ?s ?p ?o }} }} USING NAMED <{EXG}g1> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}")
    assert graphs(store, all_graphs=True) == [str(document_iri("kg_people.nq")), META]  # g1 emptied, rest kept
    assert len(store.documents()) == 1
    store.update("DELETE WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert graphs(store, all_graphs=True) == [] and store.documents() == []

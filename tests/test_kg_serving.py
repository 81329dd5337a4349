"""The in-memory serving mode: KnowledgeGraph.open(folder, in_memory=True) answers like the disk and writes through."""
from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from kg import Fact, KnowledgeGraph, Source
from kg.errors import StoreError
from tests.conftest import DATA

EX = "http://example.org/sci/"


def _dataset(kg) -> list[str]:
    return sorted(str(q) for q in kg.store.quads(None))


@pytest.fixture
def folder(tmp_path):
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        kg.import_file(DATA / "http_scientists.ttl")
    return tmp_path / "store"


def test_queries_match_the_disk_store(folder):
    q = f"SELECT ?p ?y WHERE {{ ?p <{EX}birthYear> ?y }} ORDER BY ?y"
    with KnowledgeGraph.open(folder) as disk:
        expected, dataset, stats = [r.asdict() for r in disk.query(q)], _dataset(disk), disk.stats()
    with KnowledgeGraph.open(folder, in_memory=True) as served:
        assert served.store.kind == "oxigraph+memory"
        assert [r.asdict() for r in served.query(q)] == expected
        assert _dataset(served) == dataset
        assert {k: v for k, v in served.stats().items() if k != "store"} == \
               {k: v for k, v in stats.items() if k != "store"}


def test_writes_reach_the_disk_and_the_copy(folder):
    fact = Fact(URIRef(EX + "hypatia"), URIRef(EX + "field"), URIRef(EX + "mathematics"),
                Source("notes.txt", "Hypatia taught mathematics.", 0, 27, "test"), 0.8)
    with KnowledgeGraph.open(folder, in_memory=True) as served:
        served.add_document("notes.txt", [fact])                                  # extend
        served.update(f"DELETE DATA {{ <{EX}banach> <{EX}birthYear> 1892 }}")    # replayed update
        served.update(f"INSERT DATA {{ <{EX}curie> <{EX}award> [ <{EX}year> 1911 ] }}")  # mints a blank node
        served.update(f"INSERT {{ <{EX}curie> <{EX}seen> ?now }} WHERE {{ BIND(NOW() AS ?now) }}")
        served.delete_document("http_scientists.ttl")                             # update + graph removal
        assert served.confidence(*fact.triple) == pytest.approx(0.8)
        in_memory = _dataset(served)
    with KnowledgeGraph.open(folder) as disk:
        assert _dataset(disk) == in_memory  # blank nodes and NOW() included: the copy never drifted
        assert bool(disk.query(f"ASK {{ <{EX}hypatia> <{EX}field> <{EX}mathematics> }}"))
        assert not bool(disk.query(f"ASK {{ <{EX}noether> ?p ?o }}"))
        assert len(list(disk.query(f"SELECT ?a WHERE {{ <{EX}curie> <{EX}award> ?a }}"))) == 1


def test_in_memory_needs_a_folder():
    with pytest.raises(StoreError):
        KnowledgeGraph.open("sparql+http://127.0.0.1:1/query", in_memory=True)
    with KnowledgeGraph.open("memory", in_memory=True) as kg:  # already in memory: nothing to copy
        kg.update('INSERT DATA { <http://ex/a> <http://ex/p> "x" }')
        assert [r["o"] for r in kg.query("SELECT ?o WHERE { ?s ?p ?o }")] == [Literal("x")]


def test_replacing_a_document_is_replayed_not_reloaded(folder):
    first = Fact(URIRef(EX + "curie"), URIRef(EX + "note"), Literal("won (twice) [1903, 1911]"),
                 Source("bio.txt", "Curie won twice.", 0, 16, "test"), 0.9)
    second = Fact(URIRef(EX + "curie"), URIRef(EX + "note"), Literal("born in Warsaw (1867)"),
                  Source("bio.txt", "Curie was born in Warsaw.", 0, 25, "test"), 0.7)
    with KnowledgeGraph.open(folder, in_memory=True) as served:
        reloads = []
        original = served.store._reload
        served.store._reload = lambda: (reloads.append(1), original())[1]
        served.add_document("bio.txt", [first])
        served.add_document("bio.txt", [second])   # one update: DELETE ... FILTER(...) ; INSERT DATA {...}
        assert reloads == []                         # brackets inside literals mint nothing
        served.update(f"INSERT DATA {{ <{EX}curie> <{EX}prizes> ( <{EX}physics> <{EX}chemistry> ) }}")
        assert reloads == [1]                        # a collection mints blank nodes: copy reloaded
        in_memory = _dataset(served)
    with KnowledgeGraph.open(folder) as disk:
        assert _dataset(disk) == in_memory
        notes = [str(r["n"]) for r in disk.query(f"SELECT ?n WHERE {{ <{EX}curie> <{EX}note> ?n }}")]
        assert notes == ["born in Warsaw (1867)"]

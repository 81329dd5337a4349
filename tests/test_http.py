"""The SPARQL 1.1 endpoint over real HTTP, with the clients users bring: SPARQLWrapper, rdflib, httpx."""
from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.error

import httpx
import pytest
import rdflib
from rdflib import Literal, URIRef
from typer.testing import CliRunner

from tests.conftest import DATA, free_port

EX = "http://example.org/sci/"
TOKEN = "s3cret-token"
PREFIX = f"PREFIX ex: <{EX}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "


def _start(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    from kg import KnowledgeGraph

    folder = tmp_path_factory.mktemp("http-store")
    filler = folder / "filler.nt"
    # 3,000 generated triples: enough for a cross product that is slow on purpose
    filler.write_text("".join(f"<http://example.org/n/{i}> <http://example.org/n/next> "
                              f"<http://example.org/n/{i + 1}> .\n" for i in range(3000)))
    graph = KnowledgeGraph.open(folder / "store")
    graph.import_file(DATA / "http_scientists.ttl")
    graph.import_file(filler)
    yield graph
    graph.close()


@pytest.fixture(scope="module")
def servers(kg):
    """Servers over one store: ``main`` (update token, generous limits), ``strict`` (tiny row cap and
    query size, no token) and ``hasty`` (a 0.05 s timeout)."""
    from ui.http import build_app, create_app

    started = [
        _start(build_app(kg, update_token=TOKEN, timeout=10, max_rows=10_000)),
        _start(create_app(kg, max_rows=5, max_query_bytes=200_000)),
        _start(create_app(kg, timeout=0.05, guard_grace=0.2)),
    ]
    yield {"main": started[0][2], "strict": started[1][2], "hasty": started[2][2]}
    for server, thread, _ in started:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def main(servers):
    return servers["main"] + "/sparql"


@pytest.fixture
def strict(servers):
    return servers["strict"] + "/sparql"


def _wrapper(url, query, fmt):
    from SPARQLWrapper import SPARQLWrapper

    sw = SPARQLWrapper(url)
    sw.setQuery(query)
    sw.setReturnFormat(fmt)
    return sw.query()


# ---------------------------------------------------------------------- real clients
def test_sparqlwrapper_select_json_gets_the_right_people(main):
    from SPARQLWrapper import JSON

    res = _wrapper(main, PREFIX + "SELECT ?name WHERE { ?p ex:bornIn ex:vienna ; rdfs:label ?name } ORDER BY ?name",
                   JSON)
    assert res.response.headers["Content-Type"].startswith("application/sparql-results+json")
    data = res.convert()
    assert [b["name"]["value"] for b in data["results"]["bindings"]] == ["Erwin Schrödinger", "Lise Meitner"]
    assert data["results"]["bindings"][0]["name"]["type"] == "literal"


def test_sparqlwrapper_csv_keeps_commas_quotes_and_unicode(main):
    from SPARQLWrapper import CSV

    res = _wrapper(main, PREFIX + "SELECT ?p ?year ?note WHERE { ?p ex:birthYear ?year OPTIONAL { ?p ex:note ?note } } "
                               "ORDER BY ?year", CSV)
    assert res.response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(res.convert().decode("utf-8"))))
    assert rows[0] == ["p", "year", "note"]
    assert rows[1] == [EX + "curie", "1867", ""]
    assert [EX + "noether", "1882", 'algebra, with a comma; and "quotes"'] in rows
    assert len(rows) == 6


def test_sparqlwrapper_ask(main):
    from SPARQLWrapper import JSON, XML

    assert _wrapper(main, PREFIX + "ASK { ex:curie ex:field ex:chemistry }", JSON).convert()["boolean"] is True
    assert _wrapper(main, PREFIX + "ASK { ex:banach ex:field ex:chemistry }", JSON).convert()["boolean"] is False
    xml = _wrapper(main, PREFIX + "ASK { ex:curie ex:bornIn ex:warsaw }", XML).convert()
    assert xml.getElementsByTagName("boolean")[0].firstChild.data == "true"


def test_sparqlwrapper_construct_as_rdfxml_and_turtle(main):
    from SPARQLWrapper import TURTLE, XML

    q = PREFIX + "CONSTRUCT { ?p ex:livedNear ?c } WHERE { ?p ex:bornIn ?city . ?city ex:inCountry ?c }"
    g = _wrapper(main, q, XML).convert()  # SPARQLWrapper's default: RDF/XML parsed into an rdflib Graph
    assert isinstance(g, rdflib.Graph) and len(g) == 5
    assert (URIRef(EX + "banach"), URIRef(EX + "livedNear"), URIRef(EX + "poland")) in g
    ttl = _wrapper(main, q, TURTLE).convert()
    assert len(rdflib.Graph().parse(data=ttl, format="turtle")) == 5


def test_rdflib_sparqlstore_queries(main):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(main, returnFormat="json")
    g = rdflib.Graph(store=store)
    rows = list(g.query(PREFIX + "SELECT ?p ?y WHERE { ?p ex:field ex:mathematics ; ex:birthYear ?y } ORDER BY ?y"))
    assert [(str(r.p), r.y.toPython()) for r in rows] == [(EX + "noether", 1882), (EX + "banach", 1892)]
    assert set(g.objects(URIRef(EX + "curie"), URIRef(EX + "field"))) == {URIRef(EX + "physics"),
                                                                           URIRef(EX + "chemistry")}
    xml_store = SPARQLStore(main)  # rdflib's default asks for XML results
    assert bool(rdflib.Graph(store=xml_store).query(PREFIX + "ASK { ex:noether ?p ?o }"))


def test_rdflib_updatestore_needs_the_token(main, servers):
    from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

    insert = f'INSERT DATA {{ <{EX}hypatia> <{EX}field> <{EX}mathematics> }}'
    ask = f"ASK {{ <{EX}hypatia> <{EX}field> <{EX}mathematics> }}"
    anonymous = SPARQLUpdateStore(main, main)
    with pytest.raises(urllib.error.HTTPError) as err:
        anonymous.update(insert)
    assert err.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as err:
        SPARQLUpdateStore(servers["strict"] + "/sparql", servers["strict"] + "/sparql").update(insert)
    assert err.value.code == 403
    assert httpx.get(main, params={"query": ask}).json()["boolean"] is False
    authorised = SPARQLUpdateStore(main, main, headers={"Authorization": f"Bearer {TOKEN}"})
    authorised.update(insert)
    assert httpx.get(main, params={"query": ask}).json()["boolean"] is True
    authorised.update(f"DELETE DATA {{ <{EX}hypatia> <{EX}field> <{EX}mathematics> }}")
    assert httpx.get(main, params={"query": ask}).json()["boolean"] is False


# ---------------------------------------------------------------------- protocol details with httpx
SELECT_NAMES = PREFIX + "SELECT ?name WHERE { ?p ex:field ex:physics ; rdfs:label ?name } ORDER BY ?name"
CONSTRUCT_FIELDS = PREFIX + "CONSTRUCT { ?p ex:field ?f } WHERE { ?p ex:field ?f }"


@pytest.mark.parametrize("accept, ctype, check", [
    ("application/sparql-results+json", "application/sparql-results+json",
     lambda b: json.loads(b)["results"]["bindings"][0]["name"]["value"] == "Erwin Schrödinger"),
    ("application/sparql-results+xml", "application/sparql-results+xml", lambda b: b"<literal>Lise Meitner" in b),
    ("text/csv", "text/csv", lambda b: b.decode().splitlines() == ["name", "Erwin Schrödinger", "Lise Meitner",
                                                                  "Marie Curie"]),
    ("text/tab-separated-values", "text/tab-separated-values",
     lambda b: b.decode().splitlines()[0] == "?name" and len(b.decode().splitlines()) == 4),
    ("text/csv;q=0.2, application/sparql-results+xml;q=0.9", "application/sparql-results+xml", lambda b: True),
    ("*/*", "application/sparql-results+json", lambda b: len(json.loads(b)["results"]["bindings"]) == 3),
    (None, "application/sparql-results+json", lambda b: True),
])
def test_select_content_negotiation(main, accept, ctype, check):
    headers = {"Accept": accept} if accept else {}
    r = httpx.get(main, params={"query": SELECT_NAMES}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ctype
    assert check(r.content)


@pytest.mark.parametrize("accept, ctype, rdflib_format", [
    ("text/turtle", "text/turtle", "turtle"),
    ("application/n-triples", "application/n-triples", "nt"),
    ("application/ld+json", "application/ld+json", "json-ld"),
    ("application/rdf+xml", "application/rdf+xml", "xml"),
    ("*/*", "text/turtle", "turtle"),
])
def test_construct_content_negotiation(main, accept, ctype, rdflib_format):
    r = httpx.get(main, params={"query": CONSTRUCT_FIELDS}, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ctype
    g = rdflib.Graph().parse(data=r.content, format=rdflib_format)
    assert len(g) == 6 and (URIRef(EX + "banach"), URIRef(EX + "field"), URIRef(EX + "mathematics")) in g


def test_format_parameter_overrides_accept_and_post_forms_work(main):
    r = httpx.get(main, params={"query": SELECT_NAMES, "format": "csv"}, headers={"Accept": "application/json"})
    assert r.headers["content-type"].startswith("text/csv") and r.text.startswith("name\r\n")
    r = httpx.get(main, params={"query": CONSTRUCT_FIELDS, "format": "nt"})
    assert r.headers["content-type"].startswith("application/n-triples") and len(r.text.splitlines()) == 6
    r = httpx.post(main, data={"query": SELECT_NAMES}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.text.splitlines()[1] == "Erwin Schrödinger"
    r = httpx.post(main, content=SELECT_NAMES.encode(), headers={"Content-Type": "application/sparql-query",
                                                                 "Accept": "application/sparql-results+json"})
    assert r.status_code == 200 and len(r.json()["results"]["bindings"]) == 3


def test_unacceptable_format_is_406(main):
    r = httpx.get(main, params={"query": CONSTRUCT_FIELDS}, headers={"Accept": "text/csv"})
    assert r.status_code == 406 and "text/turtle" in r.text


def test_malformed_query_is_400_with_the_parser_message(main):
    r = httpx.get(main, params={"query": "SELECT ?x WHERE { ?x ?y }"})
    assert r.status_code == 400
    assert r.text.startswith("[E-QUERY]") and "error at 1:" in r.text
    r = httpx.post(main, data={"query": "SELEC * WHERE {}"})
    assert r.status_code == 400 and "[E-QUERY]" in r.text


def test_updates_refused_without_valid_token(main, strict):
    upd = f"INSERT DATA {{ <{EX}x> <{EX}y> <{EX}z> }}"
    assert httpx.post(strict, data={"update": upd}).status_code == 403
    r = httpx.post(main, data={"update": upd})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(main, content=upd, headers={"Content-Type": "application/sparql-update",
                                               "Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "wrong" in r.text
    assert httpx.post(main, data={"update": upd}, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert httpx.get(main, params={"update": upd}).status_code == 400
    assert httpx.get(main, params={"query": f"ASK {{ <{EX}x> ?p ?o }}"}).json()["boolean"] is False
    r = httpx.post(main, data={"update": "INSERT DATA { oops }"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and "[E-QUERY]" in r.text


SCIENTISTS_DOC, FILLER_DOC = "https://kgqa.dev/doc/http_scientists.ttl", "https://kgqa.dev/doc/filler.nt"
ASK_CURIE = PREFIX + "ASK { ex:curie ?p ?o }"
NAMED = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"


def _ask(url, query, **params):
    r = httpx.get(url, params={"query": query, **params})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def _graph_names(response):
    assert response.status_code == 200, response.text
    return [b["g"]["value"] for b in response.json()["results"]["bindings"]]


def test_dataset_parameters_choose_the_graphs(main):
    # each imported file has its document graph (bookkeeping, asked by name here): two graphs to pick from
    assert _ask(main, ASK_CURIE) and _graph_names(httpx.get(main, params={"query": NAMED})) == []
    assert _ask(main, ASK_CURIE, **{"default-graph-uri": SCIENTISTS_DOC})
    assert not _ask(main, ASK_CURIE, **{"default-graph-uri": FILLER_DOC})
    both = [("query", NAMED), ("named-graph-uri", FILLER_DOC), ("named-graph-uri", SCIENTISTS_DOC)]
    assert _graph_names(httpx.get(main, params=both)) == [FILLER_DOC, SCIENTISTS_DOC]
    # named graphs only: the default graph is empty; default graphs only: no named graphs
    assert not _ask(main, "ASK { ?s ?p ?o }", **{"named-graph-uri": SCIENTISTS_DOC})
    assert _graph_names(httpx.get(main, params={"query": NAMED, "default-graph-uri": SCIENTISTS_DOC})) == []
    # a form POST carries them in the body, a direct POST in the URL
    r = httpx.post(main, data={"query": NAMED, "named-graph-uri": [FILLER_DOC]})
    assert _graph_names(r) == [FILLER_DOC]
    r = httpx.post(main, params={"default-graph-uri": FILLER_DOC}, content=ASK_CURIE,
                   headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 200 and r.json()["boolean"] is False


def test_dataset_parameters_override_from_in_the_query(main):
    from_filler = PREFIX + f"ASK FROM <{FILLER_DOC}> {{ ex:curie ?p ?o }}"
    assert not _ask(main, from_filler)
    assert _ask(main, from_filler, **{"default-graph-uri": SCIENTISTS_DOC})
    from_named = f"SELECT DISTINCT ?g FROM NAMED <{SCIENTISTS_DOC}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert _graph_names(httpx.get(main, params={"query": from_named})) == [SCIENTISTS_DOC]
    assert _graph_names(httpx.get(main, params={"query": from_named, "named-graph-uri": FILLER_DOC})) == [FILLER_DOC]
    assert _graph_names(httpx.get(main, params={"query": from_named, "default-graph-uri": FILLER_DOC})) == []


def test_bad_dataset_parameters_say_what_to_do(main):
    r = httpx.get(main, params={"query": ASK_CURIE, "default-graph-uri": "sci"})
    assert r.status_code == 400 and r.text.startswith("[E-GRAPH-IRI]")
    assert "default-graph-uri 'sci' is not an absolute IRI" in r.text and "full IRI" in r.text
    r = httpx.post(main, data={"query": ASK_CURIE, "named-graph-uri": ""})
    assert r.status_code == 400 and "named-graph-uri" in r.text
    # updates: the engine takes no dataset, so the protocol's using- parameters point to USING / WITH
    upd = f"INSERT {{ <{EX}dataset-test> <{EX}p> 1 }} WHERE {{ }}"
    for name in ("using-graph-uri", "using-named-graph-uri", "default-graph-uri"):
        r = httpx.post(main, params={name: SCIENTISTS_DOC}, content=upd,
                       headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 400 and "USING <graph>" in r.text and "WITH <graph>" in r.text, r.text
    assert not _ask(main, f"ASK {{ <{EX}dataset-test> ?p ?o }}")  # nothing was written


def test_row_cap_is_413_and_limit_fixes_it(strict):
    r = httpx.get(strict, params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 413 and "[E-ROW-CAP]" in r.text and "LIMIT" in r.text
    r = httpx.get(strict, params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
    assert r.status_code == 200 and len(r.json()["results"]["bindings"]) == 3
    r = httpx.get(strict, params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert r.status_code == 413


def test_slow_query_times_out_and_server_stays_responsive(servers):
    hasty = servers["hasty"] + "/sparql"
    started = time.monotonic()
    r = httpx.get(hasty, params={"query": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"}, timeout=30)
    assert r.status_code == 503 and "[E-TIMEOUT]" in r.text and "0.05 s" in r.text
    # an aggregate is evaluated in one block: the outer guard answers while the worker finishes later
    r = httpx.get(hasty, params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"}, timeout=30)
    assert r.status_code == 503 and "[E-TIMEOUT]" in r.text
    assert time.monotonic() - started < 10
    assert httpx.get(servers["hasty"] + "/health").json()["status"] == "ok"
    r = httpx.get(hasty, params={"query": PREFIX + "ASK { ex:curie ?p ?o }"})
    assert r.status_code == 200 and r.json()["boolean"] is True


@pytest.mark.parametrize("name, request_kwargs, status", [
    ("empty query", {"params": {"query": ""}}, 400),
    ("blank query", {"params": {"query": "   \n\t"}}, 400),
    ("no query", {}, 400),
    ("NUL in query", {"params": {"query": "ASK {\x00}"}}, 400),
    ("deep nesting", {"params": {"query": "ASK " + "{" * 5000 + "}" * 5000}}, 400),
    ("deep parens", {"params": {"query": "ASK { FILTER(" + "(" * 300 + "1" + ")" * 300 + ") }"}}, 400),
    ("two queries", {"params": [("query", "ASK {}"), ("query", "ASK {}")]}, 400),
    ("relative graph IRI", {"params": {"query": "ASK {}", "default-graph-uri": "g1"}}, 400),
    ("graph IRI with a space", {"params": {"query": "ASK {}", "named-graph-uri": "http://example.org/a b"}}, 400),
    ("update dataset param on a query", {"params": {"query": "ASK {}", "using-graph-uri": "http://example.org/g"}},
     400),
    ("federated query", {"params": {"query": "SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"}}, 400),
    ("silent federated query", {"params": {"query": "select * { service silent <http://10.0.0.1/q> {} }"}}, 400),
    ("bad percent-encoding", {"url_suffix": "?query=ASK%20%7B%FF%FE%7D"}, 400),
])
def test_bad_get_requests_get_clear_errors(strict, servers, name, request_kwargs, status):
    kwargs = dict(request_kwargs)
    url = strict + kwargs.pop("url_suffix", "")
    r = httpx.get(url, timeout=30, **kwargs)
    assert r.status_code == status, (name, r.text)
    assert r.text.startswith("[E-")
    assert httpx.get(servers["strict"] + "/health").status_code == 200


@pytest.mark.parametrize("name, body, headers, status", [
    ("binary garbage", bytes(range(256)) * 4, {"Content-Type": "application/sparql-query"}, 400),
    ("garbage form", b"query=%FF%FE%00&x", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("query and update", b"query=ASK%7B%7D&update=CLEAR%20ALL", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("json body", b'{"query": "ASK {}"}', {"Content-Type": "application/json"}, 415),
    ("text/plain body", b"ASK {}", {"Content-Type": "text/plain"}, 415),
    ("no content type", b"ASK {}", {}, 415),
    ("huge query", b"ASK { " + b"?s ?p ?o . " * 30_000 + b"}", {"Content-Type": "application/sparql-query"}, 413),
    ("many tokens", ("ASK { FILTER(" + "!" * 150_000 + "true) }").encode(),
     {"Content-Type": "application/sparql-query"}, 400),
    ("garbage update", b"\xde\xad\xbe\xef", {"Content-Type": "application/sparql-update"}, 400),
])
def test_bad_post_requests_get_clear_errors(strict, servers, name, body, headers, status):
    r = httpx.post(strict, content=body, headers=headers, timeout=30)
    assert r.status_code == status, (name, r.text)
    assert r.text.startswith("[E-")
    assert httpx.get(servers["strict"] + "/health").status_code == 200


def test_long_operator_chain_is_refused_not_fatal(main, servers):
    # Tens of thousands of nested unary operators overflow a default thread stack inside Oxigraph;
    # kg refuses them before parsing (everywhere, not only on the server's big-stack workers).
    r = httpx.post(main, content="ASK { FILTER(" + "!" * 40_000 + "true) }",
                   headers={"Content-Type": "application/sparql-query"}, timeout=60)
    assert r.status_code == 400 and "E-QUERY-COMPLEX" in r.text
    r = httpx.post(main, content="ASK { FILTER(" + "!" * 3_000 + "true) }",
                   headers={"Content-Type": "application/sparql-query"}, timeout=60)
    assert r.status_code == 200 and r.json()["boolean"] is True
    assert httpx.get(servers["main"] + "/health").status_code == 200


def test_very_long_url_does_not_kill_the_server(servers):
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(servers["strict"])
    target = "/sparql?query=" + "ASK%20%7B%20" + "%3Fs%20%3Fp%20%3Fo%20.%20" * 20_000 + "%7D"
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError:
            pass  # the HTTP layer may drop an oversized request line; what matters is what follows
    if reply:
        assert int(reply.split(b" ", 2)[1]) >= 400
    assert httpx.get(servers["strict"] + "/health").status_code == 200


def test_health_stats_and_docs(servers):
    base = servers["main"]
    health = httpx.get(base + "/health").json()
    assert health["status"] == "ok" and health["updates"] is True and health["store"].startswith("oxigraph:")
    stats = httpx.get(base + "/api/stats").json()
    assert stats["documents"] == 2 and stats["triples"] >= 3000
    assert httpx.get(base + "/docs").status_code == 200
    spec = httpx.get(base + "/openapi.json").json()
    assert {"get", "post"} <= set(spec["paths"]["/sparql"])
    assert "application/sparql-query" in spec["paths"]["/sparql"]["post"]["requestBody"]["content"]


def test_app_leaves_room_for_more_routes(kg):
    """The chat UI adds routes to the same app; /sparql keeps working beside them."""
    from fastapi.testclient import TestClient

    from ui.http import build_app, run_in_worker

    app = build_app(kg)

    @app.get("/api/echo-count")
    async def echo_count():
        return {"n": await run_in_worker(app, len, kg)}

    with TestClient(app) as client:
        assert client.get("/api/echo-count").json()["n"] == len(kg)
        assert client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True


# ---------------------------------------------------------------------- the command
def test_serve_help_and_missing_store(tmp_path):
    from ui.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for option in ("--store", "--host", "--port", "--update-token", "--timeout", "--max-rows", "--in-memory"):
        assert option in r.output
    r = runner.invoke(app, ["serve", "--store", str(tmp_path / "nowhere")])
    assert r.exit_code != 0 and "E-STORE-MISSING" in r.output


def test_kgqa_serve_runs_the_endpoint(tmp_path):
    """`kgqa serve` as a user starts it: SPARQLWrapper gets JSON and CSV; KGQA_UPDATE_TOKEN enables updates."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from SPARQLWrapper import CSV, JSON

    from kg import KnowledgeGraph

    with KnowledgeGraph.open(tmp_path / "store") as graph:
        graph.import_file(DATA / "http_scientists.ttl")
    port = free_port()
    exe = Path(sys.executable).parent / "kgqa"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from ui.cli import main; main()"]
    env = dict(os.environ, KGQA_UPDATE_TOKEN=TOKEN)
    proc = subprocess.Popen(cmd + ["serve", "--store", str(tmp_path / "store"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "kgqa serve did not start"
            time.sleep(0.2)
        q = PREFIX + "SELECT ?name WHERE { ?p ex:bornIn ex:warsaw ; rdfs:label ?name }"
        assert _wrapper(base + "/sparql", q, JSON).convert()["results"]["bindings"][0]["name"]["value"] == "Marie Curie"
        assert _wrapper(base + "/sparql", q, CSV).convert().decode().splitlines() == ["name", "Marie Curie"]
        upd = {"update": f"INSERT DATA {{ <{EX}x> <{EX}y> <{EX}z> }}"}
        assert httpx.post(base + "/sparql", data=upd).status_code == 401
        assert httpx.post(base + "/sparql", data=upd, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 204
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out = proc.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0].decode()
    assert f"http://127.0.0.1:{port}/sparql" in out and "bearer token" in out
    with KnowledgeGraph.open(tmp_path / "store") as graph:  # the server let go of the store and kept the update
        assert bool(graph.query(f"ASK {{ <{EX}x> <{EX}y> <{EX}z> }}"))

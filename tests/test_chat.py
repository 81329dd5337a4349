"""The chat service: answer formatting (pure functions) and the launched app through real clients.

The app tests start uvicorn on a free 127.0.0.1 port with the UI mounted on a FastAPI app, over a
tiny store built from ``tests/data/ui_computing.txt`` (pipe facts) plus one document whose fact
carries its source sentence, and talk to it with ``gradio_client`` and ``httpx``.
"""
from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from kg import KnowledgeGraph
from kg.facts import Entity, Fact, Relation, Source
from kg.namespaces import entity_iri, relation_iri
from reasoning.answers import Answer, AnswerSet, EvidenceStep
from ui import formatting as fmt
from ui.chat import ChatService, is_update, mount_ui, serve_in_background, stage_inputs

DATA = Path(__file__).parent / "data"
ADA_SENTENCE = "Ada Lovelace was born in London in 1815."


def _store() -> KnowledgeGraph:
    kg = KnowledgeGraph.open("memory")
    kg.import_file(DATA / "ui_computing.txt", "pipe")
    kg.add_document("ada.txt", [Fact(entity_iri("Ada Lovelace"), relation_iri("born in"), entity_iri("London"),
                                     Source("ada.txt", ADA_SENTENCE, 0, len(ADA_SENTENCE), "test"), 0.9)],
                    entities=[Entity(entity_iri("Ada Lovelace"), "Ada Lovelace", ("Lovelace",)),
                              Entity(entity_iri("London"), "London")],
                    relations=[Relation(relation_iri("born in"), "born in")], text=ADA_SENTENCE)
    return kg


def _app(kg, **kw):
    """The served app: the SPARQL endpoint app from ui.http when it exists, with the UI mounted."""
    try:
        from ui.http import create_app
    except ImportError:  # the HTTP endpoint module is written separately; the UI mounts on any FastAPI app
        from fastapi import FastAPI

        return mount_ui(FastAPI(), kg, examples_file=None, **kw)
    return mount_ui(create_app(kg, update_token=kw.get("update_token")), kg, examples_file=None, **kw)


@pytest.fixture(scope="module")
def served():
    kg = _store()
    with serve_in_background(_app(kg)) as url:
        yield url, kg


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[0], verbose=False)


# ---------------------------------------------------------------------- formatting (pure)

def _answers_with_inference() -> AnswerSet:
    born = EvidenceStep("Ada Lovelace", "born in", "London", source={"document": "ada.txt", "sentence": ADA_SENTENCE},
                        subject_iri="e:ada", object_iri="e:london")
    located = EvidenceStep("London", "located in", "England", rule="capital_located_in",
                           subject_iri="e:london", object_iri="e:england")
    return AnswerSet("In which country was Ada Lovelace born?",
                     [Answer("England", "e:england", 0.82, [born, located]), Answer("Wales", "e:wales", 0.1, [])],
                     method="sparql", sparql="SELECT ?x WHERE { <e:ada> <r:born_in>/<r:located_in> ?x }")


def test_answer_markdown_shows_answer_confidence_evidence_citation_rule_and_sparql():
    md = fmt.answer_markdown(_answers_with_inference())
    assert md.startswith("### England") and "82%" in md
    assert "Ada Lovelace → *born in* → London \\[1\\]" in md
    assert f"1. “{ADA_SENTENCE}” — *ada.txt*" in md
    assert "inferred by rule `capital_located_in`" in md
    assert "<details><summary>SPARQL used (method: sparql)</summary>" in md and "born_in>/<r:located_in>" in md
    assert "**Wales** · confidence 10%" in md


def test_a_ranking_score_is_not_shown_as_a_confidence():
    step = EvidenceStep("Ada Lovelace", "born in", "London", subject_iri="e:ada", predicate_iri="r:born",
                        object_iri="e:london")
    answers = AnswerSet("q", [Answer("London", "e:london", 1.47, [step])])
    assert "ranking **score 1.47**" in fmt.answer_markdown(answers)
    md = fmt.answer_markdown(answers, fact_confidence={("e:ada", "r:born", "e:london"): 0.9})
    assert "confidence **90%** (evidence) · ranking score 1.47" in md and "London (90%)" in md


def test_no_answer_and_empty_store_say_what_to_do():
    md = fmt.answer_markdown(AnswerSet("Who is Zork?", []))
    assert "No answer found" in md and "Ingest" in md and "Explore" in md
    assert "Ingest" in fmt.EMPTY_STORE_MARKDOWN and "kgqa build" in fmt.EMPTY_STORE_MARKDOWN


def test_evidence_graph_marks_topic_answer_and_inferred_edges():
    graph = fmt.evidence_graph(_answers_with_inference())
    kinds = {n.label: n.kind for n in graph.nodes}
    assert kinds["Ada Lovelace"] == "topic" and kinds["England"] == "answer" and kinds["London"] == "entity"
    styles = {e.label: e.style for e in graph.edges}
    assert styles == {"born in": "asserted", "located in": "inferred"}
    svg = fmt.graph_svg(graph)
    assert svg.count('class="kg-node kg-node-') == 3 and svg.count('class="kg-edge kg-edge-') == 2
    assert "stroke-dasharray" in svg


def test_graph_svg_escapes_labels_from_documents():
    graph = fmt.DrawnGraph()
    graph.node("a", "<script>alert(1)</script>", "topic")
    graph.node("b", 'Q&A "x"', "answer")
    graph.edge("a", "b", "<b>rel</b>")
    svg = fmt.graph_svg(graph)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg and "Q&amp;A" in svg


def test_markdown_escapes_labels():
    md = fmt.answer_markdown(AnswerSet("q", [Answer("*bold* [link](http://x) <img src=x>", None, 1.0, [])]))
    assert "<img" not in md and "&lt;img" in md and "\\*bold\\*" in md and "\\[link\\]" in md


def test_questions_generated_from_facts_read_naturally():
    assert fmt.question_from_fact("Alan Turing", "place of birth") == "What is the place of birth of Alan Turing?"
    assert fmt.question_from_fact("Intel", "headquartered in") == "Where is Intel headquartered?"
    assert fmt.question_from_fact("Apple", "founded by") == "Who founded Apple?"
    assert fmt.question_from_fact("Ada", "studied at") == "Where did Ada study?"
    qs = fmt.example_questions([("A", "born in", "X"), ("B", "born in", "Y"), ("C", "founded by", "D")], limit=2)
    assert qs == ["Where was A born?", "Who founded C?"]  # one per relation before repeating one


def test_build_report_markdown_lists_counts_and_failures():
    md = fmt.build_report_markdown({"built": 2, "facts": 7, "seconds": 1.5,
                                    "failures": [{"id": "b.bin", "code": "binary", "reason": "binary file"}]})
    assert "| built | 2 |" in md and "| facts | 7 |" in md and "b.bin: binary file" in md


def test_update_detection_and_upload_staging(tmp_path):
    assert is_update("PREFIX x: <http://x/>\nDELETE WHERE { ?s ?p ?o }")
    assert not is_update("# INSERT in a comment\nSELECT * { ?s ?p ?o }")
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "notes.md"
    good.write_text("Ada was born in London.")
    big = tmp_path / "in" / "big.txt"
    big.write_text("x" * 200)
    binary = tmp_path / "in" / "image.png"
    binary.write_bytes(b"\x89PNG")
    files, skipped = stage_inputs(tmp_path / "out", [good, big, binary], "Pasted text.", name="mine", max_bytes=100)
    assert sorted(f.name for f in files) == ["mine.txt", "notes.md"]
    assert any("big.txt" in s and "limit" in s for s in skipped) and any("image.png" in s for s in skipped)


# ---------------------------------------------------------------------- the service without a server

def test_sparql_tab_is_read_only_without_a_token_and_writes_with_it():
    kg = _store()
    read_only = ChatService(kg, examples_file=None)
    headers, rows, note, csv_path = read_only.run_sparql("SELECT ?o WHERE { <https://kgqa.dev/entity/Intel> ?p ?o }")
    assert headers == ["o"] and ["https://kgqa.dev/entity/Santa_Clara"] in rows and "rows" in note
    assert Path(csv_path).read_text().splitlines()[0] == "o"
    before = len(kg)
    _, _, note, _ = read_only.run_sparql("INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }")
    assert "Read-only" in note and len(kg) == before
    guarded = ChatService(kg, update_token="s3cret", examples_file=None)
    assert "Refused" in guarded.run_sparql("INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }", "wrong")[2]
    assert "+1" in guarded.run_sparql("INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }", "s3cret")[2]
    _, _, note, _ = read_only.run_sparql("SELECT ?s WHERE { ?s ?p }")
    assert note.startswith("**Error:**")


def test_explore_finds_misspelt_entities_with_provenance():
    service = ChatService(_store(), examples_file=None)
    hits = service.find_entities("ada lovelase")
    assert hits[0] == ("Ada Lovelace", str(entity_iri("Ada Lovelace")))
    rows, drawing, heading = service.explore(hits[0][1])
    assert ["Ada Lovelace", "born in", "London", "90%", "ada.txt", ADA_SENTENCE] in rows
    assert "Ada Lovelace" in heading and 'class="kg-node' in drawing


def test_examples_come_from_the_store(tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text("# demo questions\nWho founded Intel?\nWhere was Nobody Known born?\n")
    service = ChatService(_store(), examples_file=questions)
    examples = service.examples(6)
    assert examples[0] == "Who founded Intel?" and "Where was Nobody Known born?" not in examples
    assert len(examples) == 6 and all(q.endswith("?") for q in examples)


def test_a_failing_reasoner_is_reported_in_the_chat(monkeypatch):
    service = ChatService(_store(), examples_file=None)

    def broken(question, method=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "ask", broken)
    reply, drawing = service.answer("Who founded Intel?")
    assert reply.startswith("**Internal error**") and "boom" in reply and "<svg" in drawing


def test_empty_store_chat_says_how_to_add_documents():
    service = ChatService(KnowledgeGraph.open("memory"), examples_file=None)
    assert service.chat("Where was Ada born?") == fmt.EMPTY_STORE_MARKDOWN
    assert service.examples() == []


# ---------------------------------------------------------------------- the launched app

@pytest.mark.slow
def test_gradio_client_chat_endpoint_answers_with_evidence(client):
    reply = client.predict("Where was Ada Lovelace born?", api_name="/chat")
    assert reply.startswith("### London")
    assert "Ada Lovelace → *born in* → London (90%)" in reply and ADA_SENTENCE in reply  # the fact's confidence
    assert "<details><summary>SPARQL used" in reply


@pytest.mark.slow
def test_no_answer_reply_suggests_questions_from_the_store(client):
    reply = client.predict("Who founded Zyxwv Corporation?", api_name="/chat")
    assert reply.startswith("**No answer found**") and "Questions this graph can answer" in reply


@pytest.mark.slow
def test_respond_appends_to_history_and_draws_evidence(client):
    cleared, history, drawing = client.predict("Who founded Intel?", api_name="/respond")
    assert cleared == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    content = history[1]["content"]  # Gradio 6 sends message content as a list of typed parts
    reply = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
    assert "Gordon Moore" in reply and "Robert Noyce" in reply
    assert "<svg" in drawing and "Gordon Moore" in drawing and "Intel" in drawing


@pytest.mark.slow
def test_rest_ask_returns_the_kgqa_ask_json_shape(served):
    url, _ = served
    data = httpx.post(url + "api/ask", json={"question": "Where is Intel headquartered?"}, timeout=120).json()
    assert data["question"] == "Where is Intel headquartered?"
    assert data["answers"][0]["label"] == "Santa Clara"
    step = data["answers"][0]["evidence"][0]
    assert (step["subject"], step["object"]) == ("Intel", "Santa Clara") and data["sparql"]
    bad = httpx.post(url + "api/ask", json={"question": "  "}, timeout=30)
    assert bad.status_code == 400 and "empty" in bad.json()["message"]


@pytest.mark.slow
def test_twenty_simultaneous_chats_all_get_their_answers(served):
    from gradio_client import Client

    url, _ = served
    cases = [("Where was Alan Turing born?", "London"), ("Who founded Intel?", "Gordon Moore"),
             ("Where is Intel headquartered?", "Santa Clara"), ("What did Linus Torvalds create?", "Linux"),
             ("Where was Grace Hopper born?", "New York City")] * 4

    def chat(case):
        question, expected = case
        reply = Client(url, verbose=False).predict(question, api_name="/chat")
        return expected in reply.split("Evidence")[0], reply

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(chat, cases))
    assert all(ok for ok, _ in results), [reply[:80] for ok, reply in results if not ok]
    assert len(results) == 20 and time.monotonic() - started < 120


@pytest.mark.slow
def test_sparql_and_ui_routes_live_side_by_side(served):
    url, _ = served
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    docs = httpx.get(url + "openapi.json", timeout=30).json()
    assert "/api/ask" in docs["paths"] and "/api/ingest" in docs["paths"]
    try:
        import ui.http  # noqa: F401
    except ImportError:
        pytest.skip("ui/http.py (the SPARQL endpoint) is not in this tree yet")
    res = httpx.get(url + "sparql", params={"query": "ASK { ?s ?p ?o }"},
                    headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert res.status_code == 200 and res.json()["boolean"] is True


def test_rest_ingest_needs_the_token_and_limits_upload_size():
    kg = _store()
    with serve_in_background(_app(kg, update_token="tok", max_file_size=64, warm_up=False)) as url:
        refused = httpx.post(url + "api/ingest", data={"text": "Ada was born in London."}, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"] == "E-AUTH"
        too_big = httpx.post(url + "api/ingest", files={"files": ("big.txt", b"word " * 100, "text/plain")},
                             headers={"Authorization": "Bearer tok"}, timeout=30)
        assert too_big.status_code == 413 and "big.txt" in too_big.json()["message"]
        ui_upload = httpx.post(url + "gradio_api/upload", files={"files": ("big.txt", b"word " * 100, "text/plain")},
                               timeout=30)
        assert ui_upload.status_code == 413  # the Ingest tab's uploads have the same limit


@pytest.mark.slow
def test_rest_ingest_builds_pasted_text_into_the_graph():
    kg = KnowledgeGraph.open("memory")
    with serve_in_background(_app(kg)) as url:
        res = httpx.post(url + "api/ingest", data={"text": "Grace Hopper was born in New York City.",
                                                   "name": "hopper"}, timeout=600)
        assert res.status_code == 200, res.text
        report = res.json()
        assert report["built"] == 1 and report["facts"] >= 1
        assert [d.id for d in kg.documents()] == ["hopper.txt"]
        ask = httpx.post(url + "api/ask", json={"question": "Where was Grace Hopper born?"}, timeout=300).json()
        assert ask["answers"][0]["label"] == "New York City"
        assert ask["answers"][0]["evidence"][0]["source"]["document"] == "hopper.txt"

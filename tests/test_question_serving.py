"""Questions under load (ui.question_queue) and the store's path-vector cache (reasoning.vector_cache).

No real models: a fake reasoner that sleeps stands in for the planner, and a hash-seeded fake encoder
for MiniLM, so every test here runs in about a second.
"""
from __future__ import annotations

import concurrent.futures
import threading
import time

import httpx
import numpy as np
import pytest

from kg import KnowledgeGraph
from tests.conftest import DATA
from ui.chat import ChatService, add_api_routes, serve_in_background
from ui.http import create_app
from ui.question_queue import QuestionQueue, ServiceBusyError


class SlowReasoner:
    """Answers ``"<question> @ revision"`` after ``seconds``; counts its calls."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kg, question, method, k):
        with self.lock:
            self.calls.append(question)
        time.sleep(self.seconds)
        return _Answer(f"{question} @ {kg.store.revision}")


class _Answer:
    def __init__(self, text):
        self.text = text

    def to_json(self):
        return {"question": self.text, "answers": []}


@pytest.fixture()
def films():
    kg = KnowledgeGraph.open("memory")
    kg.import_file(DATA / "qa_films.txt", "pipe")
    yield kg
    kg.close()


def _served(kg, queue):
    app = create_app(kg)
    service = ChatService(kg, examples_file=None, questions=queue)
    app.state.questions = queue
    add_api_routes(app, service)
    return app


# ---------------------------------------------------------------------- readiness
def test_health_reports_readiness_once_the_models_have_loaded(films):
    loaded = threading.Event()
    queue = QuestionQueue(films, answer=SlowReasoner(), warm_up=loaded.wait)
    with serve_in_background(_served(films, queue)) as url:
        queue.start()
        health = httpx.get(url + "health").json()
        assert health["ready"] is False and health["status"] == "starting"
        assert httpx.get(url + "health/ready").status_code == 503
        # SPARQL is served while the models load
        assert httpx.get(url + "sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True
        loaded.set()
        assert queue.wait_ready(5)
        health = httpx.get(url + "health").json()
        assert health["ready"] is True and health["status"] == "ok" and health["questions"]["state"] == "ready"
        assert httpx.get(url + "health/ready").status_code == 200


def test_a_question_asked_while_the_models_load_is_answered_when_they_are(films):
    loaded = threading.Event()
    queue = QuestionQueue(films, answer=SlowReasoner(), warm_up=loaded.wait, max_wait=5).start()
    fut = queue.submit("who directed [Night Harbour]")
    time.sleep(0.1)
    assert not fut.done()
    loaded.set()
    assert fut.result(timeout=5).text.startswith("who directed")


# ---------------------------------------------------------------------- bounded waits
def test_over_the_wait_limit_the_reply_is_an_immediate_503_with_retry_after(films):
    reasoner = SlowReasoner(0.4)
    queue = QuestionQueue(films, answer=reasoner, warm_up=lambda: None, warm_question="warm", max_wait=1.0)
    queue.start(background=False)
    assert queue.service_seconds >= 0.4  # measured on the warm-up question
    with serve_in_background(_served(films, queue)) as url:
        def ask(i):
            started = time.monotonic()
            r = httpx.post(url + "api/ask", json={"question": f"question {i}"}, timeout=30)
            return r.status_code, r.headers.get("retry-after"), time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(ask, range(8)))
        # while questions wait, a SPARQL read is not queued behind them
        started = time.monotonic()
        assert httpx.get(url + "sparql", params={"query": "ASK { ?s ?p ?o }"}).status_code == 200
        assert time.monotonic() - started < 1.0
    codes = [code for code, _, _ in replies]
    assert codes.count(200) >= 1 and codes.count(503) >= 1 and set(codes) <= {200, 503}
    assert all(int(retry) >= 1 for code, retry, _ in replies if code == 503)
    # nobody waits past the limit (answering all eight one after the other would take 3.2 s); the slack
    # is for HTTP on a loaded machine
    assert max(seconds for _, _, seconds in replies) < 1.0 + 0.8
    assert len(reasoner.calls) < 8  # refused questions were never answered


def test_a_slow_question_gets_503_at_the_limit_and_its_answer_is_kept_for_the_retry(films):
    reasoner = SlowReasoner(0.6)
    queue = QuestionQueue(films, answer=reasoner, warm_up=lambda: None, max_wait=0.4).start(background=False)
    queue.service_seconds = 0.05  # an optimistic estimate: admitted, then too slow
    started = time.monotonic()
    with pytest.raises(ServiceBusyError) as err:
        queue.ask("slow one")
    assert time.monotonic() - started < 0.45 and err.value.retry_after >= 1
    time.sleep(0.4)
    assert queue.ask("slow one").text.startswith("slow one") and reasoner.calls == ["slow one"]


def test_the_chat_says_the_service_is_busy(films):
    queue = QuestionQueue(films, answer=SlowReasoner(0.5), warm_up=lambda: None, max_wait=0.3).start(background=False)
    queue.service_seconds = 1.0
    service = ChatService(films, examples_file=None, questions=queue)
    assert "service is busy" in service.chat("who directed [Night Harbour]")


# ---------------------------------------------------------------------- shared work and the answer cache
def test_questions_waiting_together_share_one_batch_and_one_answer(films):
    batches = []
    reasoner = SlowReasoner(0.05)
    gate = threading.Event()
    queue = QuestionQueue(films, answer=reasoner, warm_up=gate.wait, max_wait=5,
                          prepare=lambda kg, questions: batches.append(list(questions))).start()
    futures = [queue.submit(q) for q in ("Who directed X?", "who directed x", "Who wrote X?")]
    gate.set()
    results = [f.result(timeout=5).text for f in futures]
    assert results[0] == results[1] and sorted(reasoner.calls) == ["Who directed X?", "Who wrote X?"]
    assert batches == [["Who directed X?", "Who wrote X?"]]  # one MiniLM batch for the waiting questions


def test_the_answer_cache_is_invalidated_by_a_store_write(films):
    reasoner = SlowReasoner()
    queue = QuestionQueue(films, answer=reasoner, warm_up=lambda: None).start(background=False)
    first = queue.ask("who directed [Night Harbour]").text
    assert queue.ask("Who directed [Night Harbour]?").text == first and len(reasoner.calls) == 1
    films.update("INSERT DATA { <https://kgqa.dev/entity/x> <https://kgqa.dev/relation/y> 1 }")
    assert queue.ask("who directed [Night Harbour]").text != first and len(reasoner.calls) == 2
    assert queue.stats()["cache_hits"] == 1


def test_store_revision_counts_every_kind_of_write(tmp_path):
    with KnowledgeGraph.open(tmp_path / "s") as kg, KnowledgeGraph.open(tmp_path / "s") as same:
        start = kg.store.revision
        kg.update("INSERT DATA { <http://ex/a> <http://ex/p> 1 }")
        kg.import_file(DATA / "qa_films.txt", "pipe")
        assert kg.store.revision >= start + 2 and same.store.revision == kg.store.revision


# ---------------------------------------------------------------------- path vectors kept in the store
class FakeEncoder:
    """Deterministic unit vectors from a hash of the text; records what it was asked to embed."""

    def __init__(self):
        self.texts: list[str] = []

    def encode(self, texts):
        texts = list(texts)
        self.texts += texts
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(8)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture()
def fake_encoder(monkeypatch):
    from reasoning import question

    import reasoning.vector_cache as vc

    enc = FakeEncoder()
    monkeypatch.setattr(question.Encoder, "get", classmethod(lambda cls: enc))
    yield enc
    vc._CACHES.clear()  # no fake vectors for later tests


def _vectors_of(kg):
    """The planner's path vectors for every path from Night Harbour, as a fresh process computes them."""
    import reasoning.vector_cache as vc
    from reasoning.planner import _path_vectors, candidate_paths
    from reasoning.question import GraphIndex

    vc._CACHES.clear()  # a new process: nothing in memory, only what the store's folder keeps
    index = GraphIndex.build(kg)
    topic = index.lookup("Night Harbour")[0]
    paths = candidate_paths(index, topic)
    store, texts = _path_vectors(index, paths, kg=kg)
    return paths, store, texts


def test_path_vectors_are_kept_in_the_store_folder_and_reused(tmp_path, fake_encoder):
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        paths, first, _ = _vectors_of(kg)
        computed = len(fake_encoder.texts)
        assert computed > 0 and (tmp_path / "store" / "kgqa-vectors").is_dir()
        fake_encoder.texts.clear()
        again_paths, again, _ = _vectors_of(kg)
        assert fake_encoder.texts == []  # nothing embedded anew
        assert all(np.array_equal(first[p], again[p]) for p in paths)


def test_only_the_paths_of_a_relabelled_relation_are_embedded_again(tmp_path, fake_encoder):
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        paths, _, texts = _vectors_of(kg)
        directed = "https://kgqa.dev/relation/directed_by"
        changed = {t for p in paths if any(s.predicate == directed for s in p) for t in texts[p]}
        kg.update(f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
            DELETE {{ <{directed}> rdfs:label ?l }} INSERT {{ <{directed}> rdfs:label "made by" }}
            WHERE {{ <{directed}> rdfs:label ?l }}""")
        fake_encoder.texts.clear()
        new_paths, _, new_texts = _vectors_of(kg)
        embedded = set(fake_encoder.texts)
        relabelled = {t for p in new_paths if any(s.predicate == directed for s in p) for t in new_texts[p]}
        # only wordings of paths through the relabelled relation were embedded; the rest came from the cache
        assert embedded and embedded <= relabelled and len(embedded) <= len(changed)
        assert any("made by" in t for t in embedded) and not any("directed" in t for t in embedded)


def test_a_damaged_vector_segment_is_ignored(tmp_path):
    from reasoning.vector_cache import VectorCache

    folder = tmp_path / "vectors"
    cache = VectorCache(folder, encoder="test")
    cache.add(["a", "b"], np.eye(2, dtype=np.float32))
    for f in folder.glob("*.keys.npy"):
        f.write_bytes(b"not numpy")
    reopened = VectorCache(folder, encoder="test")
    assert len(reopened) == 0 and reopened.lookup(["a"]) == [None]
    reopened.add(["a"], np.ones((1, 2), dtype=np.float32))
    assert VectorCache(folder, encoder="test").lookup(["a"])[0].tolist() == [1.0, 1.0]
    assert VectorCache(folder, encoder="other").lookup(["a"]) == [None]  # another encoder's key


def test_many_small_segments_are_merged_and_keep_every_vector(tmp_path):
    from reasoning.vector_cache import MAX_SEGMENTS, VectorCache

    folder = tmp_path / "vectors"
    cache = VectorCache(folder, encoder="test")
    for i in range(MAX_SEGMENTS + 3):
        cache.add([f"t{i}"], np.full((1, 3), i, dtype=np.float32))
    assert len(list(folder.glob("*.keys.npy"))) <= MAX_SEGMENTS
    rows = VectorCache(folder, encoder="test").lookup([f"t{i}" for i in range(MAX_SEGMENTS + 3)])
    assert [int(r[0]) for r in rows] == list(range(MAX_SEGMENTS + 3))


def test_prefill_embeds_every_entitys_paths_once(tmp_path, fake_encoder, monkeypatch):
    import nlp.encoder
    from reasoning.vector_cache import prefill_path_vectors

    monkeypatch.setattr(nlp.encoder, "embed", lambda texts, **kw: fake_encoder.encode(texts))
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        status = prefill_path_vectors(kg, recheck=None)
        assert status["state"] == "done" and status["entities"] == status["of"] > 0
        embedded = len(fake_encoder.texts)
        assert status["embedded"] == embedded > 0
        again = prefill_path_vectors(kg, recheck=None)  # a second pass finds everything cached
        assert again["embedded"] == 0 and len(fake_encoder.texts) == embedded
        _vectors_of(kg)  # a question's planning embeds nothing either
        assert len(fake_encoder.texts) == embedded


def _budgeted(kg, wordings, question="who directed [Night Harbour]"):
    """(ranked paths, all candidate paths, budget) of one question planned in a fresh process within
    ``wordings`` new wordings."""
    import reasoning.vector_cache as vc
    from reasoning.planner import candidate_paths, score_paths
    from reasoning.question import GraphIndex, parse_question

    vc._CACHES.clear()
    index = GraphIndex.build(kg)
    parsed = parse_question(kg, question, index=index)
    paths = candidate_paths(index, parsed.topic.node)
    with vc.wording_budget(wordings) as budget:
        ranked = score_paths(index, parsed, paths, kg=kg)
    return ranked, paths, budget


def test_a_wording_budget_scores_every_one_hop_path_and_the_longer_ones_it_can_afford(tmp_path, fake_encoder):
    from reasoning.vector_cache import vector_cache

    with KnowledgeGraph.open(tmp_path / "store") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        ranked, paths, budget = _budgeted(kg, 60)
        scored = {ps.path for ps in ranked}
        assert budget.skipped > 0 and len(scored) == len(paths) - budget.skipped
        assert {p for p in paths if len(p) == 1} <= scored  # one-hop paths always
        assert any(len(p) > 1 for p in scored)  # and some longer ones within the budget
        from reasoning.planner import paraphrases_of
        from reasoning.question import GraphIndex

        index = GraphIndex.build(kg)
        one_hop = sum(len(paraphrases_of(index, p)) for p in paths if len(p) == 1)
        longer = sum(len(paraphrases_of(index, p)) for p in scored if len(p) > 1)
        assert 0 < longer <= max(0, 60 - one_hop)  # the longer paths only got what the one-hop ones left
        wanted = vector_cache(kg).take_wanted(10_000)
        assert wanted and all(row is None for row in vector_cache(kg).lookup(wanted))
        # asked again, the same question compares more paths: what it embedded is kept
        again, _, second = _budgeted(kg, 60)
        assert second.skipped < budget.skipped and {ps.path for ps in again} > scored


def test_a_budget_that_covers_every_wording_ranks_as_without_one(tmp_path, fake_encoder):
    with KnowledgeGraph.open(tmp_path / "a") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        free, _, _ = _budgeted(kg, None)
    with KnowledgeGraph.open(tmp_path / "b") as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
        ample, _, budget = _budgeted(kg, 10**6)
    assert budget.skipped == 0
    assert [(ps.path, round(ps.score, 6)) for ps in ample] == [(ps.path, round(ps.score, 6)) for ps in free]


def test_a_provisional_answer_says_so_and_is_served_from_the_cache_only_while_busy(films):
    from reasoning.vector_cache import current_budget

    budgets, release = [], threading.Event()

    def answer(kg, question, method, k):
        if question == "slow":
            release.wait(5)
            return _Answer(question)
        budgets.append(current_budget())
        current_budget().skipped += 3  # as a planner that had to leave three paths out
        result = _Answer(question)
        result.warnings = []
        return result

    queue = QuestionQueue(films, answer=answer, warm_up=lambda: None, wording_budget=50).start(background=False)
    try:
        first = queue.ask("who directed [Night Harbour]")
        assert any("not compared yet" in w for w in first.warnings) and budgets[0].wordings == 50
        queue.ask("who directed [Night Harbour]")  # idle: planned again, to compare more
        assert len(budgets) == 2 and queue.stats()["cache_hits"] == 0
        slow = queue.submit("slow")
        deadline = time.monotonic() + 5
        while queue.idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.ask("who directed [Night Harbour]") is not None  # busy: the provisional answer is served
        assert len(budgets) == 2 and queue.stats()["cache_hits"] == 1 and queue.stats()["provisional"] == 2
        release.set()
        slow.result(5)
    finally:
        release.set()
        queue.close()


def test_wanted_wordings_come_back_newest_first_and_only_while_missing():
    from reasoning.vector_cache import VectorCache

    cache = VectorCache(None, encoder="test")
    cache.want(["a", "b", "c"])
    cache.add(["b"], np.ones((1, 2), dtype=np.float32))
    assert cache.take_wanted(1) == ["c"] and cache.take_wanted(5) == ["a"] and cache.take_wanted(5) == []


def test_the_label_index_is_rebuilt_after_a_write_that_keeps_the_fact_count(films):
    from reasoning.question import graph_index

    before = graph_index(films)
    films.update("""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        DELETE { ?e rdfs:label "Night Harbour" } INSERT { ?e rdfs:label "Night Port" }
        WHERE { ?e rdfs:label "Night Harbour" }""")
    after = graph_index(films)  # at once, not after the fact-count recheck interval
    assert after is not before and after.lookup("Night Port") and not after.lookup("Night Harbour")
    assert graph_index(films) is after


def test_each_thread_tokenizes_with_a_tokenizer_of_its_own():
    import threading

    from nlp.encoder import load_encoder

    tokenizer, model = load_encoder()
    seen = {}

    def worker():
        seen["pair"] = load_encoder()
        seen["again"] = load_encoder()[0]
        # a fast tokenizer keeps its padding setting between calls: a shared one would race with the main thread
        seen["padded"] = seen["pair"][0](["a b c", "a"], padding=True)["input_ids"]

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["pair"][1] is model and seen["pair"][0] is not tokenizer and seen["again"] is seen["pair"][0]
    assert len(seen["padded"][0]) == len(seen["padded"][1])
    assert load_encoder()[0] is tokenizer

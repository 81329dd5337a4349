"""The ranking over every part's evidence (reasoning/ranking.py) on the tiny film graph, with a fake encoder.

The fake encoder hashes word stems into unit vectors, so planning runs without MiniLM: close wordings
share words, which is all the planner's paraphrase match and the learned wordings' votes need here.
"""
from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from kg import KnowledgeGraph
from reasoning import ask
from reasoning.paraphrases import Step
from reasoning.ranking import (FEATURES, Ranker, RankerError, fit_ranker, fit_weights, gather, generated_questions,
                               load_ranker)

DATA = Path(__file__).parent / "data"
REL = "https://kgqa.dev/relation/"


class StemEncoder:
    """Bag of word stems (first 5 letters), hashed into 384 dimensions and normalised."""

    def encode(self, texts):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", str(text).lower()):
                out[i, zlib.crc32(word[:5].encode()) % 384] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-6)
        return out


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch):
    from reasoning.question import Encoder

    monkeypatch.setattr(Encoder, "_instance", StemEncoder())
    yield


@pytest.fixture()
def store(tmp_path):
    with KnowledgeGraph.open(str(tmp_path / "store")) as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
    kg = KnowledgeGraph.open(str(tmp_path / "store"))
    yield kg
    kg.close()


def test_fit_weights_learns_which_feature_marks_the_right_path():
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(40):
        x = rng.normal(size=(5, len(FEATURES)))
        right = int(rng.integers(5))
        x[right, 0] += 3.0  # the first feature marks the right candidate
        groups.append((x, np.arange(5) == right))
    w, mean, std = fit_weights(groups)
    ranker = Ranker(w, mean, std, {})
    picked = sum(bool(y[int(np.argmax(ranker.probabilities(x)))]) for x, y in groups)
    assert picked >= 36
    assert abs(ranker.probabilities(groups[0][0]).sum() - 1.0) < 1e-9


def test_saved_ranker_round_trips_and_an_old_one_is_refused():
    ranker = Ranker(np.arange(len(FEATURES), dtype=float), np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                    {"facts": 3})
    again = Ranker.from_json(json.loads(json.dumps(ranker.to_json())))
    assert again.key == {"facts": 3} and np.allclose(again.weights, ranker.weights)
    old = ranker.to_json()
    old["version"] = 0
    with pytest.raises(RankerError):
        Ranker.from_json(old)


def test_generated_questions_know_their_answers_from_the_graph(films):
    qs = generated_questions(films, 30, seed=1)
    assert len(qs) == 30
    for text, holdout, parsed, gold, _path in qs:
        assert "[" in text and gold
        assert parsed.topic.node not in gold  # the topic is never its own answer
        if holdout is not None:  # a planner paraphrase: the question is it, with the topic named
            assert parsed.masked == holdout


def test_nothing_trained_means_the_planner_alone(store):
    result = ask(store, "who directed [Night Harbour]")
    assert result.method == "sparql" and result.top == "Mira Castellano"
    from reasoning.question import graph_index

    assert load_ranker(store, graph_index(store), None) is None


def _teach(kg, pairs):
    from reasoning.planner import learn_examples, use_examples
    from reasoning.question import graph_index

    bank, learned, _ = learn_examples(kg, pairs)
    use_examples(graph_index(kg), bank)
    return learned


def test_learned_wordings_are_ranked_with_the_planner_and_saved_with_the_store(store):
    assert _teach(store, [("who made [Night Harbour]", ["Mira Castellano"]),
                          ("who made [Copper Sky]", ["Jun Halloway"])]) == 2
    ranker = fit_ranker(store, questions=40)
    saved = Path(str(store.store.location)) / "models" / "ranker" / "ranker.json"
    assert saved.is_file() and json.loads(saved.read_text())["key"] == ranker.key
    result = _ranked(store, "who made [Glass Orchard]", ranker)
    assert result.top == "Mira Castellano"
    assert result.method.startswith("auto:") and "examples" in result.answers[0].parts
    out = result.to_json()
    assert out["answers"][0]["parts"] == result.answers[0].parts and out["answers"][0]["evidence"]
    # a list question's answers are the asked path's answers, not every candidate's
    films = _ranked(store, "which films did [Mira Castellano] direct", ranker)
    assert set(films.labels()) == {"Night Harbour", "Glass Orchard", "Salt Road"}
    # counting counts the distinct answers of the asked path
    assert _ranked(store, "how many films did [Mira Castellano] direct", ranker).top == "3"
    # with no trained reasoner, `ask` itself stays the planner alone (with the learned wordings)
    assert ask(store, "who made [Glass Orchard]").method == "sparql"


def _ranked(kg, text, ranker):
    from reasoning.question import parse_question
    from reasoning.ranking import rank_answers

    return rank_answers(kg, parse_question(kg, text), k=10, ranker=ranker)


def test_ranker_is_refitted_when_the_learned_wordings_change(store):
    from reasoning.question import graph_index

    _teach(store, [("who made [Night Harbour]", ["Mira Castellano"])])
    first = fit_ranker(store, questions=20)
    _teach(store, [("who made [Night Harbour]", ["Mira Castellano"]), ("who made [Copper Sky]", ["Jun Halloway"])])
    index = graph_index(store)
    again = load_ranker(store, index, None, fit=False)
    assert again is None  # the saved one was fitted on other wordings: not used
    assert load_ranker(store, index, None).key != first.key


def test_wordings_taught_for_one_kind_leave_other_kinds_as_with_nothing_learned(store):
    questions = ["when was [Glass Orchard] released", "what language is [Salt Road] in",
                 "what genre is [Copper Sky]", "who wrote [Night Harbour]"]
    before = [ask(store, q).top for q in questions]
    _teach(store, [("which films did [Lena Okafor] act in", ["Night Harbour", "Glass Orchard", "Copper Sky"]),
                   ("which films did [Piet Varga] act in", ["Night Harbour", "Salt Road"])])
    ranker = fit_ranker(store, questions=60)
    after = [_ranked(store, q, ranker).top for q in questions]
    assert after == before


def test_gnn_paths_are_candidates_and_say_so(store, monkeypatch):
    import reasoning.ranking as ranking
    from reasoning.question import parse_question

    two_hop = (Step(REL + "directed_by", False), Step(REL + "in_language", True))
    monkeypatch.setattr(ranking, "_gnn_paths", lambda kg, q, c: ({two_hop: 0.9}, np.array([0.05, 0.9, 0.05])))
    parsed = parse_question(store, "what languages are the films of [Mira Castellano] in")
    ev = gather(store, parsed, gnn=object())
    by_path = {c.path: c for c in ev.candidates}
    assert "gnn" in by_path[two_hop].parts and by_path[two_hop].gnn == pytest.approx(0.9)
    assert by_path[two_hop].answers and all(not c.gnn for p, c in by_path.items() if p != two_hop)
    x = ranking.features(ev, parsed)
    assert x.shape == (len(ev.candidates), len(FEATURES)) and np.isfinite(x).all()


def test_candidates_keep_the_answers_of_the_asked_type_and_symmetric_relations_both_ways():
    from reasoning.question import parse_question

    kg = KnowledgeGraph.open("memory")
    kg.import_file(DATA / "qa_people.ttl", "turtle")
    index_label = parse_question(kg, "x [Ann Lee]", use_parser=False).index.label
    parsed = parse_question(kg, "How many people received [Gold Quill]?", use_parser=False)
    by_path = {c.path: c for c in gather(kg, parsed).candidates}
    received = by_path[(Step(REL + "award_received", False),)]
    assert sorted(index_label(n) for n in received.answers) == ["Ann Lee", "Bob Stone"]  # not Altura Labs
    parsed = parse_question(kg, "Who is the spouse of [Bob Stone]?", use_parser=False)
    by_path = {c.path: c for c in gather(kg, parsed).candidates}
    spouse = by_path[(Step(REL + "spouse", True),)]
    assert sorted(index_label(n) for n in spouse.answers) == ["Ann Lee", "Cara Wynn"]  # Ann Lee spouse Bob Stone
    kg.close()


def test_a_named_answer_type_leaves_out_the_paths_that_reach_only_the_wrong_type(store, monkeypatch):
    import reasoning.ranking as ranking
    from reasoning.question import parse_question

    # the GNN's choice stops at the films; the question asks for their kinds (genres)
    films = (Step(REL + "directed_by", False),)
    monkeypatch.setattr(ranking, "_gnn_paths", lambda kg, q, c: ({films: 0.95}, np.array([0.95, 0.05, 0.0])))
    parsed = parse_question(store, "what types are the films directed by [Mira Castellano]", use_parser=False)
    paths = {c.path for c in gather(store, parsed, gnn=object()).candidates}
    assert films not in paths and (films[0], Step(REL + "has_genre", True)) in paths
    parsed = parse_question(store, "what films did [Mira Castellano] direct", use_parser=False)
    assert films in {c.path for c in gather(store, parsed, gnn=object()).candidates}  # no type asked: kept

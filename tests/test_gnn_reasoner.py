"""The GNN reasoner: generated questions, subgraphs, training on a 31-fact graph, save/load, staleness, CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kg import KnowledgeGraph
from reasoning.gnn.convert import triples_to_tensors
from reasoning.gnn.questions import PathIndex, generate_questions
from reasoning.gnn.reasoner import k_hop_edges

DATA = Path(__file__).parent / "data"
PEOPLE = DATA / "gnn_people.txt"


def _people_graph():
    rows = [line.split("|") for line in PEOPLE.read_text().splitlines() if line.strip()]
    return triples_to_tensors([(h, r, t) for h, r, t in rows], labels={r: r for _, r, _ in rows})


def test_generated_questions_are_answered_by_their_own_paths():
    graph = _people_graph()
    index = PathIndex(graph)
    questions = generate_questions(graph, 200, seed=1, index=index)
    assert len(questions) == 200
    assert {len(q.path) for q in questions} == {1, 2, 3}
    born, located = graph.relation_index["born in"], graph.relation_index["located in"]
    for q in questions:
        assert "X" in q.text and q.topic not in q.answers
        assert set(q.answers.tolist()) == set(index.follow(q.topic, q.path).tolist()) - {q.topic}
    # a 2-hop "born in, located in" question from a person names countries only
    yuki = graph.entity_index["Yuki Mori"]
    assert [graph.entities[i] for i in index.follow(yuki, (born, located))] == ["Japan"]
    # every relation word shows up in some question, so every relation is trained
    texts = " ".join(q.text for q in questions)
    assert all(r in texts for r in graph.relations)


def test_k_hop_subgraph_grows_with_hops_and_respects_the_cap():
    graph = _people_graph()
    index = PathIndex(graph)
    yuki = graph.entity_index["Yuki Mori"]
    one, _ = k_hop_edges(index, [yuki], 1)
    two, _ = k_hop_edges(index, [yuki], 2)
    assert set(one) < set(two)
    assert {graph.entities[v] for v in index.dst[one]} == {"Kyoto", "Felix Brandt"}
    capped, truncated = k_hop_edges(index, [yuki], 3, max_edges=5)
    assert truncated and len(capped) <= 5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The 31-fact people graph with a reasoner trained on questions it generated itself.

    Questions about Yuki Mori and Felix Brandt are never generated, so asking about them is held out.
    """
    import torch

    from reasoning.gnn.reasoner import train_reasoner

    # one thread: on a busy machine OpenMP threads oversubscribing the cores slow training 50x
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("gnn-store")
    kg = KnowledgeGraph.open(str(folder / "store"))
    kg.import_file(PEOPLE, "pipe")
    # the default path reader: 10 short epochs (about 2 minutes on one thread) give it a clear favourite path
    report = train_reasoner(kg, epochs=10, num_questions=480, seed=0, exclude_topics={"Yuki Mori", "Felix Brandt"})
    yield kg, report
    kg.close()


@pytest.mark.slow
def test_reasoner_learns_a_two_hop_pattern_from_generated_questions(trained):
    from reasoning.gnn.reasoner import answer_question

    kg, report = trained
    assert Path(report.model_dir).parent.name == "models"  # saved inside the store folder
    held_out = answer_question(kg, "what is the located in of the born in of [Yuki Mori]", k=3)
    assert held_out.top == "Japan", held_out.to_json()
    assert held_out.answers[0].score > 0.5  # one path carries most of the weight
    evidence = [(s.subject, s.predicate, s.object) for s in held_out.answers[0].evidence]
    assert evidence == [("Yuki Mori", "born in", "Kyoto"), ("Kyoto", "located in", "Japan")]
    one_hop = answer_question(kg, "what is the born in of [Felix Brandt]", k=3)
    assert one_hop.top == "Hamburg"


@pytest.mark.slow
def test_saved_model_reloads_and_warns_when_the_graph_changed(trained):
    from kg.io import read_delimited
    from reasoning.gnn import staleness
    from reasoning.gnn.reasoner import load_reasoner, _LOADED

    kg, _ = trained
    _LOADED.clear()
    net, meta = load_reasoner(kg)
    assert meta["relations"] and net.hops == 3
    from reasoning.gnn.paths import ZERO_SHOT

    assert net.reader.zero_shot == ZERO_SHOT  # saved with the model, used when answering
    assert staleness(kg) is None
    import io

    new = "".join(f"Robot {i}|built by|Altura Labs\n" for i in range(12))
    kg.store.extend(list(read_delimited(io.StringIO(new), "pipe")))
    warning = staleness(kg)
    assert warning and "never saw" in warning and "kgqa train reasoner" in warning


def test_untrained_store_says_what_to_do(tmp_path):
    from kg.errors import KGQAError
    from reasoning.gnn.reasoner import answer_question, is_trained, train_reasoner

    with KnowledgeGraph.open(str(tmp_path / "s")) as kg:
        kg.import_file(PEOPLE, "pipe")
        assert not is_trained(kg)
        with pytest.raises(KGQAError, match="kgqa train reasoner"):
            answer_question(kg, "where was [Yuki Mori] born")
        with pytest.raises(KGQAError, match="weight of 0 or more"):
            train_reasoner(kg, zero_shot=-1.0)


@pytest.mark.slow
def test_cli_trains_and_ask_uses_the_gnn(tmp_path):
    from typer.testing import CliRunner

    from ui.cli import app

    runner = CliRunner()
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["import", str(PEOPLE), "--store", store, "--format", "pipe"]).exit_code == 0
    result = runner.invoke(app, ["train", "reasoner", "--store", store, "--epochs", "1", "--questions", "40",
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "saved to" in result.output and (Path(store) / "models" / "reasoner" / "model.pt").exists()
    asked = runner.invoke(app, ["ask", "who was born in [Porto]", "--store", store, "--method", "gnn", "--json"])
    assert asked.exit_code == 0, asked.output
    assert '"method": "gnn"' in asked.output
    # training also fitted the ranking `auto` answers with: the reasoner's paths beside the planner's
    assert (Path(store) / "models" / "ranker" / "ranker.json").exists()
    auto = runner.invoke(app, ["ask", "who was born in [Porto]", "--store", store, "--json"])
    assert auto.exit_code == 0, auto.output
    assert '"method": "auto:' in auto.output or '"method": "sparql"' in auto.output
    bad = runner.invoke(app, ["train", "reasoner", "--store", store, "--device", "cuda:7"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_plain_english_wording_names_every_hop():
    """The plain-English grammar turns a label's grammar into a question: passive labels give verbs and
    doers, noun labels their noun, and an out-and-back pair one idiom; category nouns stand in for things."""
    import random

    from reasoning.gnn.wording import natural_question

    words = [["directed by"], ["has genre"], ["in language"]]  # R = 3: types 0..2 forward, 3..5 inverse
    rng = random.Random(0)
    for _ in range(50):
        one = natural_question([0], words, 3, rng)  # X -directed by-> answer: who directed X
        assert "X" in one and any(w in one for w in ("direct", "director"))
        two = natural_question([3, 1], words, 3, rng, pairs=0.0)  # X <-directed by- film -has genre-> genre
        assert "genre" in two and any(w in two for w in ("direct", "director"))
        assert "'s" not in two  # "films directed by X's genre" would ask for X's genre
        back = natural_question([0, 3, 2], words, 3, rng, pairs=1.0)  # films sharing X's director, their language
        assert "language" in back and any(w in back for w in ("same", "shar", "also", "other", "co-"))
    with_nouns = {natural_question([3], words, 3, rng, category_nouns=("film",)) for _ in range(80)}
    assert any("films" in q for q in with_nouns)


def test_participle_labels_read_as_verbs_only_before_a_noun():
    """"starred actors" has a verb ("who starred alongside X", "the co-stars of X", "the X starred films");
    "located in" is a participle before a preposition and must not be worded as a verb ("the co-locates of X")."""
    import random

    from reasoning.gnn.wording import Forms, natural_question

    assert (Forms("starred actors").base, Forms("located in").verb, Forms("located in").nouns) == ("star", None, ["located in"])
    rng = random.Random(0)
    words = [["starred actors"], ["located in"]]  # types 0, 1 forward, 2, 3 inverse
    co = {natural_question([2, 0], words, 2, rng, pairs=1.0) for _ in range(200)}  # X <-actor- film -actor-> who
    assert any("co-star" in q for q in co) and any("together with" in q for q in co)
    films = {natural_question([2, 0], words, 2, rng, pairs=0.0) for _ in range(300)}
    assert any("X starred" in q for q in films)
    located = {natural_question(path, words, 2, rng, pairs=1.0) for path in ([1, 3], [3, 1]) for _ in range(200)}
    assert located and not any(w in q for q in located for w in ("co-locates", "located by", "located together"))


@pytest.mark.slow
def test_a_stopped_run_resumes_where_it_was_and_ends_as_an_uninterrupted_one(tmp_path):
    import torch

    from kg.errors import KGQAError
    from reasoning.gnn.training import CHECKPOINT_FILE
    from reasoning.gnn.reasoner import train_reasoner

    torch.set_num_threads(1)
    settings = dict(epochs=2, num_questions=60, seed=0, batch_size=8, device="cpu")
    with KnowledgeGraph.open(str(tmp_path / "whole")) as kg:
        kg.import_file(PEOPLE, "pipe")
        whole = train_reasoner(kg, **settings)
        whole_state = torch.load(Path(whole.model_dir) / "model.pt", weights_only=False)["state_dict"]
        assert not (Path(whole.model_dir) / CHECKPOINT_FILE).exists()  # a finished run leaves none
    with KnowledgeGraph.open(str(tmp_path / "parts")) as kg:
        kg.import_file(PEOPLE, "pipe")
        stopped = train_reasoner(kg, time_budget=1e-6, **settings)  # stops after the first batch
        checkpoint = Path(stopped.model_dir) / CHECKPOINT_FILE
        assert stopped.epochs == 0 and checkpoint.exists() and (Path(stopped.model_dir) / "model.pt").exists()
        with pytest.raises(KGQAError, match="other settings"):
            train_reasoner(kg, resume=True, **{**settings, "epochs": 3})
        resumed = train_reasoner(kg, resume=True, **settings)
        assert resumed.epochs == 2 and not checkpoint.exists()
        state = torch.load(Path(resumed.model_dir) / "model.pt", weights_only=False)["state_dict"]
    assert state.keys() == whole_state.keys()
    assert all(torch.allclose(state[k].float(), whole_state[k].float(), atol=1e-5) for k in state)
    assert resumed.held_out_hits1 == whole.held_out_hits1

"""Joint entity + relation extraction: data reading, the strict metric, training, CLI errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kg.errors import ParseError
from nlp.spert_data import Example, Link, Span, parse_spert, read_spert

TINY = Path(__file__).parent / "data" / "spert_tiny.json"


def _write(tmp_path, text, name="data.json"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- data ---------------------------------------------------------------------------------------
def test_tiny_file_reads_with_its_schema():
    data = read_spert(TINY)
    assert data.skipped == 0 and len(data.examples) >= 10
    schema = data.schema()
    assert schema.entity_types == ("Org", "Person", "Place")
    assert schema.relation_types == ("based_in", "born_in", "works_for")


def test_malformed_records_are_skipped_and_counted():
    good = {"tokens": ["Ada", "left", "Acme"], "entities": [{"type": "P", "start": 0, "end": 1},
                                                            {"type": "O", "start": 2, "end": 3}],
            "relations": [{"type": "left", "head": 0, "tail": 1}]}
    bad = [
        "a string",
        {"tokens": []},
        {"tokens": ["a", "b"], "entities": [{"type": "P", "start": 1, "end": 5}]},  # span past the end
        {"tokens": ["a", "b"], "entities": [{"type": "P", "start": 1, "end": 1}]},  # empty span
        {"tokens": ["a"], "entities": [{"type": "P", "start": 0, "end": 1}],
         "relations": [{"type": "r", "head": 0, "tail": 3}]},  # tail indexes no entity
        {"tokens": ["a"], "entities": [{"start": 0, "end": 1}]},  # no type
    ]
    data = parse_spert([good, *bad])
    assert len(data.examples) == 1 and data.skipped == len(bad)
    assert data.examples[0].relation_triples() == {((0, 1, "P"), (2, 3, "O"), "left")}


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"tokens": ["a"]}', "expected a JSON list"),
    ('[{"tokens": 3}]', "no valid record"),
])
def test_unreadable_files_raise_one_clear_error(tmp_path, text, message):
    with pytest.raises(ParseError, match=message):
        read_spert(_write(tmp_path, text))


def test_missing_file_raises(tmp_path):
    with pytest.raises(ParseError, match="file not found"):
        read_spert(tmp_path / "nope.json")


# ---- strict metric ------------------------------------------------------------------------------
def _pred(entities, relations):
    return {"entities": [{"type": t, "start": s, "end": e, "score": 1.0} for t, s, e in entities],
            "relations": [{"type": r, "head": h, "tail": t, "score": 1.0} for r, h, t in relations]}


GOLD = [
    Example(("Ada", "Lovelace", "worked", "for", "Acme", "in", "Paris"),
            (Span("Peop", 0, 2), Span("Org", 4, 5), Span("Loc", 6, 7)),
            (Link("Work_For", 0, 1), Link("OrgBased_In", 1, 2))),
    Example(("Bob", "lives", "in", "Rome"), (Span("Peop", 0, 1), Span("Loc", 3, 4)), (Link("Live_In", 0, 1),)),
]


def test_strict_metric_hand_computed():
    from nlp.relation_model import strict_scores

    predictions = [
        # Work_For right; OrgBased_In reversed (does not count); an extra wrong relation
        _pred([("Peop", 0, 2), ("Org", 4, 5), ("Loc", 6, 7)],
              [("Work_For", 0, 1), ("OrgBased_In", 2, 1), ("Live_In", 0, 2)]),
        # right spans and relation type, but the head's entity type is wrong: does not count
        _pred([("Org", 0, 1), ("Loc", 3, 4)], [("Live_In", 0, 1)]),
    ]
    scores = strict_scores(GOLD, predictions)
    rel = scores["relations"]
    assert (rel["tp"], rel["fp"], rel["fn"]) == (1, 3, 2)
    assert rel["precision"] == pytest.approx(1 / 4) and rel["recall"] == pytest.approx(1 / 3)
    assert rel["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    ent = scores["entities"]
    assert (ent["tp"], ent["fp"], ent["fn"]) == (4, 1, 1)
    assert scores["relation_types"]["Work_For"]["f1"] == 1.0
    assert scores["relation_types"]["OrgBased_In"]["tp"] == 0
    assert scores["relation_types"]["Live_In"]["fp"] == 2 and scores["relation_types"]["Live_In"]["fn"] == 1


def test_strict_metric_wrong_span_boundary_does_not_count():
    from nlp.relation_model import strict_scores

    # "Lovelace" alone instead of "Ada Lovelace"
    pred = _pred([("Peop", 1, 2), ("Org", 4, 5), ("Loc", 6, 7)], [("Work_For", 0, 1), ("OrgBased_In", 1, 2)])
    scores = strict_scores(GOLD[:1], [pred])
    assert scores["relations"]["tp"] == 1 and scores["relations"]["fp"] == 1


def test_perfect_predictions_score_one():
    from nlp.relation_model import strict_scores

    preds = [_pred([(e.type, e.start, e.end) for e in ex.entities], [(r.type, r.head, r.tail) for r in ex.relations])
             for ex in GOLD]
    scores = strict_scores(GOLD, preds)
    assert scores["relations"]["f1"] == 1.0 and scores["entities"]["f1"] == 1.0


# ---- training -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from nlp.relation_model import train_relations

    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("re-model")
    # a fast setting: one fine-tuned layer, higher learning rates, one thread (the CPU is shared)
    try:
        report = train_relations(train=TINY, dev=TINY, out=out, epochs=14, seed=1, trainable_layers=1,
                                 lr_encoder=3e-4, lr_heads=5e-3, batch_size=4, warmup=0.0, threads=1, ensemble=1)
    finally:
        torch.set_num_threads(threads)
    return report, out


@pytest.mark.slow
def test_training_lowers_loss_and_saves(tiny_model):
    report, out = tiny_model
    assert report.losses[-1] < report.losses[0] / 2
    assert (out / "config.json").is_file() and (out / "weights.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["schema"]["relation_types"] == ["based_in", "born_in", "works_for"]
    # only the top layer and the heads are saved, not the 90 MB encoder
    assert report.weights_bytes < 5_000_000


@pytest.mark.slow
def test_trained_model_reloads_and_predicts_training_relations(tiny_model):
    from nlp.relation_model import evaluate_relations, load_relation_model

    _, out = tiny_model
    model = load_relation_model(out)
    scores = evaluate_relations(model=model, data=TINY)
    assert scores["relations"]["f1"] >= 0.8, scores["relations"]
    [result] = model.predict_text([["Maria", "Lopez", "works", "for", "Bluefin", "Labs", "."]])
    names = {(e["text"], e["type"]) for e in result["entities"]}
    assert ("Maria Lopez", "Person") in names and ("Bluefin Labs", "Org") in names
    rels = [(result["entities"][r["head"]]["text"], r["type"], result["entities"][r["tail"]]["text"])
            for r in result["relations"]]
    assert ("Maria Lopez", "works_for", "Bluefin Labs") in rels
    assert all(0.0 <= r["score"] <= 1.0 for r in result["relations"])


@pytest.mark.slow
def test_predict_text_on_a_spacy_doc_gives_doc_offsets(tiny_model):
    import spacy

    from nlp.relation_model import load_relation_model

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    doc = nlp("It rained.  Maria Lopez works for Bluefin Labs.")  # the double space is a whitespace token
    results = load_relation_model(tiny_model[1]).predict_text(doc)
    assert [r["sentence"] for r in results] == [0, 1]
    entities = [e for r in results for e in r["entities"]]
    assert ("Maria Lopez", "Person") in {(e["text"], e["type"]) for e in entities}
    for e in entities:
        assert doc[e["start"]: e["end"]].text == e["text"] == doc.text[e["char_start"]: e["char_end"]]


@pytest.mark.slow
def test_long_sentence_is_split_into_windows(tiny_model):
    from nlp.relation_model import load_relation_model

    _, out = tiny_model
    model = load_relation_model(out)
    model.config.max_pieces = 12  # force several windows
    words = "Maria Lopez works for Bluefin Labs .".split() * 4
    [result] = model.predict([words])
    assert all(0 <= e["start"] < e["end"] <= len(words) for e in result["entities"])
    assert any(e["start"] >= 7 for e in result["entities"])  # spans found beyond the first window


@pytest.mark.slow
def test_type_signatures_from_training_filter_relations(tiny_model):
    from nlp.relation_model import load_relation_model

    model = load_relation_model(tiny_model[1])
    assert ["Person", "works_for", "Org"] in model.config.signatures
    words = ["Maria", "Lopez", "works", "for", "Bluefin", "Labs", "."]
    assert any(r["type"] == "works_for" for r in model.predict([words])[0]["relations"])
    model.config.signatures = [sig for sig in model.config.signatures if sig[1] != "works_for"]
    assert not any(r["type"] == "works_for" for r in model.predict([words])[0]["relations"])


@pytest.mark.slow
def test_int8_delta_ensembles_load_and_predict_like_their_members(tiny_model, tmp_path):
    import shutil

    import torch

    from nlp.relation_model import RelationModelError, combine_relation_models, load_relation_model

    _, out = tiny_model
    words = ["Maria", "Lopez", "works", "for", "Bluefin", "Labs", "in", "Lisbon", "."]
    single = load_relation_model(out)
    for fmt in ("int8-delta", "int4-delta"):
        scores = combine_relation_models([out, out], tmp_path / fmt, dev=TINY, weights_format=fmt)
        pair = load_relation_model(tmp_path / fmt)
        assert len(pair.nets) == 2 and pair.config.weights_format == fmt and pair.config.members == 2
        assert scores["relations"]["f1"] >= 0.8
        # quantised differences from the pre-trained encoder: the same spans and relations
        with torch.no_grad():
            a, b = single.predict([words])[0], pair.predict([words])[0]
        assert [(e["start"], e["end"], e["type"]) for e in a["entities"]] == \
            [(e["start"], e["end"], e["type"]) for e in b["entities"]]
        assert [(r["head"], r["tail"], r["type"]) for r in a["relations"]] == \
            [(r["head"], r["tail"], r["type"]) for r in b["relations"]]
    assert (tmp_path / "int4-delta" / "weights.safetensors").stat().st_size < \
        (tmp_path / "int8-delta" / "weights.safetensors").stat().st_size
    # only models trained with the same settings combine
    other = tmp_path / "other"
    shutil.copytree(out, other)
    config = json.loads((other / "config.json").read_text())
    config["relation_threshold"] = 0.6
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(RelationModelError, match="relation_threshold"):
        combine_relation_models([out, other], tmp_path / "bad")


@pytest.mark.slow
def test_training_an_ensemble_saves_one_model_of_several_nets(tmp_path):
    import torch

    from nlp.relation_model import load_relation_model, train_relations

    threads = torch.get_num_threads()
    try:
        report = train_relations(train=TINY, dev=TINY, out=tmp_path / "ens", epochs=2, seed=3, trainable_layers=1,
                                 batch_size=4, threads=1, ensemble=2)
    finally:
        torch.set_num_threads(threads)
    assert [m["seed"] for m in report.members] == [3, 4]
    assert report.best_dev_f1 is not None
    model = load_relation_model(tmp_path / "ens")
    assert len(model.nets) == 2 and model.config.weights_format == "int4-delta"
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["ens"]  # the members' folders are cleaned up


def test_load_rejects_a_folder_without_a_model(tmp_path):
    from nlp.relation_model import RelationModelError, load_relation_model

    with pytest.raises(RelationModelError, match="not a relation model folder"):
        load_relation_model(tmp_path)


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_bad_training_file_is_one_line_error(tmp_path):
    from ui.cli import app

    bad = _write(tmp_path, "{broken")
    result = CliRunner().invoke(app, ["train", "relations", "--train", str(bad), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "not valid JSON" in result.output and "Traceback" not in result.output


def test_cli_evaluate_missing_model_and_missing_data(tmp_path):
    from ui.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "relations", "--model", str(tmp_path), "--data", str(TINY)])
    assert result.exit_code != 0 and "not a relation model folder" in result.output
    result = runner.invoke(app, ["evaluate", "relations", "--model", str(tmp_path),
                                 "--data", str(tmp_path / "missing.json")])
    assert result.exit_code != 0 and "file not found" in result.output


@pytest.mark.slow
def test_cli_evaluate_prints_json_scores(tiny_model, tmp_path):
    from ui.cli import app

    _, out = tiny_model
    records = json.loads(TINY.read_text())
    data = _write(tmp_path, json.dumps(records + [{"tokens": "oops"}]))
    result = CliRunner().invoke(app, ["evaluate", "relations", "--model", str(out), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 malformed record" in result.output
    payload = json.loads(result.output[result.output.index("{"):])
    assert set(payload["relation_types"]) == {"based_in", "born_in", "works_for"}
    assert payload["skipped"] == 1 and 0.0 <= payload["relations"]["f1"] <= 1.0


# ---- the shipped default model ------------------------------------------------------------------
def test_default_model_folder_stays_under_20_mb():
    from nlp.relation_model import DEFAULT_MODEL_DIR

    files = list(DEFAULT_MODEL_DIR.iterdir())
    assert {"config.json", "weights.safetensors", "README.md"} <= {f.name for f in files}
    assert sum(f.stat().st_size for f in files) < 20_000_000


@pytest.mark.slow
def test_default_model_extracts_a_fresh_sentence():
    from nlp.relation_model import load_relation_model

    model = load_relation_model()
    words = "Maria Lopez , a chemist who lives in Lisbon , works for the Bluefin Institute .".split()
    [result] = model.predict_text([words])
    entities = result["entities"]
    assert {("Maria Lopez", "Peop"), ("Lisbon", "Loc")} <= {(e["text"], e["type"]) for e in entities}
    triples = {(entities[r["head"]]["text"], r["type"], entities[r["tail"]]["text"]) for r in result["relations"]}
    assert ("Maria Lopez", "Live_In", "Lisbon") in triples


def test_models_saved_before_word_shapes_load_without_them():
    from nlp.relation_model import RelationConfig

    data = json.loads((Path(__file__).parents[1] / "nlp/models/conll04_minilm/config.json").read_text())
    assert data["word_shapes"] is True  # the shipped model uses them
    del data["word_shapes"]
    assert RelationConfig.from_dict(data).word_shapes is False

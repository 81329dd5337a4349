"""Link prediction: a held-out true tail outranks random ones; predictions stay out of the asserted graph."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kg import KnowledgeGraph
from kg.namespaces import PREDICTED_GRAPH, entity_iri, relation_iri
from reasoning.gnn.convert import triples_to_tensors
from reasoning.gnn.linkpred import LinkPredictor, evaluate, fit, predict, save_predictions, train_linkpred

CAPITALS = Path(__file__).parent / "data" / "gnn_capitals.txt"


def _triples():
    rows = [line.split("|") for line in CAPITALS.read_text().splitlines() if line.strip()]
    graph = triples_to_tensors(rows)
    train = torch.stack([graph.edge_index[0], graph.edge_type, graph.edge_index[1]], 1)
    return graph, train


@pytest.mark.parametrize("decoder,layers", [("complex", 0), ("complex", 1), ("distmult", 1)])
def test_held_out_tail_outranks_random_entities(decoder, layers):
    torch.manual_seed(0)
    graph, train = _triples()
    e, r = graph.entity_index, graph.relation_index
    held = torch.tensor([[e["Germany"], r["has capital"], e["Berlin"]]])
    model = LinkPredictor(graph.num_nodes, graph.num_relations, dim=32, layers=layers, decoder=decoder, dropout=0.0)
    fit(model, train, epochs=300, batch_size=256, lr=0.02, label_smoothing=0.0)
    model.eval()
    with torch.no_grad():
        h, z = model.encode(*__import__("reasoning.gnn.linkpred", fromlist=["graph_edges"]).graph_edges(train, graph.num_relations))
        scores = model.score(h, z, held[:, 0], held[:, 1])[0]
    berlin = scores[e["Berlin"]]
    others = [scores[i] for name, i in e.items() if name not in ("Berlin", "Germany")]
    # the inverse fact (Berlin, capital of, Germany) is known, so Berlin must beat the other entities
    rank = 1 + sum(bool(s >= berlin) for s in others)
    assert rank <= 2 if decoder == "complex" else rank <= 5, rank
    metrics = evaluate(model, train, held, torch.cat([train, held]))
    assert metrics["queries"] == 2 and 0 < metrics["mrr"] <= 1


def test_filtered_ranking_ignores_other_true_answers():
    model = LinkPredictor(3, 1, dim=4, layers=0, decoder="distmult")
    with torch.no_grad():  # every tail scores the same: a tie counts against the target
        model.entity.weight.fill_(1.0)
        model.relation.weight.fill_(1.0)
    triples = torch.tensor([[0, 0, 1], [0, 0, 2]])
    unfiltered = evaluate(model, triples, triples[:1], triples[:1])
    filtered = evaluate(model, triples, triples[:1], triples)
    assert filtered["mrr"] > unfiltered["mrr"]


def test_store_training_prediction_and_saving_keep_predictions_apart(tmp_path):
    torch.manual_seed(0)
    with KnowledgeGraph.open(str(tmp_path / "store")) as kg:
        kg.import_file(CAPITALS, "pipe")
        before = len(kg)
        report = train_linkpred(kg, epochs=300, dim=32, layers=1, lr=0.02)
        assert Path(report.model_dir) == tmp_path / "store" / "models" / "linkpred"
        result = predict(kg, "Germany", "has capital", k=3)
        assert result.head == str(entity_iri("Germany")) and result.relation == str(relation_iri("has capital"))
        assert result.candidates[0].label == "Berlin"
        assert all(0 <= c.score <= 1 for c in result.candidates)
        # asserted tails are not predictions
        assert "Paris" not in [c.label for c in predict(kg, "France", "has capital", k=5).candidates]
        assert save_predictions(kg, result.head, result.relation, result.candidates[:1], model="test") == 1
        save_predictions(kg, result.head, result.relation, result.candidates[:1], model="test")  # replaces
        assert len(kg) == before  # the default graph (asserted facts) is untouched
        rows = list(kg.query(f"""PREFIX kgqa: <https://kgqa.dev/ns#>
            SELECT ?o ?score ?model WHERE {{ GRAPH <{PREDICTED_GRAPH}> {{
              ?p a kgqa:Prediction ; <http://www.w3.org/1999/02/22-rdf-syntax-ns#object> ?o ;
                 kgqa:score ?score ; kgqa:model ?model }} }}"""))
        assert len(rows) == 1 and str(rows[0]["o"]).endswith("Berlin") and str(rows[0]["model"]) == "test"


def test_cli_train_and_predict(tmp_path):
    from typer.testing import CliRunner

    from ui.cli import app

    runner = CliRunner()
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["import", str(CAPITALS), "--store", store]).exit_code == 0
    trained = runner.invoke(app, ["train", "linkpred", "--store", store, "--epochs", "50", "--dim", "16",
                                  "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    out = runner.invoke(app, ["predict", "--store", store, "--head", "Germany", "--relation", "has capital",
                              "--k", "3", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output.strip().splitlines()[-1])
    assert data["predicted"] is True and len(data["candidates"]) == 3
    missing = runner.invoke(app, ["predict", "--store", store, "--head", "Atlantis", "--relation", "has capital"])
    assert missing.exit_code == 2 and "no entity labelled 'Atlantis'" in missing.output
    saved = runner.invoke(app, ["predict", "--store", store, "--head", "Germany", "--relation", "has capital",
                                "--k", "2", "--save"])
    assert saved.exit_code == 0 and "saved 2 prediction(s)" in saved.output

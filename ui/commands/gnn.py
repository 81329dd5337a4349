"""GNN commands: ``kgqa train reasoner``, ``kgqa train linkpred``, ``kgqa predict``."""
from __future__ import annotations

import json
from typing import Optional

import typer

from kg.errors import KGQAError

STORE_HELP = "Store folder (default: $KGQA_STORE or ./kgqa-store); models are saved inside it."
DEVICE_HELP = "cpu, cuda or auto (the GPU when one is available)."


def _store(store: Optional[str]) -> str:
    from ui.cli import default_store

    return store or default_store()


def train_reasoner(
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    epochs: int = typer.Option(4, "--epochs", min=1, help="Passes over the generated questions."),
    questions: Optional[int] = typer.Option(None, "--questions", min=10,
                                            help="How many training questions to generate (default: 2 per fact, 600..20000)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop training after this many seconds."),
    model_dir: Optional[str] = typer.Option(None, "--model-dir", help="Save here instead of <store>/models/reasoner."),
    zero_shot: Optional[float] = typer.Option(
        None, "--zero-shot", min=0.0,
        help="Weight of the untouched MiniLM's question/path match added when answering (default 0.5; 0: off)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run (killed, or stopped by "
                                "--time-budget) from the checkpoint in the model folder; give the same options."),
):
    """Train the multi-hop GNN reasoner on questions generated from the graph's own paths (no labels needed).

    The run saves a checkpoint every 10 minutes and after each epoch; --resume goes on from it."""
    from kg import KnowledgeGraph
    from reasoning.gnn.reasoner import train_reasoner as train
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            report = train(kg, epochs=epochs, num_questions=questions, device=device, time_budget=time_budget,
                           model_dir=model_dir, zero_shot=zero_shot, resume=resume,
                           log=lambda msg: typer.echo(msg, err=True))
            if model_dir is None:  # `ask` ranks the reasoner's paths with the planner's: refit that ranking now
                from reasoning.ranking import refit_after_training

                refit_after_training(kg, log=lambda msg: typer.echo(msg, err=True))
    except KGQAError as err:
        fail(err)
    typer.echo(f"trained the reasoner on {report.questions:,} generated questions in {report.seconds:.0f} s "
               f"({report.device}); held-out Hits@1 {report.held_out_hits1:.3f} by hops {report.hits1_by_hops}; "
               f"saved to {report.model_dir}")


def train_linkpred(
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Passes over the facts."),
    dim: int = typer.Option(128, "--dim", min=4, help="Embedding width."),
    layers: int = typer.Option(1, "--layers", min=0, help="CompGCN encoder layers (0: decoder only)."),
    decoder: str = typer.Option("complex", "--decoder", help="complex or distmult."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop training after this many seconds."),
    model_dir: Optional[str] = typer.Option(None, "--model-dir", help="Save here instead of <store>/models/linkpred."),
):
    """Train link prediction (CompGCN-style encoder + ComplEx/DistMult decoder) on the store's facts."""
    from kg import KnowledgeGraph
    from reasoning.gnn.linkpred import train_linkpred as train
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            report = train(kg, epochs=epochs, dim=dim, layers=layers, decoder=decoder, device=device,
                           time_budget=time_budget, model_dir=model_dir,
                           log=lambda msg: typer.echo(msg, err=True))
    except KGQAError as err:
        fail(err)
    valid = (f"; held-out filtered MRR {report.valid['mrr']:.3f}, Hits@10 {report.valid['hits@10']:.3f}"
             if report.valid else "")
    typer.echo(f"trained link prediction on {report.facts:,} facts in {report.seconds:.0f} s ({report.device})"
               f"{valid}; saved to {report.model_dir}")


def predict(
    head: str = typer.Option(..., "--head", help="Head entity: label or IRI."),
    relation: str = typer.Option(..., "--relation", help="Relation: label or IRI."),
    k: int = typer.Option(10, "--k", min=1, help="How many candidates."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    known: bool = typer.Option(False, "--known", help="Also list tails already asserted (flagged)."),
    save: bool = typer.Option(False, "--save", help="Write the candidates to the predicted graph (never asserted)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
    model_dir: Optional[str] = typer.Option(None, "--model-dir", help="Load from here instead of <store>/models/linkpred."),
):
    """Rank candidate tails for (HEAD, RELATION, ?) with the trained link predictor; they are predictions, not facts."""
    from kg import KnowledgeGraph
    from reasoning.gnn.linkpred import linkpred_staleness, predict as run, save_predictions
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            result = run(kg, head, relation, k=k, model_dir=model_dir, include_known=known)
            warning = linkpred_staleness(kg, model_dir)
            saved = save_predictions(kg, result.head, result.relation, result.candidates) if save else 0
    except KGQAError as err:
        fail(err)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps({"head": result.head, "relation": result.relation, "predicted": True,
                               "candidates": [{"label": c.label, "iri": c.iri, "score": round(c.score, 6),
                                               "known": c.known} for c in result.candidates]}))
    else:
        typer.echo(f"predicted tails of ({head}, {relation}, ?) — predictions, not asserted facts:")
        for rank, c in enumerate(result.candidates, 1):
            typer.echo(f"{rank:>3}. {c.label}  {c.score:.4f}{'  (already asserted)' if c.known else ''}")
    if save:
        typer.echo(f"saved {saved} prediction(s) to the predicted graph", err=True)


def register(groups) -> None:
    groups["train"].command("reasoner")(train_reasoner)
    groups["train"].command("linkpred")(train_linkpred)
    groups["app"].command("predict")(predict)

"""Relation extraction commands: ``kgqa train relations`` and ``kgqa evaluate relations``."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from kg.errors import KGQAError


def train_relations_command(
    train: Path = typer.Option(..., "--train", help="SpERT-style JSON with the training sentences."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="SpERT-style JSON for choosing the best epoch."),
    out: Path = typer.Option(..., "--out", help="Folder to write the model to (config.json + weights)."),
    epochs: int = typer.Option(8, "--epochs", min=1, help="Passes over the training data."),
    seed: int = typer.Option(0, "--seed", help="Random seed (sampling, shuffling, initialisation)."),
    device: str = typer.Option("cpu", "--device", help="Torch device, e.g. cpu or cuda."),
    trainable_layers: int = typer.Option(4, "--trainable-layers", min=0, max=6,
                                         help="Top encoder layers to fine-tune (and save); more is "
                                              "usually better and bigger."),
    threads: int = typer.Option(0, "--threads", min=0, help="Torch CPU threads (0: torch's default)."),
    ensemble: int = typer.Option(1, "--ensemble", min=1, max=8,
                                 help="Train this many nets (seeds --seed, --seed+1, ...) and save one model "
                                      "that averages them (int4 weight deltas, under 6 MB per 6-layer net)."),
):
    """Train joint entity + relation extraction for the types found in --train.

    Example: kgqa train relations --train train.json --dev dev.json --out models/re --epochs 8
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nlp.relation_model import train_relations
    from nlp.spert_data import read_spert
    from ui.cli import fail

    try:
        train_data = read_spert(train)
        dev_data = read_spert(dev) if dev is not None else None
        for data in (train_data, dev_data):
            if data is not None and data.skipped:
                typer.echo(f"warning: skipped {data.skipped} malformed record(s) in {data.source} "
                           f"(first: {data.reasons[0]})", err=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                      disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("epoch 1", total=None, status="")
            last = {"f1": None}

            def progress(stage, done, total, info):
                member = f"net {info['member']}/{info['members']} " if "member" in info else ""
                if stage == "dev":
                    last["f1"] = info["f1"]
                    typer.echo(f"{member}epoch {info['epoch']}: loss {info['loss']:.4f}, dev relation F1 "
                               f"{info['f1']:.4f}", err=True)
                    return
                dev_note = f" dev F1 {last['f1']:.3f}" if last["f1"] is not None else ""
                bar.update(task, description=f"{member}epoch {info['epoch']}/{info['epochs']}", completed=done,
                           total=total, status=f"loss {info['loss']:.3f}{dev_note}")

            report = train_relations(train=train_data, dev=dev_data, out=out, epochs=epochs, seed=seed,
                                     device=device, progress=progress, threads=threads or None,
                                     trainable_layers=trainable_layers, ensemble=ensemble)
    except KGQAError as err:
        fail(err)
    except OSError as err:  # e.g. --out names an existing file or a read-only folder
        fail(f"cannot write the model to {out}: {err.strerror or err}")
    best = f", best dev relation F1 {report.best_dev_f1:.4f} at epoch {report.best_epoch}" \
        if report.best_dev_f1 is not None else ""
    if report.members:
        nets = ", ".join(f"seed {m['seed']}: epoch {m['best_epoch']}" + (f" F1 {m['best_dev_f1']:.4f}"
                                                                          if m["best_dev_f1"] is not None else "")
                         for m in report.members)
        best = (f", {len(report.members)} nets ({nets}), ensemble dev relation F1 {report.best_dev_f1:.4f}"
                if report.best_dev_f1 is not None else f", {len(report.members)} nets ({nets})")
    typer.echo(f"trained on {report.train_examples} sentences for {report.epochs} epochs{best}; "
               f"saved to {report.out} ({report.weights_bytes / 1e6:.1f} MB of weights, "
               f"{report.cpu_seconds:.0f} s CPU)")


def evaluate_relations_command(
    model: Path = typer.Option(..., "--model", help="Model folder written by `kgqa train relations`."),
    data: Path = typer.Option(..., "--data", help="SpERT-style JSON with gold entities and relations."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
):
    """Strict micro precision/recall/F1 of relations (spans, entity types, type and direction all
    right), entity scores and per-type scores.

    Example: kgqa evaluate relations --model models/re --data dev.json --json
    """
    from nlp.relation_model import evaluate_relations, load_relation_model
    from nlp.spert_data import read_spert
    from ui.cli import fail

    try:
        gold = read_spert(data)
        if gold.skipped:
            typer.echo(f"warning: skipped {gold.skipped} malformed record(s) in {data} "
                       f"(first: {gold.reasons[0]})", err=True)
        scores = evaluate_relations(model=load_relation_model(model), data=gold)
    except KGQAError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
        return
    print_scores(scores)


def print_scores(scores: dict, title: str = "strict micro scores") -> None:
    """A rich table: micro relation and entity rows, then one row per relation and entity type."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title} ({scores['sentences']} sentences)")
    for column in ("", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if not column else "right")

    def row(name, s, style=None):
        table.add_row(name, f"{100 * s['precision']:.2f}", f"{100 * s['recall']:.2f}", f"{100 * s['f1']:.2f}",
                      str(s["support"]), style=style)

    row("relations (strict, micro)", scores["relations"], "bold")
    for name, s in scores["relation_types"].items():
        row(f"  {name}", s)
    row("entities (micro)", scores["entities"], "bold")
    for name, s in scores["entity_types"].items():
        row(f"  {name}", s)
    Console().print(table)


def register(groups):
    groups["train"].command("relations")(train_relations_command)
    groups["evaluate"].command("relations")(evaluate_relations_command)

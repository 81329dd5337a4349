"""Relation extraction commands: ``kgqa train relations`` and ``kgqa evaluate relations``."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from kg.errors import KGQAError


def train_relations_command(
    train: Path = typer.Option(..., "--train", help="Training data: SpERT-style sentences or DocRED-style documents."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Held-out data of the same format: picks the best epoch "
                                                          "(SpERT) or is scored while training and fits the confidence (DocRED)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the model to (config.json + weights)."),
    data_format: str = typer.Option("auto", "--format", help="spert, docred or auto (read from the file)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1,
                                         help="Passes over the training data (default: 25 SpERT, 30 DocRED with a warm restart halfway)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (sampling, shuffling, initialisation)."),
    device: str = typer.Option("cpu", "--device", help="Torch device, e.g. cpu or cuda."),
    trainable_layers: int = typer.Option(6, "--trainable-layers", min=0, max=6,
                                         help="SpERT: top encoder layers to fine-tune (and save)."),
    threads: int = typer.Option(0, "--threads", min=0, help="Torch CPU threads (0: torch's default)."),
    ensemble: int = typer.Option(2, "--ensemble", min=1, max=8,
                                 help="SpERT: train this many nets (seeds --seed, --seed+1, ...) and save one model "
                                      "that averages them (int4 weight deltas, under 6 MB per 6-layer net)."),
    rel_info: Optional[Path] = typer.Option(None, "--rel-info", help="DocRED: rel_info.json-style names of the "
                                                                     "relation ids (P19 -> place of birth)."),
    train_docs: Optional[str] = typer.Option(None, "--train-docs", help="DocRED: a range of --train's documents, e.g. 0:400."),
    dev_docs: Optional[str] = typer.Option(None, "--dev-docs", help="DocRED: a range of --dev's documents, e.g. 400:500."),
    resume: bool = typer.Option(False, "--resume", help="DocRED: continue from the checkpoint in --out."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", min=0,
                                                help="DocRED: stop after the epoch that passes this many seconds "
                                                     "(the checkpoint stays; --resume continues)."),
):
    """Train relation extraction for the types found in --train: joint entities + relations from
    SpERT-style sentences, or document-level relations (with evidence) from DocRED-style documents.
    The defaults are the recipes of the shipped models.

    Example: kgqa train relations --format docred --train docs.json --dev dev.json --out models/docre
    """
    from ui.cli import fail

    fmt = _resolve_format(data_format, train, fail)
    if fmt == "docred":
        return _train_docred(train, dev, out, epochs or 30, seed, threads, rel_info, train_docs, dev_docs, resume,
                             time_budget, fail)
    epochs = epochs or 25
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nlp.relation_model import train_relations
    from nlp.spert_data import read_spert

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
    data: Path = typer.Option(..., "--data", help="Gold data: SpERT-style sentences or DocRED-style documents."),
    data_format: str = typer.Option("auto", "--format", help="spert, docred or auto (read from the file)."),
    docs: Optional[str] = typer.Option(None, "--docs", help="DocRED: a range of --data's documents, e.g. 400:500."),
    train: Optional[Path] = typer.Option(None, "--train", help="DocRED: the training documents, for Ign F1 "
                                                               "(facts seen in training left out)."),
    train_docs: Optional[str] = typer.Option(None, "--train-docs", help="DocRED: a range of --train, e.g. 0:400."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
):
    """Score a relation model on gold data. SpERT: strict micro precision/recall/F1 (spans, entity
    types, type and direction all right), entity and per-type scores. DocRED: relation F1 with the
    gold entities, Ign F1, evidence scores and entity-type accuracy.

    Example: kgqa evaluate relations --format docred --model models/docre --data dev.json --docs 400:500
    """
    from nlp.relation_model import evaluate_relations, load_relation_model
    from nlp.spert_data import read_spert
    from ui.cli import fail

    from nlp.docre.data import is_docre_model

    fmt = "docred" if data_format == "auto" and is_docre_model(model) else _resolve_format(data_format, data, fail)
    if fmt == "docred":
        return _evaluate_docred(model, data, docs, train, train_docs, as_json, fail)
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


def _resolve_format(data_format: str, path: Path, fail) -> str:
    """``spert`` or ``docred``: as given, or read from the first record of the file."""
    fmt = data_format.strip().lower()
    if fmt in ("spert", "docred"):
        return fmt
    if fmt != "auto":
        fail(f"unknown --format {data_format!r}: use spert, docred or auto")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return "spert"  # the reader reports the problem
    return "docred" if '"vertexSet"' in head or '"sents"' in head else "spert"


def _range(text: Optional[str], fail):
    from nlp.docre.data import parse_slice

    try:
        return parse_slice(text)
    except ValueError as err:
        fail(err)


def _warn_skipped(data) -> None:
    if data.skipped or data.dropped:
        first = f" (first: {data.problems[0]})" if data.problems else ""
        typer.echo(f"warning: {data.source}: skipped {data.skipped} malformed document(s), dropped "
                   f"{data.dropped} malformed mention(s)/label(s){first}", err=True)


def _train_docred(train, dev, out, epochs, seed, threads, rel_info, train_docs, dev_docs, resume, time_budget, fail):
    from nlp.docre.data import read_docred, read_rel_info
    from nlp.docre.train import train_docre

    try:
        train_data = read_docred(train, docs=_range(train_docs, fail))
        dev_data = read_docred(dev, docs=_range(dev_docs, fail)) if dev is not None else None
        for d in (train_data, dev_data):
            if d is not None:
                _warn_skipped(d)
        report = train_docre(train=train_data, dev=dev_data, out=out, epochs=epochs, seed=seed,
                             threads=threads or None, relation_names=read_rel_info(rel_info), resume=resume,
                             time_budget=time_budget, progress=lambda msg: typer.echo(msg, err=True))
    except KGQAError as err:
        fail(err)
    except OSError as err:
        fail(f"cannot write the model to {out}: {err.strerror or err}")
    if report.epochs < epochs:
        typer.echo(f"stopped after epoch {report.epochs} of {epochs} (time budget); the checkpoint is in {out}: "
                   "run the same command with --resume to continue")
        return
    dev_note = ""
    if report.dev:
        dev_note = (f"; dev relation F1 {100 * report.dev['relations']['f1']:.2f}, Ign F1 "
                    f"{100 * report.dev['ign_f1']:.2f}, evidence recall {100 * report.dev['evidence']['recall']:.1f}")
    size = (Path(out) / "weights.safetensors").stat().st_size / 1e6
    typer.echo(f"trained on {len(train_data.documents)} documents for {epochs} epochs{dev_note}; saved to {out} "
               f"({size:.1f} MB of weights, {report.seconds:.0f} s)")


def _evaluate_docred(model, data, docs, train, train_docs, as_json, fail):
    from nlp.docre.data import read_docred
    from nlp.docre.train import evaluate_docre, load_docre

    try:
        gold = read_docred(data, docs=_range(docs, fail))
        _warn_skipped(gold)
        train_data = read_docred(train, docs=_range(train_docs, fail)) if train is not None else None
        scores = evaluate_docre(model=load_docre(model), data=gold, train=train_data)
    except KGQAError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
        return
    print_docred_scores(scores)


def _score_table(title: str, count: str):
    """A rich table with precision / recall / F1 / ``count`` columns and a function adding a row of
    a ``{"precision", "recall", "f1", count}`` dict."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("", "precision", "recall", "F1", count):
        table.add_column(column, justify="left" if not column else "right")

    def row(name, s, style=None):
        table.add_row(name, f"{100 * s['precision']:.2f}", f"{100 * s['recall']:.2f}", f"{100 * s['f1']:.2f}",
                      str(s[count]), style=style)

    return table, row


def print_docred_scores(scores: dict, top: int = 15) -> None:
    """A rich table of document-level scores: relations, Ign F1, evidence, types, frequent relations."""
    from rich.console import Console

    table, row = _score_table(f"document-level relations, gold entities ({scores['documents']} documents)", "gold")
    row("relations", scores["relations"], "bold")
    if "ign_f1" in scores:
        table.add_row("  Ign F1 (facts seen in training left out)", "", "", f"{100 * scores['ign_f1']:.2f}", "")
    row("evidence sentences (of correct facts)", scores["evidence"])
    table.add_row("  cited sentences contain all gold evidence", "", "",
                  f"{100 * scores['evidence_contains_gold']:.1f} %", "")
    table.add_row("entity types (accuracy)", "", "", f"{100 * scores['entity_type_accuracy']:.1f} %", "")
    frequent = sorted(scores["per_relation"].items(), key=lambda kv: -kv[1]["gold"])[:top]
    names = scores.get("relation_names", {})
    for name, s in frequent:
        row(f"  {name} {names.get(name, '')}".rstrip(), s)
    Console().print(table)


def print_scores(scores: dict, title: str = "strict micro scores") -> None:
    """A rich table: micro relation and entity rows, then one row per relation and entity type."""
    from rich.console import Console

    table, row = _score_table(f"{title} ({scores['sentences']} sentences)", "support")
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

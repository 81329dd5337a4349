"""``kgqa build``: files and folders of text become facts in the store."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from kg.errors import KGQAError

STORE_HELP = "Store folder or SPARQL endpoint URL (default: $KGQA_STORE or ./kgqa-store)."


def build(
    paths: List[Path] = typer.Argument(..., help="Files or folders (.txt, .md, .html, .jsonl; folders recursively)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1,
                                          help="Local worker processes (default: all cores; one for 32 documents or fewer)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Dask scheduler address, e.g. tcp://host:8786."),
    model: Optional[Path] = typer.Option(None, "--model", help="A model folder from `kgqa train relations` (a "
                                                               "document-level one replaces the shipped model)."),
    fast: bool = typer.Option(False, "--fast", help="Sentence-level extraction only (no document-level model): "
                                                    "about twice as fast, finds far fewer facts."),
    schema: Optional[Path] = typer.Option(None, "--schema", help="Relation schema file (default: the built-in one)."),
    kb: Optional[Path] = typer.Option(None, "--kb", help="KB file to link entities to (adds owl:sameAs)."),
    report: Optional[Path] = typer.Option(None, "--report",
                                          help="JSON build report (default: <store>/build-report.json)."),
    force: bool = typer.Option(False, "--force", help="Re-extract documents even when unchanged."),
    keep_text: bool = typer.Option(True, "--keep-text/--no-keep-text",
                                   help="Keep each document's text in the store (provenance offsets point into it)."),
    max_chars: int = typer.Option(1_000_000, "--max-chars", min=1,
                                  help="Larger documents fail with 'too-large' instead of exhausting memory."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print one line per document as it is written."),
    light: bool = typer.Option(False, "--light", hidden=True, help="Use the light (rule-only) pipeline; for tests."),
    batch_documents: int = typer.Option(16, "--batch-documents", min=1, hidden=True,
                                        help="Documents per worker task."),
):
    """Build documents into the knowledge graph: resumable, parallel, never stopped by a bad file.

    Unchanged documents are skipped, changed ones replaced. Exit status: 0 all built or unchanged,
    3 some documents failed (see the report), 2 usage or store error.
    """
    from kg import KnowledgeGraph
    from nlp.build import build_corpus
    from ui.cli import default_store, fail

    location = store or default_store()
    try:
        with KnowledgeGraph.open(location) as kg, _ProgressBar(verbose) as bar:
            result = build_corpus(paths, kg=kg, workers=workers, cluster=cluster, model=model, schema=schema,
                                  kb=kb, light=light, fast=fast, progress=bar.update, force=force, keep_text=keep_text,
                                  max_chars=max_chars, batch_documents=batch_documents)
            report_path = report or (Path(kg.location) / "build-report.json" if kg.store.kind == "oxigraph" else None)
    except KGQAError as err:
        fail(err)
    if report_path is not None:
        try:
            result.write(report_path)
        except OSError as err:
            typer.echo(f"warning: could not write the report to {report_path}: {err}", err=True)
            report_path = None
    typer.echo(
        f"built {result.built:,} documents ({result.replaced:,} replaced), {result.skipped_unchanged:,} unchanged, "
        f"{result.failed:,} failed; {result.facts:,} facts, {result.words:,} words in {result.seconds:.1f} s "
        f"({result.docs_per_second:.1f} docs/s, {result.words_per_second:,.0f} words/s, {result.workers} workers)")
    for failure in result.failures[:10]:
        typer.echo(f"  failed {failure.id}: {failure.reason}", err=True)
    if result.failed > 10:
        typer.echo(f"  ... and {result.failed - 10:,} more", err=True)
    if report_path is not None:
        typer.echo(f"report: {report_path}")
    raise typer.Exit(result.exit_code)


class _ProgressBar:
    """A rich progress bar with documents/s and words/s, drawn only on a terminal."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("building"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rates]}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty())
        self._progress.__enter__()
        self._task = self._progress.add_task("build", total=None, rates="")
        return self

    def update(self, report) -> None:
        seconds = max(report.seconds, 1e-9)
        rates = (f"{report.built / seconds:.1f} docs/s  {report.words / seconds:,.0f} words/s  "
                 f"{report.failed} failed")
        self._progress.update(self._task, completed=report.seen, total=report.total, rates=rates)
        if self.verbose and report.last is not None:
            status, doc_id = report.last
            self._progress.console.print(f"{status} {doc_id}", markup=False, highlight=False)
            report.last = None

    def __exit__(self, *exc):
        self._progress.__exit__(*exc)


def register(groups) -> None:
    groups["app"].command()(build)

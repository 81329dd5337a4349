"""Store commands: import, export, sparql, stats, delete."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from kg.errors import KGQAError

STORE_HELP = "Store folder or SPARQL endpoint URL (default: $KGQA_STORE or ./kgqa-store)."


def _store(store: Optional[str]) -> str:
    from ui.cli import default_store

    return store or default_store()


def import_(
    file: Path = typer.Argument(..., help="RDF (ttl, nt, nq, trig, jsonld) or delimited (csv, tsv, pipe) file."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; default from the extension."),
    doc_id: Optional[str] = typer.Option(None, "--doc-id", help="Document id (default: the file name)."),
    base: Optional[str] = typer.Option(None, "--base", help="Base IRI for relative IRIs (default: the file's location)."),
    graph: Optional[str] = typer.Option(None, "--graph", help="Load the file's triples into this named graph "
                                        "instead of the default graph."),
):
    """Import a graph file into the store as one document (all or nothing)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kg import KnowledgeGraph
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store)) as kg, Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} quads"),
            TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty(),
        ) as bar:
            task = bar.add_task("parsing", total=None)

            def progress(stage, done, total):
                bar.update(task, description="parsing" if stage == "parse" else "writing",
                           completed=done, total=total)

            report = kg.import_file(file, format, doc_id=doc_id, progress=progress, base_iri=base, graph=graph)
    except KGQAError as err:
        fail(err)
    verb = "replaced" if report.replaced else "imported"
    typer.echo(f"{verb} {report.triples:,} triples from {file} as document {report.document!r} "
               f"in {report.seconds:.2f} s")


def export(
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="ttl, nt, nq, trig, jsonld, xml or graphml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: standard output)."),
):
    """Export the graph (nq/trig: the whole dataset with provenance; others: the asserted facts)."""
    import tempfile

    from kg import KnowledgeGraph
    from kg.io import normalise_format
    from ui.cli import fail

    try:
        fmt = normalise_format(format or (None if out else "ttl"), out, export=True)
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            if out is not None:
                n = kg.export(out, fmt)
                typer.echo(f"wrote {n:,} {'quads' if fmt in ('nq', 'trig') else 'triples'} to {out}", err=True)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / f"export.{fmt}"
                    kg.export(path, fmt)
                    sys.stdout.buffer.write(path.read_bytes())
    except KGQAError as err:
        fail(err)


def sparql(
    query: str = typer.Argument(..., help="A SPARQL query, or a file holding one."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    format: str = typer.Option("table", "--format", "-f", help="table, json, csv, tsv, xml (SELECT/ASK); ttl, nt, jsonld (CONSTRUCT)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds before the query is stopped."),
    all_graphs: bool = typer.Option(False, "--all-graphs", help="Also show kgqa's own graphs (documents, meta, "
                                    "inferred, predicted) to GRAPH ?g; without it they answer only by name."),
):
    """Run a SPARQL query against the store and print the results."""
    from kg import KnowledgeGraph
    from ui.cli import fail

    text = query
    p = Path(query)
    if len(query) < 4096 and "\n" not in query and p.suffix in (".rq", ".sparql", ".txt") and p.is_file():
        text = p.read_text(encoding="utf-8")
    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            result = kg.query(text, timeout=timeout, all_graphs=all_graphs)
            if format == "table":
                _print_table(result)
            else:
                fmt = format
                if result.type == "CONSTRUCT" and fmt in ("table", "json"):
                    fmt = "ttl"
                try:
                    sys.stdout.buffer.write(result.serialize(fmt))
                except ValueError as err:
                    raise KGQAError(str(err), code="E-FORMAT") from None
    except KGQAError as err:
        fail(err)


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if result.type == "ASK":
        console.print("yes" if bool(result) else "no")
        return
    table = Table(*result.vars, show_lines=False)
    n = 0
    for row in result:
        table.add_row(*("" if v is None else str(v) for v in row))
        n += 1
    console.print(table)
    console.print(f"{n} row{'s' if n != 1 else ''}", style="dim")


def stats(
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Show counts: facts, entities, relations, documents, inferred and predicted facts."""
    from kg import KnowledgeGraph
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            s = kg.stats()
            docs = kg.documents()
    except KGQAError as err:
        fail(err)
    if as_json:
        s["document_ids"] = [d.id for d in docs]
        typer.echo(json.dumps(s, indent=2))
        return
    for k, v in s.items():
        typer.echo(f"{k:>11}: {v:,}" if isinstance(v, int) else f"{k:>11}: {v}")
    for d in docs[:20]:
        typer.echo(f"  - {d.id} ({d.fact_count:,} facts, {d.extractor})")
    if len(docs) > 20:
        typer.echo(f"  ... and {len(docs) - 20} more")


def delete(
    doc_id: str = typer.Argument(..., help="Document id (see `kgqa stats`)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
):
    """Delete a document; facts that other documents also support stay."""
    from kg import KnowledgeGraph
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            removed = kg.delete_document(doc_id)
    except KGQAError as err:
        fail(err)
    typer.echo(f"deleted document {doc_id!r}; {removed:,} triples left the graph")


def register(groups) -> None:
    app = groups["app"]
    app.command("import")(import_)
    app.command()(export)
    app.command()(sparql)
    app.command()(stats)
    app.command()(delete)

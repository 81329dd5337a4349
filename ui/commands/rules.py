"""Rule commands: ``kgqa rules apply``, ``kgqa rules explain``, ``kgqa rules check``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from kg.errors import KGQAError

STORE_HELP = "Store folder or SPARQL endpoint URL (default: $KGQA_STORE or ./kgqa-store)."


def _store(store: Optional[str]) -> str:
    from ui.cli import default_store

    return store or default_store()


def apply(
    rules_file: Optional[Path] = typer.Argument(None, help="A rules file (Horn or CONSTRUCT rules)."),
    rdfs: bool = typer.Option(False, "--rdfs", help="Add the built-in RDFS rules."),
    owl_rl: bool = typer.Option(False, "--owl-rl", help="Add the built-in OWL RL rules (includes RDFS)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Infer what the rules conclude from the asserted facts and store it (replaces the last run's conclusions)."""
    from kg import KnowledgeGraph
    from reasoning.rules import apply_rules
    from ui.cli import fail

    try:
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            report = apply_rules(kg, rules_file, rdfs=rdfs, owl_rl=owl_rl)
    except KGQAError as err:
        fail(err)
    if as_json:
        out = dict(vars(report))
        out["seconds"] = report.seconds
        typer.echo(json.dumps(out, indent=2))
        return
    for w in report.warnings:
        typer.echo(f"warning: {w}", err=True)
    if report.unchanged:
        typer.echo("unchanged:  same asserted facts and rules as the stored conclusions; nothing recomputed")
    typer.echo(f"iterations: {report.iterations}")
    typer.echo(f"inferred:   {report.inferred:,} facts (+{report.added:,} new, -{report.retracted:,} retracted)")
    typer.echo(f"time:       {report.seconds:.2f} s (load {report.seconds_load:.2f} s, closure "
               f"{report.seconds_closure:.2f} s, write {report.seconds_write:.2f} s)")
    for name, n in list(report.per_rule.items())[:10]:
        typer.echo(f"  {n:>9,}  {name}")


def explain(
    triple: List[str] = typer.Argument(..., help='"S P O" in one argument, or S P O as three; labels, '
                                                 "relation names or <IRIs>."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the proof tree as JSON."),
):
    """Show why a fact holds: the rules and premises down to asserted facts and their sources."""
    from kg import KnowledgeGraph
    from reasoning.rules.explain import explain as explain_fact
    from reasoning.rules.explain import parse_triple_text
    from ui.cli import fail

    try:
        if len(triple) == 1:
            parts = parse_triple_text(triple[0])
        elif len(triple) == 3:
            parts = tuple(triple)
        else:
            raise KGQAError(f"got {len(triple)} arguments; give the fact as \"S P O\" (quote labels with "
                            "spaces inside) or as three arguments S P O", code="E-TRIPLE")
        with KnowledgeGraph.open(_store(store), create=False) as kg:
            tree = explain_fact(kg, *parts)
    except KGQAError as err:
        fail(err)
    typer.echo(json.dumps(tree.to_dict(), indent=2) if as_json else tree.render())


def check(rules_file: Path = typer.Argument(..., help="A rules file to check.")):
    """Check a rules file without a store and print its rules as the engine reads them."""
    from reasoning.rules import load_rules
    from ui.cli import fail

    try:
        rules = load_rules(rules_file)
    except KGQAError as err:
        fail(err)
    for r in rules:
        typer.echo(str(r))
    typer.echo(f"{len(rules)} rule{'s' if len(rules) != 1 else ''}: ok")


def register(groups) -> None:
    rules = groups["rules"]
    rules.command()(apply)
    rules.command()(explain)
    rules.command()(check)

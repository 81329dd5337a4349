"""``kgqa rules apply`` without Typer: its plain forms parsed here, the report printed for both paths.

``kgqa rules apply [RULES_FILE] [--rdfs] [--owl-rl] [--store DIR] [--json]`` (each at most once,
``--store=DIR`` too) is run by :func:`run_plain`, called by ``ui.cli.main`` before Typer is
imported: starting Typer and coercing the options through its validation library costs about half
a second, a fifth of the whole command at 20k facts. Anything else (``--help``, a typo, an option
given twice) returns None and goes to the Typer command in :mod:`ui.commands.rules`, which has the
same options, errors and output.

>>> _parse(["family.rules", "--rdfs", "--store=kg", "--json"])
{'rules_file': 'family.rules', 'rdfs': True, 'owl_rl': False, 'store': 'kg', 'as_json': True}
>>> _parse(["--owl-rl", "--store"]) is None, _parse(["--rdfs", "--rdfs"]) is None, _parse(["-h"]) is None
(True, True, True)
"""
from __future__ import annotations

import json
import sys

_FLAGS = {"--rdfs": "rdfs", "--owl-rl": "owl_rl", "--json": "as_json"}


def _parse(args: list[str]) -> dict | None:
    """The options of a plain ``rules apply`` command line, or None when Typer must parse it."""
    out: dict = {"rules_file": None, "rdfs": False, "owl_rl": False, "store": None, "as_json": False}
    seen: set[str] = set()
    i = 0
    while i < len(args):
        a = args[i]
        if a in _FLAGS:
            key, value = _FLAGS[a], True
        elif a == "--store" and i + 1 < len(args) and not args[i + 1].startswith("-"):
            key, value = "store", args[i + 1]
            i += 1
        elif a.startswith("--store=") and len(a) > len("--store="):
            key, value = "store", a[len("--store="):]
        elif a and not a.startswith("-"):
            key, value = "rules_file", a
        else:
            return None
        if key in seen:
            return None
        seen.add(key)
        out[key] = value
        i += 1
    return out


def _echo(text: str, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)


def print_report(report, as_json: bool, echo=_echo) -> None:
    """The command's output: the report as JSON, or warnings (stderr) and a few lines."""
    if as_json:
        out = dict(vars(report))
        out["seconds"] = report.seconds
        echo(json.dumps(out, indent=2))
        return
    for w in report.warnings:
        echo(f"warning: {w}", err=True)
    if report.unchanged:
        echo("unchanged:  same asserted facts and rules as the stored conclusions; nothing recomputed")
    echo(f"iterations: {report.iterations}")
    echo(f"inferred:   {report.inferred:,} facts (+{report.added:,} new, -{report.retracted:,} retracted)")
    echo(f"time:       {report.seconds:.2f} s (load {report.seconds_load:.2f} s, closure "
         f"{report.seconds_closure:.2f} s, write {report.seconds_write:.2f} s)")
    for name, n in list(report.per_rule.items())[:10]:
        echo(f"  {n:>9,}  {name}")


def run_plain(args: list[str]) -> int | None:
    """Run ``kgqa rules apply ARGS`` when ARGS is a plain form; the exit status, or None."""
    opts = _parse(args)
    if opts is None:
        return None
    from kg import KGQAError, KnowledgeGraph
    from reasoning.rules import apply_rules
    from ui.cli import default_store

    try:
        with KnowledgeGraph.open(opts["store"] or default_store(), create=False) as kg:
            report = apply_rules(kg, opts["rules_file"], rdfs=opts["rdfs"], owl_rl=opts["owl_rl"])
    except KGQAError as err:
        _echo(f"error: {err}", err=True)
        return 2
    print_report(report, opts["as_json"])
    sys.stdout.flush()
    return 0

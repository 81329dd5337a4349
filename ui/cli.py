"""The ``kgqa`` command line (Typer).

Commands live in ``ui/commands/*.py``; each module defines ``register(app)`` and is picked up here,
so adding a command never edits this file. Sub-command groups (``train``, ``evaluate``, ``rules``)
are created here and shared.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from kg.errors import KGQAError

app = typer.Typer(
    name="kgqa",
    help="kgqa: turn text into a knowledge graph and answer questions over it, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train models on your own data or graph.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Evaluate trained models.", no_args_is_help=True)
rules_app = typer.Typer(help="Apply and explain rules (Horn rules, RDFS, OWL RL).", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(rules_app, name="rules")

GROUPS = {"app": app, "train": train_app, "evaluate": evaluate_app, "rules": rules_app}


def default_store() -> str:
    """``$KGQA_STORE`` or ``./kgqa-store``."""
    return os.environ.get("KGQA_STORE", "kgqa-store")


def fail(err: Exception, code: int = 2) -> None:
    """Print a user error as one line (no traceback) and exit non-zero."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code)


def _register_commands() -> None:
    from ui import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"ui.commands.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(GROUPS)


_register_commands()


def main() -> None:
    """Console entry point: user errors become one line and exit status 2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        app()
    except KGQAError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

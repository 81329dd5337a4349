"""The ``kgqa`` command line (Typer).

Commands live in ``ui/commands/*.py``; each module defines ``register(app)`` and is picked up here,
so adding a command never edits this file. Sub-command groups (``train``, ``evaluate``, ``rules``)
are created here and shared.

The Typer app is built on first use (``from ui.cli import app`` builds it), not when this module is
imported: Typer and the validation library it coerces options with take about half a second to
start, and ``kgqa rules apply`` (its plain forms, see :mod:`ui.commands.rules_apply`) runs without
them.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys

from kg.errors import KGQAError

_GROUPS: dict | None = None
_NAMES = {"app": "app", "train_app": "train", "evaluate_app": "evaluate", "rules_app": "rules", "GROUPS": None}


def _groups() -> dict:
    global _GROUPS
    if _GROUPS is None:
        import typer

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
        _GROUPS = {"app": app, "train": train_app, "evaluate": evaluate_app, "rules": rules_app}
        _register_commands(_GROUPS)
    return _GROUPS


def __getattr__(name: str):
    """``app``, ``train_app``, ``evaluate_app``, ``rules_app`` and ``GROUPS``, built on first use."""
    if name in _NAMES:
        groups = _groups()
        return groups if _NAMES[name] is None else groups[_NAMES[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_store() -> str:
    """``$KGQA_STORE`` or ``./kgqa-store``."""
    return os.environ.get("KGQA_STORE", "kgqa-store")


def fail(err: Exception, code: int = 2) -> None:
    """Print a user error as one line (no traceback) and exit non-zero."""
    import typer

    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code)


def _register_commands(groups: dict) -> None:
    from ui import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"ui.commands.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(groups)


def main() -> None:
    """Console entry point: user errors become one line and exit status 2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        if sys.argv[1:3] == ["rules", "apply"]:
            from ui.commands.rules_apply import run_plain

            code = run_plain(sys.argv[3:])  # None: not a plain form, Typer parses it
            if code is not None:
                sys.exit(code)
        _groups()["app"]()
    except KGQAError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()

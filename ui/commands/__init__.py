"""CLI command modules; each defines ``register(groups)`` where groups maps app/train/evaluate/rules to Typer apps."""

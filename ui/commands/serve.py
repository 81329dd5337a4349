"""``kgqa serve``: the SPARQL 1.1 endpoint (and, once the chat UI lands, the UI) over one store."""
from __future__ import annotations

import os
from typing import Optional

import typer


def serve(
    store: Optional[str] = typer.Option(None, "--store", help="Store folder or SPARQL endpoint URL "
                                        "(default: $KGQA_STORE or ./kgqa-store)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the server to the network."),
    port: int = typer.Option(7860, "--port", help="TCP port."),
    update_token: Optional[str] = typer.Option(
        None, "--update-token", envvar="KGQA_UPDATE_TOKEN", show_envvar=True,
        help="Accept SPARQL updates that carry 'Authorization: Bearer TOKEN'; without it updates are refused."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.001, help="Seconds before a query is stopped (503)."),
    max_rows: int = typer.Option(100_000, "--max-rows", min=1, help="Row cap per query result (413 above it)."),
    in_memory: bool = typer.Option(False, "--in-memory", help="Answer queries from an in-memory copy of the store "
                                   "(several times faster joins; needs RAM for the whole store; writes still "
                                   "reach the disk)."),
    max_wait: float = typer.Option(10.0, "--max-wait", min=0.1, help="Longest a question may wait (seconds); "
                                   "a question that would wait longer is answered 503 with Retry-After at once "
                                   "(the chat says the service is busy)."),
    prefill: bool = typer.Option(True, "--prefill/--no-prefill", help="While idle, embed every entity's "
                                 "relation-path paraphrases into the store's vector cache (kgqa-vectors/ in the "
                                 "store folder), so questions about any entity plan fast, in this and later processes."),
    wording_budget: int = typer.Option(256, "--wording-budget", min=0, help="New relation-path wordings one "
                                       "question may embed (about 1 s of MiniLM per 256): on a graph whose "
                                       "vector cache is not filled yet, questions score the paths likeliest to "
                                       "fit and say their answer is provisional; 0: no limit."),
    all_graphs: bool = typer.Option(False, "--all-graphs", help="Also show kgqa's own graphs (documents, meta, "
                                    "inferred, predicted) to GRAPH ?g; without it they answer only by name."),
):
    """Serve the store over HTTP: SPARQL 1.1 Protocol at /sparql, /health, /api/stats, OpenAPI docs at /docs."""
    import uvicorn

    from kg import KnowledgeGraph
    from kg.errors import KGQAError
    from ui.chat import mount_ui
    from ui.cli import default_store, fail
    from ui.http import build_app

    location = store or default_store()
    try:
        if in_memory:
            typer.echo(f"kgqa: copying {location} into memory ...")
        kg = KnowledgeGraph.open(location, create=False, in_memory=in_memory)
    except KGQAError as err:
        fail(err)
    try:
        app = build_app(kg, update_token=update_token, timeout=timeout, max_rows=max_rows, all_graphs=all_graphs)
        # chat UI at /, POST /api/ask and /api/ingest; the question models load in the background
        app = mount_ui(app, kg, update_token=update_token, max_wait=max_wait, prefill_vectors=prefill,
                       on_ready=_say_ready, wording_budget=wording_budget or None)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        typer.echo(f"kgqa: serving {location} at {url}/ (chat UI), {url}/sparql (docs: {url}/docs); "
                   f"updates {'need the bearer token' if update_token else 'are disabled'}; Ctrl+C stops")
        try:
            uvicorn.run(app, host=host, port=port, log_level=os.environ.get("KGQA_LOG_LEVEL", "warning"))
        except OSError as err:  # port in use, address not available
            fail(KGQAError(f"cannot listen on {host}:{port}: {err.strerror or err}; choose another --port",
                           code="E-LISTEN"))
    finally:
        kg.close()


def _say_ready(questions) -> None:
    typer.echo(f"kgqa: ready: question models loaded in {questions.load_seconds:.1f} s "
               f"(GET /health says \"ready\": true)")


def register(groups) -> None:
    groups["app"].command()(serve)

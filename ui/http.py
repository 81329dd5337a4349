"""The HTTP front door: a SPARQL 1.1 Protocol endpoint and small REST routes (FastAPI).

>>> from kg import KnowledgeGraph
>>> from fastapi.testclient import TestClient
>>> with KnowledgeGraph.open("memory") as kg, TestClient(build_app(kg)) as client:
...     client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()
{'head': {}, 'boolean': False}

Routes of the app that :func:`create_app` returns:

=====================  ===========================================================================
``GET/POST /sparql``   SPARQL 1.1 Protocol: ``GET ?query=``, ``POST`` form-encoded (``query=`` or
                       ``update=``), ``POST application/sparql-query`` / ``application/sparql-update``;
                       queries take ``default-graph-uri`` / ``named-graph-uri`` (repeatable)
``GET /health``        liveness and readiness: ``{"status": "ok", "ready": true, ...}``; with the chat
                       service mounted, ``"ready"`` is false (``"status": "starting"``) until the
                       question models are loaded, and ``"questions"`` shows the question queue
``GET /health/ready``  200 when questions are answered, else 503 with ``Retry-After``
``GET /api/stats``     :meth:`kg.KnowledgeGraph.stats` as JSON
``GET /docs``          OpenAPI docs (FastAPI's default; ``/openapi.json``)
=====================  ===========================================================================

**Extending the app (chat UI, REST).** :func:`build_app` is the one place ``kgqa serve`` gets its
app from. The chat UI adds its routes (``/api/ask``, ``/api/ingest``) to the app that
:func:`create_app` returns as ordinary FastAPI routes, and mounts Gradio at ``/`` *last*, because a
mount at ``/`` answers every path not registered before it::

    app = create_app(kg, update_token=token)
    app.post("/api/ask")(ask_handler)            # app.state.kg and app.state.sparql are there to use
    app = gradio.mount_gradio_app(app, blocks, path="/")

Handlers that touch the store should run it through ``await run_in_worker(app, fn, *args)`` (the
same bounded pool of worker threads the SPARQL endpoint uses) so the event loop never blocks.
Questions are the exception: ``POST /api/ask`` waits on the question queue's own threads
(:mod:`ui.question_queue`), so SPARQL reads never queue behind questions.

**Choices a client sees** (all error bodies are ``text/plain`` one-liners ``[CODE] message``):

* malformed query or update: **400** with the parser's message;
* a query running longer than the timeout (default 30 s): **503** ``E-TIMEOUT``. The deadline is
  checked while rows stream out; a query that the engine evaluates in one block (a big aggregate or
  sort) is cut off by an outer guard instead, and its worker thread finishes in the background
  (Oxigraph cannot cancel a running query), so at most ``workers`` such queries burn CPU at once;
* a result with more rows (or triples) than the row cap (default 100,000): **413** ``E-ROW-CAP``
  (the fix is on the client's side: add a LIMIT);
* a query text over ``max_query_bytes`` (default 1 MB): **413**; more than ``max_query_tokens``
  tokens or nested deeper than ``max_query_depth``: **400** ``E-QUERY-COMPLEX``. These limits exist
  because Oxigraph's parser recurses: pathological nesting would overflow the stack and kill the
  process. Queries also run on worker threads with a large stack for the same reason;
* updates: **403** when the server has no update token, **401** when the request lacks
  ``Authorization: Bearer <token>`` or carries a wrong one, **204** when applied. Updates are not
  cut off by the timeout (a half-applied write is worse than a slow one); they run one at a time;
* ``SERVICE`` (federated query) is refused with 400 ``E-SERVICE-DISABLED`` unless the app is
  created with ``allow_service=True``: Oxigraph would fetch any URL a client names. ``LOAD`` in an
  update (which also fetches) needs the update token like every update;
* the dataset is the user's data: the default graph plus the named graphs of imported TriG/N-Quads
  files; kgqa's bookkeeping graphs (documents, meta, inferred, predicted) are left out of
  ``GRAPH ?g`` but answer by name (``GRAPH <https://kgqa.dev/graph/meta>``, ``FROM NAMED``);
  ``create_app(kg, all_graphs=True)`` (``kgqa serve --all-graphs``) shows them all;
* ``default-graph-uri`` and ``named-graph-uri`` (each repeatable; in the URL, or in the form body of
  a form POST) set a query's dataset as the Protocol says (section 2.1.4): the default graph is the
  merge of the ``default-graph-uri`` graphs, ``GRAPH`` reaches the ``named-graph-uri`` graphs only,
  a kind not given is empty, and FROM / FROM NAMED in the query are ignored. Bookkeeping graphs may
  be named there. A value that is not an absolute IRI: **400** ``E-GRAPH-IRI``;
* updates act on the whole store: Oxigraph's update engine takes no dataset, so ``GRAPH ?g`` in an
  update's WHERE (``DELETE WHERE { GRAPH ?g { ?s ?p ?o } }``) and ``CLEAR ALL`` / ``CLEAR NAMED``
  also reach kgqa's bookkeeping graphs (documents' provenance, meta, inferred conclusions). To touch
  only some graphs, name them: ``DROP GRAPH <g>``, ``WITH <g> DELETE ...``, or
  ``DELETE { GRAPH ?g { ... } } USING NAMED <g1> USING NAMED <g2> WHERE { GRAPH ?g { ... } }``.
  For the same reason ``using-graph-uri`` / ``using-named-graph-uri`` are refused with **400**: write
  ``USING <g>`` / ``USING NAMED <g>`` (or ``WITH <g>``) in the update text instead;
* no acceptable result format: **406**; an unsupported request content type: **415**.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import logging
import queue
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from kg.graph import dataset_graph_names
from kg.query_shape import check_query_shape
from kg.errors import (
    KGQAError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyStoreError,
    RemoteStoreError,
    ResultTooLargeError,
    StoreError,
)

log = logging.getLogger("kgqa.http")

SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
FORM = "application/x-www-form-urlencoded"

# (media type, kg.results format key), in the order the server prefers them.
RESULT_OFFERS = [
    ("application/sparql-results+json", "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
    ("application/json", "json"),
    ("application/xml", "xml"),
    ("text/xml", "xml"),
]
GRAPH_OFFERS = [
    ("text/turtle", "ttl"),
    ("application/n-triples", "nt"),
    ("application/ld+json", "jsonld"),
    ("application/rdf+xml", "xml"),
    ("application/x-turtle", "ttl"),
    ("text/plain", "nt"),
    ("application/json", "jsonld"),
    ("application/xml", "xml"),
]
# Values of the ``format=`` (also ``output=``/``results=``) parameter, per result kind.
RESULT_FORMAT_NAMES = {"json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv"}
GRAPH_FORMAT_NAMES = {"ttl": "ttl", "turtle": "ttl", "n3": "ttl", "nt": "nt", "ntriples": "nt",
                      "n-triples": "nt", "jsonld": "jsonld", "json-ld": "jsonld", "json": "jsonld",
                      "xml": "xml", "rdfxml": "xml", "rdf+xml": "xml", "rdf": "xml"}
_CANONICAL = {
    "SELECT": {key: mt for mt, key in reversed(RESULT_OFFERS)},
    "CONSTRUCT": {key: mt for mt, key in reversed(GRAPH_OFFERS)},
}
_QUERY_DATASET_PARAMS = ("default-graph-uri", "named-graph-uri")
_UPDATE_DATASET_PARAMS = ("using-graph-uri", "using-named-graph-uri")


@dataclass(frozen=True)
class EndpointSettings:
    """Limits and switches of the SPARQL endpoint (see the module docstring for what clients see)."""

    update_token: str | None = None
    timeout: float = 30.0
    max_rows: int = 100_000
    max_query_bytes: int = 1_000_000
    max_query_tokens: int = 100_000
    max_query_depth: int = 200
    #: SERVICE makes the server fetch any URL a client names (server-side request forgery): off by default
    allow_service: bool = False
    workers: int = 4
    #: show kgqa's bookkeeping graphs (documents, meta, inferred, ...) to GRAPH ?g too (kg.query(all_graphs=))
    all_graphs: bool = False
    #: grace the outer guard gives the in-engine deadline before it answers 503 itself
    guard_grace: float = 1.0


class ProtocolError(Exception):
    """A request the endpoint refuses; becomes a ``text/plain`` answer with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


# ---------------------------------------------------------------------- worker threads
class QueryWorkers:
    """A fixed pool of daemon threads with big stacks that runs store work off the event loop.

    Why not ``ThreadPoolExecutor``: its threads get the default stack (8 MB), and Oxigraph's parser
    and evaluator recurse, so a deeply nested query could overflow it and kill the whole server.

    >>> pool = QueryWorkers(1)
    >>> pool.submit(sum, [1, 2]).result()
    3
    >>> pool.shutdown()
    """

    def __init__(self, n: int = 4, *, stack_size: int = 256 * 1024 * 1024):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = False
        previous = threading.stack_size()
        try:
            threading.stack_size(stack_size)
            self._threads = [threading.Thread(target=self._loop, name=f"kgqa-sparql-{i}", daemon=True)
                             for i in range(max(1, n))]
            for t in self._threads:
                t.start()
        finally:
            threading.stack_size(previous)

    def submit(self, fn: Callable, *args) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fut, fn, args))
        return fut

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fut, fn, args = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as err:  # noqa: BLE001 - handed to the awaiting request
                fut.set_exception(err)

    def shutdown(self) -> None:
        self.closed = True
        for _ in self._threads:
            self._jobs.put(None)


def _contained(fn: Callable, args: tuple):
    """Call ``fn`` on a worker; a failure comes back as a fresh, never-raised :class:`ProtocolError`.

    Why: pyoxigraph result iterators must be dropped on the thread that made them, and a raised
    exception's traceback would carry them (through the frames) to the event loop's thread.
    """
    try:
        return fn(*args), None
    except ProtocolError as err:
        return None, ProtocolError(err.status, err.code, err.message, dict(err.headers))
    except KGQAError as err:
        return None, ProtocolError(_status_of(err), err.code, err.message)
    except Exception as err:  # noqa: BLE001 - a server must outlive any one request
        log.exception("unexpected error in a kgqa worker")
        return None, ProtocolError(500, "E-INTERNAL", f"the server failed on this request ({type(err).__name__}); "
                                   "it keeps running; please report this with the request")


async def run_in_worker(app: FastAPI, fn: Callable, *args, timeout: float | None = None) -> Any:
    """Run ``fn(*args)`` on the app's worker threads and return its value.

    Any failure is raised as :class:`ProtocolError` (``.status``, ``.code``, ``.message``), which
    :func:`error_response` turns into an HTTP answer. ``timeout`` (s) gives a 503 ``E-TIMEOUT``: a
    job still waiting in the queue is dropped; a running one finishes in the background (Oxigraph
    cannot interrupt it).
    """
    fut = app.state.workers.submit(_contained, fn, args)
    try:
        if timeout is None:
            value, failure = await asyncio.wrap_future(fut)
        else:
            value, failure = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
    except asyncio.TimeoutError:
        if fut.cancel():
            raise ProtocolError(503, QueryTimeoutError.code, "the server is busy with other queries and did not "
                                "start yours in time; try again later") from None
        raise ProtocolError(503, QueryTimeoutError.code,
                            f"the query ran longer than {app.state.sparql.timeout:g} s; make it more selective "
                            "or ask the server operator to raise --timeout") from None
    if failure is not None:
        raise failure
    return value


# query text checks live in kg.query_shape (every caller of kg.query gets them); re-exported here


# ---------------------------------------------------------------------- content negotiation
def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if "/" not in media:
            continue
        q = 1.0
        for f in fields[1:]:
            name, _, value = f.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out


def negotiate(kind: str, accept: str | None, formats: list[str] = ()) -> tuple[str, str]:
    """(media type, serialisation key) for a result ``kind`` (SELECT/ASK/CONSTRUCT).

    A recognised ``format=`` value wins over the Accept header; without either the default is
    SPARQL JSON (SELECT/ASK) or Turtle (CONSTRUCT/DESCRIBE).

    >>> negotiate("SELECT", "text/csv;q=0.5, application/sparql-results+xml")
    ('application/sparql-results+xml', 'xml')
    >>> negotiate("CONSTRUCT", "*/*", ["nt"])
    ('application/n-triples', 'nt')
    """
    family = "CONSTRUCT" if kind == "CONSTRUCT" else "SELECT"
    offers = GRAPH_OFFERS if family == "CONSTRUCT" else RESULT_OFFERS
    names = GRAPH_FORMAT_NAMES if family == "CONSTRUCT" else RESULT_FORMAT_NAMES
    for value in formats:
        value = value.strip().lower()
        if value in names:
            return _CANONICAL[family][names[value]], names[value]
        if "/" in value:
            for media, key in offers:
                if media == value.split(";")[0].strip():
                    return media, key
    ranges = _accept_ranges(accept or "")
    if not ranges:
        return offers[0]
    best, best_q = None, 0.0
    for media, key in offers:
        kind_, _, sub = media.partition("/")
        q, specificity = None, -1
        for r, rq in ranges:
            rt, _, rs = r.partition("/")
            s = 2 if r == media else 1 if (rt == kind_ and rs == "*") else 0 if r == "*/*" else -1
            if s > specificity:
                specificity, q = s, rq
        if q is not None and q > best_q:
            best, best_q = (media, key), q
    if best is None:
        wanted = ", ".join(dict.fromkeys(m for m, _ in offers))
        raise ProtocolError(406, "E-NOT-ACCEPTABLE",
                            f"no acceptable format for a {kind} result; accept one of: {wanted}")
    return best


# ---------------------------------------------------------------------- the work done on a worker
def _check_text(kind: str, text: str, settings: EndpointSettings) -> None:
    """Cheap refusals before the parser sees the text (run on a worker: a 1 MB text takes a moment)."""
    if not text.strip():
        raise ProtocolError(400, "E-QUERY", f"the {kind} is empty")
    if "\x00" in text:
        raise ProtocolError(400, "E-QUERY", f"the {kind} contains a NUL character")
    check_query_shape(text, max_tokens=settings.max_query_tokens, max_depth=settings.max_query_depth,
                      allow_service=settings.allow_service)


def _answer_query(kg, text: str, accept: str | None, formats: list[str], settings: EndpointSettings,
                  dataset: dict | None = None):
    _check_text("query", text, settings)
    result = kg.query(text, timeout=settings.timeout, max_rows=settings.max_rows, all_graphs=settings.all_graphs,
                      **(dataset or {}))
    media, key = negotiate(result.type, accept, formats)
    return media, result.serialize(key)


_write_lock = threading.Lock()


def _apply_update(kg, text: str, settings: EndpointSettings) -> None:
    _check_text("update", text, settings)
    with _write_lock:  # one writer at a time keeps concurrent updates from interleaving
        kg.update(text)


# ---------------------------------------------------------------------- errors -> responses
def _status_of(err: KGQAError) -> int:
    if isinstance(err, QueryTimeoutError):
        return 503
    if isinstance(err, ResultTooLargeError):
        return 413
    if isinstance(err, ReadOnlyStoreError):
        return 403
    if isinstance(err, RemoteStoreError):
        return 502
    if isinstance(err, StoreError):
        return 500
    return 400  # QueryError, FormatError and other errors a user caused


def _text(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(f"[{code}] {message}\n", status_code=status, media_type="text/plain; charset=utf-8",
                    headers=headers)


def error_response(err: BaseException) -> Response:
    """The ``text/plain`` answer for a failure: ProtocolError, KGQAError or anything unexpected (500)."""
    if isinstance(err, ProtocolError):
        return _text(err.status, err.code, err.message, err.headers)
    if isinstance(err, KGQAError):
        return _text(_status_of(err), err.code, err.message)
    log.exception("unexpected error while answering a SPARQL request", exc_info=err)
    return _text(500, "E-INTERNAL", f"the server failed on this request ({type(err).__name__}); "
                 "the server keeps running; please report this with the query")


# ---------------------------------------------------------------------- request parsing
async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ProtocolError(413, "E-QUERY-TOO-LONG",
                                f"the request body is over {limit:,} bytes; send a shorter query")
    return bytes(body)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(400, "E-ENCODING", "the request body is not UTF-8 text") from None


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ProtocolError(400, "E-PROTOCOL", f"give exactly one {name!r} parameter, not {len(values)}")
    return values[0]


async def _parse_request(request: Request, settings: EndpointSettings) -> tuple[str, str, dict]:
    """("query"|"update", text, all parameters) from a SPARQL Protocol request."""
    params: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        params.setdefault(k, []).append(v)
    if request.method == "GET":
        if "update" in params:
            raise ProtocolError(400, "E-PROTOCOL", "updates must be sent with POST, not GET")
        text = _single(params, "query")
        if text is None:
            raise ProtocolError(400, "E-PROTOCOL", "no query: use GET /sparql?query=... (see /docs)")
        if len(text.encode("utf-8", "surrogatepass")) > settings.max_query_bytes:
            raise ProtocolError(413, "E-QUERY-TOO-LONG",
                                f"the query is over {settings.max_query_bytes:,} bytes; send a shorter one")
        return "query", text, params
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in (FORM, SPARQL_QUERY, SPARQL_UPDATE):
        raise ProtocolError(415, "E-CONTENT-TYPE",
                            f"unsupported content type {ctype or '(none)'!r}; send {FORM} (query= or update=), "
                            f"{SPARQL_QUERY} or {SPARQL_UPDATE}")
    body = await _read_body(request, settings.max_query_bytes)
    if ctype == SPARQL_QUERY:
        return "query", _utf8(body), params
    if ctype == SPARQL_UPDATE:
        return "update", _utf8(body), params
    try:
        form = parse_qs(_utf8(body), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ProtocolError(400, "E-ENCODING", "the form data is not UTF-8 text") from None
    for k, v in form.items():
        params.setdefault(k, []).extend(v)
    query, update = _single(params, "query"), _single(params, "update")
    if (query is None) == (update is None):
        raise ProtocolError(400, "E-PROTOCOL", "give exactly one of the form fields 'query' or 'update'")
    return ("query", query, params) if query is not None else ("update", update, params)


def _dataset_of(kind: str, params: dict[str, list[str]]) -> dict | None:
    """``kg.query`` keyword arguments for the request's dataset parameters (None: the default dataset)."""
    if kind == "update":
        for name in _UPDATE_DATASET_PARAMS + _QUERY_DATASET_PARAMS:
            if name in params:
                hint = ("" if name.startswith("using-") else
                        f" ({name!r} is a query parameter; an update's would be using-graph-uri)")
                raise ProtocolError(400, "E-PROTOCOL",
                                    f"the {name!r} parameter is not supported for updates{hint}: the update "
                                    "engine takes no dataset; write USING <graph> / USING NAMED <graph> "
                                    "(or WITH <graph>) in the update text instead")
        return None
    for name in _UPDATE_DATASET_PARAMS:
        if name in params:
            raise ProtocolError(400, "E-PROTOCOL", f"{name!r} is for updates; a query's dataset is given with "
                                "default-graph-uri / named-graph-uri (or FROM / FROM NAMED in the query)")
    if not any(name in params for name in _QUERY_DATASET_PARAMS):
        return None
    try:
        return {"default_graphs": dataset_graph_names(params.get("default-graph-uri", []), "default-graph-uri"),
                "named_graphs": dataset_graph_names(params.get("named-graph-uri", []), "named-graph-uri")}
    except KGQAError as err:
        raise ProtocolError(400, err.code, err.message + " (percent-encode it in the URL or form)") from None


def _check_update_auth(request: Request, settings: EndpointSettings) -> None:
    if not settings.update_token:
        raise ProtocolError(403, "E-UPDATE-DISABLED",
                            "updates are disabled on this server; start it with --update-token TOKEN "
                            "(or KGQA_UPDATE_TOKEN) and send 'Authorization: Bearer TOKEN'")
    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ProtocolError(401, "E-UNAUTHORIZED", "updates need the header 'Authorization: Bearer TOKEN'",
                            {"WWW-Authenticate": 'Bearer realm="kgqa"'})
    if not hmac.compare_digest(given.strip().encode("utf-8"), settings.update_token.encode("utf-8")):
        raise ProtocolError(401, "E-UNAUTHORIZED", "the update token is wrong",
                            {"WWW-Authenticate": 'Bearer realm="kgqa", error="invalid_token"'})


# ---------------------------------------------------------------------- the app
_BODY_DOC = {
    "requestBody": {
        "content": {
            FORM: {"schema": {"type": "object", "properties": {
                "query": {"type": "string"}, "update": {"type": "string"},
                "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                "named-graph-uri": {"type": "array", "items": {"type": "string"}}}}},
            SPARQL_QUERY: {"schema": {"type": "string"}},
            SPARQL_UPDATE: {"schema": {"type": "string"}},
        }
    }
}


def create_app(kg, *, update_token: str | None = None, timeout: float = 30.0, max_rows: int = 100_000,
               **limits) -> FastAPI:
    """A FastAPI app serving ``kg`` over the SPARQL 1.1 Protocol at ``/sparql``, plus ``/health``, ``/api/stats``.

    ``limits`` are further :class:`EndpointSettings` fields (``max_query_bytes``, ``workers``, ...).
    The app keeps ``kg`` in ``app.state.kg`` and the settings in ``app.state.sparql``; it does not
    close ``kg`` (the caller opened it).
    """
    from contextlib import asynccontextmanager

    settings = EndpointSettings(update_token=update_token or None, timeout=float(timeout),
                                max_rows=int(max_rows), **limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.workers.closed:  # the same app served again (tests, reloads)
            app.state.workers = QueryWorkers(settings.workers)
        yield
        app.state.workers.shutdown()

    app = FastAPI(
        title="kgqa",
        summary="SPARQL 1.1 endpoint over a kgqa knowledge graph",
        description="Query with `GET /sparql?query=...` or POST; updates need `Authorization: Bearer TOKEN`.",
        lifespan=lifespan,
    )
    app.state.kg = kg
    app.state.sparql = settings
    app.state.questions = None  # a QuestionQueue when the chat service is mounted (ui.chat.mount_ui)
    app.state.workers = QueryWorkers(settings.workers)

    async def sparql_endpoint(request: Request) -> Response:
        try:
            kind, text, params = await _parse_request(request, settings)
            dataset = _dataset_of(kind, params)
            if kind == "update":
                _check_update_auth(request, settings)
                await run_in_worker(app, _apply_update, kg, text, settings)
                return Response(status_code=204)
            formats = [v for name in ("format", "output", "results") for v in params.get(name, []) if v]
            media, body = await run_in_worker(
                app, _answer_query, kg, text, request.headers.get("accept"), formats, settings, dataset,
                timeout=settings.timeout + settings.guard_grace)
            return Response(body, media_type=media, headers={"Vary": "Accept"})
        except Exception as err:  # noqa: BLE001 - every failure becomes an HTTP answer
            return error_response(err)

    @app.get("/sparql", summary="SPARQL query (GET)", response_class=Response,
             responses={200: {"content": {m: {} for m, _ in RESULT_OFFERS + GRAPH_OFFERS}}})
    async def sparql_get(
        request: Request,
        query: str | None = Query(None, description="The SPARQL query."),
        format: str | None = Query(None, description="json, xml, csv, tsv (SELECT/ASK); ttl, nt, jsonld, xml "
                                                     "(CONSTRUCT/DESCRIBE). Overrides the Accept header."),
        default_graph_uri: list[str] | None = Query(None, alias="default-graph-uri",
                                                    description="A graph IRI merged into the query's default "
                                                    "graph (repeatable); overrides FROM / FROM NAMED."),
        named_graph_uri: list[str] | None = Query(None, alias="named-graph-uri",
                                                  description="A graph IRI the query's GRAPH may reach "
                                                  "(repeatable); overrides FROM / FROM NAMED."),
    ) -> Response:
        return await sparql_endpoint(request)

    @app.post("/sparql", summary="SPARQL query or update (POST)", response_class=Response,
              openapi_extra=_BODY_DOC)
    async def sparql_post(request: Request) -> Response:
        return await sparql_endpoint(request)

    @app.get("/health", summary="Liveness and readiness")
    async def health() -> JSONResponse:
        store = kg.store
        body = {"status": "ok", "store": f"{store.kind}:{store.location}", "updates": bool(settings.update_token),
                "ready": True}
        questions = app.state.questions
        if questions is not None:  # the chat service's question queue: models loaded yet?
            body["questions"] = stats = questions.stats()
            body["ready"] = stats["ready"]
            if not stats["ready"]:
                body["status"] = "failed" if stats["state"] == "failed" else "starting"
        return JSONResponse(body)

    @app.get("/health/ready", summary="Readiness: 200 once questions are answered, else 503 with Retry-After")
    async def ready() -> JSONResponse:
        questions = app.state.questions
        if questions is None or questions.ready:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "state": questions.state}, status_code=503,
                            headers={"Retry-After": "2"})

    @app.get("/api/stats", summary="Counts: facts, entities, relations, documents")
    async def stats() -> JSONResponse:
        try:
            return JSONResponse(await run_in_worker(app, kg.stats, timeout=settings.timeout))
        except ProtocolError as err:
            return JSONResponse({"error": {"code": err.code, "message": err.message}}, status_code=err.status)

    return app


def build_app(kg, **options) -> FastAPI:
    """The app ``kgqa serve`` runs: today the SPARQL endpoint; the chat UI extends it here.

    ``options`` go to :func:`create_app`.
    """
    return create_app(kg, **options)


__all__ = ["create_app", "build_app", "run_in_worker", "error_response", "negotiate", "check_query_shape", "EndpointSettings",
           "QueryWorkers", "ProtocolError"]

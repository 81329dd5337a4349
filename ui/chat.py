"""The chat service: a Gradio 6 app (Chat, Ingest, Explore, SPARQL) and REST routes beside it.

Everything the UI does is a method of :class:`ChatService`, which calls ``reasoning``/``nlp``/``kg``
and formats with :mod:`ui.formatting`; the Gradio callbacks only pass values through, so a script
can do whatever the UI does. :func:`mount_ui` puts the UI at ``/`` of a FastAPI app (the one from
``ui.http`` that serves ``/sparql``) together with ``POST /api/ask`` and ``POST /api/ingest``::

    from fastapi import FastAPI
    from kg import KnowledgeGraph
    from ui.chat import mount_ui
    app = mount_ui(FastAPI(), KnowledgeGraph.open("demo-store"))
    # uvicorn.run(app, host="127.0.0.1", port=7860)

Scripts reach the chat with ``gradio_client``::

    from gradio_client import Client
    Client("http://127.0.0.1:7860/").predict("Where was Alan Turing born?", api_name="/chat")

Writes (ingestion, SPARQL updates) need the server's update token when it has one; without a token
ingestion is open (the server binds 127.0.0.1 by default) and SPARQL updates are refused.
"""
from __future__ import annotations

import contextlib
import csv
import hmac
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from fastapi import Body, File, Form, Header, UploadFile
from rdflib import Literal, URIRef

from kg.errors import KGQAError
from kg.namespaces import INFERRED_GRAPH, KGQA, RDF, RDFS, SKOS
from kg.terms import sparql_term
from ui import formatting as fmt
from ui.question_queue import DEFAULT_MAX_WAIT, DEFAULT_WORDING_BUDGET, QuestionQueue, ServiceBusyError, embed_batch

log = logging.getLogger("kgqa.chat")

#: Where ``make run`` keeps the demo questions; used as examples when they name entities in the store.
DEMO_QUESTIONS = Path(__file__).resolve().parents[1] / "demo" / "questions.txt"
#: Upload limit per file (Gradio uploads and ``POST /api/ingest``).
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
#: Chats answered at once; others wait in Gradio's queue (ingestion runs one build at a time).
DEFAULT_CONCURRENCY = 8
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
#: How often (seconds) the entity index and example questions check whether the store changed.
REFRESH_SECONDS = 30.0

SPARQL_EXAMPLES = {
    "Facts with their relation labels": """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?subject ?relation ?object WHERE {
  ?s ?p ?o . ?p rdfs:label ?relation .
  ?s rdfs:label ?subject . ?o rdfs:label ?object .
} LIMIT 50""",
    "Where a fact was read (provenance)": """PREFIX kgqa: <https://kgqa.dev/ns#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?subject ?relation ?object ?sentence ?confidence ?document WHERE {
  GRAPH ?document { ?st a kgqa:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
                        kgqa:sentence ?sentence ; kgqa:confidence ?confidence }
  ?s rdfs:label ?subject . ?p rdfs:label ?relation . OPTIONAL { ?o rdfs:label ?object }
} ORDER BY DESC(?confidence) LIMIT 50""",
    "Entities with the most facts": """PREFIX kgqa: <https://kgqa.dev/ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?entity (COUNT(*) AS ?facts) WHERE {
  ?e a kgqa:Entity ; rdfs:label ?entity . { ?e ?p ?o } UNION { ?x ?p ?e }
} GROUP BY ?entity ORDER BY DESC(?facts) LIMIT 20""",
    "Relations and how often they occur": """PREFIX kgqa: <https://kgqa.dev/ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?relation (COUNT(*) AS ?facts) WHERE {
  ?s ?p ?o . ?p a kgqa:Relation ; rdfs:label ?relation .
} GROUP BY ?relation ORDER BY DESC(?facts)""",
    "Documents in the store": """PREFIX kgqa: <https://kgqa.dev/ns#>
SELECT ?document ?facts ?added WHERE {
  GRAPH <https://kgqa.dev/graph/meta> { ?document a kgqa:Document ; kgqa:factCount ?facts .
                                         OPTIONAL { ?document kgqa:addedAt ?added } }
} ORDER BY ?document""",
    "Inferred facts": """SELECT ?s ?p ?o WHERE { GRAPH <https://kgqa.dev/graph/inferred> { ?s ?p ?o } } LIMIT 50""",
}

_UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}


def is_update(text: str) -> bool:
    """Whether SPARQL text is an update (INSERT, DELETE, DROP, ...) rather than a query.

    >>> is_update("PREFIX ex: <http://ex/> # a comment\\nINSERT DATA { ex:a ex:b ex:c }")
    True
    >>> is_update("SELECT * WHERE { ?s ?p ?o }"), is_update("  ask { ?s ?p ?o }")
    (False, False)
    """
    body = re.sub(r"#[^\n]*", " ", text)  # comments; a '#' inside an IRI only hides the rest of a line
    body = re.sub(r"(?is)\s*(PREFIX\s+[\w.-]*:\s*<[^>]*>|BASE\s*<[^>]*>)", " ", body)
    match = re.match(r"\s*([A-Za-z]+)", body)
    return bool(match) and match.group(1).upper() in _UPDATE_KEYWORDS


class ChatService:
    """What the UI can do, without Gradio: answer, ingest, explore, run SPARQL.

    ``update_token`` guards writes: when set, ingestion and SPARQL updates need it; when None,
    ingestion is open and SPARQL updates are refused.

    >>> from kg import KnowledgeGraph
    >>> service = ChatService(KnowledgeGraph.open("memory"))
    >>> service.chat("Where was Ada born?").startswith("**The knowledge graph is empty**")
    True
    """

    def __init__(self, kg, *, update_token: str | None = None, examples_file: str | Path | None = DEMO_QUESTIONS,
                 max_file_size: int = DEFAULT_MAX_FILE_SIZE, sparql_timeout: float = 30.0,
                 sparql_max_rows: int = 10_000, method: str = "auto", max_wait: float = DEFAULT_MAX_WAIT,
                 prefill_vectors: bool = False, on_ready: Callable | None = None,
                 questions: QuestionQueue | None = None, wording_budget: int | None = DEFAULT_WORDING_BUDGET):
        self.kg = kg
        self.update_token = update_token or None
        self.examples_file = Path(examples_file) if examples_file else None
        self.max_file_size = max_file_size
        self.sparql_timeout = sparql_timeout
        self.sparql_max_rows = sparql_max_rows
        self.method = method
        self._cache_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._models_lock = threading.Lock()
        self._models_ready = threading.Event()
        self._cache_key: int | None = None
        self._checked_at = 0.0
        self._entity_index: list[tuple[str, str]] = []
        self._examples: list[str] = []
        #: the bounded question queue a server answers through (started by :meth:`warm_up`); a
        #: ChatService used directly (scripts, tests) answers in the caller's thread until then
        self.questions = questions or QuestionQueue(
            kg, answer=self._answer_question, prepare=embed_batch, warm_up=self._load_models,
            warm_question=lambda: next(iter(self.examples(1)), None), max_wait=max_wait,
            idle=self._prefill_vectors if prefill_vectors else None, on_ready=on_ready,
            wording_budget=wording_budget)

    # ------------------------------------------------------------------ chat
    def warm_up(self, *, background: bool = True) -> None:
        """Start the question queue: load the question models and the label index now (in a thread when
        ``background``), so the first user does not wait for them; ``questions.ready`` says when."""
        self.questions.start(background=background)

    def _load_models(self) -> None:
        # Lazy model loading (transformers' lazy imports) is not thread-safe: the first load runs
        # under a lock, so twenty first questions arriving together wait for one load.
        if self._models_ready.is_set():
            return
        with self._models_lock:
            if not self._models_ready.is_set():
                from nlp.encoder import embed
                from reasoning.question import load_spacy

                embed(["kgqa warm-up"])
                load_spacy()
                self._models_ready.set()
        from reasoning.question import graph_index

        graph_index(self.kg)  # the label index, read once per store revision

    def is_empty(self) -> bool:
        """Whether the store holds no facts at all (an ASK, cheap on any size of store)."""
        return not bool(self.kg.query("ASK { ?s ?p ?o }"))

    def ask(self, question: str, method: str | None = None):
        """The :class:`~reasoning.answers.AnswerSet` for a question (``reasoning.ask``), through the
        question queue once it is started (then :class:`~ui.question_queue.ServiceBusyError` when busy)."""
        if self.questions.state != "created":
            return self.questions.ask(question, method or self.method)
        self._load_models()
        return self._answer_question(self.kg, question, method or self.method, 10)

    async def ask_async(self, question: str, method: str | None = None):
        """:meth:`ask` for the event loop (``POST /api/ask``): waits on the queue without holding a thread."""
        if self.questions.state != "created":
            return await self.questions.ask_async(question, method or self.method)
        import asyncio

        return await asyncio.to_thread(self.ask, question, method)

    def _prefill_vectors(self, pause, stop, status) -> None:
        from reasoning.vector_cache import prefill_path_vectors

        prefill_path_vectors(self.kg, pause, stop, status)

    def _answer_question(self, kg, question: str, method: str, k: int):
        from reasoning import ask

        if self.is_empty():
            raise KGQAError("the knowledge graph is empty; ingest documents first (POST /api/ingest or "
                            "`kgqa build DIR`)", code="E-EMPTY-STORE")
        return ask(kg, question, method=method, k=k)

    def answer(self, question: str) -> tuple[str, str]:
        """The chat reply (markdown) and the evidence drawing (SVG) for a question."""
        question = (question or "").strip()
        if not question:
            return "Type a question about the documents in the graph, e.g. one of the examples below.", \
                fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence")
        if self.is_empty():
            return fmt.EMPTY_STORE_MARKDOWN, fmt.graph_svg(
                fmt.DrawnGraph(), element_id="kg-evidence", empty_text="The graph is empty: add documents in Ingest.")
        try:
            answers = self.ask(question)
        except ServiceBusyError as err:
            return (f"**The service is busy** answering other questions right now; please ask again in about "
                    f"{err.retry_after} s.", fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence"))
        except KGQAError as err:
            return f"**Could not answer:** {fmt.md_escape(err)}", fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence")
        except Exception as err:  # a bug must not end the conversation: say so, keep the trace in the log
            log.exception("answering %r failed", question)
            return (f"**Internal error** while answering ({fmt.md_escape(type(err).__name__)}: {fmt.md_escape(err)}); "
                    "the server log has the details.", fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence"))
        if not answers.answers:
            reply = fmt.no_answer_markdown(question, self.examples(5), answers.warnings)
            if answers.sparql:
                reply += f"\n\n<details><summary>SPARQL tried</summary>\n\n```sparql\n{answers.sparql.strip()}\n```\n\n</details>"
            return reply, fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence",
                                        empty_text="No answer, so no evidence to draw.")
        return (fmt.answer_markdown(answers, fact_confidence=self.fact_confidences(answers)),
                fmt.graph_svg(fmt.evidence_graph(answers), element_id="kg-evidence"))

    def fact_confidences(self, answers, max_answers: int = 5) -> dict[tuple[str, str, str], float]:
        """The store's confidence (noisy-or over sources) of each asserted fact on the shown evidence paths."""
        out: dict[tuple[str, str, str], float] = {}
        for answer in answers.answers[:max_answers]:
            for step in answer.evidence:
                key = fmt.step_key(step)
                if key is None or key in out or step.rule or step.predicted:
                    continue
                conf = self.kg.confidence(URIRef(key[0]), URIRef(key[1]), URIRef(key[2]))
                if conf > 0:
                    out[key] = conf
        return out

    def chat(self, question: str) -> str:
        """The formatted answer to one question (the ``/chat`` API endpoint)."""
        return self.answer(question)[0]

    def respond(self, message: str, history: list | None) -> tuple[str, list, str]:
        """One chat turn: clears the textbox, appends the question and reply, redraws the evidence."""
        reply, drawing = self.answer(message)
        history = list(history or []) + [{"role": "user", "content": message},
                                         {"role": "assistant", "content": reply}]
        return "", history, drawing

    def ask_json(self, question: str, method: str | None = None) -> dict:
        """The ``kgqa ask --json`` shape (what ``POST /api/ask`` returns)."""
        return self.ask(question, method).to_json()

    # ------------------------------------------------------------------ examples and entity index
    def _refresh(self) -> None:
        """Rebuild the label index and the example questions when the store changed.

        The store's size is checked at most every ``REFRESH_SECONDS`` (counting is linear in the
        store); an ingest through this service refreshes at once.
        """
        with self._cache_lock:
            now = time.monotonic()
            if self._cache_key is not None and now - self._checked_at < REFRESH_SECONDS:
                return
            self._checked_at = now
            key = len(self.kg)
            if key == self._cache_key:
                return
            ent = sparql_term(KGQA.Entity)
            q = (f"SELECT ?e ?l WHERE {{ ?e {sparql_term(RDF.type)} {ent} . "
                 f"{{ ?e {sparql_term(RDFS.label)} ?l }} UNION {{ ?e {sparql_term(SKOS.altLabel)} ?l }} }}")
            self._entity_index = [(str(r["l"]), str(r["e"])) for r in self.kg.query(q)]
            self._examples = self._make_examples()
            self._cache_key = key

    def _make_examples(self, limit: int = 8) -> list[str]:
        labels = [label for label, _ in self._entity_index]
        out: list[str] = []
        if self.examples_file and self.examples_file.exists():
            for line in self.examples_file.read_text(encoding="utf-8").splitlines():
                line = line.split("\t")[0].strip()
                if line and not line.startswith("#") and fmt.mentions(line, labels):
                    out.append(line)
        if len(out) < limit:
            out += [q for q in fmt.example_questions(self._sample_facts(), limit=limit) if q not in out]
        return out[:limit]

    def _sample_facts(self, n: int = 200) -> list[tuple[str, str, str]]:
        """A spread of (subject, relation, object) labels of asserted entity-to-entity facts."""
        q = f"""SELECT ?sl ?pl ?ol WHERE {{
              ?s ?p ?o . ?p {sparql_term(RDF.type)} {sparql_term(KGQA.Relation)} ; {sparql_term(RDFS.label)} ?pl .
              ?s {sparql_term(RDFS.label)} ?sl . ?o {sparql_term(RDFS.label)} ?ol }} LIMIT {int(n)}"""
        return [(str(r["sl"]), str(r["pl"]), str(r["ol"])) for r in self.kg.query(q)]

    def examples(self, limit: int = 8) -> list[str]:
        """Example questions about this store: demo questions naming its entities, then generated ones."""
        self._refresh()
        return self._examples[:limit]

    def find_entities(self, text: str, limit: int = 10) -> list[tuple[str, str]]:
        """Entities whose label or alias is closest to ``text`` (fuzzy), as (label, iri), best first."""
        from rapidfuzz import fuzz, process

        text = (text or "").strip()
        if not text:
            return []
        self._refresh()
        labels = [label for label, _ in self._entity_index]
        hits = process.extract(text, labels, scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=50)
        out, seen = [], set()
        for _, _, i in hits:
            label, iri = self._entity_index[i]
            if iri not in seen:
                seen.add(iri)
                out.append((self.kg.label(iri), iri))
            if len(out) >= limit:
                break
        return out

    # ------------------------------------------------------------------ explore
    def entity_facts(self, iri: str, limit: int = 100) -> list[dict]:
        """An entity's facts (outgoing, incoming, inferred) with labels and their sources."""
        e = sparql_term(iri)
        skip = ", ".join(sparql_term(t) for t in (RDF.type, RDFS.label, SKOS.altLabel, RDFS.comment))
        label = sparql_term(RDFS.label)
        q = f"""SELECT ?s ?p ?o ?sl ?pl ?ol ?inf WHERE {{
              {{ BIND({e} AS ?s) {e} ?p ?o BIND(false AS ?inf) }}
              UNION {{ BIND({e} AS ?o) ?s ?p {e} BIND(false AS ?inf) }}
              UNION {{ BIND({e} AS ?s) GRAPH {sparql_term(INFERRED_GRAPH)} {{ {e} ?p ?o }} BIND(true AS ?inf) }}
              UNION {{ BIND({e} AS ?o) GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p {e} }} BIND(true AS ?inf) }}
              FILTER(?p NOT IN ({skip}))
              OPTIONAL {{ ?s {label} ?sl }} OPTIONAL {{ ?p {label} ?pl }} OPTIONAL {{ ?o {label} ?ol }}
            }} LIMIT {int(limit)}"""
        facts = []
        for r in self.kg.query(q):
            s, p, o = r["s"], r["p"], r["o"]
            inferred = str(r["inf"]).lower() == "true"
            literal = isinstance(o, Literal)
            facts.append({
                "subject": str(s), "predicate": str(p), "object": str(o),
                "subject_label": str(r["sl"]) if r["sl"] is not None else self.kg.label(s),
                "predicate_label": str(r["pl"]) if r["pl"] is not None else self.kg.label(p),
                "object_label": str(r["ol"]) if r["ol"] is not None else (str(o) if literal else self.kg.label(o)),
                "literal": literal, "inferred": inferred,
                "sources": [] if inferred else self.kg.sources(s, p, o),
            })
        return facts

    def explore(self, iri: str) -> tuple[list[list[str]], str, str]:
        """Table rows, neighbourhood drawing and a heading for one entity."""
        if not iri:
            return [], fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-neighbourhood",
                                     empty_text="Search for an entity to draw its neighbourhood."), ""
        label = self.kg.label(iri)
        facts = self.entity_facts(iri)
        drawing = fmt.graph_svg(fmt.neighbourhood_graph(iri, label, facts[:40]), element_id="kg-neighbourhood")
        heading = f"### {fmt.md_escape(label)}\n<sub>{iri}</sub> · {len(facts)} facts"
        return fmt.fact_rows(facts), drawing, heading

    def stats_markdown(self) -> str:
        return fmt.stats_markdown(self.kg.stats())

    # ------------------------------------------------------------------ SPARQL
    def token_ok(self, token: str | None) -> bool:
        """Whether ``token`` matches the server's update token (constant-time compare)."""
        return bool(self.update_token) and hmac.compare_digest(str(token or "").encode(), self.update_token.encode())

    def run_sparql(self, text: str, token: str | None = None) -> tuple[list[str], list[list[str]], str, str | None]:
        """Run a query (or, with the update token, an update): headers, rows, a message, a CSV file path."""
        text = (text or "").strip()
        if not text:
            return [], [], "Type a SPARQL query, or pick an example.", None
        if is_update(text):
            if not self.update_token:
                return [], [], ("**Read-only:** this server was started without an update token, so SPARQL "
                                "updates are refused. Restart it with `kgqa serve --update-token TOKEN` to allow them."), None
            if not self.token_ok(token):
                return [], [], "**Refused:** enter the server's update token to run updates.", None
            try:
                before = len(self.kg)
                self.kg.update(text)
            except KGQAError as err:
                return [], [], f"**Error:** {fmt.md_escape(err)}", None
            return [], [], f"Update done: the graph has {len(self.kg) - before:+,} asserted triples.", None
        started = time.monotonic()
        try:
            # all graphs: the console's examples read provenance from the documents' graphs
            result = self.kg.query(text, timeout=self.sparql_timeout, max_rows=self.sparql_max_rows,
                                   all_graphs=True)
            if result.type == "ASK":
                headers, rows = ["answer"], [["true" if bool(result) else "false"]]
            else:
                headers = list(result.vars)
                rows = [[fmt.term_text(t) for t in row] for row in result]
        except KGQAError as err:
            return [], [], f"**Error:** {fmt.md_escape(err)}", None
        seconds = time.monotonic() - started
        path = _write_csv(headers, rows)
        shown = rows[:1000]
        note = f"{len(rows):,} rows in {seconds:.2f} s" + (" (first 1,000 shown; the CSV has all)" if len(rows) > 1000 else "")
        return headers, shown, note, path

    # ------------------------------------------------------------------ ingest
    def check_write(self, token: str | None) -> None:
        """Raise when writes need a token and ``token`` is not it."""
        if self.update_token and not self.token_ok(token):
            raise KGQAError("this server needs its update token to add documents", code="E-AUTH")

    def ingest(self, paths: list[str | Path] = (), text: str | None = None, *, name: str | None = None,
               token: str | None = None, progress: Callable[[float, str], None] | None = None):
        """Build uploaded files and/or pasted text into the graph; returns ``nlp.build``'s report.

        Files are copied into a temporary folder first (only ``.txt``/``.md``; each at most
        ``max_file_size`` bytes), pasted text becomes ``NAME.txt``. One build runs at a time.
        """
        self.check_write(token)
        from nlp.build import build_corpus

        with tempfile.TemporaryDirectory(prefix="kgqa-ingest-") as tmp:
            staged, skipped = stage_inputs(Path(tmp), paths, text, name=name, max_bytes=self.max_file_size)
            if not staged:
                raise KGQAError("nothing to ingest: upload .txt or .md files or paste some text"
                                + (f" ({'; '.join(skipped)})" if skipped else ""), code="E-INGEST-EMPTY")

            def on_progress(*args, **kwargs):
                if progress is not None:
                    progress(*_progress_fraction(args, kwargs))

            if self.questions.state == "loading":
                # the extraction pipeline imports transformers too, whose lazy imports are not
                # thread-safe: let the question models finish loading first
                self.questions.wait_ready(timeout=600)
            with self._build_lock:
                # one worker: uploads are small, and the pipeline stays loaded in this process
                report = build_corpus(staged, kg=self.kg, workers=1, progress=on_progress)
        with self._cache_lock:
            self._cache_key = None
        return report, skipped


def stage_inputs(folder: Path, paths, text: str | None, *, name: str | None = None,
                 max_bytes: int = DEFAULT_MAX_FILE_SIZE) -> tuple[list[Path], list[str]]:
    """Copy accepted uploads and pasted text into ``folder``; returns (files, reasons for skipped ones).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files, skipped = stage_inputs(Path(tmp), [], "Ada was born in London.", name="ada notes")
    ...     [f.name for f in files], skipped
    (['ada_notes.txt'], [])
    """
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    skipped: list[str] = []
    for raw in paths or []:
        # Gradio passes file paths as str; older file objects carry .path/.name and .orig_name
        src = Path(raw) if isinstance(raw, (str, os.PathLike)) else Path(getattr(raw, "path", None) or raw.name)
        original = getattr(raw, "orig_name", None) or src.name
        if src.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(f"{original}: only .txt and .md files are read")
            continue
        size = src.stat().st_size if src.exists() else 0
        if size > max_bytes:
            skipped.append(f"{original}: {size:,} bytes is over the {max_bytes:,}-byte limit")
            continue
        data = src.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(f"{original}: not UTF-8 text")
            continue
        dest = folder / _safe_name(Path(original).name)
        dest.write_bytes(data)
        staged.append(dest)
    if text and text.strip():
        if len(text.encode("utf-8")) > max_bytes:
            skipped.append(f"pasted text: over the {max_bytes:,}-byte limit")
        else:
            stem = _safe_name(name or f"pasted-{time.strftime('%Y%m%d-%H%M%S')}")
            dest = folder / (stem if stem.endswith(TEXT_SUFFIXES) else stem + ".txt")
            dest.write_text(text, encoding="utf-8")
            staged.append(dest)
    return staged, skipped


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._") or "document"


def _progress_fraction(args: tuple, kwargs: dict) -> tuple[float, str]:
    """(fraction, description) from what a build progress callback passes.

    ``nlp.build`` passes its live report (``seen`` of ``total`` items); plain ``(stage, done, total)``
    and ``(fraction,)`` calls work too.

    >>> from types import SimpleNamespace
    >>> _progress_fraction((SimpleNamespace(seen=3, total=4, built=3, failed=0),), {})
    (0.75, 'read 3 of 4 documents')
    >>> _progress_fraction(("extract", 1, 4), {}), _progress_fraction((0.5,), {})
    ((0.25, 'extract 1/4'), (0.5, 'working'))
    """
    if args and hasattr(args[0], "seen"):
        live = args[0]
        total = getattr(live, "total", None)
        if total:
            return min(1.0, live.seen / total), f"read {live.seen} of {total} documents"
        return 0.0, f"read {live.seen} documents"
    stage = kwargs.get("stage") or next((a for a in args if isinstance(a, str)), "working")
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    done = kwargs.get("done", numbers[0] if numbers else None)
    total = kwargs.get("total", numbers[1] if len(numbers) > 1 else None)
    if done is None:
        return 0.0, stage
    if total:
        return max(0.0, min(1.0, float(done) / float(total))), f"{stage} {done}/{total}"
    if isinstance(done, float) and 0.0 <= done <= 1.0 and len(numbers) == 1:
        return done, stage
    return 0.0, f"{stage} {done}"


def _write_csv(headers: list[str], rows: list[list[str]]) -> str | None:
    if not headers:
        return None
    out = tempfile.NamedTemporaryFile("w", suffix=".csv", prefix="kgqa-sparql-", delete=False,
                                      encoding="utf-8", newline="")
    with out:
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(rows)
    return out.name


def report_json(report: Any) -> dict:
    """A build report as JSON-ready data."""
    if report is None:
        return {}
    if hasattr(report, "to_dict"):
        data = report.to_dict()
    elif hasattr(report, "to_json"):
        data = report.to_json()
    elif is_dataclass(report) and not isinstance(report, type):
        data = asdict(report)
    elif isinstance(report, dict):
        data = dict(report)
    else:
        data = dict(vars(report))
    return _jsonable(data)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    return str(value)


# ---------------------------------------------------------------------- the Gradio app

_CSS = """
#kg-evidence-box, #kg-neighbourhood-box { min-height: 420px; }
.kgqa-header h1 { margin-bottom: 0; }
"""


def build_ui(service: ChatService):
    """The Gradio Blocks app (tabs Chat, Ingest, Explore, SPARQL) over a :class:`ChatService`."""
    import gradio as gr

    empty_evidence = fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-evidence")
    empty_neighbourhood = fmt.graph_svg(fmt.DrawnGraph(), element_id="kg-neighbourhood",
                                        empty_text="Search for an entity to draw its neighbourhood.")
    needs_token = bool(service.update_token)

    with gr.Blocks(title="kgqa — questions over your knowledge graph") as demo:
        gr.Markdown("# kgqa\nAsk questions over a knowledge graph built from your documents; every answer "
                    "shows the facts and sentences behind it.", elem_classes=["kgqa-header"])
        with gr.Tabs():
            # ---------------------------------------------------------- Chat
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="kg-chatbot",
                                             placeholder="Ask a question about the documents in the graph.")
                        with gr.Row():
                            message = gr.Textbox(show_label=False, placeholder="e.g. Where was Alan Turing born?",
                                                 scale=6, elem_id="kg-question")
                            send = gr.Button("Ask", variant="primary", scale=1, elem_id="kg-ask")
                        examples = gr.Dataset(components=[message], samples=[], label="Example questions from this graph",
                                              elem_id="kg-examples", samples_per_page=8)
                    with gr.Column(scale=2):
                        gr.Markdown("**Evidence graph** — drag nodes, scroll to zoom, click a node to highlight its facts.")
                        evidence = gr.HTML(empty_evidence, js_on_load=fmt.GRAPH_JS, css_template=fmt.GRAPH_CSS,
                                           elem_id="kg-evidence-box")
                send.click(service.respond, [message, chatbot], [message, chatbot, evidence], api_name="respond")
                message.submit(service.respond, [message, chatbot], [message, chatbot, evidence],
                               api_visibility="private")
                examples.click(lambda sample: sample[0] if isinstance(sample, (list, tuple)) else sample,
                               examples, message, api_visibility="private")

            # ---------------------------------------------------------- Ingest
            with gr.Tab("Ingest", id="ingest"):
                gr.Markdown("Add documents to the graph: upload `.txt`/`.md` files or paste text. Each document "
                            "is read sentence by sentence; re-adding a file with the same name replaces it. "
                            f"Files up to {service.max_file_size // (1024 * 1024)} MB.")
                with gr.Row():
                    with gr.Column():
                        uploads = gr.File(label="Files", file_count="multiple", file_types=list(TEXT_SUFFIXES),
                                          elem_id="kg-uploads")
                        doc_name = gr.Textbox(label="Name for the pasted text (optional)", elem_id="kg-doc-name")
                        pasted = gr.Textbox(label="Or paste text", lines=8, elem_id="kg-paste",
                                            placeholder="Ada Lovelace was born in London. She worked with Charles Babbage.")
                        ingest_token = gr.Textbox(label="Update token", type="password", visible=needs_token)
                        build = gr.Button("Build into the graph", variant="primary", elem_id="kg-build")
                    with gr.Column():
                        report = gr.Markdown("The build report appears here.", elem_id="kg-report")

                def ingest(files, text, name, token, progress=gr.Progress()):
                    try:
                        progress(0.0, desc="preparing")
                        result, skipped = service.ingest([f for f in (files or [])], text, name=name or None,
                                                         token=token, progress=lambda frac, desc: progress(frac, desc=desc))
                    except KGQAError as err:
                        return f"**Nothing was built:** {fmt.md_escape(err)}", gr.skip()
                    data = report_json(result)
                    data.pop("paths", None)  # temporary upload folders mean nothing to the user
                    if skipped:
                        data["skipped uploads"] = skipped
                    questions = service.examples()
                    return fmt.build_report_markdown(data), gr.Dataset(samples=[[q] for q in questions],
                                                                       visible=bool(questions))

                build.click(ingest, [uploads, pasted, doc_name, ingest_token], [report, examples],
                            api_name="ingest", concurrency_limit=1, concurrency_id="build")

            # ---------------------------------------------------------- Explore
            with gr.Tab("Explore", id="explore"):
                stats = gr.Markdown(elem_id="kg-stats")
                with gr.Row():
                    search = gr.Textbox(label="Find an entity", placeholder="a name, even misspelt", scale=3,
                                        elem_id="kg-search")
                    matches = gr.Dropdown(label="Matches", choices=[], scale=3, elem_id="kg-matches",
                                          allow_custom_value=False)
                    refresh = gr.Button("Refresh statistics", scale=1)
                heading = gr.Markdown()
                with gr.Row():
                    with gr.Column(scale=3):
                        facts = gr.Dataframe(headers=fmt.FACT_COLUMNS, label="Facts with provenance", wrap=True,
                                             interactive=False, elem_id="kg-facts",
                                             column_widths=["15%", "13%", "17%", "11%", "14%", "30%"])
                    with gr.Column(scale=2):
                        neighbourhood = gr.HTML(empty_neighbourhood, js_on_load=fmt.GRAPH_JS, css_template=fmt.GRAPH_CSS,
                                                elem_id="kg-neighbourhood-box")

                def find(text):
                    hits = service.find_entities(text)
                    if not hits:
                        return (gr.Dropdown(choices=[], value=None), [], empty_neighbourhood,
                                f"No entity like *{fmt.md_escape(text)}* in the graph." if text else "")
                    rows, drawing, head = service.explore(hits[0][1])
                    return gr.Dropdown(choices=hits, value=hits[0][1]), rows, drawing, head

                def show(iri):
                    rows, drawing, head = service.explore(iri)
                    return rows, drawing, head

                search.submit(find, search, [matches, facts, neighbourhood, heading], api_name="find_entity")
                matches.input(show, matches, [facts, neighbourhood, heading], api_name="explore")
                refresh.click(service.stats_markdown, None, stats, api_name="stats")

            # ---------------------------------------------------------- SPARQL
            with gr.Tab("SPARQL", id="sparql"):
                mode = ("Updates are allowed with the server's update token." if needs_token
                        else "Read-only: this server has no update token, so INSERT/DELETE are refused.")
                gr.Markdown(f"Run SPARQL 1.1 over the graph (also served at `/sparql`). {mode}")
                example_pick = gr.Dropdown(label="Examples", choices=list(SPARQL_EXAMPLES),
                                           value=next(iter(SPARQL_EXAMPLES)),
                                           elem_id="kg-sparql-examples")
                editor = gr.Code(value=next(iter(SPARQL_EXAMPLES.values())), language="sql", lines=10,
                                 label="Query", interactive=True, elem_id="kg-sparql-editor")
                with gr.Row():
                    sparql_token = gr.Textbox(label="Update token", type="password", visible=needs_token, scale=2)
                    run = gr.Button("Run", variant="primary", scale=1, elem_id="kg-sparql-run")
                note = gr.Markdown(elem_id="kg-sparql-note")
                table = gr.Dataframe(label="Results", interactive=False, wrap=True, elem_id="kg-sparql-table")
                download = gr.File(label="Download as CSV", elem_id="kg-sparql-csv")

                def run_query(text, token):
                    headers, rows, message_text, path = service.run_sparql(text, token)
                    import pandas as pd

                    frame = pd.DataFrame(rows, columns=headers) if headers else pd.DataFrame()
                    return frame, message_text, path

                example_pick.input(lambda name: SPARQL_EXAMPLES.get(name, ""), example_pick, editor,
                                   api_visibility="private")
                run.click(run_query, [editor, sparql_token], [table, note, download], api_name="sparql")

        def chat(question: str) -> str:
            """Answer one question over the graph; returns the formatted answer (markdown)."""
            return service.chat(question)

        gr.api(chat, api_name="chat")

        def on_load():
            placeholder = fmt.EMPTY_STORE_MARKDOWN if service.is_empty() else "Ask a question about the documents in the graph."
            questions = service.examples()
            return (gr.Dataset(samples=[[q] for q in questions], visible=bool(questions)), service.stats_markdown(),
                    gr.Chatbot(placeholder=placeholder))

        demo.load(on_load, None, [examples, stats, chatbot], api_visibility="private")
    return demo


# ---------------------------------------------------------------------- FastAPI integration


def mount_ui(app, kg, *, update_token: str | None = None, path: str = "/",
             max_file_size: int = DEFAULT_MAX_FILE_SIZE, concurrency: int = DEFAULT_CONCURRENCY,
             examples_file: str | Path | None = DEMO_QUESTIONS, service: ChatService | None = None,
             warm_up: bool = True, max_wait: float = DEFAULT_MAX_WAIT, prefill_vectors: bool = True,
             on_ready: Callable | None = None, wording_budget: int | None = DEFAULT_WORDING_BUDGET):
    """Add ``POST /api/ask``, ``POST /api/ingest`` and the Gradio UI (at ``path``) to a FastAPI app.

    The REST routes are added before the UI so the UI mounted at ``/`` does not hide them; the
    Gradio queue answers ``concurrency`` chats at once and runs one build at a time. With
    ``warm_up`` the question models load in a background thread right away (``on_ready(queue)`` is
    called when they have; ``/health`` shows it); questions then go through the service's
    :class:`~ui.question_queue.QuestionQueue` (waits bounded by ``max_wait`` seconds), and with
    ``prefill_vectors`` the idle server embeds every entity's relation-path paraphrases into the
    store's vector cache; ``wording_budget`` bounds the new path wordings one question may embed
    (:class:`reasoning.vector_cache.WordingBudget`; None: no bound).
    """
    import gradio as gr

    service = service or ChatService(kg, update_token=update_token, examples_file=examples_file,
                                     max_file_size=max_file_size, max_wait=max_wait,
                                     prefill_vectors=prefill_vectors, on_ready=on_ready,
                                     wording_budget=wording_budget)
    app.state.questions = service.questions  # /health reports its readiness
    add_api_routes(app, service)
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=concurrency)
    if warm_up:
        service.warm_up()
    return gr.mount_gradio_app(app, demo, path=path, max_file_size=max_file_size, css=_CSS,
                               footer_links=["api"], show_error=True)


def add_api_routes(app, service: ChatService) -> None:
    """``POST /api/ask`` (JSON ``{"question", "method"}`` -> the ``kgqa ask --json`` shape) and
    ``POST /api/ingest`` (multipart ``files`` and/or form ``text``/``name`` -> the build report)."""
    from fastapi.responses import JSONResponse

    def error(status: int, err: KGQAError | str, code: str = "E-BAD-REQUEST") -> JSONResponse:
        if isinstance(err, KGQAError):
            return JSONResponse({"error": err.code, "message": err.message}, status_code=status)
        return JSONResponse({"error": code, "message": err}, status_code=status)

    @app.post("/api/ask", tags=["questions"], summary="Answer a question with evidence",
              responses={503: {"description": "busy: the question would wait longer than the limit; "
                                              "see Retry-After"}})
    async def api_ask(question: str = Body(..., embed=True, description="A question in English.",
                                           examples=["Where was Alan Turing born?"]),
                      method: str | None = Body(None, embed=True, description="auto, sparql, rules or gnn.")):
        # async: the question waits on the question queue's own threads, never on a thread of the
        # pool that SPARQL reads and other routes use
        question = question.strip()
        if not question:
            return error(400, "the question is empty; send {\"question\": \"...\"}")
        try:
            return (await service.ask_async(question, method)).to_json()
        except ServiceBusyError as err:
            response = error(503, err)
            response.headers["Retry-After"] = str(err.retry_after)
            return response
        except KGQAError as err:
            return error(409 if err.code == "E-EMPTY-STORE" else 400, err)

    @app.post("/api/ingest", tags=["documents"], summary="Build uploaded text files into the graph")
    def api_ingest(files: list[UploadFile] | None = File(None), text: str | None = Form(None),
                   name: str | None = Form(None), authorization: str | None = Header(None)):
        token = authorization.split(" ", 1)[1].strip() if authorization and " " in authorization else None
        try:
            service.check_write(token)
        except KGQAError as err:
            return error(401, err)
        with tempfile.TemporaryDirectory(prefix="kgqa-upload-") as tmp:
            paths, too_big = [], []
            for upload in files or []:
                data = upload.file.read(service.max_file_size + 1)
                filename = Path(upload.filename or "upload.txt").name
                if len(data) > service.max_file_size:
                    too_big.append(f"{filename}: over the {service.max_file_size:,}-byte limit")
                    continue
                dest = Path(tmp) / _safe_name(filename)
                dest.write_bytes(data)
                paths.append(dest)
            try:
                result, skipped = service.ingest(paths, text, name=name, token=token)
            except KGQAError as err:
                return error(413 if too_big and not paths and not text else 400,
                             KGQAError(err.message + ("; " + "; ".join(too_big) if too_big else ""), code=err.code))
        data = report_json(result)
        if too_big or skipped:
            data["skipped_uploads"] = too_big + list(skipped)
        return data


# ---------------------------------------------------------------------- running in a thread (tests, notebooks)


@contextlib.contextmanager
def serve_in_background(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Run a FastAPI app with uvicorn in a thread; yields its base URL, stops it on exit.

    ``port=0`` picks a free port.
    """
    import socket

    import uvicorn

    if port == 0:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True, name=f"kgqa-uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on {host}:{port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


__all__ = ["ChatService", "build_ui", "mount_ui", "add_api_routes", "serve_in_background", "is_update",
           "stage_inputs", "SPARQL_EXAMPLES"]

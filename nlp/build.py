"""Bulk building: a corpus of files becomes facts in a store, in parallel, resumably.

:func:`build_corpus` reads documents with :mod:`nlp.corpus`, skips those already in the store with
the same content hash and extractor, extracts the rest with the pipeline (:mod:`nlp.pipeline`) in
worker processes (or on a Dask cluster) and writes each document's facts in **one transaction**
from this process only (an embedded Oxigraph store has one writer).

Guarantees:

* **idempotent**: a re-run over unchanged files writes nothing (``skipped_unchanged``); a file whose
  text changed replaces its old facts (``replaced``); a different model, schema or KB (another
  extractor id) re-extracts every document.
* **resumable**: a build killed at any moment (even ``SIGKILL``) keeps every document it committed;
  re-running it builds the rest and ends with the same asserted triples, per-document graphs and
  provenance records as an uninterrupted build. This holds because extraction here is *per
  document*: it is called without the graph (``kg=None``), so a document's facts and entity IRIs
  depend only on its own text and the pipeline, never on which documents were written before it
  (linking a mention against entities already in the graph would make the result depend on the
  order, so bulk building does not do it; entities from different documents meet through their
  canonical IRIs and, with a KB, ``owl:sameAs``). Only the ``kgqa:addedAt`` times in the meta
  graph differ between two builds.
* **local and cluster give the same graph**: the same function extracts the same batch anywhere.
* **never stops on a bad document**: read failures and extraction failures become entries of the
  report (:class:`BuildReport`); only store errors (which would fail every later write) stop it.

>>> import tempfile, pathlib
>>> from kg import KnowledgeGraph
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "ada.txt").write_text("Ada Lovelace was born in London.")
>>> with KnowledgeGraph.open("memory") as kg:                  # doctest: +SKIP
...     first = build_corpus([root], kg=kg, workers=1, light=True)
...     again = build_corpus([root], kg=kg, workers=1, light=True)
>>> (first.built, again.built, again.skipped_unchanged)        # doctest: +SKIP
(1, 0, 1)
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from kg.errors import KGQAError, StoreError
from kg.namespaces import document_iri
from nlp.corpus import DEFAULT_MAX_CHARS, CorpusDocument, ReadFailure, count_items, count_words, read_corpus

#: a batch sent to a worker holds at most this many documents / characters
BATCH_DOCUMENTS = 16
BATCH_CHARS = 60_000


class ClusterError(KGQAError):
    code = "E-CLUSTER"


@dataclass(frozen=True)
class BuildFailure:
    """A document that was not built: id, file, short code and a reason saying what to do."""

    id: str
    path: str
    code: str
    reason: str


@dataclass
class BuildReport:
    """What a build did; ``to_dict()`` is the JSON build report.

    ``seen`` counts every item read (documents and failures); ``built`` the documents extracted and
    written, of which ``replaced`` had an older version in the store; ``words`` and the rates count
    the built documents only, over the whole wall time ``seconds``. ``warmup_seconds`` is the time
    to the first extraction result less its own extraction: process start-up and model loading.
    ``extract_cpu_seconds`` is the CPU time the workers spent extracting (summed over workers; on
    a busy machine it moves much less than wall time).
    """

    store: str
    paths: list[str]
    workers: int
    cluster: str | None
    extractor: str
    seen: int = 0
    built: int = 0
    replaced: int = 0
    skipped_unchanged: int = 0
    failed: int = 0
    facts: int = 0
    words: int = 0
    seconds: float = 0.0
    warmup_seconds: float = 0.0
    extract_cpu_seconds: float = 0.0
    total: int | None = None
    last: tuple[str, str] | None = None  # (status, document id) of the latest item, for progress displays
    interrupted: bool = False
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    failures: list[BuildFailure] = field(default_factory=list)

    @property
    def docs_per_second(self) -> float:
        return self.built / self.seconds if self.seconds > 0 else 0.0

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when every document was built or skipped, 3 when some failed."""
        return 3 if self.failed else 0

    def fail(self, doc_id: str, path: str, code: str, reason: str) -> None:
        self.failed += 1
        self.last = ("failed", doc_id)
        self.failures.append(BuildFailure(doc_id, path, code, reason))

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("failures", "total", "last")}
        out["seconds"] = round(self.seconds, 3)
        out["warmup_seconds"] = round(self.warmup_seconds, 3)
        out["extract_cpu_seconds"] = round(self.extract_cpu_seconds, 3)
        out["docs_per_second"] = round(self.docs_per_second, 3)
        out["words_per_second"] = round(self.words_per_second, 1)
        out["failures"] = [asdict(f) for f in self.failures]
        return out

    def write(self, path: str | os.PathLike) -> Path:
        """Write the JSON report (atomically: a reader never sees half a report)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


ProgressCallback = Callable[[BuildReport], None]


# ---------------------------------------------------------------------- pipeline settings
@dataclass(frozen=True)
class PipelineSettings:
    """How workers load the pipeline; plain strings so it pickles to any process or cluster worker."""

    model: str | None = None
    schema: str | None = None
    kb: str | None = None
    light: bool = False
    fast: bool = False

    @classmethod
    def of(cls, model=None, schema=None, kb=None, light=False, fast=False) -> "PipelineSettings":
        def absolute(p):
            return None if p is None else str(Path(p).expanduser().resolve())

        for name, p in (("--model", model), ("--schema", schema), ("--kb", kb)):
            if p is not None and not Path(p).expanduser().exists():
                raise KGQAError(f"{name} {str(p)!r} does not exist", code="E-USAGE")
        return cls(absolute(model), absolute(schema), absolute(kb), bool(light), bool(fast))

    def extractor_id(self) -> str:
        """``kgqa-build:<kind>:<digest>``: changes when the model (the shipped document-level one
        included), schema, KB, ``--fast`` or kgqa version changes."""
        from nlp.pipeline import document_model

        h = hashlib.sha256()
        h.update(_kgqa_version().encode())
        h.update(b"light" if self.light else b"full")
        h.update(b"fast" if self.fast else b"")
        docre = document_model(self.model, light=self.light, fast=self.fast)
        for p in (self.model, self.schema, self.kb, str(docre) if docre is not None else None):
            h.update(b"\x1f")
            if p is not None:
                h.update(_path_digest(Path(p)).encode())
        kind = "light" if self.light else (Path(self.model).name if self.model else "fast" if self.fast else "default")
        return f"kgqa-build:{kind}:{h.hexdigest()[:12]}"

    def load(self):
        """The pipeline; a light one (no statistical NER) also finds the KB's names with its entity_ruler."""
        from nlp.pipeline import load_pipeline

        nlp = load_pipeline(model=self.model, schema=self.schema, kb=self.kb, light=self.light, fast=self.fast)
        if self.light and self.kb is not None and "entity_ruler" in nlp.pipe_names:
            ruler = nlp.get_pipe("entity_ruler")
            if not len(ruler):
                ruler.add_patterns(kb_patterns(self.kb))
        for name in nlp.pipe_names:  # load lazily loaded models (MiniLM) with the pipeline, before any batch
            warm_up = getattr(nlp.get_pipe(name), "warm_up", None)
            if callable(warm_up):
                warm_up()
        return nlp


def kb_patterns(kb: str | os.PathLike) -> list[dict]:
    """entity_ruler patterns for every label and alias of a KB file (see :func:`nlp.linking.load_kb`).

    The entity type is the KB's (PERSON, ORG, LOC, ...), or MISC when it has none.
    """
    from nlp.linking import load_kb

    patterns = []
    for cand in load_kb(kb).candidates.values():
        for name in dict.fromkeys([cand.label, *cand.aliases]):
            patterns.append({"label": cand.type or "MISC", "pattern": name})
    return patterns


def _kgqa_version() -> str:
    try:
        from importlib.metadata import version

        return version("kgqa")
    except Exception:  # running from a source tree that is not installed
        return "dev"


def _path_digest(path: Path) -> str:
    """A digest of a file, or of a folder's file names, sizes and mtimes (model folders are large)."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    parts = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            parts.append(f"{p.relative_to(path).as_posix()}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------------- extraction (runs in workers)
# One pipeline per process and settings: loaded on first use, kept for every later batch.
_PIPELINES: dict[PipelineSettings, Any] = {}
_PIPELINES_LOCK = threading.Lock()


def _pipeline(settings: PipelineSettings):
    with _PIPELINES_LOCK:
        nlp = _PIPELINES.get(settings)
        if nlp is None:
            nlp = _PIPELINES[settings] = settings.load()
        return nlp


def keep_freed_memory() -> bool:
    """Make this process's C allocator (glibc) keep the memory it frees instead of returning it to the OS.

    The document-level model allocates and frees large tensors in every batch. With glibc's defaults
    they go back to the OS (``munmap``, heap trimming) and the next batch page-faults them in again;
    on this VM two workers faulting at the same time made those faults dearer (a worker's kernel
    time 0.3-2 s per 96 documents with two workers, against 0.3 s alone). Kept, a worker faults
    35-50 % less (bench/docre.md, session 13). A build worker lives for one build, so holding its
    peak (about 1.1 GB) is cheap; only local worker processes call this, so a long-lived caller
    (the chat's in-process builds) keeps glibc's defaults. Returns whether the allocator took the
    settings (False where there is no glibc ``mallopt``).
    """
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows): nothing to tune
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return all([mallopt(m_trim_threshold, 1 << 30) == 1,  # never trim the heap top
                mallopt(m_top_pad, 64 << 20) == 1,  # grow the heap in 64 MB steps
                mallopt(m_mmap_threshold, 32 << 20) == 1])  # blocks up to 32 MB (glibc's maximum) from the heap


def _worker_init(settings: PipelineSettings) -> None:
    """Process-pool initializer: freed memory kept, one torch thread per worker process, pipeline loaded once."""
    keep_freed_memory()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.simplefilter("once")  # a warning a component raises per document is shown once per worker
    try:
        _pipeline(settings)
    except Exception:  # reported by the first batch (extract_batch), where the parent can see it
        pass
    torch = sys.modules.get("torch")  # imported by the pipeline if it needs it; never imported here
    if torch is not None:
        torch.set_num_threads(1)


def extract_batch(batch: list[tuple[str, str]], settings: PipelineSettings) -> dict:
    """Extract a batch of ``(doc_id, text)`` with this process's pipeline (what workers run).

    The transformer runs on one thread everywhere: a worker is a core, and matrix products summed
    in the same order give the same scores in every process, so every mode builds the same graph.

    Returns ``{"results": [(doc_id, facts, entities, relations) | (doc_id, None, error, None)],
    "extract_seconds": float, "extract_cpu_seconds": float}`` (or ``{"fatal": message}`` when the pipeline cannot load); one
    document's error never loses the rest of the batch.
    """
    from nlp.pipeline import extract, extract_many

    try:
        nlp = _pipeline(settings)
    except Exception as err:  # a bad model/schema/KB: every batch would fail the same way
        return {"fatal": f"{err}" if isinstance(err, KGQAError) else f"{type(err).__name__}: {err}"}
    torch = sys.modules.get("torch")  # imported by the pipeline if it needs it; never imported here
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    started, cpu_started = time.monotonic(), time.thread_time()
    results = []
    try:
        for doc_id, ext in extract_many(nlp, batch, batch_size=len(batch)):
            results.append(_portable(doc_id, ext))
    except Exception:  # find the document that broke the batch: redo them one by one
        results = []
        for doc_id, text in batch:
            try:
                results.append(_portable(doc_id, extract(nlp, text, doc_id)))
            except Exception as err:  # a pipeline bug on one text must not stop the build
                results.append((doc_id, None, f"{type(err).__name__}: {err}"[:500], None))
    return {"results": results, "extract_seconds": time.monotonic() - started,
            "extract_cpu_seconds": time.thread_time() - cpu_started}


def _portable(doc_id: str, ext) -> tuple:
    # plain tuples of kg dataclasses pickle small and never drag spaCy objects across processes
    return (doc_id, tuple(ext.facts), tuple(getattr(ext, "entities", ())), tuple(getattr(ext, "relations", ())))


# ---------------------------------------------------------------------- executors
class _Inline:
    """Extraction in this process (one worker) on one thread of its own, so the build writes a batch
    while the next is extracted; torch's thread count is restored when it is done."""

    workers = 1
    # one batch extracted while the previous one is written; the thread takes them in order, so the
    # first result still arrives after one batch's extraction (the report's warm-up is loading only)
    max_pending = 2

    def __init__(self, settings):
        from concurrent.futures import ThreadPoolExecutor

        self.settings = settings
        torch = sys.modules.get("torch")
        self._saved_threads = torch.get_num_threads() if torch is not None else None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgqa-extract")

    def submit(self, batch):
        return self._thread.submit(extract_batch, batch, self.settings)

    def wait(self, pending):
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(pending, return_when=FIRST_COMPLETED)

    def close(self, cancel=False):
        self._thread.shutdown(wait=not cancel, cancel_futures=cancel)
        torch = sys.modules.get("torch")
        if torch is not None:  # give the calling process its threads back
            torch.set_num_threads(self._saved_threads or min(2, os.cpu_count() or 1))


class _LocalPool:
    """A spawn-based process pool; each worker loads the pipeline once in its initializer."""

    def __init__(self, settings, workers):
        self.settings, self.workers = settings, workers
        self.max_pending = 2 * workers  # a batch queued behind each running one: no worker waits for the writer
        self._pool = None

    def submit(self, batch):
        if self._pool is None:  # started at the first document to build: a no-op re-run starts nothing
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_init, initargs=(self.settings,))
        return self._pool.submit(extract_batch, batch, self.settings)

    def wait(self, pending):
        from concurrent.futures import wait

        done, not_done = wait(pending, return_when=FIRST_COMPLETED)
        if any(_is_broken_pool(f) for f in done):
            self.close(cancel=True)  # a worker died (killed, out of memory): the next batch gets a new pool
        return done, not_done

    def close(self, cancel=False):
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


def _is_broken_pool(future) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)


def _check_reachable(address: str) -> None:
    """Fail in a second, not after the client's long time-out, when nothing listens at a tcp:// address."""
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port or 8786), timeout=5):
            pass
    except OSError as err:
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {err.strerror or err}; start one "
                           "with `dask scheduler` and `dask worker ADDRESS`, or drop --cluster") from None


class _DaskCluster:
    """Batches on a Dask distributed cluster; each worker process keeps one pipeline (module cache)."""

    def __init__(self, settings, address, client=None):
        self.settings = settings
        if client is None:
            try:
                from distributed import Client
            except ImportError as err:  # pragma: no cover - distributed is a dependency
                raise ClusterError(f"--cluster needs dask.distributed: {err}") from None
            _check_reachable(address)
            try:
                client = Client(address, timeout="15s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as err:
                raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {err}; start one with "
                                   "`dask scheduler` and `dask worker ADDRESS`, or drop --cluster") from None
            self._own = True
        else:
            self._own = False
        self.client = client
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))
        self.max_pending = 2 * self.workers

    def submit(self, batch):
        return self.client.submit(extract_batch, batch, self.settings, pure=False)

    def wait(self, pending):
        from distributed import wait

        with self.client.as_current():  # wait() finds the client through the "current" one
            result = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(result.done), set(result.not_done)

    def close(self, cancel=False):
        if self._own:
            self.client.close()


# ---------------------------------------------------------------------- the build
def build_corpus(paths: Iterable[str | os.PathLike], *, kg, workers: int | None = None,
                 cluster: str | Any | None = None, model: str | os.PathLike | None = None,
                 schema: str | os.PathLike | None = None, kb: str | os.PathLike | None = None,
                 light: bool = False, fast: bool = False, progress: ProgressCallback | None = None,
                 force: bool = False,
                 keep_text: bool = True, max_chars: int = DEFAULT_MAX_CHARS,
                 batch_documents: int = BATCH_DOCUMENTS) -> BuildReport:
    """Build the documents under ``paths`` into ``kg``; returns the :class:`BuildReport`.

    Args:
        paths: files and folders (``.txt``, ``.md``, ``.html``, ``.jsonl``; folders recursively).
        kg: an open :class:`kg.KnowledgeGraph`; only this process writes to it.
        workers: local worker processes (default ``os.cpu_count()``, or 1 for a corpus of at most
            ``2 * batch_documents`` items; 1 extracts in this process).
        cluster: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``;
            workers must have kgqa installed and see the model/schema/KB paths.
        model, schema, kb, light, fast: passed to :func:`nlp.pipeline.load_pipeline` in every worker
            (``fast``: sentence-level extraction only, no document-level model).
        progress: called with the live report after every item (``report.last`` is
            ``(status, doc_id)``: built, replaced, unchanged or failed).
        force: re-extract documents even when their hash and extractor are unchanged.
        keep_text: keep each document's extracted text in the store (provenance offsets point into it).
        max_chars: larger documents fail with ``too-large`` (see :mod:`nlp.corpus`).

    Example: ``build_corpus(["notes/"], kg=kg, workers=2).to_dict()["built"]``.
    """
    paths = [str(p) for p in paths]
    settings = PipelineSettings.of(model, schema, kb, light, fast)
    extractor = settings.extractor_id()
    total = None
    if cluster is not None:
        executor = _DaskCluster(settings, cluster if isinstance(cluster, str) else None,
                                client=None if isinstance(cluster, str) else cluster)
    else:
        if workers is None:
            total = count_items(paths)
            # starting worker processes (each loads the models) costs more than a small corpus saves
            workers = 1 if total <= 2 * batch_documents else (os.cpu_count() or 1)
        workers = max(1, int(workers))
        executor = _Inline(settings) if workers == 1 else _LocalPool(settings, workers)
    cluster_name = None if cluster is None else (cluster if isinstance(cluster, str) else "dask client")
    report = BuildReport(store=f"{kg.store.kind}:{kg.location}", paths=paths, workers=executor.workers,
                         cluster=cluster_name, extractor=extractor)
    started = time.monotonic()
    if progress is not None:
        report.total = total if total is not None else count_items(paths)
        progress(report)
    existing = {str(d.iri): d for d in kg.documents()}
    in_flight: dict[str, CorpusDocument] = {}
    batch_of: dict[Any, list[str]] = {}  # future -> ids of the documents it extracts
    pending: set = set()
    max_pending = executor.max_pending
    first_result = True

    def tick():
        report.seconds = time.monotonic() - started
        if progress is not None:
            progress(report)

    def collect(done):
        nonlocal first_result
        for future in done:
            batch_ids = batch_of.pop(future)
            try:
                outcome = future.result()
            except Exception as err:  # the worker itself failed (died, lost, cannot unpickle)
                for doc_id in batch_ids:
                    doc = in_flight.pop(doc_id)
                    report.fail(doc.id, doc.path, "worker", f"worker failed: {type(err).__name__}: {err}"[:500]
                                + "; re-run the build to retry")
                    tick()
                continue
            if "fatal" in outcome:
                raise KGQAError(f"the extraction pipeline could not load: {outcome['fatal']}", code="E-PIPELINE")
            if first_result:  # time to the first result, less its own extraction: start-up and model loading
                report.warmup_seconds = max(0.0, time.monotonic() - started - outcome["extract_seconds"])
                first_result = False
            report.extract_cpu_seconds += outcome.get("extract_cpu_seconds", 0.0)
            for doc_id, facts, entities, relations in outcome["results"]:
                doc = in_flight.pop(doc_id)
                if facts is None:
                    report.fail(doc.id, doc.path, "extraction", f"extraction failed: {entities}")
                else:
                    _write(kg, doc, facts, entities, relations, extractor, keep_text, existing, report)
                tick()

    def submit(batch: list[CorpusDocument]):
        future = executor.submit([(d.id, d.text) for d in batch])
        batch_of[future] = [d.id for d in batch]
        pending.add(future)

    try:
        batch: list[CorpusDocument] = []
        for item in read_corpus(paths, max_chars=max_chars):
            report.seen += 1
            if isinstance(item, ReadFailure):
                report.fail(item.id, item.path, item.code, item.reason)
                tick()
                continue
            old = existing.get(str(document_iri(item.id)))
            if (not force and old is not None and old.content_hash == item.content_hash
                    and old.extractor == extractor):
                report.skipped_unchanged += 1
                report.last = ("unchanged", item.id)
                tick()
                continue
            in_flight[item.id] = item
            batch.append(item)
            if len(batch) >= batch_documents or sum(len(d.text) for d in batch) >= BATCH_CHARS:
                submit(batch)
                batch = []
            while len(pending) >= max_pending:
                done, rest = executor.wait(pending)
                pending.clear()
                pending.update(rest)
                collect(done)
        if batch:
            submit(batch)
        while pending:
            done, rest = executor.wait(pending)
            pending.clear()
            pending.update(rest)
            collect(done)
    except BaseException:
        report.interrupted = True
        executor.close(cancel=True)
        raise
    finally:
        report.seconds = time.monotonic() - started
    executor.close()
    if hasattr(kg.store, "flush"):
        kg.store.flush()
    return report


def _write(kg, doc: CorpusDocument, facts, entities, relations, extractor: str, keep_text: bool,
           existing: dict, report: BuildReport) -> None:
    """One document, one transaction; a bad fact fails the document, a failing store stops the build."""
    iri = str(document_iri(doc.id))
    try:
        kg.add_document(doc.id, facts, entities=entities, relations=relations, content_hash=doc.content_hash,
                        source_path=doc.path, extractor=extractor, text=doc.text if keep_text else None,
                        replace=True)
    except (StoreError, OSError, MemoryError):
        raise
    except KGQAError as err:
        report.fail(doc.id, doc.path, "write", f"could not write: {err}")
        return
    except (ValueError, TypeError) as err:  # e.g. an IRI the store rejects
        report.fail(doc.id, doc.path, "write", f"could not write: {type(err).__name__}: {err}"[:500])
        return
    report.built += 1
    report.replaced += iri in existing
    report.last = ("replaced" if iri in existing else "built", doc.id)
    report.facts += len(facts)
    report.words += count_words(doc.text)

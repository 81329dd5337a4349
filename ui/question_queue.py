"""Questions served under load: a bounded queue, answered in batches, with an answer cache.

One :class:`QuestionQueue` stands between the front doors (``POST /api/ask``, the Gradio chat) and
:func:`reasoning.ask`:

* **start-up** — :meth:`QuestionQueue.start` loads the question models (spaCy, MiniLM) and the
  graph's label index in a background thread and answers one warm-up question; ``ready`` (shown by
  ``/health``) turns true when that is done. A question that arrives earlier waits for it like any
  queued question, within the limit below;
* **shared work** — answering threads of their own (never the SPARQL endpoint's worker threads)
  take every question waiting at that moment as one batch: the batch's wordings are embedded by
  MiniLM in one call (what each question's planning then finds in the encoder's cache), and the
  same question asked twice while queued is answered once;
* **answer cache** — answers are kept keyed by the store's :attr:`~kg.stores.Store.revision`,
  the question's normalised text, method and ``k``: any write to the store makes a new key, so a
  cached answer is never older than the data;
* **bounded planning** — each question embeds at most ``wording_budget`` (default 256, about a
  second of MiniLM) relation-path wordings the store's vector cache does not hold yet
  (:class:`reasoning.vector_cache.WordingBudget`): on a freshly built graph the planner scores the
  one-hop paths and the longer paths likeliest to fit the question, and leaves the rest for the idle
  job. A batch shares one budget. Such an answer says so in its warnings; its cached copy is served
  only while the service is busy, so the same question asked when idle compares more;
* **bounded waits** — a question that would wait longer than ``max_wait`` (default 10 s), judged
  from the queue's length and the measured answering time, is refused at once with
  :class:`ServiceBusyError` (``retry_after`` seconds; HTTP 503 with ``Retry-After``). A question
  accepted but not answered by its deadline (a slow one ahead of it) gets the same error then, so
  no caller waits past ``max_wait``; a question already being answered finishes in the background
  and its answer is cached for the retry;
* **idle work** — an optional ``idle`` job (filling the store's path-vector cache,
  :func:`reasoning.vector_cache.prefill_path_vectors`) runs on its own low-priority thread and
  pauses whenever questions are waiting.

>>> from kg import KnowledgeGraph
>>> slow = lambda kg, question, method, k: f"answer to {question!r}"
>>> q = QuestionQueue(KnowledgeGraph.open("memory"), answer=slow, warm_up=lambda: None)
>>> q.start(background=False).ready
True
>>> q.ask("Who?"), q.stats()["cache_hits"], (q.ask("  who? "), q.stats()["cache_hits"])[1]
("answer to 'Who?'", 0, 1)
>>> q.close()
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from kg.errors import KGQAError

log = logging.getLogger("kgqa.questions")

#: default longest wait for a question (seconds) before the service says it is busy
DEFAULT_MAX_WAIT = 10.0
#: seconds of the wait limit kept for turning a late question into its 503 reply
REPLY_MARGIN = 0.5
#: new relation-path wordings one question may embed (about a second of MiniLM); see
#: :class:`reasoning.vector_cache.WordingBudget`
DEFAULT_WORDING_BUDGET = 256


class ServiceBusyError(KGQAError):
    """The service cannot answer within its wait limit now; ``retry_after`` says when to try again."""

    code = "E-BUSY"

    def __init__(self, message: str, *, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = max(1, int(math.ceil(retry_after)))


@dataclass
class _Job:
    key: tuple
    question: str
    method: str
    k: int
    deadline: float
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    revision: int = 0


def normalise_question(text: str) -> str:
    """The cache key of a question's wording: casefolded, spaces collapsed, final punctuation dropped.

    >>> normalise_question("  Where was  Ada born? ")
    'where was ada born'
    """
    return re.sub(r"\s+", " ", text.casefold()).strip().rstrip("?!. ")


def _default_answer(kg, question: str, method: str, k: int):
    from reasoning import ask

    return ask(kg, question, method=method, k=k)


def embed_batch(kg, questions: list[str]) -> None:
    """Embed the wordings of a batch of questions in one MiniLM call (each question's planning then
    finds its encodings in the encoder's cache)."""
    from reasoning.question import Encoder, parse_question

    texts: list[str] = []
    for question in questions:
        try:
            parsed = parse_question(kg, question)
        except KGQAError:
            continue  # the question's own answering reports it
        texts.append(parsed.masked or parsed.clean)
        texts.extend(word for word, _ in parsed.words)
    if texts:
        Encoder.get().encode(list(dict.fromkeys(texts)))


def _default_warm_up(kg) -> None:
    from nlp.encoder import embed
    from reasoning.question import graph_index, load_spacy

    load_spacy()
    embed(["kgqa warm-up"])
    graph_index(kg)


class QuestionQueue:
    """Answers questions over ``kg`` on ``workers`` threads of its own; see the module docstring.

    ``answer(kg, question, method, k)`` answers one question (default :func:`reasoning.ask`);
    ``prepare(kg, questions)`` does a batch's shared work first (default: one MiniLM call for the
    batch's wordings); ``warm_up()`` loads the models (default: spaCy, MiniLM, the label index);
    ``warm_question`` is asked once after it, so the first user's question finds everything loaded.
    ``idle(pause, stop, status)`` runs on a low-priority thread once the service is ready;
    ``on_ready(queue)`` is called then (``kgqa serve`` prints that it is ready).
    """

    def __init__(self, kg, *, answer: Callable | None = None, prepare: Callable | None = None,
                 warm_up: Callable | None = None, warm_question: str | Callable[[], str | None] | None = None,
                 max_wait: float = DEFAULT_MAX_WAIT, workers: int = 1, max_batch: int = 16,
                 cache_size: int = 4096, idle: Callable[[Callable[[], bool], threading.Event, dict], Any] | None = None,
                 on_ready: Callable[["QuestionQueue"], Any] | None = None,
                 wording_budget: int | None = DEFAULT_WORDING_BUDGET):
        if max_wait <= 0:
            raise ValueError("max_wait must be positive")
        self.kg = kg
        self.max_wait = float(max_wait)
        self.workers = max(1, int(workers))
        self.max_batch = max(1, int(max_batch))
        self.cache_size = int(cache_size)
        self.wording_budget = wording_budget
        self._answer = answer or _default_answer
        self._prepare = prepare if prepare is not None else (None if answer is not None else embed_batch)
        self._warm_up = warm_up if warm_up is not None else (lambda: _default_warm_up(kg))
        self._warm_question = warm_question
        self._idle = idle
        self._on_ready = on_ready
        self._lock = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._pending: dict[tuple, _Job] = {}
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._provisional: set[tuple] = set()  # cached answers planned with some paths left out
        self._busy = 0  # questions being answered right now
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.state = "created"
        self.error: str | None = None
        self.load_seconds: float | None = None
        #: mean answering time of the last questions (seconds), what waits are judged by
        self.service_seconds = 0.25
        self._times: deque[float] = deque(maxlen=32)
        #: refused: 503 at once; timed_out: 503 at the limit; dropped: skipped, their caller had its 503
        self.counts = {"asked": 0, "answered": 0, "cache_hits": 0, "shared": 0, "refused": 0, "timed_out": 0,
                       "dropped": 0, "failed": 0, "batches": 0, "provisional": 0}
        self.idle_status: dict = {}

    # ------------------------------------------------------------------ life cycle
    @property
    def ready(self) -> bool:
        """Whether the models are loaded and the service answers questions."""
        return self._ready.is_set()

    def start(self, *, background: bool = True) -> "QuestionQueue":
        """Load the models (in a thread when ``background``), then start the answering threads."""
        if self.state != "created":
            return self
        self.state = "loading"
        if background:
            threading.Thread(target=self._start, daemon=True, name="kgqa-questions-start").start()
        else:
            self._start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _start(self) -> None:
        started = time.monotonic()
        try:
            self._warm_up()
            question = self._warm_question() if callable(self._warm_question) else self._warm_question
            if question:
                try:
                    for _ in range(2):  # the second time measures a question whose topic is planned already
                        t = time.monotonic()
                        self._answer_within_budget(question, "auto", 10, self.wording_budget)
                    self._times.append(time.monotonic() - t)
                    self.service_seconds = max(0.01, self._times[-1])
                except Exception:  # a warm-up question that fails is the store's business, not start-up's
                    log.info("the warm-up question %r failed", question, exc_info=True)
        except Exception as err:  # noqa: BLE001 - reported by /health and to every question
            self.state, self.error = "failed", f"{type(err).__name__}: {err}"
            log.exception("the question models failed to load")
            with self._lock:
                for job in list(self._queue):
                    self._finish(job, error=KGQAError(f"the question models failed to load ({self.error}); "
                                                      "see the server log", code="E-MODELS"))
                self._queue.clear()
            return
        self.load_seconds = time.monotonic() - started
        for i in range(self.workers):
            t = threading.Thread(target=self._work, daemon=True, name=f"kgqa-questions-{i}")
            t.start()
            self._threads.append(t)
        if self._idle is not None:
            t = threading.Thread(target=self._run_idle, daemon=True, name="kgqa-questions-idle")
            t.start()
            self._threads.append(t)
        self.state = "ready"
        self._ready.set()
        with self._lock:
            self._lock.notify_all()
        if self._on_ready is not None:
            try:
                self._on_ready(self)
            except Exception:  # noqa: BLE001 - a report that fails must not stop the service
                log.exception("the on_ready callback failed")

    def close(self) -> None:
        """Stop the threads; questions still queued get :class:`ServiceBusyError`."""
        self._stop.set()
        with self._lock:
            for job in list(self._queue):
                self._finish(job, error=ServiceBusyError("the service is shutting down", retry_after=5))
            self._queue.clear()
            self._lock.notify_all()

    # ------------------------------------------------------------------ asking
    def submit(self, question: str, method: str = "auto", k: int = 10) -> concurrent.futures.Future:
        """A future of the answer; raises :class:`ServiceBusyError` at once when the wait would be too long."""
        if self.state == "failed":
            raise KGQAError(f"the question models failed to load ({self.error}); see the server log", code="E-MODELS")
        if self._stop.is_set():
            raise ServiceBusyError("the service is shutting down", retry_after=5)
        revision = getattr(self.kg.store, "revision", 0)
        key = (revision, normalise_question(question), method, int(k))
        now = time.monotonic()
        with self._lock:
            self.counts["asked"] += 1
            if key in self._cache and not (key in self._provisional and self.idle()):
                self._cache.move_to_end(key)
                self.counts["cache_hits"] += 1
                fut: concurrent.futures.Future = concurrent.futures.Future()
                fut.set_result(self._cache[key])
                return fut
            job = self._pending.get(key)
            if job is not None:  # the same question is already waiting: share its answer
                self.counts["shared"] += 1
                return job.future
            wait = self._expected_wait()
            if wait + self.service_seconds > self.max_wait:
                self.counts["refused"] += 1
                raise ServiceBusyError(
                    f"the service is busy: {len(self._queue) + self._busy} questions ahead would take about "
                    f"{wait:.0f} s (limit {self.max_wait:g} s); try again shortly",
                    retry_after=wait + self.service_seconds - self.max_wait)
            job = _Job(key, question, method, int(k), now + self.max_wait, revision=revision)
            self._queue.append(job)
            self._pending[key] = job
            self._lock.notify()
        return job.future

    def _expected_wait(self) -> float:
        ahead = len(self._queue) + self._busy
        if not self.ready:
            return 0.0  # nothing measured yet: the deadline decides
        return self.service_seconds * ahead / self.workers

    def ask(self, question: str, method: str = "auto", k: int = 10):
        """The answer (blocking, at most ``max_wait`` s); raises :class:`ServiceBusyError` when busy."""
        fut = self.submit(question, method, k)
        try:
            return fut.result(timeout=self._remaining(fut))
        except concurrent.futures.TimeoutError:
            raise self._late() from None

    async def ask_async(self, question: str, method: str = "auto", k: int = 10):
        """:meth:`ask` for the event loop: waits without holding a thread."""
        fut = self.submit(question, method, k)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), self._remaining(fut))
        except asyncio.TimeoutError:
            raise self._late() from None

    def _remaining(self, fut) -> float:
        # the reply (a 503 included) leaves within max_wait of the request: keep a little for sending it
        return self.max_wait - min(REPLY_MARGIN, 0.1 * self.max_wait) if not fut.done() else 0.1

    def _late(self) -> ServiceBusyError:
        self.counts["timed_out"] += 1
        return ServiceBusyError(f"the service did not answer within {self.max_wait:g} s; it is busy or the question "
                                "is slow to answer (its answer is kept for a retry)", retry_after=self.service_seconds + 1)

    # ------------------------------------------------------------------ answering threads
    def _take_batch(self) -> list[_Job]:
        with self._lock:
            while not self._queue and not self._stop.is_set():
                self._lock.wait(0.5)
            if self._stop.is_set():
                return []
            batch, now = [], time.monotonic()
            while self._queue and len(batch) < self.max_batch:
                job = self._queue.popleft()
                if now + self.service_seconds > job.deadline:  # its caller is answered 503 by now
                    self.counts["dropped"] += 1
                    self._finish(job, error=ServiceBusyError(
                        f"the service is busy: the question waited {self.max_wait:g} s", retry_after=self.service_seconds))
                    continue
                batch.append(job)
            self._busy += len(batch)
            return batch

    def _work(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if not batch:
                continue
            self.counts["batches"] += 1
            started = time.monotonic()
            if self._prepare is not None and len(batch) > 0:
                try:
                    self._prepare(self.kg, [job.question for job in batch])
                except Exception:  # noqa: BLE001 - preparation only saves time; answering reports errors
                    log.debug("batch preparation failed", exc_info=True)
            # the batch shares one wording budget (about a second of MiniLM), so a full queue of questions
            # about entities never planned before plans each with little more than its one-hop paths
            share = None if self.wording_budget is None else self.wording_budget // len(batch)
            for i, job in enumerate(batch):
                t = time.monotonic()
                if t + min(REPLY_MARGIN, 0.1 * self.max_wait) > job.deadline:  # its caller has had its 503: spend the time on the others
                    with self._lock:
                        self._busy -= 1
                        self.counts["dropped"] += 1
                        self._finish(job, error=ServiceBusyError(
                            f"the service is busy: the question waited {self.max_wait:g} s",
                            retry_after=self.service_seconds))
                    continue
                try:
                    value, provisional = self._answer_within_budget(job.question, job.method, job.k, share)
                except BaseException as err:  # noqa: BLE001 - handed to the waiting caller
                    self.counts["failed"] += 1
                    with self._lock:
                        self._busy -= 1
                        self._finish(job, error=err)
                    continue
                spent = time.monotonic() - t + ((t - started) if i == 0 else 0.0)
                with self._lock:
                    self._busy -= 1
                    self._times.append(spent)
                    self.service_seconds = sum(self._times) / len(self._times)
                    self.counts["answered"] += 1
                    self.counts["provisional"] += provisional
                    if getattr(self.kg.store, "revision", 0) == job.revision:  # no write landed meanwhile
                        self._cache[job.key] = value
                        (self._provisional.add if provisional else self._provisional.discard)(job.key)
                        while len(self._cache) > self.cache_size:
                            self._provisional.discard(self._cache.popitem(last=False)[0])
                    self._finish(job, value=value)

    def _answer_within_budget(self, question: str, method: str, k: int, wordings: int | None) -> tuple[Any, bool]:
        """(answer, provisional): the answer planned with at most ``wordings`` new path wordings (None: no
        bound); provisional when some candidate paths had to be left unscored: it says so, and its cached
        copy is only served while the service is busy."""
        from reasoning.vector_cache import wording_budget

        with wording_budget(wordings) as budget:
            value = self._answer(self.kg, question, method, k)
        if budget is None or not budget.skipped:
            return value, False
        warnings = getattr(value, "warnings", None)
        if isinstance(warnings, list):
            warnings.append(f"{budget.skipped} longer relation paths were not compared yet (their wordings are "
                            "embedded while the service is idle); asking again later may give a better answer")
        return value, True

    def _finish(self, job: _Job, *, value: Any = None, error: BaseException | None = None) -> None:
        if self._pending.get(job.key) is job:
            del self._pending[job.key]
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)

    # ------------------------------------------------------------------ idle work
    def idle(self) -> bool:
        """Whether no question is waiting or being answered."""
        return not self._queue and not self._busy

    def _run_idle(self) -> None:
        try:  # Linux: lower this thread's priority only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
        except (AttributeError, OSError):
            pass
        try:
            self._idle(lambda: not self.idle() or self._stop.is_set(), self._stop, self.idle_status)
        except Exception:  # noqa: BLE001 - idle work must never take the service down
            log.exception("the idle job failed")
            self.idle_status["state"] = "failed"

    # ------------------------------------------------------------------ reporting
    def stats(self) -> dict:
        """What ``/health`` shows: readiness, queue, counts, the answering time waits are judged by."""
        with self._lock:
            out = {"ready": self.ready, "state": self.state, "queued": len(self._queue), "answering": self._busy,
                   "max_wait": self.max_wait, "service_seconds": round(self.service_seconds, 4),
                   "cached_answers": len(self._cache), **self.counts}
        if self.load_seconds is not None:
            out["load_seconds"] = round(self.load_seconds, 2)
        if self.error:
            out["error"] = self.error
        if self.idle_status:
            out["idle"] = dict(self.idle_status)
        return out


__all__ = ["QuestionQueue", "ServiceBusyError", "normalise_question", "embed_batch", "DEFAULT_MAX_WAIT",
           "DEFAULT_WORDING_BUDGET"]

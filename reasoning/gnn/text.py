"""Question text -> MiniLM vectors for the reasoner: the sentence vector and the contextual token vectors.

The reasoner reads a question one hop at a time (attention over its tokens), so besides the pooled
sentence embedding it needs the per-token hidden states, which :func:`nlp.encoder.embed` does not
return; the weights are the same all-MiniLM-L6-v2 folder (:func:`nlp.encoder.model_path`), offline.
Encodings are cached per text for the life of the process.

>>> tokens, mask, sentence, distance = encode_questions(["what is the capital of X"])  # doctest: +SKIP
>>> tokens.shape[0], tokens.shape[2], sentence.shape  # doctest: +SKIP
(1, 384, torch.Size([1, 384]))
"""
from __future__ import annotations

import re
from collections import OrderedDict

import torch

#: width of MiniLM vectors
DIMENSION = 384
#: the word that stands for the topic entity in every question the reasoner reads
TOPIC = "X"
#: word pieces read per question (and per path wording, :mod:`reasoning.gnn.paths`)
MAX_TOKENS = 40
#: token distances to the topic are clipped here (and this value also means "no topic in the text")
MAX_DISTANCE = 15
_cache: "OrderedDict[str, tuple]" = OrderedDict()
_CACHE_SIZE = 100_000


def _model():
    """The same MiniLM the extraction pipeline uses (one copy per process)."""
    from nlp.encoder import load_encoder

    return load_encoder()


def _encode(texts: list[str], batch_size: int = 128):
    tokenizer, model = _model()
    out = []
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].bool()
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
            topic_id = tokenizer.convert_tokens_to_ids(TOPIC.lower())
            for row, i in enumerate(idx):
                n = int(mask[row].sum())
                ids = enc["input_ids"][row, :n]
                at = (ids == topic_id).nonzero().flatten()
                # distance of every token to the topic mention: the relation nearest the topic is the first hop
                where = int(at[0]) if at.numel() else 0
                dist = (torch.arange(n) - where).abs().clamp(max=MAX_DISTANCE) if at.numel() else torch.full((n,), MAX_DISTANCE)
                out.append((i, hidden[row, :n].to(torch.float16).clone(), pooled[row].clone(), dist))
    out.sort(key=lambda t: t[0])
    return [(tok, sent, dist) for _, tok, sent, dist in out]


def encode_questions(texts: list[str]):
    """``(tokens [n, L, 384] float16, mask [n, L] bool, sentence [n, 384], distance [n, L] long)`` for ``texts``.

    ``distance`` is each token's distance to the topic placeholder :data:`TOPIC` (clipped to
    :data:`MAX_DISTANCE`). Cached per text, so encoding the same training questions twice costs nothing.
    """
    return pad(encode_items(texts))


def encode_items(texts: list[str]) -> list[tuple]:
    """Per text ``(tokens [L, 384], sentence [384], distance [L])``, unpadded (cached)."""
    missing = [t for t in dict.fromkeys(texts) if t not in _cache]
    if missing:
        for text, enc in zip(missing, _encode(missing)):
            _cache[text] = enc
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return [_cache[t] for t in texts]


def pad(items):
    """Stack ``(tokens [L_i, D], sentence [D], distance [L_i])`` items into padded tensors."""
    n = len(items)
    length = max((item[0].size(0) for item in items), default=1)
    tokens = torch.zeros(n, length, DIMENSION, dtype=torch.float16)
    mask = torch.zeros(n, length, dtype=torch.bool)
    sentence = torch.zeros(n, DIMENSION)
    distance = torch.full((n, length), MAX_DISTANCE, dtype=torch.long)
    for i, (tok, sent, dist) in enumerate(items):
        tokens[i, :tok.size(0)] = tok
        mask[i, :tok.size(0)] = True
        sentence[i] = sent
        distance[i, :tok.size(0)] = dist
    return tokens, mask, sentence, distance


def embed_labels(labels: list[str]) -> torch.Tensor:
    """Sentence vectors ``[n, 384]`` for short texts such as relation labels."""
    return encode_questions(list(labels))[2]


def mask_topic(question: str, topic_labels: list[str]) -> str:
    """The question with its topic mention replaced by :data:`TOPIC`, so the model reads only the wording.

    A ``[bracketed]`` span is the mention when present; otherwise the longest topic label found in the text.

    >>> mask_topic("who directed [Kismet]", [])
    'who directed X'
    >>> mask_topic("Where was Ada Lovelace born?", ["Ada Lovelace"])
    'Where was X born?'
    """
    if "[" in question and "]" in question:
        return re.sub(r"\[[^\]]*\]", TOPIC, question)
    for label in sorted(topic_labels, key=len, reverse=True):
        if label:
            masked, n = re.subn(re.escape(label), TOPIC, question, flags=re.IGNORECASE)
            if n:
                return masked
    return question

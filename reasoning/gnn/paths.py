"""The path reader: the reasoner's default way to read a question, one whole relation path at a time.

Reading a question hop by hop (attention over its words, one relation per hop) has to get every hop,
the hop count and the order right from words it reads separately. This reader instead compares the
whole question with every relation path the graph offers, each put into words:

1. **Paths.** Every chain of 1..3 directed relation types that occurs in the graph (a node reached
   by the first can leave by the second), e.g. ``directed_by^-1 -> starred_actors``
   (:func:`type_paths`); on graphs with very many, the ones the generated questions use.
2. **Path vectors.** Each path is worded a dozen ways by the same generators as the training
   questions (planner paraphrases, plain English, templates) and the MiniLM vectors of those
   wordings are averaged (:func:`path_vectors`). Fixed, not learned.
3. **Question vectors.** MiniLM with its top layers fine-tuned on the graph's generated questions
   (a copy; the pipeline's own encoder is untouched), then a linear map: trained so a question's
   vector lands nearest the vector of the path that generated it, among the paths its topic can
   start (cross-entropy, :class:`PathReader`).
4. **Zero-shot prior.** When answering (not in training steps; the held-out check that picks the
   saved epoch answers with it), the untouched MiniLM's own cosine between question and path
   vectors is added to the tuned match with weight ``zero_shot``: an output-space mix of a
   fine-tuned and a zero-shot model, which keeps the tuned reader from forgetting wordings the
   generated questions never used (Wortsman et al. 2022 study such mixes beside WiSE-FT).

The answer scores then come from message passing: :class:`PathReasoner` moves the topic's score
along each of the best-matching paths with a :class:`~reasoning.gnn.layers.QuestionRelationConv`
gated one relation per hop, drops paths that reach nothing, and weighs the rest by their softmax;
an answer's evidence is the chain of edges along its heaviest path. Nothing here knows any dataset.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from reasoning.gnn.layers import QuestionRelationConv
from reasoning.gnn.text import DIMENSION, MAX_TOKENS

#: how many of a question's best-matching paths are propagated through the graph
TOP_PATHS = 8
#: the vocabulary keeps every path up to this many; past it, all 1-hop paths and the generated ones
MAX_PATHS = 5_000
#: word pieces a question is read to, by the tuned reader and by the untouched MiniLM of the prior alike
QUESTION_TOKENS = 48
#: default weight of the untouched MiniLM's cosine added to the tuned match when answering (chosen on
#: MetaQA dev, 2-hop, with 0.25 / 0.5 / 1.0 tried: see the README)
ZERO_SHOT = 0.5
#: the cosine scale the tuned reader starts from; the zero-shot prior is ``zero_shot * PRIOR_SCALE * cosine``
PRIOR_SCALE = 20.0


def type_paths(index, hops: int = 3, extra=(), limit: int = MAX_PATHS) -> list[tuple[int, ...]]:
    """Chains of 1..``hops`` directed relation types that occur in the graph, shortest first.

    A chain ``(a, b)`` occurs when some node reached by an ``a`` edge has a ``b`` edge leaving it.
    When there are more than ``limit``, the 1-hop paths and ``extra`` (the generated questions'
    paths) are kept.

    >>> from reasoning.gnn.convert import triples_to_tensors
    >>> from reasoning.gnn.questions import PathIndex
    >>> g = triples_to_tensors([("a", "r", "b"), ("b", "s", "c")])
    >>> type_paths(PathIndex(g), hops=2)  # r=0, s=1, their inverses 2 and 3
    [(0,), (1,), (2,), (3,), (0, 1), (0, 2), (1, 3), (2, 0), (3, 1), (3, 2)]
    """
    types = index.num_types
    present = [k for k in range(types) if index.type_edges[k].size]
    # follows[a, b]: a node some `a` edge reaches has a `b` edge leaving it
    reached = np.zeros((types, index.node_ptr.size - 1), dtype=bool)
    reached[index.dtype, index.dst] = True
    leaves = np.zeros_like(reached)
    leaves[index.dtype, index.src] = True
    follows = (reached.astype(np.float32) @ leaves.T.astype(np.float32)) > 0
    out = [(k,) for k in present]
    level = list(out)
    for _ in range(hops - 1):
        level = [p + (k,) for p in level for k in np.flatnonzero(follows[p[-1]]).tolist()]
        out += level
        if len(out) > limit:
            one = [p for p in out if len(p) == 1]
            return one + sorted({tuple(p) for p in extra if 1 < len(p) <= hops}, key=lambda p: (len(p), p))
    return out


def path_wordings(path, graph, wordings, rng: random.Random, cache: dict, n: int = 12) -> list[str]:
    """Up to ``n`` different wordings of a directed-type path from ``X``, by the training questions' generators."""
    from reasoning.gnn.questions import CATEGORY_NOUNS, grammar_question, phrase_path
    from reasoning.gnn.wording import natural_question

    r = graph.num_relations
    texts = []
    for j in range(n):
        pick = j % 4
        if pick == 0:
            text = grammar_question(path, graph, wordings, rng, cache)
        elif pick == 1:
            text = phrase_path(path, wordings, r, rng)
        else:
            text = natural_question(path, wordings, r, rng, category_nouns=CATEGORY_NOUNS)
        if text and text not in texts:
            texts.append(text)
    return texts


def path_vectors(paths, graph, wordings, seed: int = 0, n: int = 12, log=None) -> torch.Tensor:
    """``[P, 384]`` unit vectors: the mean MiniLM vector of each path's wordings (the base model, frozen).

    Encoded by :func:`nlp.encoder.embed` without its cache: tens of thousands of one-off wordings would
    only crowd out the strings worth keeping."""
    from nlp.encoder import embed

    rng, cache = random.Random(seed), {}
    texts, owner = [], []
    for i, path in enumerate(paths):
        for text in path_wordings(path, graph, wordings, rng, cache, n):
            texts.append(text)
            owner.append(i)
    out = torch.zeros(len(paths), DIMENSION)
    step = 4096
    for lo in range(0, len(texts), step):
        vecs = torch.from_numpy(embed(texts[lo:lo + step], max_length=MAX_TOKENS, cache=False))
        out.index_add_(0, torch.as_tensor(owner[lo:lo + step]), vecs)
        if log and len(texts) > step:
            log(f"worded paths: {min(lo + step, len(texts)):,}/{len(texts):,} wordings encoded")
    return nn.functional.normalize(out, dim=-1)


class PathReader(nn.Module):
    """A question's match with every path, ``[Q, P]``: fine-tuned MiniLM question vectors against fixed path vectors.

    Args:
        path_vectors: ``[P, 384]`` from :func:`path_vectors`.
        layers: how many of MiniLM's top layers are fine-tuned (the rest stay frozen and are not saved).
        zero_shot: weight of the untouched MiniLM's cosine added in eval mode (0 = the tuned match alone).
    """

    def __init__(self, path_vectors: torch.Tensor, layers: int = 2, zero_shot: float = 0.0):
        super().__init__()
        from nlp.encoder import load_encoder

        self.tokenizer, base = load_encoder()
        self.encoder = copy.deepcopy(base)
        self.layers = layers
        blocks = self.encoder.encoder.layer
        self.tuned = [f"encoder.encoder.layer.{i}." for i in range(len(blocks) - layers, len(blocks))]
        for name, p in self.encoder.named_parameters():
            p.requires_grad = any(f"encoder.{name}".startswith(t) for t in self.tuned)
        self.head = nn.Linear(DIMENSION, DIMENSION)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(DIMENSION))
            self.head.bias.zero_()
        self.scale = nn.Parameter(torch.tensor(PRIOR_SCALE))
        self.zero_shot = float(zero_shot)
        self.register_buffer("path_vectors", path_vectors.float())

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Unit question vectors ``[Q, 384]`` (mean-pooled tokens of the tuned encoder, then the head)."""
        device = self.head.weight.device
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=QUESTION_TOKENS,
                             return_tensors="pt")
        enc = {k: v.to(device) for k, v in enc.items()}
        hidden = self.encoder(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(self.head(pooled), dim=-1)

    def forward(self, texts: list[str]) -> torch.Tensor:
        logits = self.scale * self.embed(texts) @ self.path_vectors.t()
        if self.zero_shot and not self.training:
            logits = logits + self.zero_shot * PRIOR_SCALE * self.untuned(texts) @ self.path_vectors.t()
        return logits

    def untuned(self, texts: list[str]) -> torch.Tensor:
        """Unit question vectors ``[Q, 384]`` of the pipeline's own, untouched MiniLM (no gradients)."""
        from nlp.encoder import embed

        vectors = embed(list(texts), max_length=QUESTION_TOKENS, cache=False)
        return torch.from_numpy(vectors).to(self.path_vectors.device)

    def saved_state(self) -> dict:
        """Only what training changed: the tuned layers, the head, the scale and the path vectors."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.") or
                any(k.startswith(t) for t in self.tuned)}

    def load_saved(self, state: dict) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("encoder.") or any(k.startswith(t) for t in self.tuned)]
        if missing or unexpected:
            from reasoning.gnn.reasoner import ModelNotTrainedError

            raise ModelNotTrainedError(f"the saved reasoner does not fit this version (missing {sorted(missing)}, "
                                       f"unexpected {sorted(unexpected)}); run `kgqa train reasoner` again")


def first_types(paths) -> torch.Tensor:
    return torch.tensor([p[0] for p in paths], dtype=torch.long)


def padded_paths(paths, hops: int) -> torch.Tensor:
    """``[P, hops]`` directed types, ``-1`` past a path's end."""
    out = torch.full((len(paths), hops), -1, dtype=torch.long)
    for i, p in enumerate(paths):
        out[i, :len(p)] = torch.tensor(p)
    return out


class PathReasoner(nn.Module):
    """Answer scores for every node: the topic's score moved along the question's best-matching relation paths.

    Args:
        paths: the path vocabulary (tuples of directed types ``r`` / ``r + R``), see :func:`type_paths`.
        path_vectors: ``[P, 384]``, see :func:`path_vectors`.
        num_types: ``2R``.
        layers: MiniLM layers fine-tuned by :class:`PathReader`.
        top: how many of the best-matching paths are propagated per question.
        zero_shot: weight of the untouched MiniLM's match when answering, see :class:`PathReader`.

    Shapes:
        - **input:** doubled edges ``(2, E)`` / ``(E,)``, topic indicator ``(N, Q)``, ``Q`` masked question texts
        - **output:** :class:`PathOutput` with scores ``(N, Q)`` in ``[0, 1]``
    """

    def __init__(self, paths, path_vectors: torch.Tensor, num_types: int, *, hops: int = 3, layers: int = 2,
                 top: int = TOP_PATHS, zero_shot: float = ZERO_SHOT):
        super().__init__()
        self.paths, self.hops, self.top, self.num_types = [tuple(p) for p in paths], hops, top, num_types
        self.reader = PathReader(path_vectors, layers, zero_shot)
        self.register_buffer("path_types", padded_paths(self.paths, hops), persistent=False)
        self.register_buffer("first", first_types(self.paths), persistent=False)
        # moves scores along the gated relation only: no weights of its own
        self.conv = QuestionRelationConv(1, 1, num_types, 1, relation_weights=False, root_weight=False, bias=False)

    def offered(self, edge_index, edge_type, topic) -> torch.Tensor:
        """``[Q, P]``: whether each path's first relation leaves the question's topic."""
        at = torch.zeros(self.num_types, topic.size(1), device=topic.device)
        at.index_add_(0, edge_type, topic[edge_index[0]])
        return (at > 0)[self.first].t()

    def forward(self, edge_index, edge_type, topic, texts, logits=None) -> "PathOutput":
        if logits is None:
            logits = self.reader(texts)  # [Q, P]
        logits = logits.masked_fill(~self.offered(edge_index, edge_type, topic), -1e4)
        k = min(2 * self.top, logits.size(1))
        cand = logits.topk(k, dim=1)  # a few spares: some of the best-matching paths reach nothing
        q, n = topic.size(1), topic.size(0)
        types = self.path_types[cand.indices]  # [Q, k, hops]
        x = topic.t().repeat_interleave(k, 0).t().unsqueeze(-1)  # [N, Q*k, 1]
        blocked = topic.t().repeat_interleave(k, 0).t().unsqueeze(-1)
        steps = []
        for t in range(self.hops):
            typ = types[:, :, t].reshape(-1)  # [Q*k]
            gates = torch.zeros(self.num_types, q * k, device=x.device)
            live = typ >= 0
            gates[typ.clamp(min=0), torch.arange(q * k, device=x.device)] = live.to(gates.dtype)
            moved = self.conv(x, edge_index, edge_type, None, gates=gates).clamp(max=1.0) * (1 - blocked)
            # a path that has ended keeps what it reached; the topic is never passed back through
            x = torch.where(live.view(1, -1, 1), moved, x)
            steps.append(x.squeeze(-1).reshape(n, q, k))
        reach = steps[-1]  # [N, Q, k]
        alive = (reach.amax(0) > 0) & (cand.values > -1e3)  # [Q, k]
        order = torch.cumsum(alive.long(), dim=1)
        alive = alive & (order <= self.top)
        weights = torch.softmax(cand.values.masked_fill(~alive, -1e4), dim=1) * alive
        scores = (reach * weights.unsqueeze(0)).sum(-1).clamp(max=1.0)
        return PathOutput(scores, cand.indices, weights, steps, types)


@dataclass
class PathOutput:
    """Scores ``[N, Q]``, the candidate paths ``[Q, k]`` (vocabulary ids) with their weights ``[Q, k]``,
    each hop's reach ``[N, Q, k]`` and the paths' directed types ``[Q, k, hops]``."""

    scores: torch.Tensor
    paths: torch.Tensor
    weights: torch.Tensor
    steps: list
    types: torch.Tensor

    def hop_weights(self, q: int = 0) -> torch.Tensor:
        """How much weight the paths of each length carry for question ``q``, ``[hops]``."""
        lengths = (self.types[q] >= 0).sum(-1)  # [k]
        return torch.stack([self.weights[q][lengths == t + 1].sum() for t in range(self.types.size(-1))])

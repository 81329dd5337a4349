"""The multi-hop GNN reasoner (GraftNet/NSM family), trained on questions the graph generates itself.

Two ways to read a question (topic masked as ``X``), both ending in the same message passing:

* ``choice="paths"`` (the default, :mod:`reasoning.gnn.paths`): MiniLM fine-tuned on the generated
  questions matches the whole question against every relation path of 1..3 hops the graph offers,
  and a :class:`~reasoning.gnn.layers.QuestionRelationConv` moves the topic's score along the best
  ones, each weighted by its match.
* ``choice="stop"`` / ``"frontier"`` / ``"gates"`` (the first designs, hop by hop), below.

Hop by hop: the question is read by MiniLM; for each hop ``t`` an
instruction vector attends over the question's tokens (NSM's instruction module) and a
:class:`~reasoning.gnn.layers.QuestionRelationConv` moves answer scores from the topic entity along
one relation (TransferNet-style score propagation over the topic's k-hop subgraph, k = 3). Which
relation: a softmax over the relations that actually leave the nodes holding score (the frontier),
scored by the instruction and by how close the words it reads are to the relation's label in
MiniLM's space. How many hops: before hops 2 and 3 the instruction may match "stop" instead, helped
by how much relation-like wording is still unread. Every entity of the subgraph gets a score, and
the evidence of an answer is the chain of edges that carried the most score to it.

The model holds no entity parameters, only relation gates and the question reader, so new entities
and facts are answered without retraining; :func:`staleness` warns when relations or much of the graph
changed since training.

>>> from kg import KnowledgeGraph
>>> with KnowledgeGraph.open("memory") as kg:  # doctest: +SKIP
...     report = train_reasoner(kg, model_dir="/tmp/reasoner", epochs=3)
...     answer_question(kg, "what is the capital of the country of [Lyon]", model_dir="/tmp/reasoner").top
'Paris'
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kg.errors import KGQAError
from reasoning.gnn.files import MODEL_FILE, is_trained, model_dir_for  # noqa: F401 (re-exported)
from reasoning.gnn.convert import Fingerprint, GraphTensors, fingerprint, fingerprint_drift, kg_to_tensors
from reasoning.gnn.layers import QuestionRelationConv
from reasoning.gnn.questions import PathIndex, generate_questions, relation_wordings
from reasoning.gnn.text import DIMENSION, MAX_DISTANCE, encode_items, encode_questions, mask_topic, pad
from reasoning.gnn.training import CHECKPOINT_FILE, TrainingCheckpoint, fit

META_FILE = "meta.json"
#: how a hop picks its relation and how many hops a question takes: "stop" = softmax over the
#: relations leaving the scored nodes and a "stop here" choice, per hop; "frontier" = the same
#: softmax without "stop", the hop count read from the whole question; "gates" = an independent
#: sigmoid gate per relation and the hop count from the question (the first design)
CHOICES = ("stop", "frontier", "gates")
#: the default: the question read as one whole relation path (:mod:`reasoning.gnn.paths`), scores then
#: moved along the best-matching paths; the hop-by-hop readers above stay available
PATHS = "paths"
#: the reasoner's scalar parameters (label-prior weight, stop bias and cosine, unread-word weights)
_SCALARS = {"stop_bias", "prior_weight", "coverage", "stop_cosine", "relation_read"}
#: parameters the sigmoid-gate design never had: a model saved before they existed loads without them
_ADDED_LATER = _SCALARS | {"stop_key"}
#: added with ``distinct=True``: a model saved before it loads without it and reads as it did then
_DISTINCT = {"relation_read"}


class ModelNotTrainedError(KGQAError):
    code = "E-GNN-UNTRAINED"


class NoTopicError(KGQAError):
    code = "E-GNN-TOPIC"


# ---------------------------------------------------------------------------------------------- model
class MultiHopReasoner(nn.Module):
    """Question reader + question-gated score propagation over ``hops`` hops.

    Args:
        relation_text: ``[2R, 384]`` MiniLM vectors of the relation labels, original relations first
            then their inverses (the gate keys start from these).
        hidden: width of the instruction vectors.
        hops: the largest number of hops a question may need.
        choice: ``"stop"`` (default), ``"frontier"`` or ``"gates"``, see :data:`CHOICES`.
        frontier: a node is on a hop's frontier when it holds at least this share of the best score.
        prior: starting weight of the MiniLM label match in each hop's relation choice.
        distinct: measure words against relation labels relative to the average label (see
            :meth:`distinctness`) and let the words that single out one relation draw each hop's attention;
            off by default: its two MetaQA runs (README) disagree and neither beats the default.

    Shapes:
        - **input:** doubled edges ``(2, E)`` / ``(E,)``, topic indicator ``(N, Q)``, tokens ``(Q, L, 384)``,
          token mask ``(Q, L)``, sentence vectors ``(Q, 384)``, token distances to the topic ``(Q, L)``
        - **output:** scores ``(N, Q)`` in ``[0, 1]``

    >>> net = MultiHopReasoner(torch.randn(4, 384), hidden=16)
    >>> topic = torch.zeros(3, 1); topic[0, 0] = 1
    >>> out = net(torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 1]), topic, torch.randn(1, 5, 384),
    ...           torch.ones(1, 5, dtype=torch.bool), torch.randn(1, 384), torch.zeros(1, 5, dtype=torch.long))
    >>> out.scores.shape, len(out.hop_scores)
    (torch.Size([3, 1]), 3)
    """

    def __init__(self, relation_text: torch.Tensor, *, hidden: int = 128, hops: int = 3, choice: str = "stop",
                 frontier: float = 0.1, prior: float = 10.0, distinct: bool = False):
        super().__init__()
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, not {choice!r}")
        self.hops, self.hidden, self.choice, self.frontier, self.distinct = hops, hidden, choice, frontier, distinct
        self.num_types = relation_text.size(0)
        self.token_proj = nn.Linear(DIMENSION, hidden)
        self.distance = nn.Embedding(MAX_DISTANCE + 1, hidden)
        self.sentence_proj = nn.Linear(DIMENSION, hidden)
        self.step = nn.ModuleList([nn.Linear(2 * hidden, hidden) for _ in range(hops)])
        self.conv = QuestionRelationConv(1, 1, self.num_types, hidden, relation_weights=False, root_weight=False,
                                         bias=False, key_channels=hidden, relation_features=relation_text)
        # how many hops: read from the question vector and from tokens pooled with their distance to
        # the topic (a 3-hop question spreads its relation words further from X than a 1-hop one)
        self.hop_pool = nn.Linear(hidden, 1)
        # "stop here": one more key the instruction of hops 2.. can match instead of any relation
        self.stop_key = nn.Parameter(torch.zeros(hidden))
        self.stop_bias = nn.Parameter(torch.zeros(1))
        # how much the untrained MiniLM match of a hop's words with relation labels counts (see label_match)
        self.prior_weight = nn.Parameter(torch.tensor(float(prior)))
        self.coverage = nn.Parameter(torch.full((2,), 2.0))
        self.stop_cosine = nn.Parameter(torch.tensor(0.5))
        # how much a word that singles out one relation draws each hop's attention (see distinctness)
        self.relation_read = nn.Parameter(torch.tensor(5.0))
        self.hop_attention = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, hops))

    def distinctness(self, tokens):
        """Per token, how much more it resembles its closest relation label than the average label, ``[Q, L]``.

        A word of the graph's domain ("film" in a film graph) resembles every label about equally; a
        relation word ("acted", "released") resembles one label more than the rest. MiniLM's own space,
        not learned, so it holds for words the generated questions never used.
        """
        raw = nn.functional.normalize(tokens.float(), dim=-1)
        labels = nn.functional.normalize(self.conv.relation_features, dim=-1)
        cos = raw @ labels.t()  # [Q, L, 2R]
        return cos.amax(-1) - cos.mean(-1)

    def instructions(self, tokens, mask, sentence, distance, distinct=None):
        """One instruction vector per hop, ``[hops, Q, hidden]``, and the attention over tokens per hop.

        ``distinct`` (:meth:`distinctness`, when the model reads that way) draws attention to relation words.
        """
        tok = torch.tanh(self.token_proj(tokens.float()) + self.distance(distance))
        bias = self.relation_read * distinct if distinct is not None else 0.0
        q = torch.tanh(self.sentence_proj(sentence))
        prev = torch.zeros_like(q)
        out, attn = [], []
        for step in self.step:
            query = torch.tanh(step(torch.cat([prev, q], dim=-1)))
            logits = ((tok @ query.unsqueeze(-1)).squeeze(-1) + bias).masked_fill(~mask, -1e4)
            a = torch.softmax(logits, dim=-1)
            prev = (a.unsqueeze(-1) * tok).sum(1)
            out.append(prev)
            attn.append(a)
        pool = torch.softmax(self.hop_pool(tok).squeeze(-1).masked_fill(~mask, -1e4), dim=-1)
        pooled = (pool.unsqueeze(-1) * tok).sum(1)
        return torch.stack(out), torch.stack(attn), torch.cat([q, pooled], dim=-1)

    def label_match(self, tokens, mask, attention, distinct=None):
        """How close the words each hop reads are to every relation's label, and which words are still unread.

        Returns the cosine of each hop's attended MiniLM token vectors with every relation's label
        vector ``[hops, 2R, Q]`` and, for the stop decision before each hop ``t >= 2``, how much
        relation-like wording the hops so far left unread ``[hops - 1, Q, 2]`` (sum and max over
        tokens of "unread share x best label cosine"). Nothing here is learned: it is MiniLM's own
        space, so it holds for wordings the generated questions never used ("co-starred", "genres").
        """
        raw = nn.functional.normalize(tokens.float(), dim=-1)  # [Q, L, 384]
        labels = nn.functional.normalize(self.conv.relation_features, dim=-1)  # [2R, 384]
        read = nn.functional.normalize(torch.einsum("tql,qld->tqd", attention, raw), dim=-1)  # [hops, Q, 384]
        match = torch.einsum("tqd,rd->trq", read, labels)
        if distinct is not None:  # relative to the average label: a domain word is not a relation word
            match = match - match.mean(1, keepdim=True)
            relation_like = distinct.clamp(min=0) * mask
        else:
            relation_like = (raw @ labels.t()).amax(-1).clamp(min=0) * mask  # [Q, L]
        unread = (1 - attention.cumsum(0)).clamp(min=0) * relation_like  # [hops, Q, L]
        left = torch.stack([unread.sum(-1), unread.amax(-1)], dim=-1)[:-1]  # after hops 1..T-1
        return match, left

    def frontier_choice(self, scores, edge_index, edge_type, instruction, prior=None, left=None):
        """Hop ``t``'s relation as a distribution over the directed relations that leave its frontier, ``[2R, Q]``.

        The frontier is every node holding at least ``frontier`` times the question's best score; a
        relation none of them has cannot be this hop's (a person has no genre, so "the genres of the
        films written by X" must first leave X by "written by"), so the choice is a softmax over the
        instruction's match with the relations the graph offers there.
        """
        logits = self.conv.relation_logits(instruction)  # [2R, Q]
        if prior is not None:
            logits = logits + self.prior_weight * prior
        active = (scores >= self.frontier * scores.amax(0, keepdim=True)) & (scores > 1e-4)  # [N, Q]
        offered = torch.zeros_like(logits).index_add_(0, edge_type, active[edge_index[0]].to(logits.dtype)) > 0
        logits = logits.masked_fill(~offered, -1e4)
        # probability of stopping instead: the stop key against every relation on offer (1 at a dead end)
        stop = self.conv.question_proj(instruction) @ self.stop_key + self.stop_bias  # [Q]
        if prior is not None:  # "stop" meets the label prior at a learned cosine, as if it were a relation
            stop = stop + self.prior_weight * self.stop_cosine
        if left is not None:  # relation words still unread argue for going on
            stop = stop - left @ self.coverage
        p_stop = torch.sigmoid(stop - torch.logsumexp(logits, dim=0))
        p_stop = torch.where(offered.any(0), p_stop, torch.ones_like(p_stop))
        return torch.softmax(logits, dim=0), p_stop

    def forward(self, edge_index, edge_type, topic, tokens, mask, sentence, distance):
        distinct = self.distinctness(tokens) if self.distinct else None  # [Q, L], read by both steps below
        instructions, attention, q = self.instructions(tokens, mask, sentence, distance, distinct)
        x = topic.unsqueeze(-1)
        hop_scores, gates = [], []
        stops = []
        prior, left = self.label_match(tokens, mask, attention, distinct) if self.choice != "gates" else (None, None)
        for t in range(self.hops):
            if self.choice != "gates":
                p, p_stop = self.frontier_choice(x.squeeze(-1), edge_index, edge_type, instructions[t], prior[t],
                                                  left[t - 1] if t and self.choice == "stop" else None)
                if t:
                    stops.append(p_stop)
                x, g = self.conv(x, edge_index, edge_type, None, return_gates=True, gates=p)
            else:
                x, g = self.conv(x, edge_index, edge_type, instructions[t], return_gates=True)
            # a path never passes back through the topic: "films directed by the director of X" are
            # the director's other films (the same convention as the SPARQL planner's paths)
            x = x.clamp(max=1.0) * (1 - topic).unsqueeze(-1)
            hop_scores.append(x.squeeze(-1))
            gates.append(g)
        if self.choice == "stop":
            # answer after t hops = go on t - 1 times, then stop (the last hop always stops)
            stops.append(torch.ones_like(stops[0]) if stops else torch.ones(topic.size(1), device=topic.device))
            go_on = torch.ones_like(stops[0])
            weights = []
            for p_stop in stops:
                weights.append(go_on * p_stop)
                go_on = go_on * (1 - p_stop)
            hop_weights = torch.stack(weights, dim=-1)  # [Q, hops]
        else:
            hop_weights = torch.softmax(self.hop_attention(q), dim=-1)  # [Q, hops]
        # every hop's scores are zero at the topic, so the topic is never its own answer
        scores = sum(hop_weights[:, t] * hop_scores[t] for t in range(self.hops))
        return ReasonerOutput(scores, hop_scores, gates, hop_weights, attention)


@dataclass
class ReasonerOutput:
    scores: torch.Tensor
    hop_scores: list
    gates: list
    hop_weights: torch.Tensor
    attention: torch.Tensor


# ---------------------------------------------------------------------------------------------- graph cache
@dataclass
class _Prepared:
    graph: GraphTensors
    index: PathIndex
    by_label: dict
    fingerprint: Fingerprint | None = None


_PREPARED: dict = {}


def prepare(kg) -> _Prepared:
    """The graph of ``kg`` as tensors with its path index, read once per store state (cached)."""
    key = (id(kg.store), len(kg))
    hit = _PREPARED.get(key)
    if hit is None:
        graph = kg_to_tensors(kg)
        by_label: dict[str, list[str]] = {}
        for iri in graph.entities:
            for text in [graph.label(iri)] + graph.aliases.get(iri, []):
                by_label.setdefault(" ".join(text.casefold().split()), []).append(iri)
        hit = _Prepared(graph, PathIndex(graph), by_label)
        _PREPARED.clear()  # one graph at a time: they can be large
        _PREPARED[key] = hit
    return hit


def _device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise KGQAError("--device cuda asked for, but no CUDA GPU is available; use --device cpu",
                        code="E-GNN-DEVICE")
    return torch.device(device)


# ---------------------------------------------------------------------------------------------- training
@dataclass
class TrainReport:
    """What ``kgqa train reasoner`` did."""

    model_dir: str
    questions: int
    epochs: int
    seconds: float
    device: str
    held_out_hits1: float
    hits1_by_hops: dict
    num_nodes: int
    num_edges: int
    num_relations: int


def _relation_text(graph: GraphTensors) -> torch.Tensor:
    words = [w[0] for w in relation_wordings(graph)]
    return encode_questions(words + [f"{w} (reverse)" for w in words])[2]


def _batch_inputs(questions, encoded, num_nodes, device):
    tokens, mask, sentence, distance = pad([encoded[q.text] for q in questions])
    topic = torch.zeros(num_nodes, len(questions))
    topic[[q.topic for q in questions], list(range(len(questions)))] = 1.0
    return (topic.to(device), tokens.to(device), mask.to(device), sentence.to(device), distance.to(device))


def train_reasoner(kg, *, model_dir=None, epochs: int = 4, num_questions: int | None = None,
                   device: str | None = None, batch_size: int = 16, hidden: int = 128, hops: int = 3,
                   lr: float = 1e-3, seed: int = 0, time_budget: float | None = None, exclude_topics=(),
                   choice: str = PATHS, grammar: float = 0.2, pairs: float = 0.5, category: float = 0.3,
                   natural: float = 0.5, distinct: bool = False, layers: int = 2, equivalent: int = 0,
                   zero_shot: float | None = None, resume: bool = False, checkpoint_every: float = 600.0,
                   log=None) -> TrainReport:
    """Generate questions from the graph's own paths, train the reasoner on them, save it with a fingerprint.

    ``num_questions`` defaults to twice the number of facts, between 600 and 20,000; 5% are held out
    and their Hits@1 is reported. ``time_budget`` (seconds) stops training early.
    ``exclude_topics`` (labels or IRIs) never start a generated question: questions about them are held out.
    The epoch with the best held-out Hits@1 is the one saved. ``zero_shot`` (path reader) weighs the
    untouched MiniLM's match added when answering (default :data:`reasoning.gnn.paths.ZERO_SHOT`; 0 = off).

    Every ``checkpoint_every`` seconds and after each epoch the run saves ``checkpoint.pt`` in the model
    folder (removed when the run completes); ``resume=True`` continues from it, with the same settings
    on the same graph (a run stopped by ``time_budget`` or killed with the session goes on where it was).
    """
    if choice != PATHS and choice not in CHOICES:
        raise KGQAError(f"choice must be {PATHS!r} or one of {CHOICES}, not {choice!r}", code="E-GNN-CHOICE")
    if zero_shot is not None and not zero_shot >= 0:
        raise KGQAError(f"zero_shot must be a weight of 0 or more, not {zero_shot!r}", code="E-GNN-ZERO-SHOT")
    started = time.monotonic()
    log = log or (lambda msg: None)
    torch.manual_seed(seed)
    dev = _device(device)
    out_dir = model_dir_for(kg, model_dir)
    prep = prepare(kg)
    graph, index = prep.graph, prep.index
    if graph.num_edges == 0:
        raise KGQAError("the graph has no facts between entities to learn from; import or build some first",
                        code="E-GNN-EMPTY")
    n = num_questions or int(min(20_000, max(600, 2 * graph.num_edges)))
    exclude = {graph.entity_index[iri] for t in exclude_topics
               for iri in ([t] if t in graph.entity_index else prep.by_label.get(" ".join(t.casefold().split()), []))}
    questions = generate_questions(graph, n, max_hops=hops, seed=seed, index=index, exclude=exclude,
                                   grammar=grammar, pairs=pairs, category=category, natural=natural)
    checkpoint = TrainingCheckpoint(out_dir / CHECKPOINT_FILE, {
        "epochs": epochs, "questions": n, "batch_size": batch_size, "hidden": hidden, "hops": hops, "lr": lr,
        "seed": seed, "exclude": sorted(exclude), "choice": choice, "grammar": grammar, "pairs": pairs,
        "category": category, "natural": natural, "distinct": distinct, "layers": layers, "equivalent": equivalent,
        "zero_shot": zero_shot, "graph": fingerprint(graph).to_json()}, every=checkpoint_every)
    if not resume and checkpoint.path.is_file():
        log(f"starting afresh: the checkpoint of an earlier run in {out_dir} is replaced (--resume continues it)")
        checkpoint.remove()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(questions))
    held = max(1, len(questions) // 20)
    dev_qs = [questions[i] for i in order[:held]]
    train_qs = [questions[i] for i in order[held:]]
    if choice == PATHS:
        net, hits, by_hops, done_epochs = _train_paths(graph, index, train_qs, dev_qs, epochs=epochs, hops=hops,
                                                       batch_size=batch_size, lr=lr, layers=layers, seed=seed,
                                                       dev=dev, rng=rng, started=started, time_budget=time_budget,
                                                       log=log, equivalent=equivalent, zero_shot=zero_shot,
                                                       checkpoint=checkpoint)
        config = {"choice": choice, "hops": hops, "layers": layers, "paths": [list(p) for p in net.paths],
                  "relations": graph.relations, "zero_shot": net.reader.zero_shot}
        state = {"state_dict": net.reader.cpu().saved_state(), "config": config}
        return _save(kg, out_dir, state, graph, len(questions), done_epochs, started, dev, hits, by_hops)
    log(f"{len(questions):,} questions generated from {graph.num_edges:,} facts; encoding with MiniLM")
    texts = list(dict.fromkeys(q.text for q in questions))
    encoded = {}
    for lo in range(0, len(texts), 2048):
        chunk = texts[lo:lo + 2048]
        encoded.update(zip(chunk, encode_items(chunk)))
        if len(texts) > 2048:
            log(f"encoded {min(lo + 2048, len(texts)):,}/{len(texts):,} questions ({time.monotonic() - started:.0f} s)")
    relation_text = _relation_text(graph)
    net = MultiHopReasoner(relation_text, hidden=hidden, hops=hops, choice=choice, distinct=distinct).to(dev)
    edge_index, edge_type = _doubled(graph)
    edge_index, edge_type = edge_index.to(dev), edge_type.to(dev)
    # the few scalars (label-prior weight, stop bias and cosine, unread-word weights) sit on a scale
    # of 1-10, where the base rate would leave them at their starting values: they learn 10x faster
    scalars = [p for name, p in net.named_parameters() if name in _SCALARS]
    others = [p for name, p in net.named_parameters() if name not in _SCALARS]
    opt = torch.optim.Adam([{"params": others}, {"params": scalars, "lr": 10 * lr}], lr=lr)
    # the learning rate falls linearly to a tenth over the epochs: late epochs refine instead of jumping
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 - 0.9 * e / max(epochs - 1, 1))

    def step(rows):
        batch = [train_qs[i] for i in rows]
        topic, tokens, mask, sentence, distance = _batch_inputs(batch, encoded, graph.num_nodes, dev)
        target = torch.zeros(graph.num_nodes, len(batch), device=dev)
        for j, q in enumerate(batch):
            target[torch.as_tensor(q.answers, device=dev), j] = 1.0
        out = net(edge_index, edge_type, topic, tokens, mask, sentence, distance)
        loss = nn.functional.binary_cross_entropy(out.scores.clamp(1e-6, 1 - 1e-6), target,
                                                  reduction="sum") / len(batch)
        return loss + _path_loss(out, batch, net.num_types // 2, dev, choice=net.choice)

    hits, by_hops, done_epochs = fit(
        net, opt, sched, step, len(train_qs), epochs=epochs, batch_size=batch_size, rng=rng, started=started,
        time_budget=time_budget, log=log, clip=10.0, checkpoint=checkpoint,
        evaluate=lambda: _evaluate(net, dev_qs, encoded, graph, edge_index, edge_type, dev),
        snapshot=lambda: {k: v.detach().clone() for k, v in net.state_dict().items()}, restore=net.load_state_dict)
    config = {"hidden": hidden, "hops": hops, "choice": choice, "distinct": distinct, "relations": graph.relations}
    state = {"state_dict": net.cpu().state_dict(), "relation_text": relation_text, "config": config}
    return _save(kg, out_dir, state, graph, len(questions), done_epochs, started, dev, hits, by_hops)


def _save(kg, out_dir: Path, state: dict, graph, questions: int, done_epochs: int, started: float, dev,
          hits: float, by_hops: dict) -> TrainReport:
    """Write the model and its meta (fingerprint of the graph it saw, the training report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(state, out_dir / MODEL_FILE)
    seconds = time.monotonic() - started
    report = TrainReport(str(out_dir), questions, done_epochs, round(seconds, 1), str(dev), round(hits, 4),
                         by_hops, graph.num_nodes, graph.num_edges, graph.num_relations)
    meta = {"fingerprint": fingerprint(graph).to_json(), "report": asdict(report), "trained_at": time.time()}
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=1))
    _LOADED.pop(str(out_dir), None)
    return report


def _train_paths(graph, index, train_qs, dev_qs, *, epochs, hops, batch_size, lr, layers, seed, dev, rng, started,
                 time_budget, log, equivalent: int = 0, zero_shot: float | None = None, checkpoint=None):
    """Fine-tune the path reader (:mod:`reasoning.gnn.paths`): each generated question against the paths its
    topic can start, cross-entropy towards the path that generated it (and, with ``equivalent=K``, towards
    any of the K best-matching paths that reach exactly its answers). Returns ``(net, hits, by_hops, epochs)``."""
    from reasoning.gnn.paths import ZERO_SHOT, PathReasoner, path_vectors, type_paths

    paths = type_paths(index, hops, extra={q.path for q in train_qs})
    position = {p: i for i, p in enumerate(paths)}
    train_qs = [q for q in train_qs if q.path in position]
    log(f"{len(paths):,} relation paths in the graph; wording them")
    vectors = path_vectors(paths, graph, relation_wordings(graph), seed=seed, log=log)
    net = PathReasoner(paths, vectors, index.num_types, hops=hops, layers=layers,
                       zero_shot=ZERO_SHOT if zero_shot is None else zero_shot).to(dev)
    reader = net.reader
    tuned = [p for p in reader.encoder.parameters() if p.requires_grad]
    # MiniLM's layers move gently (a fifth of ``lr``), the new head twice as fast (measured on MetaQA dev, README)
    opt = torch.optim.AdamW([{"params": tuned, "lr": lr / 5},
                             {"params": list(reader.head.parameters()) + [reader.scale], "lr": 2 * lr}],
                            weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 - 0.9 * e / max(epochs - 1, 1))
    first = net.first.to(dev)
    target = torch.tensor([position[q.path] for q in train_qs], device=dev)
    starts = [torch.as_tensor(index.types_at(q.topic), device=dev) for q in train_qs]

    def step(rows):
        logits = reader([train_qs[i].text for i in rows])
        offered = torch.stack([torch.isin(first, starts[i]) for i in rows])
        logits = logits.masked_fill(~offered, -1e4)
        right = nn.functional.one_hot(target[rows], logits.size(1)).bool()
        if equivalent:  # a best-matching path that reaches exactly the same answers is right too
            with torch.no_grad():
                top = logits.topk(min(equivalent, logits.size(1)), dim=1).indices.tolist()
            for j, i in enumerate(rows):
                q = train_qs[i]
                for c in top[j]:
                    if not right[j, c] and np.array_equal(index.follow(q.topic, net.paths[c]), q.answers):
                        right[j, c] = True
        return (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~right, -1e4), 1)).mean()

    hits, by_hops, done = fit(
        reader, opt, sched, step, len(train_qs), epochs=epochs, batch_size=batch_size, rng=rng, started=started,
        time_budget=time_budget, log=log, checkpoint=checkpoint,
        evaluate=lambda: _evaluate_paths(net, dev_qs, index, dev),
        snapshot=lambda: {k: v.detach().clone() for k, v in reader.saved_state().items()}, restore=reader.load_saved)
    net.eval()
    return net, hits, by_hops, done


@torch.no_grad()
def _evaluate_paths(net, questions, index, dev, batch_size: int = 64):
    """Held-out Hits@1 of the path reader: the best-matching path the topic can start that reaches something."""
    net.eval()
    results = []
    for lo in range(0, len(questions), batch_size):
        batch = questions[lo:lo + batch_size]
        logits = net.reader([q.text for q in batch]).cpu()
        for q, row in zip(batch, logits):
            starts = torch.as_tensor(index.types_at(q.topic))
            row = row.masked_fill(~torch.isin(net.first.cpu(), starts), -1e4)
            ok = False
            for i in torch.argsort(row, descending=True)[:2 * net.top].tolist():
                reached = index.follow(q.topic, net.paths[i])
                if reached.size:
                    ok = bool(np.isin(reached[0], q.answers))
                    break
            results.append((len(q.path), ok))
    net.train()
    return _hit_rates(results)


def _path_loss(out, batch, num_relations: int, dev, choice: str = "stop") -> torch.Tensor:
    """Extra supervision a generated question carries for free: which relation each hop follows and how
    many hops there are. The hop weights (stop decisions, or the hop attention) get cross-entropy on
    the length. With ``choice="stop"`` or ``"frontier"`` each hop of the path gets cross-entropy
    towards its relation, either direction counting (the frontier decides the direction); with
    sigmoid gates, BCE towards the path's relation (its reverse left free) and every gate closed past
    the path's end."""
    hops = len(out.gates)
    lengths = torch.tensor([len(q.path) - 1 for q in batch], device=dev)
    loss = nn.functional.nll_loss(torch.log(out.hop_weights.clamp_min(1e-6)), lengths)
    num_types = out.gates[0].size(0)
    if choice in ("stop", "frontier"):
        for t in range(hops):
            rows = [j for j, q in enumerate(batch) if len(q.path) > t]
            if not rows:
                continue
            k = torch.tensor([batch[j].path[t] for j in rows], device=dev)
            cols = torch.tensor(rows, device=dev)
            p = out.gates[t][k, cols] + out.gates[t][(k + num_relations) % num_types, cols]
            loss = loss - torch.log(p.clamp(1e-6, 1.0)).sum() / len(batch)
        return loss
    for t in range(hops):
        # past the end of its path a question follows nothing: every gate closed, so no score leaks on
        target = torch.zeros(num_types, len(batch), device=dev)
        weight = torch.ones(num_types, len(batch), device=dev)
        for j, q in enumerate(batch):
            if len(q.path) > t:
                k = q.path[t]
                target[k, j] = 1.0
                weight[(k + num_relations) % num_types, j] = 0.0
        gates = out.gates[t].clamp(1e-6, 1 - 1e-6)
        loss = loss + nn.functional.binary_cross_entropy(gates, target, weight=weight, reduction="sum") / len(batch)
    return loss


def _doubled(graph: GraphTensors):
    """Edges in both directions, types ``r`` forward and ``r + R`` inverse."""
    from reasoning.gnn.convert import with_inverse_edges

    return with_inverse_edges(graph.edge_index, graph.edge_type, graph.num_relations)


def _hit_rates(results) -> tuple[float, dict]:
    """Hits@1 overall and by hop count from ``(hops, hit)`` pairs."""
    by: dict = {}
    for hops, ok in results:
        by.setdefault(hops, []).append(ok)
    overall = sum(ok for _, ok in results) / max(len(results), 1)
    return overall, {k: round(sum(v) / len(v), 3) for k, v in sorted(by.items())}


@torch.no_grad()
def _evaluate(net, questions, encoded, graph, edge_index, edge_type, dev, batch_size: int = 64):
    net.eval()
    results = []
    for lo in range(0, len(questions), batch_size):
        batch = questions[lo:lo + batch_size]
        topic, tokens, mask, sentence, distance = _batch_inputs(batch, encoded, graph.num_nodes, dev)
        best = net(edge_index, edge_type, topic, tokens, mask, sentence, distance).scores.argmax(0).cpu().numpy()
        for q, b in zip(batch, best):
            ok = bool(np.isin(b, q.answers))
            results.append((len(q.path), ok))
    net.train()
    return _hit_rates(results)


# ---------------------------------------------------------------------------------------------- loading
_LOADED: dict = {}


def load_reasoner(kg, model_dir=None):
    """``(net, meta)`` of the model trained for this store; raises :class:`ModelNotTrainedError`."""
    folder = model_dir_for(kg, model_dir)
    path = folder / MODEL_FILE
    if not path.exists():
        raise ModelNotTrainedError(f"no reasoner trained for this store (looked in {folder}); "
                                   "run `kgqa train reasoner --store DIR` first")
    key = str(folder)
    stamp = path.stat().st_mtime
    hit = _LOADED.get(key)
    if hit is None or hit[0] != stamp:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        cfg = saved["config"]
        if cfg.get("choice") == PATHS:
            from reasoning.gnn.paths import ZERO_SHOT, PathReasoner

            paths = [tuple(p) for p in cfg["paths"]]
            # models saved before the zero-shot prior existed get the current default
            net = PathReasoner(paths, torch.zeros(len(paths), 384), 2 * len(cfg["relations"]), hops=cfg["hops"],
                               layers=cfg["layers"], zero_shot=cfg.get("zero_shot", ZERO_SHOT))
            net.reader.load_saved(saved["state_dict"])
        else:
            net = MultiHopReasoner(saved["relation_text"], hidden=cfg["hidden"], hops=cfg["hops"],
                                   choice=cfg.get("choice", "gates"), distinct=cfg.get("distinct", False))
            load_weights(net, saved["state_dict"])
        net.eval()
        meta = json.loads((folder / META_FILE).read_text()) if (folder / META_FILE).exists() else {}
        meta["relations"] = cfg["relations"]
        hit = (stamp, net, meta)
        _LOADED[key] = hit
    return hit[1], hit[2]


def load_weights(net: MultiHopReasoner, state: dict) -> None:
    """Load saved weights; a "gates" model saved before the stop/prior parameters existed still loads."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    allowed = _ADDED_LATER if net.choice == "gates" else set() if net.distinct else _DISTINCT
    if unexpected or set(missing) - allowed:
        raise ModelNotTrainedError(f"the saved reasoner does not fit this version (missing {sorted(missing)}, "
                                   f"unexpected {sorted(unexpected)}); run `kgqa train reasoner` again")


def staleness(kg, model_dir=None) -> str | None:
    """A warning naming what changed when the graph drifted from the one the reasoner was trained on.

    None when the model is fresh or when there is no model at all.
    """
    try:
        folder = model_dir_for(kg, model_dir)
    except KGQAError:
        return None
    meta_path = folder / META_FILE
    if not meta_path.exists():
        return None
    old = Fingerprint.from_json(json.loads(meta_path.read_text())["fingerprint"])
    prep = prepare(kg)
    if prep.fingerprint is None:
        prep.fingerprint = fingerprint(prep.graph)
    why = fingerprint_drift(old, prep.fingerprint)
    if why is None:
        return None
    return f"the graph changed since the gnn reasoner was trained ({why}); run `kgqa train reasoner` again"


# ---------------------------------------------------------------------------------------------- answering
def link_topics(prep: _Prepared, text: str) -> list[str]:
    """Topic entity IRIs of a question: its ``[bracketed]`` span, else the longest label found in the text."""
    import re

    norm = lambda s: " ".join(s.casefold().split())  # noqa: E731
    spans = re.findall(r"\[([^\[\]]+)\]", text)
    for span in spans:
        if norm(span) in prep.by_label:
            return prep.by_label[norm(span)]
    words = re.findall(r"[\w'.&-]+", text)
    for size in range(min(10, len(words)), 0, -1):
        for lo in range(len(words) - size + 1):
            hit = prep.by_label.get(norm(" ".join(words[lo:lo + size])))
            if hit:
                return hit
    return []


def _question_parts(prep: _Prepared, question):
    """``(original text, masked text, topic IRIs)`` from a parsed :class:`reasoning.question.Question` or a string."""
    if isinstance(question, str):
        topics = link_topics(prep, question)
        labels = [prep.graph.label(t) for t in topics]
        return question, mask_topic(question, labels).lower().rstrip("?!. "), topics
    topic = getattr(question, "topic", None)
    topics = []
    if topic is not None and getattr(topic, "nodes", None):
        node = topic.nodes[0]
        topics = [getattr(node, "value", None) or str(node)]
    text = getattr(question, "text", "") or ""
    masked = getattr(question, "masked", "") or mask_topic(text, [topic.text] if topic else [])
    return text, masked, topics


def k_hop_edges(index: PathIndex, seeds: list[int], hops: int, max_edges: int = 400_000):
    """Positions (into ``index``'s doubled edges) of the ``hops``-hop subgraph around ``seeds``.

    When the subgraph would pass ``max_edges``, the frontier's lowest-degree nodes are expanded first
    and the rest are left out; the second value says whether that happened.
    """
    frontier = np.unique(np.asarray(seeds, dtype=np.int64))
    seen = set(frontier.tolist())
    picked: list[np.ndarray] = []
    total, truncated = 0, False
    for _ in range(hops):
        if not frontier.size:
            break
        lo, hi = index.node_ptr[frontier], index.node_ptr[frontier + 1]
        order = np.argsort(hi - lo, kind="stable")
        nxt = []
        for i in order:
            count = hi[i] - lo[i]
            if total + count > max_edges:
                truncated = True
                break
            if count:
                picked.append(np.arange(lo[i], hi[i]))
                total += count
                nxt.append(index.dst[lo[i]:hi[i]])
        new = np.unique(np.concatenate(nxt)) if nxt else np.zeros(0, dtype=np.int64)
        frontier = np.array([v for v in new.tolist() if v not in seen], dtype=np.int64)
        seen.update(frontier.tolist())
        if truncated:
            break
    positions = np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    return positions, truncated


def _model_relation_ids(graph: GraphTensors, model_relations: list[str]) -> np.ndarray:
    """Current relation id -> model relation id (-1 for relations the model never saw)."""
    pos = {iri: i for i, iri in enumerate(model_relations)}
    return np.array([pos.get(iri, -1) for iri in graph.relations], dtype=np.int64)


def score_question(kg, question, *, model_dir=None, device: str | None = None):
    """Run the reasoner on one question: ``(prep, topics, nodes, scores, trace)`` over the topic's subgraph.

    ``nodes`` are graph node ids of the subgraph, ``scores`` their answer scores; ``trace`` holds what
    evidence needs (per-hop scores, gates, hop weights, subgraph edges).
    """
    net, meta = load_reasoner(kg, model_dir)
    prep = prepare(kg)
    text, masked, topics = _question_parts(prep, question)
    topic_ids = [prep.graph.entity_index[t] for t in topics if t in prep.graph.entity_index]
    if not topic_ids:
        raise NoTopicError("the gnn reasoner found no entity of the graph in the question; "
                           "name one exactly as labelled, or mark it with [square brackets]")
    index = prep.index
    positions, truncated = k_hop_edges(index, topic_ids, net.hops)
    r = prep.graph.num_relations
    model_r = len(meta["relations"])
    mapping = _model_relation_ids(prep.graph, meta["relations"])
    src, dst, typ = index.src[positions], index.dst[positions], index.dtype[positions]
    base = mapping[typ % r]
    keep = base >= 0
    src, dst, typ = src[keep], dst[keep], np.where(typ[keep] >= r, base[keep] + model_r, base[keep])
    nodes = np.unique(np.concatenate([src, dst, np.asarray(topic_ids)]))
    local = {int(v): i for i, v in enumerate(nodes)}
    ei = torch.tensor([[local[int(v)] for v in src], [local[int(v)] for v in dst]], dtype=torch.long).reshape(2, -1)
    et = torch.as_tensor(typ, dtype=torch.long)
    topic = torch.zeros(len(nodes), 1)
    topic[[local[t] for t in topic_ids], 0] = 1.0
    dev = _device(device)
    net = net.to(dev)
    common = {"edge_index": ei, "edge_type": et, "topic": topic[:, 0], "truncated": truncated,
              "model_relations": meta["relations"], "masked": masked}
    if not isinstance(net, MultiHopReasoner):  # the path reader
        with torch.no_grad():
            out = net(ei.to(dev), et.to(dev), topic.to(dev), [masked])
        trace = {"paths": out.types[0].cpu(), "path_weights": out.weights[0].cpu(),
                 "path_steps": [h[:, 0].cpu() for h in out.steps], "hop_weights": out.hop_weights(0).cpu(), **common}
        return prep, topic_ids, nodes, out.scores[:, 0].cpu(), trace
    tokens, mask, sentence, distance = encode_questions([masked])
    with torch.no_grad():
        out = net(ei.to(dev), et.to(dev), topic.to(dev), tokens.to(dev), mask.to(dev), sentence.to(dev),
                  distance.to(dev))
    trace = {"hop_scores": [h[:, 0].cpu() for h in out.hop_scores], "gates": [g[:, 0].cpu() for g in out.gates],
             "hop_weights": out.hop_weights[0].cpu(), **common}
    return prep, topic_ids, nodes, out.scores[:, 0].cpu(), trace


def path_logits(kg, question, *, model_dir=None):
    """The path reader's match of a question with every relation path it knows, without propagating scores.

    Returns ``(paths, logits)``: each path as ``((relation IRI, forward), ...)`` steps and a numpy ``[P]`` of
    logits (the ones ``--method gnn`` takes its best-matching paths from); None for the hop-by-hop designs.
    ``question`` is a parsed :class:`reasoning.question.Question` (its masked wording is read) or a string.
    """
    net, meta = load_reasoner(kg, model_dir)
    if isinstance(net, MultiHopReasoner):
        return None
    if isinstance(question, str):
        _, masked, _ = _question_parts(prepare(kg), question)
    else:
        masked = getattr(question, "masked", "") or getattr(question, "text", "")
    rels = meta["relations"]
    steps = meta.get("_steps")
    if steps is None:
        steps = meta["_steps"] = [tuple((rels[t % len(rels)], t < len(rels)) for t in p) for p in net.paths]
    with torch.no_grad():
        logits = net.reader([masked])[0].float().cpu().numpy()
    return steps, logits


def _trace_path(trace, answer: int) -> list[tuple[int, int, int]]:
    """Local ``(from, directed type, to)`` edges that carried the most score to ``answer``, topic first."""
    if "paths" in trace:
        return _trace_along_path(trace, answer)
    weights = trace["hop_weights"]
    contrib = [float(weights[t]) * float(trace["hop_scores"][t][answer]) for t in range(len(weights))]
    hops = int(np.argmax(contrib)) + 1
    return _walk_back(trace, answer, [trace["topic"]] + trace["hop_scores"][:hops - 1], trace["gates"][:hops])


def _trace_along_path(trace, answer: int) -> list[tuple[int, int, int]]:
    """The path reader's evidence: back from ``answer`` along the heaviest candidate path that reached it."""
    steps, weights, types = trace["path_steps"], trace["path_weights"], trace["paths"]
    k = int((weights * steps[-1][answer]).argmax())
    chain = [int(t) for t in types[k] if t >= 0]
    gates = nn.functional.one_hot(torch.tensor(chain), 2 * len(trace["model_relations"])).float()
    return _walk_back(trace, answer, [trace["topic"]] + [h[:, k] for h in steps[:len(chain) - 1]], list(gates))


def _walk_back(trace, answer: int, reached: list, gates: list) -> list[tuple[int, int, int]]:
    """Back from ``answer`` over ``len(gates)`` hops: at hop ``t`` the incoming edge whose source held the most
    score before it (``reached[t]``) times its relation's gate (``gates[t]``)."""
    ei, et = trace["edge_index"], trace["edge_type"]
    path, cur = [], answer
    for t in range(len(gates) - 1, -1, -1):
        incoming = (ei[1] == cur).nonzero().flatten()
        if not incoming.numel():
            break
        value = reached[t][ei[0, incoming]] * gates[t][et[incoming]]
        best = int(incoming[int(value.argmax())])
        path.append((int(ei[0, best]), int(et[best]), cur))
        cur = int(ei[0, best])
    return list(reversed(path))


def answer_question(kg, question, *, k: int = 10, model_dir=None, device: str | None = None,
                    min_score: float = 0.05):
    """Answer with the trained reasoner: an :class:`reasoning.answers.AnswerSet` with scores and evidence paths."""
    from reasoning.answers import Answer, AnswerSet, EvidenceStep

    text = question if isinstance(question, str) else getattr(question, "text", str(question))
    prep, topic_ids, nodes, scores, trace = score_question(kg, question, model_dir=model_dir, device=device)
    result = AnswerSet(text, [], method="gnn", sparql=None)
    warn = staleness(kg, model_dir)
    if warn:
        result.warnings.append(warn)
    if trace["truncated"]:
        result.warnings.append("the topic's 3-hop neighbourhood was too large and was cut; answers may be missing")
    graph, rels = prep.graph, trace["model_relations"]
    order = torch.argsort(scores, descending=True)[:k]
    for i in order.tolist():
        s = float(scores[i])
        if s < min_score:
            break
        iri = graph.entities[int(nodes[i])]
        steps = []
        for a, typ, b in _trace_path(trace, i):
            forward = typ < len(rels)
            rel = rels[typ % len(rels)]
            subj, obj = (nodes[a], nodes[b]) if forward else (nodes[b], nodes[a])
            s_iri, o_iri = graph.entities[int(subj)], graph.entities[int(obj)]
            steps.append(EvidenceStep(graph.label(s_iri), graph.label(rel), graph.label(o_iri),
                                      source=_source(kg, s_iri, rel, o_iri), subject_iri=s_iri, predicate_iri=rel,
                                      object_iri=o_iri))
        result.answers.append(Answer(graph.label(iri), iri, s, steps))
    return result


def _source(kg, s, p, o) -> dict | None:
    """The first text source of a fact as ``{"document", "sentence"}``; None for imported facts."""
    from rdflib import URIRef

    try:
        for src, _ in kg.sources(URIRef(s), URIRef(p), URIRef(o)):
            if src.sentence:
                return {"document": src.document, "sentence": src.sentence}
    except KGQAError:
        return None
    return None

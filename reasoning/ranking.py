"""One ranking over all evidence: what ``ask(method="auto")`` answers with when something was trained.

Every part of kgqa that can read a question proposes relation paths from its topic:

* the SPARQL planner (:mod:`reasoning.planner`) scores every path of 1-3 hops the topic starts against
  paraphrases generated from the graph's relation labels (its top paths are candidates, not just its best);
* the learned wordings (``kgqa train questions``) vote on the paths their nearest examples took;
* the GNN reasoner (``kgqa train reasoner``, :mod:`reasoning.gnn`) weighs the paths it reads the question as;
* the rule engine's conclusions are edges of the graph index, so paths over inferred facts are candidates too.

Each candidate path gets features (which parts proposed it, their scores and ranks, its length against
the hop count the GNN reads, the learned examples' closeness and votes, whether its answers are dates
when the question asks "when", how many answers it reaches). A small listwise logistic model turns them
into one probability per path; an answer's score is the probability that it is among the asked path's
answers (the sum over the paths reaching it), so answers of all parts sit on one calibrated scale and
the best wins whichever part proposed it.

The model is fitted on questions generated from the graph itself (:func:`generated_questions`: random
1-3-hop relation paths from random topics, worded by the planner's paraphrase templates and the GNN's
plain-English grammar, with their answers read off the graph), never on a dataset's questions. It is
saved with the store (``<store>/models/ranker/ranker.json``) with a key of what it was fitted on (graph
size, the GNN model, the learned wordings) and refitted when that changes.

>>> ranker = Ranker(np.zeros(len(FEATURES)), np.zeros(len(FEATURES)), np.ones(len(FEATURES)), {})
>>> ranker.probabilities(np.zeros((3, len(FEATURES)))).round(3).tolist()
[0.333, 0.333, 0.333]
"""
from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kg.errors import KGQAError

#: candidate paths per question: the planner's best ones (the GNN's and the examples' are added)
PLANNER_TOP = 8
#: paths the learned examples voted for that are kept beside the planner's
EXAMPLE_TOP = 3
#: a GNN path with less weight than this is not a candidate of its own
GNN_MIN_WEIGHT = 0.01
#: generated questions the ranker is fitted on (a third per hop count)
FIT_QUESTIONS = 400
#: answers a generated question may have (wider paths teach little)
MAX_ANSWERS = 100
#: answers less likely than this share of the best answer's probability are left out
ANSWER_SHARE = 0.5
VERSION = 3
RANKER_FILE = "ranker.json"

FEATURES = (
    "planner", "planner_gap", "planner_top", "planner_rank", "similarity", "named", "missed",
    "hops1", "hops2", "hops3",
    "gnn", "gnn_top", "gnn_hops", "gnn_log",
    "example", "example_gap", "votes", "votes_close", "example_top",
    "answers_log", "date_mismatch", "planner_x_gnn",
)


#: question words that ask for a date or a year ("which year", "what date")
_DATE_NOUNS = {"year", "years", "date", "dates", "day"}


class RankerError(KGQAError):
    code = "E-RANKER"


@dataclass
class Candidate:
    """One relation path from the question's topic, the nodes it reaches, and what each part said of it."""

    path: tuple
    answers: set
    planner: object = None  # reasoning.planner.PathScore
    planner_rank: int = 99
    gnn: float = 0.0
    gnn_rank: int = 99
    parts: set = field(default_factory=set)


@dataclass
class Evidence:
    """All candidate paths of one question and what is shared between them."""

    candidates: list
    best_planner: float = 0.0
    best_example: float = 0.0
    gnn_hops: object = None  # numpy [3]: the GNN's weight on paths of each length
    gnn_used: bool = False
    examples_used: bool = False


# ---------------------------------------------------------------------------------------------- parts
def trained_gnn(kg):
    """The ``gnn`` reasoner when a model is trained for this store, else None (never raises)."""
    from reasoning.resolver import get_reasoner, has_reasoner

    if not has_reasoner("gnn"):
        return None
    try:
        reasoner = get_reasoner("gnn")
        ready = getattr(reasoner, "is_trained", None) or getattr(reasoner, "available", None)
        if ready is not None and not ready(kg):
            return None
    except Exception:  # a broken optional reasoner must not break planning
        return None
    return reasoner


def _gnn_paths(kg, question, candidates: set) -> tuple[dict, np.ndarray | None]:
    """The GNN reasoner's paths for ``question`` as planner steps -> weight, and its weight per hop count.

    As ``--method gnn`` weighs them (:class:`reasoning.gnn.paths.PathReasoner`): of the paths the topic can
    start, the ``2 * TOP_PATHS`` the reader matches best; of those, the first ``TOP_PATHS`` that reach
    something, softmax-weighted by their match. Scores are not propagated: the planner's index follows the
    paths (``candidates``, the planner's paths from the topic, are known to reach something).
    """
    from reasoning.gnn.paths import TOP_PATHS
    from reasoning.gnn.reasoner import path_logits
    from reasoning.paraphrases import Step

    found = path_logits(kg, question)
    if found is None:  # the hop-by-hop designs weigh no whole paths
        return {}, None
    steps, logits = found
    index, topic = question.index, question.topic.node
    leaves = {(p, True) for p, _ in index.out.get(topic, ())} | {(p, False) for p, _ in index.inn.get(topic, ())}
    order = np.argsort(-logits, kind="stable")
    picked, seen = [], 0
    for i in order:
        path = steps[int(i)]
        if not path or path[0] not in leaves:
            continue
        seen += 1
        if seen > 2 * TOP_PATHS:
            break
        as_steps = tuple(Step(p, f) for p, f in path)
        if as_steps in candidates or _reach(index, topic, as_steps):
            picked.append((as_steps, float(logits[int(i)])))
            if len(picked) == TOP_PATHS:
                break
    if not picked:
        return {}, np.zeros(3)
    values = np.array([v for _, v in picked])
    weights = np.exp(values - values.max())
    weights /= weights.sum()
    out = {path: float(w) for (path, _), w in zip(picked, weights)}
    hops = np.zeros(3)
    for path, w in out.items():
        hops[min(len(path), 3) - 1] += w
    return out, hops


def _reach(index, topic, path) -> set:
    from reasoning.planner import _reach as reach

    return {n for n in reach(index, topic, path, cap=5000) if n != topic}


def _reach_both_ways(index, topic, path) -> set:
    """What ``path`` reaches, its symmetric relations followed both ways (:mod:`reasoning.reading`)."""
    from reasoning.reading import symmetric_variants

    out: set = set()
    for variant in symmetric_variants(index, path):
        out |= _reach(index, topic, variant)
    return out


def gather(kg, question, *, gnn=None, holdout: str | None = None) -> Evidence:
    """Candidate paths of a parsed question with every part's view of them (see the module docstring)."""
    from reasoning.planner import candidate_paths, score_paths

    index = question.index
    topic = question.topic.node
    paths = candidate_paths(index, topic)
    gnn_weights, hop_weights = {}, None
    if gnn is not None:
        try:
            gnn_weights, hop_weights = _gnn_paths(kg, question, set(paths))
        except KGQAError:  # the reasoner cannot read this question (no topic it knows): the planner can
            gnn_weights = {}
    known = set(paths)
    paths = paths + [p for p in gnn_weights if p not in known and p]
    ranked = score_paths(index, question, paths, kg=kg, holdout=holdout)
    # the question's reading that word similarity misses: voice, the answer's type (reasoning.reading)
    from reasoning.reading import asked_type, direction_penalty, keep_typed, retype

    asked = asked_type(question)
    ranked = retype(index, topic, direction_penalty(index, question, ranked), asked)
    examples_used = any(ps.votes > 0 for ps in ranked)
    chosen: dict = {}
    by_base = sorted(ranked, key=lambda ps: (-ps.base, len(ps.path)))
    base_rank = {ps.path: r for r, ps in enumerate(by_base)}
    for ps in by_base[:PLANNER_TOP]:
        chosen[ps.path] = (ps, base_rank[ps.path])
    by_example = sorted((ps for ps in ranked if ps.votes > 0), key=lambda ps: -ps.example)[:EXAMPLE_TOP]
    lookup = {ps.path: ps for ps in ranked}
    if asked is not None and asked.strict and asked.kind == "range":
        # the question named its answers' relations ("what types", "which words"): the best path of each
        # length ending in them is a candidate (a long path often matches more words than the one asked)
        best_of: dict = {}
        for ps in by_base:
            if ps.path and ps.path[-1].forward and ps.path[-1].predicate in asked.iris:
                best_of.setdefault(len(ps.path), ps)
        for ps in best_of.values():
            chosen.setdefault(ps.path, (ps, base_rank[ps.path]))
    for ps in by_example:
        chosen.setdefault(ps.path, (ps, base_rank[ps.path]))
    gnn_order = sorted(gnn_weights, key=lambda p: -gnn_weights[p])
    for p in gnn_order:
        if gnn_weights[p] >= GNN_MIN_WEIGHT and p in lookup:
            chosen.setdefault(p, (lookup[p], base_rank[p]))
    candidates = []
    for path, (ps, rank) in chosen.items():
        answers = set(keep_typed(index, sorted(_reach_both_ways(index, topic, path), key=str), asked))
        if not answers:
            continue
        cand = Candidate(path, answers, ps, base_rank[path])
        if cand.planner_rank < PLANNER_TOP:
            cand.parts.add("sparql")
        if ps.votes > 0:
            cand.parts.add("examples")
        if path in gnn_weights:
            cand.gnn = gnn_weights[path]
            cand.gnn_rank = gnn_order.index(path)
            if cand.gnn >= GNN_MIN_WEIGHT:
                cand.parts.add("gnn")
        candidates.append(cand)
    candidates = _of_asked_type(index, topic, candidates, asked)
    best_planner = max((c.planner.base for c in candidates), default=0.0)
    best_example = max((c.planner.example for c in candidates), default=0.0)
    return Evidence(candidates, best_planner, best_example, hop_weights, gnn is not None, examples_used)


def _of_asked_type(index, topic, candidates: list, asked) -> list:
    """The candidates without the paths whose answers all have the wrong type, when the question named the
    type ("which country", "what year", "what types") and some path's answers have it; else all of them."""
    if asked is None or not asked.strict or len(candidates) < 2:
        return candidates
    from reasoning.reading import path_fit

    fits = [path_fit(index, topic, c.path, asked, answers=c.answers) for c in candidates]
    if not any(f is not None and f >= 0.5 for f in fits):
        return candidates
    return [c for c, f in zip(candidates, fits) if f is None or f >= 0.5]


def features(evidence: Evidence, question) -> np.ndarray:
    """``[candidates, len(FEATURES)]``: one row of :data:`FEATURES` per candidate path."""
    rows = []
    words = {w for w, _ in question.words} | {lemma for _, lemma in question.words}
    wants_date = question.wh == "when" or bool(words & _DATE_NOUNS)
    for c in evidence.candidates:
        ps, n = c.planner, len(c.path)
        hop = float(evidence.gnn_hops[n - 1]) if evidence.gnn_hops is not None and n <= len(evidence.gnn_hops) else 0.0
        close = max(0.0, ps.example - 0.8) / 0.2 if ps.votes > 0 else 0.0
        mismatch = wants_date != bool(ps.dates)
        rows.append([
            ps.base, ps.base - evidence.best_planner, float(c.planner_rank == 0), math.log1p(c.planner_rank),
            ps.similarity, ps.named, ps.missed,
            float(n == 1), float(n == 2), float(n >= 3),
            c.gnn, float(c.gnn_rank == 0 and c.gnn > 0), hop, math.log(c.gnn + 1e-3) if evidence.gnn_used else 0.0,
            ps.example, (ps.example - evidence.best_example) if ps.votes > 0 else -1.0 if evidence.examples_used else 0.0,
            ps.votes, ps.votes * close, float(ps.votes > 0 and ps.example >= evidence.best_example - 1e-9),
            math.log1p(len(c.answers)), float(mismatch), ps.base * c.gnn,
        ])
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))


# ---------------------------------------------------------------------------------------------- model
@dataclass
class Ranker:
    """A listwise logistic model over candidate paths: ``P(path) = softmax(w . standardised features)``."""

    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    key: dict
    report: dict = field(default_factory=dict)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        z = ((x - self.mean) / self.std) @ self.weights
        z = np.exp(z - z.max())
        return z / z.sum()

    def to_json(self) -> dict:
        return {"version": VERSION, "features": list(FEATURES), "weights": self.weights.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist(), "key": self.key, "report": self.report}

    @classmethod
    def from_json(cls, data: dict) -> "Ranker":
        if data.get("version") != VERSION or data.get("features") != list(FEATURES):
            raise RankerError("the saved ranker was fitted by another version; it is refitted on the next question")
        return cls(np.asarray(data["weights"]), np.asarray(data["mean"]), np.asarray(data["std"]), data["key"],
                   data.get("report", {}))


def fit_weights(groups: list[tuple[np.ndarray, np.ndarray]], *, l2: float = 1e-2, seed: int = 0):
    """Fit the listwise model: each group is ``(features [n, F], positive mask [n])``; returns (w, mean, std).

    Maximises the log of the probability mass on each group's right paths, with an L2 penalty.
    """
    import torch

    torch.manual_seed(seed)
    allx = np.concatenate([x for x, _ in groups])
    mean, std = allx.mean(0), allx.std(0)
    std = np.where(std < 1e-6, 1.0, std)
    width = max(len(x) for x, _ in groups)
    xs = torch.zeros(len(groups), width, allx.shape[1], dtype=torch.float64)
    real = torch.zeros(len(groups), width, dtype=torch.bool)
    right = torch.zeros(len(groups), width, dtype=torch.bool)
    for g, (x, y) in enumerate(groups):  # one padded batch: the loss is a few tensor operations
        xs[g, :len(x)] = torch.from_numpy((x - mean) / std)
        real[g, :len(x)] = True
        right[g, :len(x)] = torch.from_numpy(np.asarray(y, dtype=bool))
    w = torch.zeros(allx.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = xs @ w
        loss = -(torch.logsumexp(z.masked_fill(~right, -1e9), 1) - torch.logsumexp(z.masked_fill(~real, -1e9), 1))
        loss = loss.mean() + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), mean, std


# ---------------------------------------------------------------------------------------------- generated questions
def _edges_by_step(index) -> list[tuple]:
    """``(Step, [(from, to), ...])`` for every relation in both directions (cached on the index)."""
    cached = index.caches.get("ranker_edges")
    if cached is None:
        from reasoning.paraphrases import Step

        forward: dict = {}
        for s, edges in index.out.items():
            for p, o in edges:
                forward.setdefault(p, []).append((s, o))
        cached = []
        for p in sorted(forward):
            cached.append((Step(p, True), forward[p]))
            cached.append((Step(p, False), [(o, s) for s, o in forward[p]]))
        index.caches["ranker_edges"] = cached
    return cached


def _walk(index, rng: random.Random, hops: int):
    """A random path of ``hops`` hops that occurs in the graph: ``(topic, path)`` or None."""
    from reasoning.paraphrases import Step

    steps = _edges_by_step(index)
    if not steps:
        return None
    first, edges = rng.choice(steps)
    topic, node = edges[rng.randrange(len(edges))]
    path = [first]
    while len(path) < hops:
        options = [(Step(p, True), o) for p, o in index.out.get(node, ())] + \
                  [(Step(p, False), s) for p, s in index.inn.get(node, ())]
        if not options:
            return None
        step, node = rng.choice(options)
        path.append(step)
    return topic, tuple(path)


def _wordings(index, path, rng: random.Random) -> list[tuple[str, str | None]]:
    """Ways to ask for ``path`` from ``X``: ``(question, the planner paraphrase it is, if one)``."""
    from reasoning.planner import _labels
    from reasoning.paraphrases import path_paraphrases

    labels, answer_types = _labels(index)
    options = [(t, t) for t in path_paraphrases(path, labels, answer_type=answer_types.get(path[-1]), limit=16)]
    try:  # the GNN's plain-English grammar, when torch is installed
        from reasoning.gnn.wording import natural_question

        rels = sorted({s.predicate for s in path})
        types = [rels.index(s.predicate) + (0 if s.forward else len(rels)) for s in path]
        wordings = [list(labels.get(r, ())) or [r.rsplit("/", 1)[-1].replace("_", " ")] for r in rels]
        for _ in range(2):
            options.append((natural_question(types, wordings, len(rels), rng), None))
    except ImportError:
        pass
    return options


def generated_questions(kg, n: int = FIT_QUESTIONS, *, seed: int = 0, max_hops: int = 3):
    """``n`` questions generated from the graph: ``(text, holdout paraphrase, parsed question, gold nodes, path)``.

    Hop counts 1..``max_hops`` come equally often; the topic is written in ``[brackets]`` and must link
    back to the node the path starts from (an ambiguous label would ask another question).
    """
    from reasoning.question import graph_index, parse_question

    index = graph_index(kg)
    rng = random.Random(seed)
    out, attempts = [], 0
    while len(out) < n and attempts < 30 * n:
        attempts += 1
        walk = _walk(index, rng, 1 + len(out) % max_hops)
        if walk is None:
            continue
        topic, path = walk
        gold = _reach(index, topic, path)
        if not gold or len(gold) > MAX_ANSWERS:
            continue
        label = index.label(topic)
        if not label.strip() or "[" in label or "]" in label:
            continue
        options = _wordings(index, path, rng)
        if not options:
            continue
        wording, holdout = rng.choice(options)
        text = re.sub(r"\bX\b", lambda _: f"[{label}]", wording, count=1)
        if "[" not in text:
            continue
        parsed = parse_question(kg, text, index=index)
        if parsed.topic is None or parsed.topic.node != topic or parsed.kind == "boolean":
            continue
        out.append((text, holdout, parsed, gold, path))
    return out


# ---------------------------------------------------------------------------------------------- fit, save, load
def _examples_signature(kg, index) -> list:
    from reasoning.planner import _example_vectors

    examples = _example_vectors(kg, index)
    cached = index.caches.get("ranker_examples_signature")
    if cached is not None and cached[0] is examples:
        return cached[1]
    rows = sum(len(v) for v in examples.values())
    digest = float(sum(float(v.sum()) for v in examples.values())) if examples else 0.0
    signature = [len(examples), rows, round(digest, 3)]
    index.caches["ranker_examples_signature"] = (examples, signature)
    return signature


def ranker_key(kg, index, gnn) -> dict:
    """What a ranker was fitted on: the graph's size, the GNN model file, the learned wordings."""
    stamp = None
    if gnn is not None:
        try:
            from reasoning.gnn.files import MODEL_FILE, model_dir_for

            model = model_dir_for(kg) / MODEL_FILE
            stamp = [model.stat().st_mtime, model.stat().st_size] if model.exists() else None
        except KGQAError:
            stamp = None
    facts = sum(r.count for r in index.relations.values())
    return {"version": VERSION, "facts": facts, "labels": len(index.labels), "gnn": stamp,
            "examples": _examples_signature(kg, index)}


def _ranker_dir(kg) -> Path | None:
    """``<store folder>/models/ranker``, or None for a store without a folder."""
    from reasoning.gnn.files import model_dir_for

    try:
        return model_dir_for(kg, kind="ranker")
    except KGQAError:
        return None


_FITTED: dict = {}


def fit_ranker(kg, *, questions: int = FIT_QUESTIONS, seed: int = 0, save: bool = True, log=None) -> Ranker:
    """Fit the ranker for ``kg`` with what is trained for it now, on generated questions; save it with the store."""
    from reasoning.question import graph_index

    from reasoning.planner import _example_vectors

    log = log or (lambda msg: None)
    started = time.monotonic()
    index = graph_index(kg)
    gnn = trained_gnn(kg)
    key = ranker_key(kg, index, gnn)
    qs = generated_questions(kg, questions, seed=seed)
    real_examples = _example_vectors(kg, index)
    if real_examples:
        # how far to trust the votes of learned wordings is learned from generated ones: wordings of some
        # kinds of path are "taught", and the questions asked include kinds that were and were not
        _teach_generated(kg, index, qs, seed=seed)
    try:
        groups, hits_planner, hits_gnn, usable = _read_fit_questions(kg, qs, gnn, log)
    finally:
        if real_examples:
            index.caches["examples"] = real_examples
    if not groups:
        raise RankerError("no generated question had both a right and a wrong candidate path; "
                          "the graph is too small to fit a ranker (auto answers with the planner alone)")
    w, mean, std = fit_weights(groups)
    ranker = Ranker(w, mean, std, key)
    right = sum(bool(y[int(np.argmax(ranker.probabilities(x)))]) for x, y in groups)
    ranker.report = {"questions": len(qs), "usable": usable, "seconds": round(time.monotonic() - started, 1),
                     "fit_hits1": round(right / usable, 4), "planner_hits1": round(hits_planner / usable, 4),
                     "gnn_hits1": round(hits_gnn / usable, 4) if gnn is not None else None,
                     "taught": bool(real_examples)}
    log(f"ranker fitted on {usable} generated questions in {ranker.report['seconds']} s: right path first "
        f"{100 * right / usable:.1f}% (planner alone {100 * hits_planner / usable:.1f}%"
        + (f", gnn alone {100 * hits_gnn / usable:.1f}%)" if gnn is not None else ")"))
    _FITTED[_cache_key(kg)] = ranker
    folder = _ranker_dir(kg)
    if save and folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RANKER_FILE).write_text(json.dumps(ranker.to_json()))
    return ranker


#: share of the generated path kinds whose wordings are taught when fitting how far to trust votes
TAUGHT_SHARE = 0.5


def _teach_generated(kg, index, qs, *, seed: int) -> None:
    """Replace the index's learned wordings (for the fit only) by generated ones: for a random half of the
    relation paths, the wordings of other generated questions about them (other topics, other seeds)."""
    from reasoning.paraphrases import ExampleBank
    from reasoning.planner import use_examples

    rng = random.Random(seed + 1)
    teaching = generated_questions(kg, len(qs), seed=seed + 1)
    kinds = sorted({path for *_, path in teaching})
    taught = {path for path in kinds if rng.random() < TAUGHT_SHARE}
    use_examples(index, ExampleBank([(parsed.masked, path) for _, _, parsed, _, path in teaching if path in taught]))


def _read_fit_questions(kg, qs, gnn, log):
    groups, hits_planner, hits_gnn, usable = [], 0, 0, 0
    for i, (_, holdout, parsed, gold, _path) in enumerate(qs, 1):
        ev = gather(kg, parsed, gnn=gnn, holdout=holdout)
        if not ev.candidates:
            continue
        y = np.array([c.answers == gold for c in ev.candidates])
        if not y.any() or y.all():
            continue
        usable += 1
        hits_planner += bool(y[int(np.argmin([c.planner_rank for c in ev.candidates]))])
        if gnn is not None:
            hits_gnn += bool(y[int(np.argmax([c.gnn for c in ev.candidates]))])
        groups.append((features(ev, parsed), y))
        if i % 100 == 0:
            log(f"ranker: {i}/{len(qs)} generated questions read")
    return groups, hits_planner, hits_gnn, usable


def _cache_key(kg):
    return (getattr(kg.store, "kind", None), str(getattr(kg.store, "location", None)), id(kg.store))


def load_ranker(kg, index, gnn, *, fit: bool = True, log=None) -> Ranker | None:
    """The ranker fitted for what is trained now: kept in memory, else read from the store, else fitted
    (when ``fit``); None when nothing but the planner is there to rank."""
    key = ranker_key(kg, index, gnn)
    if gnn is None and not key["examples"][0]:
        return None
    hit = _FITTED.get(_cache_key(kg))
    if hit is not None and hit.key == key:
        return hit
    folder = _ranker_dir(kg)
    if folder is not None and (folder / RANKER_FILE).is_file():
        try:
            saved = Ranker.from_json(json.loads((folder / RANKER_FILE).read_text()))
            if saved.key == key:
                _FITTED[_cache_key(kg)] = saved
                return saved
        except (OSError, ValueError, KeyError, RankerError):  # a damaged or old file is refitted
            pass
    if not fit:
        return None
    try:
        return fit_ranker(kg, log=log)
    except RankerError:
        return None


# ---------------------------------------------------------------------------------------------- answering
def rank_answers(kg, question, *, k: int = 10, ranker: Ranker | None = None, gnn=None):
    """Answer a parsed question with the ranking over every part's paths: an AnswerSet, or None when the
    question is not one the ranking reads (yes/no, constraints, no topic) or nothing is there to rank."""
    import pyoxigraph as ox

    from reasoning.answers import Answer, AnswerSet
    from reasoning.path_queries import _term_of, _to_ox, compile_path, explain

    if question.kind == "boolean" or question.topic is None or not question.topic.nodes:
        return None
    if any(m.nodes and m.strong for m in question.others):
        return None
    index = question.index
    if gnn is None:
        gnn = trained_gnn(kg)
    ranker = ranker or load_ranker(kg, index, gnn)
    if ranker is None:
        return None
    if ranker.key.get("gnn") is None:
        gnn = None  # the ranker was fitted without the GNN's features: do not feed them
    ev = gather(kg, question, gnn=gnn)
    if not ev.candidates:
        return None
    probs = _taught_decides(ev, ranker.probabilities(features(ev, question)))
    order = np.argsort(-probs, kind="stable")
    result = AnswerSet(question.text, [], "auto", None, [])
    inferred = bool(index.inferred)
    topic_node = question.topic.node
    topic_term = _term_of(topic_node)
    best = ev.candidates[int(order[0])]
    if question.kind == "count":
        # distinct answers of the best path (of the asked type, symmetric relations both ways)
        n = len(best.answers)
        result.sparql = compile_path(best.path, topic_term, inferred=inferred, count=True)
        evidence = []
        for node in sorted(best.answers, key=str)[:10]:
            evidence += explain(kg, index, best.path, topic_node, node, inferred=inferred)
        parts = sorted(best.parts | _rules(evidence))
        result.answers = [Answer(str(n), None, round(float(probs[order[0]]), 4), evidence, parts=parts)]
        result.method = "auto:" + "+".join(parts)
        return result
    # an answer's probability: the mass of the paths that reach it
    mass: dict = {}
    first_path: dict = {}
    for i in order:
        c = ev.candidates[int(i)]
        for node in c.answers:
            mass[node] = mass.get(node, 0.0) + float(probs[i])
            first_path.setdefault(node, int(i))
    # within one path, the planner's order: the answers most facts lead to first
    support: dict = {}
    rows = list(kg.query(compile_path(best.path, topic_term, inferred=inferred)))
    for rank, row in enumerate(rows):
        support[_to_ox(row["ans"])] = rank
    ranked = sorted(mass, key=lambda node: (-round(mass[node], 6), support.get(node, len(rows)), index.label(node)))
    # the answer is a set: what is at least half as likely as the best answer (another path's answers are not padding)
    ranked = [node for node in ranked if mass[node] >= ANSWER_SHARE * mass[ranked[0]]]
    for node in ranked[:k]:
        c = ev.candidates[first_path[node]]
        evidence = explain(kg, index, c.path, topic_node, node, inferred=inferred)
        iri = node.value if isinstance(node, ox.NamedNode) else None
        parts = set()
        for i in order:
            other = ev.candidates[int(i)]
            if node in other.answers and probs[i] >= 0.05:
                parts |= other.parts
        result.answers.append(Answer(index.label(node), iri, round(mass[node], 4), evidence,
                                     parts=sorted(parts | c.parts | _rules(evidence))))
    top = ev.candidates[first_path[ranked[0]]] if ranked else best
    result.sparql = compile_path(top.path, topic_term, inferred=inferred)
    if result.answers:
        result.method = "auto:" + "+".join(result.answers[0].parts or ["sparql"])
    return result


def _taught_decides(evidence: Evidence, probs: np.ndarray) -> np.ndarray:
    """When a question the user taught (``kgqa train questions``) is worded as this one, the path its
    examples vote for gets at least half of the mass, so its answers come first, as they do in the planner.

    The ranker is fitted on generated questions, where the GNN is nearly always right, so it cannot learn
    that a user's own wording is better evidence than the GNN on real questions."""
    from reasoning.planner import EXAMPLE_SAME

    taught = [i for i, c in enumerate(evidence.candidates) if c.planner.votes > 0 and c.planner.example >= EXAMPLE_SAME]
    if not taught or not len(probs):
        return probs
    best = max(taught, key=lambda i: (evidence.candidates[i].planner.score, -len(evidence.candidates[i].path)))
    out = 0.5 * probs
    out[best] += 0.5
    return out


def _rules(evidence) -> set:
    return {"rules"} if any(step.rule for step in evidence) else set()


def refit_after_training(kg, *, log=None) -> Ranker | None:
    """Refit the ranker after ``kgqa train reasoner`` / ``kgqa train questions`` (None when nothing is there
    to rank or the graph is too small: ``auto`` then answers with the planner alone)."""
    from reasoning.planner import _example_vectors
    from reasoning.question import graph_index

    index = graph_index(kg)
    index.caches.pop("examples", None)  # the wordings file was just rewritten: read it again
    _example_vectors(kg, index)
    gnn = trained_gnn(kg)
    if gnn is None:  # without a trained reasoner `ask` answers with the planner alone
        return None
    try:
        return load_ranker(kg, index, gnn, log=log)
    except RankerError as err:
        if log:
            log(f"no ranker fitted: {err}")
        return None

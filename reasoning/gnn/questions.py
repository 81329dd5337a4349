"""Training questions generated from the graph itself: relation paths of 1 to 3 hops put into words.

No labelled questions exist for a user's graph, so the reasoner learns from questions the graph can
answer by construction: pick a path ``X -r1-> . -r2-> ...``, phrase it from the relations' labels and
aliases with varied templates (either direction: "the director of X", "the films directed by X"),
and take every entity the path reaches from ``X`` as the answers. Nothing here knows any dataset.

>>> from reasoning.gnn.convert import triples_to_tensors
>>> g = triples_to_tensors([("ada", "r:born_in", "london"), ("london", "r:located_in", "uk")],
...                        labels={"r:born_in": "born in", "r:located_in": "located in"})
>>> qs = generate_questions(g, 20, seed=0)
>>> all(q.answers.size > 0 for q in qs), sorted({len(q.path) for q in qs}) <= [1, 2, 3]
(True, True)
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

from reasoning.gnn.text import TOPIC
from reasoning.gnn.wording import Forms, natural_question, split_pairs
from reasoning.paraphrases import Step, path_paraphrases

# {L} relation wording, {T} the phrase the hop starts from. Forward: T -r-> answer; inverse: answer -r-> T.
_FORWARD_QUESTIONS = (
    "what is the {L} of {T}", "what are the {L} of {T}", "{T} {L} what", "what is {T} {L}",
    "which {L} does {T} have", "{L} of {T}", "tell me the {L} of {T}", "what {L} does {T} have",
    "{T} has which {L}", "give the {L} of {T}", "who is the {L} of {T}", "the {L} of {T} is what",
)
_INVERSE_QUESTIONS = (
    "what is {L} {T}", "what has {L} {T}", "which things have {L} {T}", "what has {T} as {L}",
    "{T} is the {L} of what", "which ones are {L} {T}", "what {L} {T}", "name the things with {L} {T}",
    "{T} is {L} of which", "what things are {L} {T}", "list what has {L} {T}", "who has {L} {T}",
)
_FORWARD_PHRASES = ("the {L} of {T}", "{T}'s {L}", "the {L} of {T}", "{T} {L}")
_INVERSE_PHRASES = ("the things {L} {T}", "the ones with {L} {T}", "what is {L} {T}", "things that have {L} {T}",
                    "those {L} {T}")
_WRAPS = ("what is {P}", "what are {P}", "{P}", "which are {P}", "name {P}", "list {P}", "who are {P}")


#: common category nouns people put before a name ("the film X", "the city X"): some generated
#: questions name the topic this way, so the reader learns that the word beside X need not be a
#: relation. Generic English across domains; no graph's own classes are known here.
CATEGORY_NOUNS = (
    "person", "people", "man", "woman", "author", "writer", "artist", "actor", "actress", "singer",
    "player", "scientist", "politician", "director", "composer", "band", "team", "company", "firm",
    "organisation", "organization", "university", "school", "city", "town", "country", "state", "region",
    "river", "mountain", "island", "place", "building", "book", "novel", "poem", "song", "album", "film",
    "movie", "show", "series", "game", "play", "painting", "work", "product", "brand", "drug", "disease",
    "species", "animal", "plant", "event", "war", "battle", "language", "word", "term", "thing", "item",
)


@dataclass
class TrainingQuestion:
    """A generated question: its text (topic written as :data:`reasoning.gnn.text.TOPIC`), topic node,
    answer nodes and the path of directed relation types (``r`` forward, ``r + R`` inverse)."""

    text: str
    topic: int
    answers: np.ndarray
    path: tuple[int, ...]


class PathIndex:
    """Edges of a graph in both directions, sorted by (node, directed type), for walks and path answers."""

    def __init__(self, graph):
        r = graph.num_relations
        h, t = graph.edge_index[0].numpy(), graph.edge_index[1].numpy()
        typ = graph.edge_type.numpy()
        src = np.concatenate([h, t])
        dst = np.concatenate([t, h])
        dtype = np.concatenate([typ, typ + r])
        self.num_types = 2 * r
        key = src.astype(np.int64) * self.num_types + dtype
        order = np.argsort(key, kind="stable")
        self.key, self.dst, self.src, self.dtype = key[order], dst[order], src[order], dtype[order]
        self.node_ptr = np.searchsorted(self.src, np.arange(graph.num_nodes + 1))
        self.type_edges = [np.flatnonzero(self.dtype == k) for k in range(self.num_types)]

    def step(self, nodes: np.ndarray, directed_type: int) -> np.ndarray:
        """Nodes reached from ``nodes`` by one edge of ``directed_type``."""
        keys = nodes.astype(np.int64) * self.num_types + directed_type
        lo = np.searchsorted(self.key, keys, "left")
        hi = np.searchsorted(self.key, keys, "right")
        if not len(lo):
            return np.zeros(0, dtype=np.int64)
        parts = [self.dst[a:b] for a, b in zip(lo, hi) if b > a]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def follow(self, topic: int, path) -> np.ndarray:
        """Every node the directed-type ``path`` reaches from ``topic`` without passing back through it."""
        nodes = np.array([topic])
        for k in path:
            nodes = self.step(nodes, k)
            nodes = nodes[nodes != topic]
            if not nodes.size:
                break
        return nodes

    def types_at(self, node: int) -> np.ndarray:
        return np.unique(self.dtype[self.node_ptr[node]:self.node_ptr[node + 1]])


def relation_wordings(graph) -> list[list[str]]:
    """For each relation, its label and aliases (the label from the IRI when it has none)."""
    out = []
    for iri in graph.relations:
        words = [graph.label(iri)] + [a for a in graph.aliases.get(iri, []) if a]
        out.append(list(dict.fromkeys(w.strip() for w in words if w.strip())))
    return out


#: two hops out and back along one relation (X -r-> Y <-r- Z): the things sharing X's r. {N} the
#: relation as a noun ("director", "genre"), {V} its verb when it has one ("directed"), {B} the verb's base
_SAME_PHRASES = ("the things with the same {N} as {T}", "the things that share {N} with {T}",
                 "the things sharing the {N} of {T}", "the ones whose {N} is also the {N} of {T}",
                 "the things that have the same {N} as {T}")
_SAME_VERB_PHRASES = ("the things {V} by the same one as {T}", "the things whose {N} also {V} {T}",
                      "the things {V} by the one who {B}s {T}")
#: in and out again (X <-r- Y -r-> Z): the others that share a thing with X by r
_CO_PHRASES = ("the co-{N} of {T}", "the ones {N} together with {T}", "those that share a {N} with {T}",
               "the other {N} of the things with {N} {T}")
_CO_VERB_PHRASES = ("the ones who {V} things together with {T}", "the ones who {B} with {T}",
                    "those who {V} the things {T} also {V}")


def _forms(wording: str) -> tuple[str, str | None, str | None]:
    """``(noun, verb, base)`` of a relation wording: ``"directed by"`` -> ``("directed by", "directed", "direct")``,
    ``"has genre"`` -> ``("genre", None, None)`` (read by :class:`reasoning.gnn.wording.Forms`)."""
    forms = Forms(wording)
    if forms.kind == "passive":
        return wording, forms.verb, forms.base
    return forms.nouns[0], None, None


def _units(path, num_relations: int, rng: random.Random, pairs: float) -> list[tuple]:
    """The path cut into steps ``("one", k)`` and, with probability ``pairs``, out-and-back pairs
    ``("same"|"co", k)`` worded as one idiom ("the things with the same director as X")."""
    return [(kind, k) if kind == "one" else ("same" if k < num_relations else "co", k % num_relations)
            for kind, k in split_pairs(path, num_relations, rng, pairs)]


def _pair_phrase(kind: str, r: int, wordings, phrase: str, rng: random.Random) -> str:
    noun, verb, base = _forms(rng.choice(wordings[r]))
    if kind == "same":
        templates = _SAME_VERB_PHRASES if verb else _SAME_PHRASES
    else:
        templates = _CO_VERB_PHRASES if verb else _CO_PHRASES
    return rng.choice(templates).format(N=noun, V=verb, B=base, T=phrase)


def phrase_path(path, wordings, num_relations: int, rng: random.Random, *, pairs: float = 0.5) -> str:
    """A templated question for a directed-type path starting at :data:`TOPIC`.

    A hop out along a relation and straight back along it is worded as one idiom with probability
    ``pairs`` ("the things with the same genre as X", "the co-author of X"), the way people say it.

    >>> phrase_path([0], [["capital"]], 1, random.Random(1)).count("capital")
    1
    >>> "same" in phrase_path([0, 1], [["genre"]], 1, random.Random(0), pairs=1.0) or "shar" in phrase_path(
    ...     [0, 1], [["genre"]], 1, random.Random(0), pairs=1.0)
    True
    """
    units = _units(path, num_relations, rng, pairs)
    phrase = TOPIC
    for kind, k in units[:-1]:
        if kind != "one":
            phrase = _pair_phrase(kind, k, wordings, phrase, rng)
            continue
        forward, r = k < num_relations, k % num_relations
        template = rng.choice(_FORWARD_PHRASES if forward else _INVERSE_PHRASES)
        phrase = template.format(L=rng.choice(wordings[r]), T=phrase)
    kind, k = units[-1]
    if kind != "one":
        return rng.choice(_WRAPS).format(P=_pair_phrase(kind, k, wordings, phrase, rng))
    forward, r = k < num_relations, k % num_relations
    wording = rng.choice(wordings[r])
    if len(path) > 1 and rng.random() < 0.4:
        inner = rng.choice(_FORWARD_PHRASES if forward else _INVERSE_PHRASES).format(L=wording, T=phrase)
        return rng.choice(_WRAPS).format(P=inner)
    return rng.choice(_FORWARD_QUESTIONS if forward else _INVERSE_QUESTIONS).format(L=wording, T=phrase)


def grammar_question(path, graph, wordings, rng: random.Random, cache: dict) -> str | None:
    """The path worded by the SPARQL planner's grammar-aware paraphrases (``"who directed X"``,
    ``"what did X write"``), one picked at random; None when they have no wording for it."""
    key = tuple(path)
    options = cache.get(key)
    if options is None:
        r = graph.num_relations
        steps = [Step(graph.relations[k % r], k < r) for k in path]
        labels = {graph.relations[k % r]: tuple(wordings[k % r]) for k in path}
        options = cache[key] = path_paraphrases(steps, labels, limit=16)
    return rng.choice(options) if options else None


def generate_questions(graph, n: int, *, max_hops: int = 3, max_answers: int = 300, seed: int = 0,
                       index: PathIndex | None = None, exclude: set[int] | frozenset = frozenset(),
                       grammar: float = 0.2, pairs: float = 0.5, category: float = 0.3,
                       natural: float = 0.5) -> list[TrainingQuestion]:
    """``n`` questions over random relation paths of 1..``max_hops`` hops (hop counts equally likely).

    A share ``grammar`` of them is worded by the planner's grammar-aware paraphrases
    (:func:`grammar_question`), a share ``natural`` in plain English read from each label's grammar
    (:func:`reasoning.gnn.wording.natural_question`), the rest by this module's templates
    (:func:`phrase_path`); both of the latter word a share ``pairs`` of out-and-back hops as one idiom.
    A share ``category`` names the topic after a random category noun ("the film X"): a word beside the topic need not be a relation.

    The first relation is drawn uniformly among the graph's relations (both directions), so rare
    relations get as many questions as frequent ones; paths whose answer set is empty (once the topic
    itself is removed) or larger than ``max_answers`` are skipped, and so are topics in ``exclude``
    (node ids kept out of training, e.g. to hold questions out).
    """
    rng = random.Random(seed)
    index = index or PathIndex(graph)
    r = graph.num_relations
    wordings = relation_wordings(graph)
    present = [k for k in range(index.num_types) if index.type_edges[k].size]
    out: list[TrainingQuestion] = []
    phrased: dict = {}
    if not present:
        return out
    attempts = 0
    while len(out) < n and attempts < 20 * n:
        attempts += 1
        hops = rng.randint(1, max_hops)
        first = rng.choice(present)
        edge = int(index.type_edges[first][rng.randrange(index.type_edges[first].size)])
        topic, node, path = int(index.src[edge]), int(index.dst[edge]), [first]
        if topic in exclude:
            continue
        while len(path) < hops:
            types = index.types_at(node)
            if not types.size:
                break
            k = int(rng.choice(list(types)))
            lo, hi = index.node_ptr[node], index.node_ptr[node + 1]
            choices = np.flatnonzero(index.dtype[lo:hi] == k) + lo
            node = int(index.dst[choices[rng.randrange(choices.size)]])
            path.append(k)
        answers = index.follow(topic, path)
        answers = answers[answers != topic]
        if not answers.size or answers.size > max_answers:
            continue
        pick = rng.random()
        text = grammar_question(path, graph, wordings, rng, phrased) if pick < grammar else None
        if text is None and pick < grammar + natural:
            text = natural_question(path, wordings, r, rng, pairs=pairs, category_nouns=CATEGORY_NOUNS)
        text = text or phrase_path(path, wordings, r, rng, pairs=pairs)
        if rng.random() < category:
            noun = rng.choice(CATEGORY_NOUNS)
            text = re.sub(rf"\b{TOPIC}\b", rng.choice((f"the {noun} {TOPIC}", f"{noun} {TOPIC}")), text, count=1)
        out.append(TrainingQuestion(text, topic, answers, tuple(path)))
    return out

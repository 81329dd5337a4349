"""SPARQL planning: from a parsed question to a relation path, a SPARQL query, and explained answers.

How a question is planned:

1. the topic entity comes from :mod:`reasoning.question`;
2. candidate relation paths of 1 to 3 hops are searched from the topic in the graph itself
   (a bounded sample of each hop's frontier), keeping those that lead somewhere;
3. each path is scored by the MiniLM similarity between the question (topic masked as ``X``) and the
   path's paraphrases generated from the graph's own relation labels (:mod:`reasoning.paraphrases`),
   with a small penalty per extra hop; when wordings were learned from example questions
   (:func:`learn_examples`), the examples nearest to the question vote on the path instead;
4. the best path is compiled to SPARQL (user text only enters as escaped terms), run on the store,
   and each answer gets the path of facts that reaches it, with sources and rule names.

Facts in the inferred graph (rule conclusions) are matched too, and their evidence steps name the rule.

>>> from kg import KnowledgeGraph
>>> kg = KnowledgeGraph.open("memory")
>>> _ = kg.import_file("tests/data/qa_films.txt", "pipe")
>>> path = [Step("https://kgqa.dev/relation/directed_by", True)]
>>> print(compile_path(path, "<https://kgqa.dev/entity/Night_Harbour>", inferred=False))  # doctest: +NORMALIZE_WHITESPACE
SELECT ?ans (COUNT(*) AS ?support) WHERE {
  <https://kgqa.dev/entity/Night_Harbour> <https://kgqa.dev/relation/directed_by> ?ans .
  FILTER(?ans != <https://kgqa.dev/entity/Night_Harbour>)
} GROUP BY ?ans ORDER BY DESC(?support) ?ans
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyoxigraph as ox

from reasoning.answers import Answer, AnswerSet
from reasoning.paraphrases import Step, path_paraphrases
from reasoning.path_queries import _term_of, _there_and_back, _to_ox, compile_path, explain, path_patterns
from reasoning.question import Encoder, GraphIndex, Question, parse_question
from reasoning.resolver import register_reasoner

#: below this similarity no relation path is trusted (``auto`` then asks another reasoner)
CONFIDENT = 0.7
#: similarity subtracted per hop beyond the first, so that a short path wins a near tie
HOP_PENALTY = 0.05
#: weight of the mean word support of a path's relations (each relation should be named in the question)
SUPPORT_WEIGHT = 0.5
#: weight of the penalty for a relation the question clearly names but the path leaves out
MISSED_WEIGHT = 1.0
#: bonus for a path whose answers look like dates when the question asks "when"
WHEN_BONUS = 0.1
_FUNCTION_WORDS = {"has", "have", "had", "is", "are", "was", "be", "by", "in", "of", "on", "at", "to", "for",
                   "the", "a", "an", "with", "from", "and", "or", "as", "into", "about"}
MAX_HOPS = 3


@dataclass
class PathScore:
    """A relation path's planner score and the terms it is made of (what :mod:`reasoning.ranking` reads)."""

    path: tuple[Step, ...]
    score: float
    paraphrase: str
    #: best cosine of the masked question to the path's generated paraphrases
    similarity: float = 0.0
    #: how clearly the question's words name the path's relations, and the strongest relation it leaves out
    named: float = 0.0
    missed: float = 0.0
    #: learned wordings: the nearest example's cosine and the path's share of the nearest examples' votes
    example: float = 0.0
    votes: float = 0.0
    #: whether the path's answers look like dates
    dates: bool = False
    #: the score from the generated paraphrases alone, before learned wordings could replace it
    base: float = 0.0


# ------------------------------------------------------------------------------------------ schema
def _labels(index: GraphIndex):
    """(predicate -> label and aliases, step -> answer type label), computed once per index."""
    cached = index.caches.get("labels")
    if cached is None:
        labels = {iri: (info.label,) + tuple(a for a in info.aliases if a != info.label)
                  for iri, info in index.relations.items()}
        from reasoning.paraphrases import base_forms

        # the paraphrases of "V by" labels need V's base form: one spaCy pass for all of them
        base_forms(" ".join(name.split()[:-1]) for names in labels.values() for name in names
                   if len(name.split()) >= 2 and name.split()[-1].lower() == "by")
        cached = index.caches["labels"] = (labels, _answer_types(index))
    return cached


def _answer_types(index: GraphIndex) -> dict[Step, str]:
    """For each step, the label of the class most of the nodes it leads to belong to (typed graphs only)."""
    if not index.types:
        return {}
    counts: dict[Step, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s, edges in index.out.items():
        for p, o in edges[:50]:
            for t in index.types.get(o, ()):
                counts[Step(p, True)][t] += 1
            for t in index.types.get(s, ()):
                counts[Step(p, False)][t] += 1
    out = {}
    for step, by_type in counts.items():
        best, n = max(by_type.items(), key=lambda kv: kv[1])
        label = index.class_labels.get(best, "")
        if label and n >= 1:
            out[step] = label.lower()
    return out


def candidate_paths(index: GraphIndex, topic, *, max_hops: int = MAX_HOPS, sample: int = 32) -> list[tuple[Step, ...]]:
    """Relation paths of 1..max_hops hops that lead from ``topic`` to some node other than the topic.

    The search follows the graph itself; at each hop only ``sample`` nodes of the frontier are expanded,
    which bounds the work on hub nodes (a genre with thousands of films) at the risk of missing a rare path.
    """
    out: list[tuple[Step, ...]] = []
    steps: dict = {}

    def expand(prefix: tuple[Step, ...], frontier) -> None:
        options: dict[tuple, set] = defaultdict(set)
        for node in frontier:
            for p, o in index.out.get(node, ()):
                options[(p, True)].add(o)
            for p, s in index.inn.get(node, ()):
                options[(p, False)].add(s)
        for key in sorted(options):
            reached = options[key]
            step = steps.get(key) or steps.setdefault(key, Step(*key))
            path = prefix + (step,)
            if len(reached) > 1 or topic not in reached:
                out.append(path)
            if len(path) < max_hops:
                nxt = sorted(reached, key=str)[:sample] if len(reached) > sample else reached
                expand(path, nxt)

    expand((), [topic])
    return out


def paraphrases_of(index: GraphIndex, path: tuple[Step, ...]) -> list[str]:
    """The generated paraphrases that ``path`` is matched by (from the graph's relation labels)."""
    labels, answer_types = _labels(index)
    return path_paraphrases(path, labels, answer_type=answer_types.get(path[-1]))


def _path_vectors(index: GraphIndex, paths: list[tuple[Step, ...]], *, kg=None):
    """(path -> its paraphrases' embeddings, path -> its paraphrases) for ``paths``.

    Embeddings come from the store's :class:`~reasoning.vector_cache.VectorCache` (its folder for an
    on-disk store), keyed by encoder and paraphrase text: only wordings no earlier process embedded are
    encoded, and a relabelled relation re-embeds just the wordings that changed.
    """
    from reasoning.vector_cache import vector_cache

    store = index.caches.setdefault("path_vectors", {})
    texts_store = index.caches.setdefault("path_texts", {})
    missing = [p for p in paths if p not in store]
    if missing:
        texts = {p: paraphrases_of(index, p) for p in missing}
        flat = [t for p in missing for t in texts[p]]
        vectors = vector_cache(kg).vectors(flat, Encoder.get().encode)
        row = 0
        for p in missing:
            n = len(texts[p])
            store[p] = vectors[row:row + n]
            texts_store[p] = texts[p]
            row += n
    return store, texts_store


def _relation_keywords(index: GraphIndex) -> dict[str, set[str]]:
    """Content words (and their lemmas) of each relation's label and aliases: ``directed by`` -> {directed, direct}."""
    cached = index.caches.get("keywords")
    if cached is not None:
        return cached
    from reasoning.paraphrases import base_form, base_forms

    labels, _ = _labels(index)
    # one spaCy pass for every word's lemma and base form (one call per word costs seconds cold)
    all_words = {w for names in labels.values() for name in names for w in re.findall(r"[a-z]+", name.lower())
                 if w not in _FUNCTION_WORDS and len(w) > 1}
    _lemmas(all_words)
    base_forms(w for w in all_words if w.endswith("ed") or w.endswith("en"))
    out: dict[str, set[str]] = {}
    for pred, names in labels.items():
        words = set()
        for name in names:
            for word in re.findall(r"[a-z]+", name.lower()):
                if word not in _FUNCTION_WORDS and len(word) > 1:
                    words.add(word)
                    words.add(_lemma(word))
                    if word.endswith("ed") or word.endswith("en"):
                        words.add(base_form(word))
        out[pred] = words
    index.caches["keywords"] = out
    return out


_LEMMAS: dict[str, str] = {}


def _lemmas(words) -> None:
    """Fill the lemma cache for many words in one spaCy pass (what :func:`_lemma` does one at a time)."""
    todo = [w for w in dict.fromkeys(words) if w not in _LEMMAS]
    if not todo:
        return
    try:
        from reasoning.question import load_spacy

        for word, doc in zip(todo, load_spacy().pipe(todo)):
            _LEMMAS[word] = (doc[0].lemma_.lower() or word) if len(doc) else word
    except (ImportError, OSError):  # no model: _lemma keeps each word as it is
        pass


def _lemma(word: str) -> str:
    found = _LEMMAS.get(word)
    if found is None:
        try:
            from reasoning.question import load_spacy

            found = load_spacy()(word)[0].lemma_.lower() or word
        except (ImportError, OSError):
            found = word
        _LEMMAS[word] = found
    return found


def word_support(index: GraphIndex, question: Question) -> dict[str, dict[str, float]]:
    """For each question word, how clearly it names each relation: 1.0 for a shared lemma, else the
    MiniLM similarity between the word and the relation's best-matching word."""
    keywords = _relation_keywords(index)
    words = question.words
    if not words or not keywords:
        return {}
    vocab = sorted({k for ks in keywords.values() for k in ks})
    qwords = [w for w, _ in words]
    enc = Encoder.get()
    sims = enc.encode(qwords) @ enc.encode(vocab).T
    position = {k: i for i, k in enumerate(vocab)}
    out: dict[str, dict[str, float]] = {}
    for row, (word, lemma) in enumerate(words):
        per_relation = {}
        for pred, ks in keywords.items():
            if word in ks or lemma in ks:
                per_relation[pred] = 1.0
            elif any(_same_stem(lemma, k) for k in ks):  # "screenwriter"/"write", "directors"/"direct"
                per_relation[pred] = 0.95
            else:
                cols = [position[k] for k in ks]
                per_relation[pred] = float(sims[row, cols].max()) if cols else 0.0
        out[word] = per_relation
    return out


def _same_stem(word: str, keyword: str) -> bool:
    """Whether two words share a stem: one (of 4+ letters) inside the other, or the same first 5 letters."""
    if len(keyword) >= 4 and len(word) >= 4 and (keyword in word or word in keyword):
        return True
    return len(word) >= 5 and len(keyword) >= 5 and word[:5] == keyword[:5]


def _support_terms(support: dict[str, dict[str, float]], used: set[str]) -> tuple[float, float]:
    """(mean over the path's relations of how clearly some word names it, the strongest naming of a
    relation by a word that names none of the path's relations)."""
    if not support:
        return 0.0, 0.0
    named = sum(max(per.get(r, 0.0) for per in support.values()) for r in used) / max(1, len(used))
    missed = 0.0
    for per in support.values():
        if max((per.get(r, 0.0) for r in used), default=0.0) >= 0.7:
            continue  # this word is explained by the path
        missed = max(missed, max(per.values(), default=0.0))
    return named, missed


_DATE = re.compile(r"^(\d{3,4}|\d{4}-\d{2}(-\d{2})?)$")


def _date_like(index: GraphIndex, step: Step) -> bool:
    """Whether the nodes ``step`` leads to mostly look like years or dates (sampled once per step)."""
    cache = index.caches.setdefault("date_like", {})
    if step not in cache:
        seen = total = 0
        for s, edges in index.out.items():
            for p, o in edges:
                if p == step.predicate:
                    node = o if step.forward else s
                    total += 1
                    seen += bool(_DATE.match(index.label(node)))
            if total >= 200:
                break
        cache[step] = total > 0 and seen / total >= 0.5
    return cache[step]


#: with ``score_paths(holdout=...)``, paraphrases at least this close to the question are left out too
HOLDOUT_NEAR = 0.9
#: added to the similarity of a learned example (a user's own wording beats a generated paraphrase)
EXAMPLE_BONUS = 0.05
#: a learned example at least this close to the question (cosine of the masked wordings) is a question
#: worded as this one: then the examples' votes decide; else every example counts as a paraphrase of its path
EXAMPLE_SAME = 0.97


def _example_vectors(kg, index: GraphIndex):
    """Learned example wordings per path, embedded once: from ``use_examples`` or the store folder's file."""
    cached = index.caches.get("examples")
    if cached is None:
        from pathlib import Path

        from reasoning.paraphrases import ExampleBank

        bank = ExampleBank()
        if kg is not None and getattr(kg.store, "kind", "").startswith("oxigraph"):
            file = Path(str(kg.store.location)) / ExampleBank.FILE_NAME
            if file.is_file():
                try:
                    bank = ExampleBank.load(file)
                except (OSError, ValueError, KeyError):  # a damaged file is ignored, never fatal
                    bank = ExampleBank()
        cached = use_examples(index, bank)
    return cached


def use_examples(index: GraphIndex, bank) -> dict:
    """Attach an :class:`~reasoning.paraphrases.ExampleBank` to an index (replacing any earlier one)."""
    grouped = bank.by_path()
    encoder = Encoder.get() if grouped else None
    cached = {path: encoder.encode(texts) for path, texts in grouped.items()}
    index.caches["examples"] = cached
    return cached


#: learned examples this close to the nearest one (cosine) vote on the question's path
VOTE_MARGIN = 0.01
#: at most this many nearest examples vote
VOTERS = 25


def _example_votes(examples: dict, paths, qvec) -> tuple[dict, dict]:
    """For the learned examples of ``paths``: each path's best similarity to the question, and its share
    of the votes of the nearest examples (those within ``VOTE_MARGIN`` of the nearest, at most
    ``VOTERS``). Voting keeps one mislearned example (a film whose director was also its only listed
    actor) from overruling many consistent ones with the same wording."""
    best: dict = {}
    sims_of: dict = {}
    for p in paths:
        learned = examples.get(p)
        if learned is not None:
            sims_of[p] = learned @ qvec
            best[p] = float(sims_of[p].max())
    if not best:
        return {}, {}
    top = max(best.values())
    voters = sorted(((float(x), p) for p, sims in sims_of.items() for x in sims if x >= top - VOTE_MARGIN),
                    key=lambda v: -v[0])[:VOTERS]
    share: dict = {p: 0.0 for p in best}
    for _, p in voters:
        share[p] += 1.0 / len(voters)
    return best, share


def score_paths(index: GraphIndex, question: Question, paths: list[tuple[Step, ...]], *, kg=None,
                extra_used: dict | None = None, holdout: str | None = None) -> list[PathScore]:
    """Paths ranked by: max cosine similarity of the masked question to the path's paraphrases,
    plus how well the question names each of the path's relations, minus a penalty for a relation the
    question names that the path leaves out, minus a small penalty per hop.

    ``holdout`` is a paraphrase left out of the match, with every paraphrase at least ``HOLDOUT_NEAR``
    close to the question (a question generated from that very paraphrase, as :mod:`reasoning.ranking`
    fits on, would otherwise match itself or its sibling templates almost exactly).

    Inside :func:`reasoning.vector_cache.wording_budget` (a server answering under a time limit), only
    the paths whose wordings fit the budget are scored (see :func:`_affordable`).
    """
    if not paths:
        return []
    from reasoning.vector_cache import current_budget

    budget = current_budget()
    if budget is not None:
        paths = _affordable(index, question, paths, budget, kg=kg, extra_used=extra_used, holdout=holdout)
    return _score_paths(index, question, paths, kg=kg, extra_used=extra_used, holdout=holdout)


def _affordable(index: GraphIndex, question: Question, paths: list[tuple[Step, ...]], budget, *, kg=None,
                extra_used: dict | None = None, holdout: str | None = None) -> list[tuple[Step, ...]]:
    """The paths whose wordings ``budget`` (a :class:`~reasoning.vector_cache.WordingBudget`) lets this
    question embed: every path already embedded and every one-hop path, then, hop by hop, the longer
    paths most likely to score well (their scored prefixes' similarity to the question and how well
    its words name their relations) while the budget lasts. The rest are counted in ``budget.skipped``
    and their wordings handed to the cache's wanted list."""
    from reasoning.vector_cache import vector_cache

    cache = vector_cache(kg)
    embedded = index.caches.setdefault("path_vectors", {})
    texts_of = index.caches.setdefault("path_texts", {})
    todo = [p for p in paths if p not in embedded]
    for p in todo:
        if p not in texts_of:
            texts_of[p] = paraphrases_of(index, p)
    flat = [t for p in todo for t in texts_of[p]]
    found = iter(cache.lookup(flat))
    need: dict = {}
    for p in todo:
        rows = [row for _, row in zip(texts_of[p], found)]
        n = sum(row is None for row in rows)
        if n:
            need[p] = n
        elif rows:  # every wording cached: keep the vectors, so scoring does not look them up again
            embedded[p] = np.stack(rows).astype(np.float32, copy=False)
    total = sum(need.values())
    if total <= budget.left:
        budget.left -= total
        budget.embedded += total
        return paths
    admitted = {p for p in paths if p not in need or len(p) == 1}
    left = budget.left - sum(need.get(p, 0) for p in admitted)
    support = word_support(index, question)
    longest = max(len(p) for p in paths)
    similarity: dict = {}  # of the admitted paths scored so far (a path's own, whatever else is scored)
    for hops in range(2, longest + 1):
        # a path not embedded yet is guessed at: its best-scored prefix's similarity plus the terms that
        # need no vectors (how well the question's words name its relations, its length, dates)
        similarity.update((ps.path, ps.similarity) for ps in _score_paths(
            index, question, [p for p in paths if len(p) == hops - 1 and p in admitted], kg=kg,
            extra_used=extra_used, holdout=holdout))
        waiting = [p for p in paths if len(p) == hops and p not in admitted]
        guess = {}
        for p in waiting:
            prefix = max((similarity.get(p[:i], 0.0) for i in range(1, hops)), default=0.0)
            used = {step.predicate for step in p} | set((extra_used or {}).get(p, ()))
            named, missed = _support_terms(support, used)
            guess[p] = prefix + SUPPORT_WEIGHT * named - MISSED_WEIGHT * max(0.0, missed - 0.7)
            if question.wh == "when":
                guess[p] += WHEN_BONUS if _date_like(index, p[-1]) else -WHEN_BONUS
        allowance = left if hops == longest else left // 2  # keep some for the longer paths
        for p in sorted(waiting, key=lambda q: -guess[q]):
            if need[p] <= allowance:
                admitted.add(p)
                allowance -= need[p]
                left -= need[p]
    budget.embedded += budget.left - left
    budget.left = left
    skipped = [p for p in paths if p not in admitted]
    budget.skipped += len(skipped)
    cache.want([t for p in skipped for t in texts_of[p]])
    return [p for p in paths if p in admitted]


def _score_paths(index: GraphIndex, question: Question, paths: list[tuple[Step, ...]], *, kg=None,
                 extra_used: dict | None = None, holdout: str | None = None) -> list[PathScore]:
    if not paths:
        return []
    store, texts = _path_vectors(index, paths, kg=kg)
    qvec = Encoder.get().encode([question.masked or question.clean])[0]
    support = word_support(index, question)
    examples = _example_vectors(kg, index)
    learned_best, votes = _example_votes(examples, paths, qvec)
    worded_as_taught = max(learned_best.values(), default=0.0) >= EXAMPLE_SAME
    out = []
    for p in paths:
        sims = store[p] @ qvec
        if holdout is not None and len(texts[p]) > 1:
            # the paraphrase itself and its near-copies: a real question is never worded as a template
            near = np.array([t == holdout for t in texts[p]]) | (sims >= HOLDOUT_NEAR)
            if not near.all():
                sims = np.where(near, -1.0, sims)
        best = int(np.argmax(sims))
        similarity, wording = float(sims[best]), texts[p][best]
        score = similarity - HOP_PENALTY * (len(p) - 1)
        named = missed = 0.0
        if support:
            used = {step.predicate for step in p} | set((extra_used or {}).get(p, ()))
            named, missed = _support_terms(support, used)
            score += SUPPORT_WEIGHT * named - MISSED_WEIGHT * max(0.0, missed - 0.7)
        dates = _date_like(index, p[-1])
        if question.wh == "when":
            score += WHEN_BONUS if dates else -WHEN_BONUS
        elif question.wh in ("who", "whom", "where") and dates:
            score -= WHEN_BONUS
        base = score
        if p in votes:
            if worded_as_taught:
                # a taught question is worded as this one: direct evidence of what the wording means. The
                # nearest examples vote, and their share stands in for the word-support terms and hop penalty
                ex = learned_best[p] + EXAMPLE_BONUS + SUPPORT_WEIGHT * votes[p]
            else:
                # no taught question is worded as this one: an example is one more wording of its path,
                # weighed as a generated paraphrase is (with the naming terms, no bonus), so wordings taught for some
                # kinds of question leave the others as they were ("what year was the film X released" is
                # close to a taught "what year were the films by the director of X released", but names
                # no director)
                ex = score - similarity + learned_best[p]
            if ex > score:
                score, wording = ex, "(learned example)"
        out.append(PathScore(p, score, wording, similarity, named, missed, learned_best.get(p, 0.0),
                             votes.get(p, 0.0), dates, base))
    out.sort(key=lambda ps: (-ps.score, len(ps.path)))
    return out


# ------------------------------------------------------------------------------------------ planner
class SparqlPlanner:
    """The ``sparql`` reasoner: relation-path planning compiled to SPARQL (see the module docstring).

    >>> from kg import KnowledgeGraph                                        # doctest: +SKIP
    >>> SparqlPlanner().answer(kg, parse_question(kg, "who directed [Kismet]")).top  # doctest: +SKIP
    'William Dieterle'
    """

    name = "sparql"

    def __init__(self, *, max_hops: int = MAX_HOPS, confident: float = CONFIDENT, tries: int = 4,
                 evidence: bool = True):
        self.max_hops = max_hops
        self.confident = confident
        self.tries = tries
        self.evidence = evidence

    # -------------------------------------------------------------- entry point
    def answer(self, kg, question: Question | str, *, k: int = 10) -> AnswerSet:
        if isinstance(question, str):
            question = parse_question(kg, question)
        index = question.index
        result = AnswerSet(question.text, [], self.name, None, [])
        topic = question.topic
        if topic is None or not topic.nodes:
            what = f"no entity of the graph matches {topic.text!r}" if topic else \
                "found no entity of the graph in the question"
            result.warnings.append(what + "; put the entity's name in [square brackets] or check its spelling")
            return result
        if question.kind == "boolean":
            return self._boolean(kg, index, question, result)
        return self._select(kg, index, question, result, k)

    # -------------------------------------------------------------- who/what/which, lists, how many
    def _select(self, kg, index, question: Question, result: AnswerSet, k: int) -> AnswerSet:
        topic_node = question.topic.node
        paths = candidate_paths(index, topic_node, max_hops=self.max_hops)
        constraint_nodes = [m.node for m in question.others if m.nodes and m.strong]
        constraints_of: dict = {}
        if constraint_nodes:  # keep the paths whose answers the other entities can constrain
            for path in paths:
                found = self._constraints(index, path, topic_node, constraint_nodes)
                if found is not None:
                    constraints_of[path] = found
            paths = [p for p in paths if p in constraints_of]
            if not paths:  # dropping the other entities would answer another question
                names = ", ".join(repr(m.text) for m in question.others if m.nodes and m.strong)
                result.warnings.append(f"no answer reached from {question.topic.text!r} is also tied to {names}")
                return result
        extra = {p: {step.predicate for step, _ in c} for p, c in constraints_of.items()}
        ranked = score_paths(index, question, kg=kg, paths=paths, extra_used=extra)
        if not ranked:
            result.warnings.append(f"{question.topic.text!r} has no facts in the graph")
            return result
        from reasoning.reading import asked_type, constraint_penalty, direction_penalty, retype

        asked = asked_type(question)  # "which country", "how many people", "when": the answer's type
        ranked = constraint_penalty(direction_penalty(index, question, ranked), constraints_of)
        ranked = retype(index, topic_node, ranked, asked)
        if ranked[0].score < self.confident:
            result.warnings.append(f"no confident relation path (best {ranked[0].score:.2f}: "
                                   f"{ranked[0].paraphrase!r})")
            result.method = self.name
            result.low_confidence = True  # read by ``auto`` to try another reasoner
            return result
        inferred = bool(index.inferred)
        for candidate in ranked[: self.tries]:
            if candidate.score < self.confident:
                break
            constraints = constraints_of.get(candidate.path, [])
            sparql, found, counted = _answer_rows(kg, index, candidate.path, topic_node, inferred=inferred,
                                                  constraints=constraints, asked=asked)
            if question.kind == "count":
                if not found:
                    continue
                # distinct answers of the asked path (both ways over a symmetric relation, of the asked type)
                result.sparql = counted
                evidence = []
                if self.evidence:
                    for node, _support, path in found[:10]:
                        evidence += explain(kg, index, path, topic_node, node, inferred=inferred)
                result.answers = [Answer(str(len(found)), None, round(candidate.score, 4), evidence)]
                return result
            if not found:
                continue
            result.sparql = sparql
            support_total = sum(support for _, support, _ in found) or 1
            for node, support, path in found[:k]:
                share = support / support_total
                evidence = explain(kg, index, path, topic_node, node, inferred=inferred) if self.evidence else []
                iri = node.value if isinstance(node, ox.NamedNode) else None
                result.answers.append(Answer(index.label(node), iri, round(candidate.score * (0.9 + 0.1 * share), 4),
                                             evidence))
            return result
        result.warnings.append("the best relation paths lead to no answer in the graph")
        return result

    def _constraints(self, index, path, topic_node, constraint_nodes) -> list[tuple] | None:
        """For each other entity in the question, the relation that ties it to the answers; None if none does."""
        if not constraint_nodes:
            return []
        out = []
        for node in constraint_nodes:
            steps = {Step(p, False) for p, _ in index.out.get(node, ())} | \
                    {Step(p, True) for p, _ in index.inn.get(node, ())}
            # answers reached by the path's last step: find the step that ties the constraint to them
            last_nodes = _reach(index, topic_node, path, cap=5000)
            best = None
            for step in steps:
                linked = {n for p, n in (index.out.get(node, ()) if not step.forward else index.inn.get(node, ()))
                          if p == step.predicate}
                hits = len(linked & last_nodes)
                if hits and (best is None or hits > best[0]):
                    best = (hits, step)
            if best is None:
                return None
            out.append((best[1], _term_of(node)))
        return out

    # -------------------------------------------------------------- yes / no
    def _boolean(self, kg, index, question: Question, result: AnswerSet) -> AnswerSet:
        linked = [m for m in question.mentions if m.nodes]
        if len(linked) < 2:
            result.warnings.append("a yes/no question needs two entities of the graph (e.g. 'did [X] direct [Y]')")
            return result
        subject, obj = linked[0], linked[1]
        best = None
        for a, b in ((subject, obj), (obj, subject)):
            paths = candidate_paths(index, a.node, max_hops=min(2, self.max_hops))
            reaching = [p for p in paths if b.node in _reach(index, a.node, p, cap=5000)]
            for ps in score_paths(index, question, kg=kg, paths=reaching)[:1]:
                if best is None or ps.score > best[0].score:
                    best = (ps, a, b)
        inferred = bool(index.inferred)
        if best is not None and best[0].score >= self.confident:
            ps, a, b = best
            body = "\n  ".join(path_patterns(ps.path, _term_of(a.node), inferred=inferred, end=_term_of(b.node)))
            result.sparql = f"ASK {{\n  {body}\n}}"
            if bool(kg.query(result.sparql)):
                evidence = explain(kg, index, ps.path, a.node, b.node, inferred=inferred)
                result.answers = [Answer("yes", None, round(ps.score, 4), evidence)]
                return result
        # "no" only when the graph knows the relation the question asks about for the subject
        question_paths = score_paths(index, question, kg=kg, paths=candidate_paths(index, subject.node, max_hops=1))
        if question_paths and question_paths[0].score >= self.confident:
            ps = question_paths[0]
            sparql = compile_path(ps.path, _term_of(subject.node), inferred=inferred)
            rows = list(kg.query(sparql))
            if rows:
                result.sparql = sparql
                evidence = []
                for row in rows[:3]:
                    evidence += explain(kg, index, ps.path, subject.node, _to_ox(row["ans"]), inferred=inferred)
                result.answers = [Answer("no", None, round(ps.score, 4), evidence)]
                return result
        result.warnings.append("the graph has no facts that decide this question")
        return result


def _answer_rows(kg, index: GraphIndex, path, topic_node, *, inferred: bool, constraints=(), asked=None):
    """(the SPARQL of ``path``, its answers as ``(node, support, the path that reaches it)`` best first,
    the SPARQL that counts them).

    A symmetric relation's hops are also followed the other way round, and a relation with an inverse over
    the inverse (:mod:`reasoning.reading`); answers of the wrong type are left out when others have the
    asked type; among equally supported answers the one the text states most surely comes first, and
    those the topic also reaches by another relation come last.
    """
    from reasoning.reading import equivalent_paths, keep_typed, reached_otherwise, source_confidence

    variants = equivalent_paths(index, path)
    sparql = compile_path(path, _term_of(topic_node), inferred=inferred, constraints=constraints,
                          also=tuple(variants[1:]))
    support = {_to_ox(row["ans"]): int(row["support"].toPython()) for row in kg.query(sparql)}
    reached_by = {}
    for variant in variants[1:]:  # the evidence of an answer follows a variant that reaches it
        reached_by.update({n: variant for n in _reach(index, topic_node, variant, cap=5000)})
    nodes = keep_typed(index, list(support), asked)
    otherwise = reached_otherwise(index, topic_node, path)
    surest = source_confidence(kg, topic_node, variants) if len(nodes) > 1 else {}
    nodes.sort(key=lambda n: (-support[n], -surest.get(n, 0.0), n in otherwise, str(n)))
    if len(variants) > 1:
        reached_by.update({n: tuple(path) for n in _reach(index, topic_node, path, cap=5000)})
    # a count is the COUNT query's when the type left nothing out, else the listing's answers that are left
    counted = compile_path(path, _term_of(topic_node), inferred=inferred, constraints=constraints, count=True,
                           also=tuple(variants[1:])) if len(nodes) == len(support) else sparql
    return sparql, [(n, support[n], reached_by.get(n, tuple(path))) for n in nodes], counted


def _reach(index: GraphIndex, start, path, *, cap: int) -> set:
    """Nodes reached from ``start`` along ``path`` in the in-memory index (frontiers capped at ``cap``)."""
    frontier = {start}
    before = None
    for i, step in enumerate(path):
        nxt = set()
        for node in frontier:
            edges = index.out.get(node, ()) if step.forward else index.inn.get(node, ())
            nxt.update(n for p, n in edges if p == step.predicate)
            if len(nxt) > cap:
                break
        if i and _there_and_back(path[i - 1], step) and before is not None and len(before) == 1:
            nxt -= before  # as in path_patterns: the way back never ends where it began
        before, frontier = frontier, nxt
    return frontier


register_reasoner("sparql", SparqlPlanner)


def learn_examples(kg, pairs, *, max_hops: int = MAX_HOPS, min_f1: float = 0.5, bank=None):
    """Learn wordings from example (question, answers) pairs: no path labels needed.

    For each example the topic is linked, every relation path from it is followed in the graph, and
    the path whose answers best match the example's (F1 of labels, shortest on ties) takes the
    question's wording as a paraphrase. Examples no path reproduces (F1 below ``min_f1``) are skipped,
    and so are examples two paths of the same length reproduce equally well (a film its director also
    wrote cannot teach whether "who wrote X" means the writer or the director).
    Returns ``(bank, learned, skipped)``; attach the bank with :func:`use_examples` or save it beside
    the store (``bank.save(store_folder / ExampleBank.FILE_NAME)``).
    """
    from reasoning.paraphrases import ExampleBank

    index = graph_index_of(kg)
    bank = bank or ExampleBank()
    learned = skipped = 0
    for question, answers in pairs:
        gold = {a.strip() for a in answers if a.strip()}
        parsed = parse_question(kg, question, index=index)
        if not gold or parsed.topic is None or not parsed.topic.nodes:
            skipped += 1
            continue
        topic = parsed.topic.node
        best, tied = None, False
        for path in sorted(candidate_paths(index, topic, max_hops=max_hops), key=len):
            reached = {index.label(n) for n in _reach(index, topic, path, cap=5000) if n != topic}
            hits = len(reached & gold)
            if not hits:
                continue
            f1 = 2 * hits / (len(reached) + len(gold))
            if best is None or f1 > best[0] + 1e-9:
                best, tied = (f1, path), False
            elif abs(f1 - best[0]) <= 1e-9 and len(path) == len(best[1]):
                tied = True  # e.g. a film its director also wrote: the answers don't say which is meant
        if best is None or best[0] < min_f1 or tied:
            skipped += 1
            continue
        bank.entries.append((parsed.masked, best[1]))
        learned += 1
    return bank, learned, skipped


def graph_index_of(kg) -> GraphIndex:
    from reasoning.question import graph_index

    return graph_index(kg)

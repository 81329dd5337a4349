"""``kgqa_relation_extractor``: schema relations between the entities of a sentence.

For every pair of mentions in a sentence (names, resolved pronouns and dates, at most
``max_distance`` tokens apart, at most ``max_intervening`` other mentions between them) whose types fit a schema relation, the component compares the text
that connects them with the relation's phrasings:

* the connecting texts are the words between the two mentions (when short) and the words on the
  dependency path between their heads (with auxiliaries, so "was founded by" keeps its "was"); a
  text that runs through another mention of the pair's types is left out (it speaks of that pair);
* a pair read in text order (A ... B) is scored against ``aliases`` of relations with A as subject
  and against ``inverse_aliases`` of relations with B as subject;
* the score is the best of the MiniLM cosine similarity (``scorer="minilm"``) and a lexical score
  (the phrase occurs word for word in the connecting text: 0.95, minus 0.03 per extra word, at
  least 0.7); a connecting text made only of function words ("in", "of the") is scored lexically
  only, because MiniLM finds "in" close to "died in", and so is one with more than
  ``max_embedded_words`` (2 in ``nlp/pipeline.cfg``) content words: such long texts rarely come
  close to a short relation phrase, and embedding them was most of the extractor's cost. When a
  pair has both texts, only the one with fewer content words is embedded (the other is still scored
  lexically). These two rules halve MiniLM's work (15,000 -> 8,300 word pieces on the first 100
  Re-DocRED dev documents) for 5 of 302 correct facts on the first 150, where precision goes up
  (37.4 -> 38.0). ``scorer="lexical"`` uses only the lexical score (fast, no transformer; used by
  tests).

**Calibration.** A score *s* becomes a confidence ``1 / (1 + exp(-slope * (s - center)))`` times
the confidence of the mentions (a pronoun's resolution confidence, 1 for names) and a type factor
(1 when the types fit the relation; 0.8-0.85 for a type NER often confuses with the one required,
e.g. a place tagged as an organisation, on the object side only). With the default
``center=0.65`` and ``slope=14``: s = 0.65 -> 0.5, 0.7 -> 0.67, 0.8 -> 0.89, 0.95 -> 0.99. Relations
with confidence below ``threshold`` (0.5) are dropped. The centre and slope were set by looking at
MiniLM similarities of correct and wrong pairs on hand-written sentences (a paraphrase of an alias
scores 0.65-0.9, unrelated connecting text 0.1-0.5); they are not fitted on a benchmark.

A relation found for one of several coordinated mentions ("founded by Steve Jobs, Steve Wozniak and
Ronald Wayne") is stated for each of them (confidence times 0.95), when the types fit.

Patterns that connecting text cannot express are read directly: life dates in parentheses after
a person ("Marie Curie (7 November 1867 – 4 July 1934)"); occupations stated with a copula or
apposition ("Curie was a physicist", "Curie, a chemist,"), only when the schema has a relation whose
object type is ``ROLE``; nationality from "X was a Polish physicist" and "British singer X" (P27); and "Place, Place"
("Passy, Paris") as located in (P131), or country (P17) when the second is a country. A located-in
fact whose object is a country (``nlp/schemas/countries.txt``) is stated as country (P17), the
Wikidata convention. These pattern facts have fixed confidences (0.7-0.85). Finally, within the
document, X located in Y and Y in country Z gives X country Z (see
``_countries_by_containment``), and relations declared ``inverse_of`` another are added reversed.
"""
from __future__ import annotations

import math
import re

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc

from nlp.components.annotations import EntityCluster, Mention, RelationMention, ensure_extensions
from nlp.dates import parse_date
from nlp.schema import RelationSchema, load_schema

_WORD = re.compile(r"[\w'-]+")
_PATH_KEEP_DEPS = {"aux", "auxpass", "neg", "prt", "agent", "case"}


def calibrate(score: float, center: float = 0.65, slope: float = 14.0) -> float:
    """Map a similarity score to a confidence in [0, 1] (see the module docstring).

    >>> round(calibrate(0.65), 2), round(calibrate(0.8), 2)
    (0.5, 0.89)
    """
    return 1.0 / (1.0 + math.exp(-slope * (score - center)))


def lexical_score(context: str, phrase: str) -> float:
    """How literally ``phrase`` occurs in ``context`` (0 when its words are not there in order).

    >>> lexical_score("was born in", "born in"), lexical_score("moved to", "born in")
    (0.92, 0.0)
    """
    return _lexical([w.lower() for w in _WORD.findall(context)], [w.lower() for w in _WORD.findall(phrase)])


def _lexical(c: list[str], p: list[str]) -> float:
    if not p or len(p) > len(c):
        return 0.0
    for i in range(len(c) - len(p) + 1):
        if c[i:i + len(p)] == p:
            return round(max(0.7, 0.95 - 0.03 * (len(c) - len(p))), 4)
    return 0.0


class ParseArrays:
    """A parsed Doc's heads, labels and words as plain lists, read once per Doc, so that walking
    dependency paths for every pair of mentions makes no spaCy Token objects."""

    def __init__(self, doc: Doc):
        from spacy.attrs import DEP, HEAD, IS_PUNCT, ORTH, POS

        rows = doc.to_array([HEAD, DEP, POS, IS_PUNCT, ORTH]).tolist() if len(doc) else []
        strings = doc.vocab.strings
        # HEAD is a relative offset stored unsigned: negative offsets come back as 2**64 - k
        self.head = [i + (r[0] - 2 ** 64 if r[0] >= 2 ** 63 else r[0]) for i, r in enumerate(rows)]
        self.dep = [strings[r[1]] if r[1] else "" for r in rows]
        self.verb = [bool(r[2]) and strings[r[2]] in ("VERB", "AUX") for r in rows]
        self.punct = [bool(r[3]) for r in rows]
        self.text = [strings[r[4]] for r in rows]
        self.kept_children: dict[int, list[int]] = {}
        for i, dep in enumerate(self.dep):
            if dep in _PATH_KEEP_DEPS and self.head[i] != i:
                self.kept_children.setdefault(self.head[i], []).append(i)

    def root(self, start: int, end: int) -> int:
        """spaCy's ``Span.root`` of ``[start, end)``: a sentence root inside it, else the first token
        with the fewest steps to its sentence's root."""
        for i in range(start, end):
            if self.head[i] == i:
                return i
        return min(range(start, end), key=lambda i: len(self.up(i)))

    def up(self, i: int) -> list[int]:
        """``i`` and its ancestors, nearest first."""
        out = [i]
        while self.head[i] != i and len(out) <= len(self.head):
            i = self.head[i]
            out.append(i)
        return out


def dependency_path(doc: Doc, a: Mention, b: Mention, others: set[int] = frozenset(),
                    arrays: ParseArrays | None = None) -> tuple[str, bool]:
    """Words on the dependency path between two mentions' heads (sentence order, mentions left out),
    and whether the path runs through one of the ``others`` token positions (another entity).

    ``arrays``: the Doc's :class:`ParseArrays` when the caller walks many paths in the same Doc.
    """
    if not doc.has_annotation("DEP"):
        return "", False
    p = arrays or ParseArrays(doc)
    up_a = p.up(p.root(a.start, a.end))
    up_b = p.up(p.root(b.start, b.end))
    ids_b = set(up_b)
    lca = next((i for i in up_a if i in ids_b), None)
    if lca is None:
        return "", False
    path = set(up_a[:up_a.index(lca) + 1]) | set(up_b[:up_b.index(lca) + 1])
    inside = set(range(a.start, a.end)) | set(range(b.start, b.end))
    extra = set()
    for i in path:
        if p.verb[i] or p.dep[i] == "ROOT":
            extra.update(p.kept_children.get(i, ()))
    keep = sorted((path | extra) - inside)
    return " ".join(p.text[i] for i in keep if not p.punct[i]), bool(path & others)


class RelationExtractor:
    """See the module docstring."""

    extractor = "relation_extractor"

    def __init__(self, nlp: Language, name: str, *, schema: str | None = None, scorer: str = "minilm",
                 threshold: float = 0.5, max_distance: int = 40, max_between: int = 12,
                 center: float = 0.65, slope: float = 14.0, max_intervening: int = 3,
                 max_embedded_words: int = 2):
        ensure_extensions()
        self.max_intervening = max_intervening
        self.max_embedded_words = max_embedded_words
        if scorer not in ("minilm", "lexical"):
            raise ValueError(f"scorer must be 'minilm' or 'lexical', not {scorer!r}")
        self.name = name
        self.schema: RelationSchema = load_schema(schema)
        self.schema_path = schema
        self.scorer = scorer
        self.threshold = threshold
        self.max_distance = max_distance
        self.max_between = max_between
        self.center, self.slope = center, slope
        # options: (relation index, "fwd"/"inv", [phrases]); alias rows embedded lazily
        self._phrases: list[str] = []
        self._options: list[tuple[int, str, list[int]]] = []
        for ri, rel in enumerate(self.schema):
            for direction, phrases in (("fwd", rel.aliases), ("inv", rel.inverse_aliases)):
                if phrases:
                    rows = []
                    for p in phrases:
                        rows.append(len(self._phrases))
                        self._phrases.append(p)
                    self._options.append((ri, direction, rows))
        self._phrase_words = [[w.lower() for w in _WORD.findall(p)] for p in self._phrases]
        self._alias_matrix: np.ndarray | None = None
        self._options_cache: dict[tuple, dict[int, float]] = {}
        self._top = calibrate(1.0, center, slope)  # the confidence of a perfect score
        self._role_relation = next((r for r in self.schema if r.object == ("ROLE",)), None)

    def leave_to(self, names) -> None:
        """Stop extracting the relations ``names`` (another component reads them, e.g. the
        document-level model): their phrasings are no longer scored, so pairs that could only take
        them cost nothing. The schema itself (labels, aliases) stays whole for the graph."""
        skip = set(names)
        self._options = [o for o in self._options if self.schema.relations[o[0]].name not in skip]
        self._options_cache.clear()

    def warm_up(self) -> None:
        """Load MiniLM and embed the alias phrases now (they are otherwise loaded by the first Doc),
        so a bulk build pays for them with the model loading, not inside its first batch."""
        if self.scorer == "minilm":
            self._aliases()

    def _aliases(self) -> np.ndarray:
        if self._alias_matrix is None:
            from nlp.encoder import embed

            self._alias_matrix = embed(self._phrases)
        return self._alias_matrix

    # ------------------------------------------------------------------ Doc -> Doc
    def __call__(self, doc: Doc) -> Doc:
        pairs = self._candidate_pairs(doc)
        return self._finish(doc, pairs, *self._similarities([pairs]))

    def pipe(self, docs, batch_size: int = 64):
        """Like ``__call__`` over a stream, with one MiniLM call for the connecting texts of a whole
        batch of Docs (full batches of equal-length texts waste the least transformer compute)."""
        from spacy.util import minibatch

        for batch in minibatch(docs, size=batch_size):
            batch_pairs = [self._candidate_pairs(doc) for doc in batch]
            sims, row = self._similarities(batch_pairs)
            for doc, pairs in zip(batch, batch_pairs):
                yield self._finish(doc, pairs, sims, row)

    def _candidate_pairs(self, doc: Doc) -> list:
        """The mention pairs of each sentence worth scoring: ``(sentence, first, second, options, contexts,
        embedded)``; ``embedded`` is the context that goes through MiniLM (see :meth:`_to_embed`), if any."""
        mentions: list[Mention] = list(doc._.kgqa_mentions or [])
        clusters: list[EntityCluster] = doc._.kgqa_entities or []
        if not mentions:
            return []
        by_sent: dict[int, list[Mention]] = {}
        for m in mentions:
            if m.kind == "date" or m.cluster is not None:
                by_sent.setdefault(doc[m.start].sent.start, []).append(m)
        pairs = []  # (sentence, first, second, options, contexts, embedded)
        arrays = ParseArrays(doc) if doc.has_annotation("DEP") else None
        for sent_start, ms in by_sent.items():
            sent = doc[sent_start].sent
            ms.sort(key=lambda m: m.start)
            types = [self._type(m, clusters) for m in ms]
            for i, a in enumerate(ms):
                for k in range(i + 1, len(ms)):
                    b = ms[k]
                    if b.start - a.end > self.max_distance:
                        break
                    # sorted by start, so every mention between a and b sits between them in the list
                    if sum(1 for m in ms[i + 1:k] if a.end <= m.start and m.end <= b.start) > self.max_intervening:
                        continue
                    if b.start < a.end or (a.cluster is not None and a.cluster == b.cluster):
                        continue
                    if a.kind == "date" and b.kind == "date":
                        continue
                    ta, tb = types[i], types[k]
                    options = self._pair_options(ta, tb, a.kind == "date", b.kind == "date")
                    # even a perfect score (1.0) could not lift this pair to the threshold: skip it unscored
                    if not options or self._top * max(options.values()) * a.confidence * b.confidence < self.threshold - 1e-6:
                        continue
                    contexts = []
                    # other mentions of the same types as the pair: a closer candidate for the relation
                    others = {t for m, tm in zip(ms, types) if m is not a and m is not b and tm in (ta, tb)
                              for t in range(m.start, m.end)}
                    # a connecting text that runs through another mention of the pair's types ("X married
                    # Y, CEO of Z" for X-Z) is evidence for that closer pair, not this one: left out
                    if 0 < b.start - a.end <= self.max_between and not others & set(range(a.end, b.start)):
                        between = doc[a.end:b.start].text.strip(" ,;:()")
                        if between:
                            contexts.append(between)
                    path, crosses = dependency_path(doc, a, b, others, arrays)
                    if path and not crosses and path not in contexts:
                        contexts.append(path)
                    if contexts:
                        embedded = self._to_embed(contexts) if self.scorer == "minilm" else []
                        pairs.append((sent, a, b, options, contexts, embedded))
        return pairs

    def _pair_options(self, ta: str, tb: str, a_date: bool, b_date: bool) -> dict[int, float]:
        """The relation options (index -> type factor) a pair of these types can take, read in text
        order; cached, since a schema has few type combinations."""
        key = (ta, tb, a_date, b_date)
        options = self._options_cache.get(key)
        if options is None:
            options = {}
            for oi, (ri, direction, rows) in enumerate(self._options):
                rel = self.schema.relations[ri]
                fit = 0.0
                if direction == "fwd" and not a_date:
                    fit = _fit(rel, ta, tb)
                elif direction == "inv" and not b_date:
                    fit = _fit(rel, tb, ta)
                if rel.symmetric and direction == "fwd" and not b_date:
                    fit = max(fit, _fit(rel, tb, ta))
                if fit > 0:
                    options[oi] = fit
            self._options_cache[key] = options
        return options

    def _similarities(self, batch_pairs: list[list]) -> tuple[np.ndarray | None, dict[str, int]]:
        """MiniLM similarity of every connecting text of these pairs to every alias phrase, and
        each text's row (``(None, {})`` with the lexical scorer)."""
        if self.scorer != "minilm":
            return None, {}
        # function-word contexts and long ones are scored lexically only, so they are never embedded;
        # of a pair's two texts (words between, dependency path) only the shorter one is embedded
        keys = list(dict.fromkeys(c for pairs in batch_pairs for p in pairs for c in p[5]))
        if not keys:
            return None, {}
        from nlp.encoder import embed

        sims = embed(keys, max_length=48) @ self._aliases().T
        return sims, {t: i for i, t in enumerate(keys)}

    def _to_embed(self, contexts: list[str]) -> list[str]:
        """The connecting text of a pair worth a MiniLM pass: the one with the fewest content words
        (then the shortest), if it has between 1 and ``max_embedded_words`` of them. Both texts are
        still scored lexically."""
        counted = [(_content_words(c), len(c), c) for c in contexts]
        counted = [t for t in counted if 0 < t[0] <= self.max_embedded_words]
        return [min(counted)[2]] if counted else []

    def _finish(self, doc: Doc, pairs: list, sims: np.ndarray | None, row: dict[str, int]) -> Doc:
        """Score the candidate pairs, add the pattern facts, and set ``doc._.kgqa_relations``."""
        mentions: list[Mention] = list(doc._.kgqa_mentions or [])
        clusters: list[EntityCluster] = doc._.kgqa_entities or []
        out: list[RelationMention] = list(doc._.kgqa_relations or [])
        if not mentions:
            doc._.kgqa_relations = out
            return doc
        ctx_words = {c: [w.lower() for w in _WORD.findall(c)] for p in pairs for c in p[4]}
        ctx_sets = {c: set(words) for c, words in ctx_words.items()}
        by_head = {doc[m.start:m.end].root.i: m for m in mentions if m.cluster is not None or m.kind == "date"}

        def conjuncts(m: Mention) -> list[Mention]:
            """Mentions coordinated with ``m`` ("A, B and C") that are mentions of the same kind."""
            if not doc.has_annotation("DEP"):
                return []
            found = [by_head.get(t.i) for t in doc[m.start:m.end].root.conjuncts]
            return [c for c in found if c is not None and c is not m and c.kind == m.kind]

        for sent, a, b, options, contexts, embedded in pairs:
            best = (0.0, None, 0.0)
            lex_best: dict[int, float] = {}
            # only the text this pair had embedded counts, even when another pair embedded the other
            # one too: a pair's facts never depend on which documents share its batch
            for oi in options:
                ri, direction, rows = self._options[oi]
                score = 0.0
                for ctx in contexts:
                    words, present = ctx_words[ctx], ctx_sets[ctx]
                    for r in rows:
                        phrase = self._phrase_words[r]
                        lex = _lexical(words, phrase) if phrase and phrase[0] in present else 0.0
                        emb = float(sims[row[ctx], r]) if sims is not None and ctx in embedded else 0.0
                        score = max(score, lex, emb)
                        if lex:
                            lex_best[oi] = max(lex_best.get(oi, 0.0), lex)
                if score > best[0]:
                    best = (score, oi, options[oi])
            if best[1] is None:
                continue
            # the best relation, plus any other whose phrase is literally there ("written and performed by")
            chosen = [best] + [(lex_best[oi], oi, options[oi]) for oi in lex_best
                               if oi != best[1] and lex_best[oi] >= 0.7]
            for score, oi, fit in chosen:
                ri, direction, _ = self._options[oi]
                rel = self.schema.relations[ri]
                subj, obj = (a, b) if direction == "fwd" else (b, a)
                if direction == "fwd" and not _fit(rel, self._type(a, clusters), self._type(b, clusters)):
                    subj, obj = b, a  # symmetric relation read from its object's side
                conf = calibrate(score, self.center, self.slope) * fit * subj.confidence * obj.confidence
                if conf < self.threshold:
                    continue
                rm = self._relation(doc, sent, subj, obj, rel, conf)
                if rm is not None:
                    out.append(rm)
                    # "founded by A, B and C": the relation holds for every conjunct of either side
                    for s2, o2 in [(c, obj) for c in conjuncts(subj)] + [(subj, c) for c in conjuncts(obj)]:
                        if s2.cluster != o2.cluster and _fit(rel, self._type(s2, clusters), self._type(o2, clusters)):
                            extra = self._relation(doc, sent, s2, o2, rel, conf * CONJUNCT_FACTOR)
                            if extra is not None and extra.confidence >= self.threshold:
                                out.append(extra)
        out = [self._country_instead(r, clusters) for r in out]
        out.extend(self._life_dates(doc, mentions))
        out.extend(self._place_pairs(doc, mentions, clusters))
        out.extend(self._nationality_before_name(doc, mentions, clusters))
        if self._role_relation is not None:
            out.extend(self._occupations(doc, mentions, clusters))
        out.extend(self._countries_by_containment(out, clusters))
        out.extend(self._inverses(out))
        doc._.kgqa_relations = _dedupe(out)
        return doc

    def _inverses(self, relations: list[RelationMention]) -> list[RelationMention]:
        """Each fact of a relation that another one inverts (``inverse_of``) also gives that one, reversed."""
        inverse = {r.inverse_of: r for r in self.schema if r.inverse_of}
        return [RelationMention(r.object, inverse[r.relation].name, r.subject, r.sent_start, r.sent_end, r.confidence,
                                r.extractor, label=inverse[r.relation].label)
                for r in relations if r.relation in inverse and r.object is not None and not r.open]

    def _countries_by_containment(self, relations: list[RelationMention], clusters) -> list[RelationMention]:
        """Document-level: X located in Y, Y in country Z (up to three hops) -> X country Z.

        The derived fact cites the sentence of its first hop; its confidence is the product of the
        hops' confidences times 0.9.
        """
        located, country = self._rel("P131", "located_in"), self._rel("P17", "country")
        if located is None or country is None:
            return []
        up: dict[int, list[RelationMention]] = {}
        for r in relations:
            if r.relation in (located.name, country.name, getattr(self._rel("P159", "headquarters_location"), "name", None)) \
                    and r.object is not None and not r.open:
                up.setdefault(r.subject, []).append(r)
        have = {(r.subject, r.object) for r in relations if r.relation == country.name}
        out = []
        for start, first_hops in up.items():
            if _is_country(clusters[start].label):
                continue
            frontier = [(h, h.confidence) for h in first_hops]
            seen = {start}
            for depth in range(3):
                nxt = []
                for hop, conf in frontier:
                    target = hop.object
                    if target in seen:
                        continue
                    seen.add(target)
                    if _is_country(clusters[target].label):
                        if depth > 0 and (start, target) not in have:
                            first = next(h for h in first_hops)
                            out.append(RelationMention(start, country.name, target, first.sent_start, first.sent_end,
                                                       round(conf * 0.9, 4), self.extractor, label=country.label))
                            have.add((start, target))
                        continue
                    nxt.extend((h, conf * h.confidence) for h in up.get(target, []))
                frontier = nxt
        return out

    @staticmethod
    def _type(m: Mention, clusters) -> str:
        if m.kind == "date":
            return "DATE"
        return clusters[m.cluster].type if m.cluster is not None else m.type

    def _relation(self, doc, sent, subj: Mention, obj: Mention, rel, conf: float) -> RelationMention | None:
        if obj.kind == "date":
            parsed = parse_date(doc[obj.start:obj.end].text)
            if parsed is None:
                return None
            return RelationMention(subj.cluster, rel.name, None, sent.start_char, sent.end_char, round(conf, 4),
                                   self.extractor, obj_literal=parsed[0], obj_datatype=parsed[1], label=rel.label)
        return RelationMention(subj.cluster, rel.name, obj.cluster, sent.start_char, sent.end_char, round(conf, 4),
                               self.extractor, label=rel.label)

    def _life_dates(self, doc: Doc, mentions: list[Mention]) -> list[RelationMention]:
        """"X (7 November 1867 – 4 July 1934)" and "X (born 1950)" after a person's name."""
        birth = next((r for r in self.schema if r.pid == "P569" or r.name == "date_of_birth"), None)
        death = next((r for r in self.schema if r.pid == "P570" or r.name == "date_of_death"), None)
        out = []
        if birth is None and death is None:
            return out
        for m in mentions:
            if m.kind != "name" or m.cluster is None or m.type != "PERSON":
                continue
            if m.end >= len(doc) or doc[m.end].text != "(":
                continue
            close = next((t.i for t in doc[m.end:min(len(doc), m.end + 25)] if t.text == ")"), None)
            if close is None:
                continue
            inside = doc[m.end + 1:close].text
            parts = re.split(r"\s+[–—-]\s+|[–—]|\s-\s", inside)
            sent = doc[m.start].sent
            if len(parts) >= 2 and not inside.lower().startswith("born"):
                for rel, part in ((birth, parts[0]), (death, parts[-1])):
                    parsed = parse_date(part)
                    if rel is not None and parsed:
                        out.append(RelationMention(m.cluster, rel.name, None, sent.start_char, sent.end_char, 0.85,
                                                   self.extractor, obj_literal=parsed[0], obj_datatype=parsed[1],
                                                   label=rel.label))
            elif inside.lower().startswith(("born", "b.")) and birth is not None:
                parsed = parse_date(inside)
                if parsed:
                    out.append(RelationMention(m.cluster, birth.name, None, sent.start_char, sent.end_char, 0.85,
                                               self.extractor, obj_literal=parsed[0], obj_datatype=parsed[1],
                                               label=birth.label))
        return out

    def _rel(self, pid: str, name: str):
        return next((r for r in self.schema if r.pid == pid or r.name == name), None)

    def _country_instead(self, r: RelationMention, clusters) -> RelationMention:
        located, country = self._rel("P131", "located_in"), self._rel("P17", "country")
        if (located is None or country is None or r.relation != located.name or r.object is None
                or not _is_country(clusters[r.object].label)):
            return r
        return RelationMention(r.subject, country.name, r.object, r.sent_start, r.sent_end, r.confidence,
                               r.extractor, label=country.label)

    def _place_pairs(self, doc: Doc, mentions: list[Mention], clusters) -> list[RelationMention]:
        """"Passy, Paris" / "Kraków, Poland": a place followed by a comma and a place."""
        located, country = self._rel("P131", "located_in"), self._rel("P17", "country")
        out = []
        names = [m for m in mentions if m.kind == "name" and m.cluster is not None]
        for a, b in zip(names, names[1:]):
            if b.start != a.end + 1 or doc[a.end].text != "," or a.cluster == b.cluster:
                continue
            if self._type(a, clusters) != "LOC" or self._type(b, clusters) != "LOC":
                continue
            rel = country if _is_country(clusters[b.cluster].label) else located
            if rel is None or _is_country(clusters[a.cluster].label):
                continue
            sent = doc[a.start].sent
            out.append(RelationMention(a.cluster, rel.name, b.cluster, sent.start_char, sent.end_char, 0.8,
                                       self.extractor, label=rel.label))
        return out

    def _nationality_before_name(self, doc: Doc, mentions: list[Mention], clusters) -> list[RelationMention]:
        """"British singer Rick Astley", "the Japanese artist Ayumi Hamasaki" -> country of citizenship."""
        rel = self._rel("P27", "country_of_citizenship")
        if rel is None:
            return []
        out = []
        names = [m for m in mentions if m.kind == "name" and m.cluster is not None]
        for a, b in zip(names, names[1:]):
            if self._type(a, clusters) not in ("NORP", "LOC") or self._type(b, clusters) != "PERSON":
                continue
            between = doc[a.end:b.start]
            # only lower-case words (singer, recording artist, dance - pop) may stand between them
            if len(between) > 5 or any(t.is_title or t.is_upper or t.like_num or t.text in ",;()" for t in between):
                continue
            if not all(t.is_lower or t.text in ("-", "–") for t in between):
                continue
            sent = doc[a.start].sent
            out.append(RelationMention(b.cluster, rel.name, a.cluster, sent.start_char, sent.end_char, 0.7,
                                       self.extractor, label=rel.label))
        return out

    def _occupations(self, doc: Doc, mentions: list[Mention], clusters: list[EntityCluster]) -> list[RelationMention]:
        """"Curie was a physicist and chemist" / "Curie, a chemist," -> occupation (ROLE objects)."""
        if not doc.has_annotation("DEP"):
            return []
        rel = self._role_relation
        out = []
        token_mention = {i: m for m in mentions if m.cluster is not None for i in range(m.start, m.end)}
        for m in mentions:
            if m.cluster is None or self._type(m, clusters) not in rel.subject:
                continue
            head = doc[m.start:m.end].root
            nouns = []
            if head.dep_ == "nsubj" and head.head.lemma_ == "be":
                nouns = [c for c in head.head.children if c.dep_ == "attr" and c.pos_ == "NOUN"]
            nouns += [c for c in head.children if c.dep_ == "appos" and c.pos_ == "NOUN"]
            nouns += [c for n in list(nouns) for c in n.conjuncts if c.pos_ == "NOUN"]
            sent = doc[m.start].sent
            citizenship = self._rel("P27", "country_of_citizenship")
            for noun in nouns:
                # "a Polish physicist": the nationality before the occupation
                for mod in noun.children:
                    mm = token_mention.get(mod.i)
                    if (citizenship is not None and mod.dep_ in ("amod", "compound") and mm is not None
                            and self._type(mm, clusters) in ("NORP", "LOC") and mm.cluster != m.cluster):
                        out.append(RelationMention(m.cluster, citizenship.name, mm.cluster, sent.start_char,
                                                   sent.end_char, 0.7, self.extractor, label=citizenship.label))
                if noun.ent_type_ or not noun.is_alpha or noun.lemma_.lower() in _NOT_ROLES:
                    continue
                role = noun.lemma_.lower()
                cid = next((c.id for c in clusters if c.type == "ROLE" and c.label == role), None)
                if cid is None:
                    cid = len(clusters)
                    clusters.append(EntityCluster(cid, role, "ROLE", [role]))
                out.append(RelationMention(m.cluster, rel.name, cid, sent.start_char, sent.end_char, 0.75,
                                           self.extractor, label=rel.label))
        return out


#: a relation copied to a coordinated mention ("founded by A and B") keeps this share of its confidence
CONJUNCT_FACTOR = 0.95

#: NER often confuses these; a relation accepts the other type at this factor of its confidence
_SOFT_TYPES = {("ORG", "LOC"): 0.85, ("LOC", "ORG"): 0.85, ("MISC", "WORK"): 0.85, ("MISC", "EVENT"): 0.85,
               ("ORG", "WORK"): 0.8, ("EVENT", "WORK"): 0.8}


def _fit(rel, subject_type: str, object_type: str) -> float:
    """1 when the types fit the relation, a lower factor for types NER often confuses, 0 otherwise."""
    if rel.allows(subject_type, object_type):
        return 1.0
    # only the object may stand in for a confusable type: a mistyped subject gives too many wrong facts
    best = 0.0
    for (a, b), factor in _SOFT_TYPES.items():
        if a == object_type and rel.allows(subject_type, b):
            best = max(best, factor)
    return best


_FUNCTION_WORDS = {"in", "on", "at", "of", "the", "a", "an", "and", "or", "to", "by", "for", "from", "with", "as",
                   "'s", "is", "was", "were", "are", "be", "been", "its", "his", "her", "their", "this", "that",
                   "which", "who", "where", "when", "also", "then", "s"}


def _content_words(text: str) -> int:
    """How many words of ``text`` are not function words or numbers."""
    return sum(1 for w in _WORD.findall(text) if w.lower() not in _FUNCTION_WORDS and not w.isdigit())


_COUNTRIES: set[str] | None = None


def _is_country(label: str) -> bool:
    """Whether a label names a country (list in nlp/schemas/countries.txt)."""
    global _COUNTRIES
    if _COUNTRIES is None:
        from pathlib import Path

        from nlp.linking import normalise

        path = Path(__file__).resolve().parent.parent / "schemas" / "countries.txt"
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        _COUNTRIES = {normalise(x) for x in lines if x.strip() and not x.startswith("#")}
    from nlp.linking import normalise

    return normalise(label) in _COUNTRIES


_NOT_ROLES = {"one", "part", "member", "man", "woman", "person", "people", "child", "son", "daughter", "wife",
              "husband", "name", "kind", "type", "example", "number", "lot", "way", "thing", "time", "year"}


def _dedupe(relations: list[RelationMention]) -> list[RelationMention]:
    """One relation per (subject, relation, object, sentence), the most confident."""
    best: dict[tuple, RelationMention] = {}
    for r in relations:
        key = (r.subject, r.relation, r.object, r.obj_literal, r.sent_start)
        if key not in best or r.confidence > best[key].confidence:
            best[key] = r
    return list(best.values())


@Language.factory("kgqa_relation_extractor", assigns=["doc._.kgqa_relations"],
                  requires=["doc._.kgqa_mentions", "doc._.kgqa_entities"],
                  default_config={"schema": None, "scorer": "minilm", "threshold": 0.5, "max_distance": 40,
                                  "max_between": 12, "center": 0.65, "slope": 14.0,
                                  "max_intervening": 3, "max_embedded_words": 2})
def make_relation_extractor(nlp: Language, name: str, schema: str | None, scorer: str, threshold: float,
                            max_distance: int, max_between: int, center: float, slope: float,
                            max_intervening: int, max_embedded_words: int) -> RelationExtractor:
    return RelationExtractor(nlp, name, schema=schema, scorer=scorer, threshold=threshold,
                             max_distance=max_distance, max_between=max_between, center=center, slope=slope,
                             max_intervening=max_intervening, max_embedded_words=max_embedded_words)

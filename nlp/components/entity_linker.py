"""``kgqa_entity_linker``: named mentions -> canonical entities of the document (and of a KB).

Every NER span whose label maps to a schema type (see :data:`nlp.schema.SPACY_TO_TYPE`) becomes a
:class:`~nlp.components.annotations.Mention`; dates become ``date`` mentions (type ``DATE``) and
counts, quantities, amounts and percentages ``number`` mentions (type ``NUM``), both without a
cluster: values, not entities (:func:`nlp.components.mention_rules.value_mentions`: ranges split,
hedges trimmed). With ``name_rules`` (default) an NER span over two names is cut ("Helen , Lewis
Stone") and names NER missed are added (capitalised runs, title-case quotations, nicknames:
:func:`nlp.components.mention_rules.rule_names`, confidence 0.9).

Name mentions are clustered in reading order: a mention joins the earlier cluster whose names it
matches best (exact normalised name, acronym, an acronym spelt out in brackets, part of a
person's/organisation's full name, or fuzzy ratio ≥ ``fuzzy_threshold`` between spellings) among
clusters of a compatible type; ties (two Curies) go to the candidate whose sentences are closest in
MiniLM embedding space when ``use_embeddings`` is on, else to the most recent. The canonical label is
the first mention with two or more words, else the longest. A person's surname or an organisation's
own last word joins it whatever type NER gave it ("Parton" as a place, after "Dolly Parton"), unless
a place word precedes it ("born in ..."); a place is never a short form of an organisation named
after it ("Copenhagen", "University of Copenhagen"). With ``propagate`` (default), other occurrences
of a cluster's names that NER missed (before or after the one it found), and a person's surname
alone after the full name ("Curie" after "Marie Curie"), become mentions too (confidence 0.9).

With ``kb`` (a JSONL/TSV file, see :func:`nlp.linking.load_kb`) each cluster is also looked up in
the KB; a match replaces the label with the KB label and records the KB IRI in ``same_as``.
Linking against the graph itself happens in :func:`link_to_index`, which :func:`nlp.pipeline.extract`
calls with the graph's cached name index.

>>> import spacy
>>> nlp = spacy.blank("en")
>>> ruler = nlp.add_pipe("entity_ruler")
>>> ruler.add_patterns([{"label": "PERSON", "pattern": "Marie Curie"}, {"label": "PERSON", "pattern": "Curie"}])
>>> _ = nlp.add_pipe("sentencizer"); _ = nlp.add_pipe("kgqa_entity_linker", config={"use_embeddings": False})
>>> doc = nlp("Marie Curie won. Curie was a chemist.")
>>> [(e.label, e.aliases) for e in doc._.kgqa_entities]
[('Marie Curie', ['Marie Curie', 'Curie'])]
"""
from __future__ import annotations

from collections import Counter

from spacy.language import Language
from spacy.strings import get_string_id
from spacy.tokens import Doc

from nlp.components.annotations import EntityCluster, Mention, ensure_extensions
from nlp.linking import NameIndex, load_kb, name_match, name_tokens, normalise, types_compatible
from nlp.components.mention_rules import (DATE_LABELS, NUMBER_LABELS, name_kind, rule_names, split_name_span,
                                          value_mentions)
from nlp.schema import SPACY_TO_TYPE

_MALE_TITLES = {"mr", "mr.", "sir", "king", "prince", "lord", "duke", "count", "father", "brother"}
_FEMALE_TITLES = {"mrs", "mrs.", "ms", "ms.", "miss", "lady", "queen", "princess", "duchess", "madame",
                  "countess", "sister", "mother"}
#: types spaCy confuses for the same name; a cross-type merge needs an exact name match
_CONFUSABLE = [{"PERSON", "ORG"}, {"ORG", "LOC"}, {"ORG", "NORP"}, {"WORK", "ORG"}, {"WORK", "EVENT"}]
#: a name right after these words is read as a place ("born in Washington"), never as a surname
_PLACE_WORDS = {"in", "at", "near", "into", "outside", "across", "throughout"}
#: a person's surname alone that NER typed otherwise ("Parton" LOC after "Dolly Parton") joins the
#: person at this score: above ``min_score``, below a same-type part-of-name match (0.9)
SURNAME_SCORE = 0.86


def _cross_type_ok(a: str, b: str) -> bool:
    return types_compatible(a, b) or {a, b} in _CONFUSABLE


class EntityLinker:
    """See the module docstring."""

    def __init__(self, nlp: Language, name: str, *, kb: str | None = None, fuzzy_threshold: float = 90.0,
                 use_embeddings: bool = True, min_score: float = 0.85, propagate: bool = True,
                 name_rules: bool = True):
        ensure_extensions()
        self.propagate = propagate
        self.name_rules = name_rules
        self.name = name
        self.fuzzy_threshold = fuzzy_threshold
        self.use_embeddings = use_embeddings
        self.min_score = min_score
        self.kb_path = kb
        self.kb: NameIndex | None = load_kb(kb) if kb else None

    # ------------------------------------------------------------------ Doc -> Doc
    def __call__(self, doc: Doc) -> Doc:
        mentions: list[Mention] = []
        for ent in doc.ents:
            if ent.label_ in DATE_LABELS or ent.label_ in NUMBER_LABELS:
                mentions.extend(value_mentions(ent))
                continue
            typ = SPACY_TO_TYPE.get(ent.label_)
            if typ is None:
                continue
            text = ent.text.strip()
            if not any(c.isalpha() for c in text) or len(text) > 120:
                continue
            for start, end in split_name_span(doc, ent.start, ent.end, ent.label_) if self.name_rules \
                    else [(ent.start, ent.end)]:
                # "the Nobel Prize" -> "Nobel Prize"; "Astley 's" -> "Astley"
                while start < end - 1 and doc[start].lower_ in ("the", "a", "an"):
                    start += 1
                while end - 1 > start and doc[end - 1].lower_ in ("'s", "’s", "'", "’"):
                    end -= 1
                if any(c.isalpha() for c in doc[start:end].text):
                    mentions.append(Mention(start, end, typ, "name", None, 1.0, doc[start:end].text))
        mentions = _without_nested_values(mentions)
        from_rules: set[int] = set()
        if self.name_rules:
            found = rule_names(doc, mentions)
            from_rules = {id(m) for m in found} - {id(m) for m in mentions}
            mentions = found
        clusters: list[EntityCluster] = []
        by_end: dict[int, Mention] = {}  # name mentions clustered so far, by their end
        for mi, m in enumerate(mentions):
            if m.kind != "name":
                continue
            defined = self._defined_acronym(doc, m, by_end)
            target = clusters[defined] if defined is not None else self._best_cluster(doc, m, mentions, clusters)
            by_end[m.end] = m
            if target is None:
                target = EntityCluster(len(clusters), m.text, m.type)
                clusters.append(target)
            elif not _cross_type_ok(m.type, target.type) and self._is_short_form(normalise(m.text), target, m.type):
                m.type = target.type  # the person's surname (the organisation's word), whatever NER said
            elif m.type == "MISC" and id(m) in from_rules:
                m.type = target.type  # a rule found the name; what it names is known already
            target.add_alias(m.text)
            target.mentions.append(mi)
            m.cluster = target.id
            if target.gender is None and m.type == "PERSON":
                # the title may sit just before the name or start it ("Mr. Babbage")
                for title in (doc[m.start].lower_, doc[m.start - 1].lower_ if m.start > 0 else ""):
                    gender = "m" if title in _MALE_TITLES else "f" if title in _FEMALE_TITLES else None
                    if gender:
                        target.gender = gender
                        break
        for c in clusters:
            self._finish(c, mentions)
        if self.propagate and clusters:
            mentions = self._propagate(doc, mentions, clusters)
        if self.kb is not None:
            link_to_index(doc, clusters, mentions, self.kb, use_embeddings=self.use_embeddings, kb=True)
        doc._.kgqa_mentions = mentions
        doc._.kgqa_entities = clusters
        if doc._.kgqa_relations is None:
            doc._.kgqa_relations = []
        return doc

    @staticmethod
    def _propagate(doc: Doc, mentions: list[Mention], clusters: list[EntityCluster]) -> list[Mention]:
        """Find names NER missed: later occurrences of a cluster's names, and a person's surname alone."""
        taken = set()
        for m in mentions:
            taken.update(range(m.start, m.end))
        # token texts as string-store hashes (one array read, no Token objects)
        orth = doc.to_array("ORTH").tolist()
        strings = doc.vocab.strings
        forms: dict[int, list[tuple[tuple[int, ...], int]]] = {}
        owners: dict[tuple[int, ...], set[int]] = {}
        said: set[tuple[tuple[int, ...], int]] = set()  # (tokens, cluster): a name NER gave that cluster
        for c in clusters:
            names = [toks for toks in {tuple(orth[mentions[i].start:mentions[i].end]) for i in c.mentions}
                     if toks and strings[toks[0]][:1].isupper()]
            said.update((toks, c.id) for toks in names)
            if c.type == "PERSON":
                words = [w for w in c.label.split() if w[:1].isupper() and normalise(w) not in ("jr", "sr")]
                if len(words) >= 2:  # the surname alone (its hash, without adding it to the vocab)
                    names.append((get_string_id(words[-1]),))
            for toks in names:
                owners.setdefault(toks, set()).add(c.id)
        for toks, ids in owners.items():
            forms.setdefault(toks[0], []).append((toks, ids))
        first_seen = {c.id: min((mentions[i].start for i in c.mentions), default=len(doc)) for c in clusters}
        added = []
        i = 0
        while i < len(doc):
            hit = None
            if i not in taken and orth[i] in forms:
                for toks, ids in sorted(forms[orth[i]], key=lambda x: -len(x[0])):
                    end = i + len(toks)
                    if end <= len(doc) and tuple(orth[i:end]) == toks and not taken & set(range(i, end)):
                        # "Curie Institute": a name followed by more capitalised words is another name
                        if end < len(doc) and doc[end].is_title and doc[end].is_alpha:
                            continue
                        # a name NER gave a cluster is that cluster's before its first mention too; a
                        # surname alone goes to the person introduced before it (and mentioned most)
                        known = [c for c in ids if first_seen[c] < i or (toks, c) in said]
                        if not known:
                            continue
                        cid = max(known, key=lambda c: (sum(mentions[k].start < i for k in clusters[c].mentions),
                                                        max(mentions[k].start for k in clusters[c].mentions)))
                        hit = (end, cid, 0.9 if len(ids) == 1 else 0.75)
                        break
            if hit:
                end, cid, conf = hit
                m = Mention(i, end, clusters[cid].type, "name", cid, conf, doc[i:end].text)
                added.append(m)
                taken.update(range(i, end))
                i = end
            else:
                i += 1
        if not added:
            return mentions
        all_mentions = sorted(mentions + added, key=lambda m: (m.start, m.end))
        index = {id(m): k for k, m in enumerate(all_mentions)}
        for c in clusters:
            c.mentions = sorted(index[id(m)] for m in all_mentions if m.cluster == c.id)
            for m in added:
                if m.cluster == c.id:
                    c.add_alias(m.text)
        return all_mentions

    @staticmethod
    def _names(c: EntityCluster) -> tuple[set[str], list[str]]:
        """A cluster's normalised aliases and its fullest names (cached until its aliases change)."""
        key = tuple(c.aliases)
        cached = getattr(c, "_names_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        norms = {normalise(a) for a in c.aliases}
        # containment is checked against the fullest names only, so "Pierre Curie" never joins a
        # cluster that holds "Marie Curie" just because it also holds "Curie"
        longest = max(len(name_tokens(n)) for n in norms) if norms else 0
        full = [a for a in c.aliases if len(name_tokens(normalise(a))) == longest]
        c._names_cache = (key, norms, full)
        return norms, full

    def _is_short_form(self, norm: str, c: EntityCluster, mention_type: str) -> bool:
        """``norm`` is the last word of one of ``c``'s full names: a person's surname ("parton" for
        "Dolly Parton") or an organisation's own word ("royals" for "Kansas City Royals"; not a kind
        of thing such as "university", and never a place: see the Copenhagen rule in
        :func:`nlp.linking.name_match`)."""
        if c.type not in ("PERSON", "ORG") or not norm or " " in norm:
            return False
        if c.type == "ORG" and (mention_type == "LOC" or name_kind(norm) is not None):
            return False
        for name in self._names(c)[1]:
            words = [w for w in normalise(name).split() if w not in ("jr", "sr", "ii", "iii")]
            if len(words) >= 2 and words[-1] == norm:
                return True
        return False

    @staticmethod
    def _defined_acronym(doc: Doc, m: Mention, by_end: dict[int, Mention]) -> int | None:
        """The cluster of the name that ``m`` spells out or abbreviates in brackets right after it:
        "Council on Foreign Relations ( CFR )", "NTF ( National Turkey Federation )"."""
        if m.start < 2 or doc[m.start - 1].text != "(" or m.end >= len(doc) or doc[m.end].text != ")":
            return None
        before = by_end.get(m.start - 1)
        if before is None or before.cluster is None:
            return None
        short, long = (m.text, before.text) if m.end - m.start == 1 else (before.text, m.text)
        return before.cluster if _abbreviates(short, long) else None

    def _score(self, m: Mention, c: EntityCluster, mentions: list[Mention], *, after_place_word: bool = False) -> float:
        norm = normalise(m.text)
        norms, full = self._names(c)
        if norm in norms:
            return 1.0 if types_compatible(m.type, c.type) or _cross_type_ok(m.type, c.type) else 0.0
        if not types_compatible(m.type, c.type):
            if m.type != "DATE" and not after_place_word and self._is_short_form(norm, c, m.type):
                return SURNAME_SCORE
            return 0.0
        if c.type == "ORG" and " " not in norm:
            # "born in Toulouse" is the place, not "Toulouse Business School"; and of "Toyota Avalon",
            # "Toyota" and "Avalon" cannot both be short forms
            if after_place_word:
                return 0.0
            longest = max(len(normalise(f).split()) for f in full)
            if any(n and len(n.split()) < longest and norm not in n.split() for n in norms):
                return 0.0
        return name_match(m.text, full, m.type if m.type != "MISC" else c.type,
                          fuzzy_threshold=self.fuzzy_threshold)

    def _best_cluster(self, doc: Doc, m: Mention, mentions, clusters) -> EntityCluster | None:
        after_place_word = m.start > 0 and doc[m.start - 1].lower_ in _PLACE_WORDS
        scored = [(self._score(m, c, mentions, after_place_word=after_place_word), c) for c in clusters]
        scored = [(s, c) for s, c in scored if s >= self.min_score]
        if not scored:
            return None
        top = max(s for s, _ in scored)
        tied = [c for s, c in scored if s == top]
        if len(tied) == 1:
            return tied[0]
        if self.use_embeddings:
            from nlp.encoder import embed

            sent = doc[m.start].sent.text
            contexts = [" ".join(dict.fromkeys(doc[mentions[i].start].sent.text for i in c.mentions)) for c in tied]
            vecs = embed([sent, *contexts])
            sims = vecs[1:] @ vecs[0]
            return tied[int(sims.argmax())]
        return max(tied, key=lambda c: mentions[c.mentions[-1]].start if c.mentions else -1)

    @staticmethod
    def _finish(c: EntityCluster, mentions: list[Mention]) -> None:
        texts = [mentions[i].text for i in c.mentions]
        multi = [t for t in texts if len(name_tokens(normalise(t))) >= 2]
        c.label = multi[0] if multi else max(texts, key=len)
        votes = Counter(mentions[i].type for i in c.mentions)
        order = {t: k for k, t in reversed(list(enumerate(mentions[i].type for i in c.mentions)))}
        c.type = max(votes, key=lambda t: (votes[t], t != "MISC", -order[t]))


def _abbreviates(short: str, long: str) -> bool:
    """``short`` is made of letters of ``long`` in order, starting at one of its words' first letter.

    >>> _abbreviates("NAVFORGER", "United States Naval Forces Germany"), _abbreviates("US", "Samuel Smith")
    (True, False)
    """
    letters = [ch for ch in short.lower() if ch.isalpha()]
    words = normalise(long).split()
    if len(letters) < 2 or len(words) < 2 or not any(ch.isupper() for ch in short[1:]):
        return False
    for k, w in enumerate(words):
        if w[:1] == letters[0]:
            rest = iter(" ".join(words[k:]))
            if all(ch in rest for ch in letters):
                return True
    return False


def _without_nested_values(mentions: list[Mention]) -> list[Mention]:
    """Drop a date/number mention inside another one ("29" when "29 December 1928" was put together)."""
    values = [m for m in mentions if m.kind in ("date", "number")]
    nested = {id(m) for m in values for o in values
              if o is not m and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)}
    return [m for m in mentions if id(m) not in nested] if nested else mentions


def link_to_index(doc: Doc, clusters: list[EntityCluster], mentions: list[Mention], index: NameIndex, *,
                  use_embeddings: bool = True, kb: bool = False, min_score: float = 0.85) -> None:
    """Link each cluster to the best candidate of ``index`` (a KB or the graph's entities).

    A candidate must match one of the cluster's names (see :func:`nlp.linking.name_match`) with a
    compatible type; several candidates are ranked by name score, then by MiniLM similarity between
    the cluster's sentences and the candidate's label + description. An ambiguous single-word name
    with no context to decide stays unlinked. Linked clusters take the candidate's label (so every
    document names the entity the same way) and keep their own names as aliases.
    """
    for c in clusters:
        if c.iri is not None and not kb:
            continue
        cands = {}
        for alias in c.aliases:
            for cand in index.lookup(alias, c.type):
                score = name_match(alias, [cand.label, *cand.aliases], c.type)
                if score >= min_score:
                    cands[cand.iri] = max(cands.get(cand.iri, 0.0), score)
        if not cands:
            continue
        top = max(cands.values())
        best = [index.candidates[i] for i, s in cands.items() if s == top]
        typed = [b for b in best if b.type == c.type]
        best = typed or best
        chosen = best[0] if len(best) == 1 else None
        if chosen is None and use_embeddings and any(b.description for b in best):
            from nlp.encoder import embed

            context = " ".join(dict.fromkeys(doc[mentions[i].start].sent.text for i in c.mentions))[:1000]
            vecs = embed([context, *[f"{b.label}: {b.description or ''}" for b in best]])
            sims = vecs[1:] @ vecs[0]
            order = sims.argsort()[::-1]
            if len(order) == 1 or sims[order[0]] - sims[order[1]] > 0.02:
                chosen = best[int(order[0])]
        if chosen is None:
            continue
        for alias in list(c.aliases):
            if alias != chosen.label:
                c.add_alias(alias)
        c.add_alias(chosen.label)
        c.label = chosen.label
        c.link_score = top
        if kb:
            c.same_as = list(dict.fromkeys([*c.same_as, *chosen.same_as]))
            c.description = chosen.description or c.description
        else:
            c.iri = chosen.iri
            c.same_as = list(dict.fromkeys([*c.same_as, *chosen.same_as]))


@Language.factory("kgqa_entity_linker", assigns=["doc._.kgqa_mentions", "doc._.kgqa_entities"],
                  requires=["doc.ents", "token.is_sent_start"],
                  default_config={"kb": None, "fuzzy_threshold": 90.0, "use_embeddings": True, "min_score": 0.85,
                                  "propagate": True, "name_rules": True})
def make_entity_linker(nlp: Language, name: str, kb: str | None, fuzzy_threshold: float,
                       use_embeddings: bool, min_score: float, propagate: bool, name_rules: bool) -> EntityLinker:
    return EntityLinker(nlp, name, kb=kb, fuzzy_threshold=fuzzy_threshold, use_embeddings=use_embeddings,
                        min_score=min_score, propagate=propagate, name_rules=name_rules)

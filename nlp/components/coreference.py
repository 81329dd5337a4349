"""``kgqa_coreference``: pronouns and nominals ("the company") -> the entity they refer to.

Rule-based, after the entity linker (short names such as "Curie" are already merged by the
linker). For each pronoun or "the <noun>" phrase the candidates are the entity clusters mentioned
in the same sentence before it or in the previous ``window`` sentences, filtered by agreement:

* he/him/his/himself -> a PERSON not known to be female; she/her/hers/herself -> not known male;
* it/its/itself -> a non-person; they/them/their -> an organisation or group (or a person plurals
  cannot be told from, so persons are left out);
* "the company/firm/university/..." -> ORG, "the city/country/river/..." -> LOC,
  "the film/novel/album/..." -> WORK.

Among agreeing candidates the most salient wins: being a grammatical subject (or the first mention
of its sentence when there is no parse), recency, and how often the entity was mentioned. A
resolved he/she fixes the cluster's gender for later pronouns. Each resolution becomes a
``pronoun``/``nominal`` :class:`~nlp.components.annotations.Mention` whose confidence (0.6-0.9)
says how clear the choice was.

>>> import spacy
>>> nlp = spacy.blank("en")
>>> ruler = nlp.add_pipe("entity_ruler"); ruler.add_patterns([{"label": "PERSON", "pattern": "Marie Curie"}])
>>> for p in ("sentencizer", "kgqa_entity_linker", "kgqa_coreference"):
...     _ = nlp.add_pipe(p, config={"use_embeddings": False} if p == "kgqa_entity_linker" else {})
>>> doc = nlp("Marie Curie studied physics. She was born in Warsaw.")
>>> [(m.text, doc._.kgqa_entities[m.cluster].label) for m in doc._.kgqa_mentions if m.kind == "pronoun"]
[('She', 'Marie Curie')]
"""
from __future__ import annotations

import math

from spacy.language import Language
from spacy.tokens import Doc

from nlp.components.annotations import Mention, ensure_extensions

#: pronoun -> (type it refers to, gender or None)
PRONOUNS = {
    "he": ("PERSON", "m"), "him": ("PERSON", "m"), "his": ("PERSON", "m"), "himself": ("PERSON", "m"),
    "she": ("PERSON", "f"), "her": ("PERSON", "f"), "hers": ("PERSON", "f"), "herself": ("PERSON", "f"),
    "it": ("THING", None), "its": ("THING", None), "itself": ("THING", None),
    "they": ("GROUP", None), "them": ("GROUP", None), "their": ("GROUP", None), "themselves": ("GROUP", None),
}
#: head noun of "the <noun>" -> type it refers to
NOMINALS = {
    **{w: "ORG" for w in ("company", "firm", "corporation", "university", "college", "band", "group", "organization",
                          "organisation", "club", "team", "party", "agency", "institute", "school", "label",
                          "newspaper", "magazine", "network", "airline", "bank", "business", "studio", "council")},
    **{w: "LOC" for w in ("city", "town", "village", "country", "state", "region", "river", "island", "province",
                          "capital", "county", "district", "municipality", "nation", "lake", "mountain")},
    **{w: "WORK" for w in ("film", "movie", "novel", "book", "album", "song", "single", "series", "show", "play",
                           "opera", "game", "painting", "poem", "episode", "record")},
    **{w: "EVENT" for w in ("war", "battle", "election", "tournament", "championship", "festival", "treaty")},
}
_SUBJECT_DEPS = {"nsubj", "nsubjpass"}


class Coreference:
    """See the module docstring."""

    def __init__(self, nlp: Language, name: str, *, window: int = 3, resolve_it: bool = True,
                 resolve_nominals: bool = True):
        ensure_extensions()
        self.name = name
        self.window = window
        self.resolve_it = resolve_it
        self.resolve_nominals = resolve_nominals

    def __call__(self, doc: Doc) -> Doc:
        mentions = list(doc._.kgqa_mentions or [])
        clusters = doc._.kgqa_entities or []
        if not clusters:
            return doc
        taken = set()
        for m in mentions:
            taken.update(range(m.start, m.end))
        sent_of = {}
        for si, s in enumerate(doc.sents):
            for i in range(s.start, s.end):
                sent_of[i] = si
        has_parse = doc.has_annotation("DEP")
        # token attributes read as arrays: a Token object is made only for the few candidate words
        lowers = [doc.vocab.strings[h] for h in doc.to_array("LOWER").tolist()]
        subjects = set()
        if has_parse:
            subject_ids = {doc.vocab.strings[d] for d in _SUBJECT_DEPS}
            subjects = {i for i, d in enumerate(doc.to_array("DEP").tolist()) if d in subject_ids}
        candidates = [i for i, low in enumerate(lowers) if low in PRONOUNS or low in ("the", "this")]
        # mentions in reading order, grown as pronouns resolve (a pronoun can be an antecedent)
        ordered = sorted((m for m in mentions if m.cluster is not None), key=lambda m: m.start)
        counts: dict[int, int] = {}
        new: list[Mention] = []
        pos = 0
        seen: list[Mention] = []
        for at in candidates:
            while pos < len(ordered) and ordered[pos].start <= at:
                seen.append(ordered[pos])
                counts[ordered[pos].cluster] = counts.get(ordered[pos].cluster, 0) + 1
                pos += 1
            if at in taken:
                continue
            low = lowers[at]
            want, gender, kind, end = None, None, "pronoun", at + 1
            if low in PRONOUNS and (low not in ("it", "its", "itself") or self.resolve_it):
                want, gender = PRONOUNS[low]
            elif (self.resolve_nominals and low in ("the", "this") and at + 1 < len(doc)
                  and lowers[at + 1] in NOMINALS and at + 1 not in taken
                  and (at + 2 >= len(doc) or not doc[at + 2].is_alpha or lowers[at + 2] in
                       ("was", "is", "has", "had", "released", "moved", "became", "won", "in", "'s"))):
                want, kind, end = NOMINALS[lowers[at + 1]], "nominal", at + 2
            if want is None:
                continue
            si = sent_of.get(at, 0)
            best, best_score, second = None, -1.0, -1.0
            by_cluster: dict[int, float] = {}
            for m in seen:
                if m.end > at or si - sent_of.get(m.start, 0) > self.window:
                    continue
                c = clusters[m.cluster]
                if not self._agrees(c.type, c.gender, want, gender):
                    continue
                score = self._salience(doc, m, at, si, sent_of, counts.get(m.cluster, 1), has_parse, subjects)
                by_cluster[m.cluster] = max(by_cluster.get(m.cluster, -1.0), score)
            for cid, score in by_cluster.items():
                if score > best_score:
                    best, second, best_score = cid, best_score, score
                elif score > second:
                    second = score
            if best is None:
                continue
            margin = best_score - max(second, 0.0) if second >= 0 else 2.0
            conf = round(min(0.9, 0.6 + 0.15 * margin), 3)
            mention = Mention(at, end, clusters[best].type, kind, best, conf, doc[at:end].text)
            new.append(mention)
            taken.update(range(at, end))
            if gender and clusters[best].gender is None and conf >= 0.7:
                clusters[best].gender = gender
            seen.append(mention)
            counts[best] = counts.get(best, 0) + 1
        if new:
            all_mentions = sorted(mentions + new, key=lambda m: (m.start, m.end))
            index = {id(m): i for i, m in enumerate(all_mentions)}
            for c in clusters:
                c.mentions = sorted(index[id(m)] for m in all_mentions if m.cluster == c.id)
            doc._.kgqa_mentions = all_mentions
        return doc

    @staticmethod
    def _agrees(ctype: str, cgender: str | None, want: str, gender: str | None) -> bool:
        if want == "PERSON":
            return ctype == "PERSON" and (cgender is None or gender is None or cgender == gender)
        if want == "THING":
            return ctype in ("ORG", "LOC", "WORK", "EVENT", "MISC")
        if want == "GROUP":
            return ctype in ("ORG", "NORP")
        return ctype == want

    @staticmethod
    def _salience(doc, m: Mention, at: int, si: int, sent_of, count: int, has_parse: bool,
                  subjects: set[int]) -> float:
        """``subjects``: positions of the tokens whose dependency label is a subject's."""
        distance = si - sent_of.get(m.start, 0)
        score = 1.0 - 0.35 * distance
        if has_parse:
            if any(i in subjects for i in range(m.start, m.end)):
                score += 1.0
        else:
            sent = doc[m.start].sent
            if all(not t.is_alpha or t.is_punct for t in doc[sent.start:m.start]) or m.start - sent.start <= 1:
                score += 1.0
        score += 0.3 * math.log(count + 1)
        # closer mentions win among otherwise equal ones
        score -= 0.002 * (at - m.end)
        return score


@Language.factory("kgqa_coreference", assigns=["doc._.kgqa_mentions"],
                  requires=["doc._.kgqa_entities", "doc._.kgqa_mentions"],
                  default_config={"window": 3, "resolve_it": True, "resolve_nominals": True})
def make_coreference(nlp: Language, name: str, window: int, resolve_it: bool, resolve_nominals: bool) -> Coreference:
    return Coreference(nlp, name, window=window, resolve_it=resolve_it, resolve_nominals=resolve_nominals)

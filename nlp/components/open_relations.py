"""``kgqa_open_relations``: facts outside the schema, read from dependency patterns.

Two patterns over the parse, between entity mentions (names or resolved pronouns):

* subject - verb - object: ``nsubj(V, A)`` and ``dobj(V, B)`` -> ``A  <lemma of V>  B``
  ("Curie discovered polonium" -> ``discover``);
* verb - preposition - object: ``nsubj(V, A)``, ``prep(V, P)``, ``pobj(P, B)`` ->
  ``A  <lemma>_<prep>  B`` ("Curie moved to Paris" -> ``move_to``).

Passive subjects become objects ("X was discovered by Y" -> ``Y discover X``). A pair that already
has a schema relation in the same sentence is skipped, so open relations only add what the schema
cannot say. Their predicates are marked open (``Relation(open=True)`` -> ``kgqa:OpenRelation``) and
their confidence is ``base_confidence`` (0.45) times the mentions' confidences: lower than schema
relations on purpose. A predicate that collides with a schema relation name gets an ``open_`` prefix.
Needs a dependency parse; on a Doc without one it does nothing.
"""
from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from nlp.components.annotations import Mention, RelationMention, ensure_extensions

_SKIP_LEMMAS = {"be", "have", "do", "say", "tell", "include", "become"}


class OpenRelations:
    """See the module docstring."""

    extractor = "open_relations"

    def __init__(self, nlp: Language, name: str, *, base_confidence: float = 0.45, reserved: list[str] | None = None):
        ensure_extensions()
        self.name = name
        self.base_confidence = base_confidence
        self.reserved = set(reserved or [])

    def __call__(self, doc: Doc) -> Doc:
        relations = list(doc._.kgqa_relations or [])
        mentions: list[Mention] = doc._.kgqa_mentions or []
        if not mentions or not doc.has_annotation("DEP"):
            doc._.kgqa_relations = relations
            return doc
        reserved = self.reserved | {r.relation for r in relations if not r.open}
        token_mention: dict[int, Mention] = {}
        for m in mentions:
            if m.cluster is not None:
                for i in range(m.start, m.end):
                    token_mention[i] = m
        linked = {(r.subject, r.object, r.sent_start) for r in relations}
        linked |= {(o, s, st) for s, o, st in linked}
        out = []
        for verb in doc:
            if verb.pos_ != "VERB" or verb.lemma_.lower() in _SKIP_LEMMAS:
                continue
            subjects, objects = [], []
            for child in verb.children:
                m = self._mention(child, token_mention)
                if child.dep_ == "nsubj" and m:
                    subjects.append(m)
                elif child.dep_ == "dobj" and m:
                    objects.append((m, ""))
                elif child.dep_ == "nsubjpass" and m:
                    objects.append((m, ""))
                elif child.dep_ == "agent":
                    for p in child.children:
                        pm = self._mention(p, token_mention)
                        if p.dep_ == "pobj" and pm:
                            subjects.append(pm)
                elif child.dep_ == "prep":
                    for p in child.children:
                        pm = self._mention(p, token_mention)
                        if p.dep_ == "pobj" and pm:
                            objects.append((pm, child.lower_))
            if not subjects:
                continue
            sent = verb.sent
            for s in subjects:
                for o, prep in objects:
                    if s.cluster == o.cluster or (s.cluster, o.cluster, sent.start_char) in linked:
                        continue
                    name = verb.lemma_.lower() + (f"_{prep}" if prep else "")
                    if name in reserved:
                        name = "open_" + name
                    label = name.replace("_", " ")
                    conf = round(self.base_confidence * s.confidence * o.confidence, 4)
                    out.append(RelationMention(s.cluster, name, o.cluster, sent.start_char, sent.end_char, conf,
                                               self.extractor, open=True, label=label))
        doc._.kgqa_relations = relations + out
        return doc

    @staticmethod
    def _mention(token, token_mention) -> Mention | None:
        return token_mention.get(token.i)


@Language.factory("kgqa_open_relations", assigns=["doc._.kgqa_relations"],
                  requires=["token.dep", "doc._.kgqa_mentions"],
                  default_config={"base_confidence": 0.45, "reserved": []})
def make_open_relations(nlp: Language, name: str, base_confidence: float, reserved: list[str]) -> OpenRelations:
    return OpenRelations(nlp, name, base_confidence=base_confidence, reserved=reserved)

"""``kgqa_trained_relations``: entities and relations predicted by a trained model folder.

Runs a model written by ``kgqa train relations`` (:func:`nlp.relation_model.load_relation_model`) on
each sentence of the Doc. Predicted entity spans that match (overlap) an existing mention reuse its
entity; new spans become new entities (joined by name to a same-named entity of the document).
Predicted relations are added with the model's own relation names (e.g. ``Work_For`` ->
``work_for``), its probability as confidence (only those ≥ ``threshold``), and extractor
``trained_relations``. The model's entity types map onto schema types with
:data:`nlp.schema.SPACY_TO_TYPE` (CoNLL04's Peop/Org/Loc/Other included).
"""
from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from nlp.components.annotations import EntityCluster, Mention, RelationMention, ensure_extensions
from nlp.linking import normalise
from nlp.schema import SPACY_TO_TYPE


class TrainedRelations:
    """See the module docstring."""

    extractor = "trained_relations"

    def __init__(self, nlp: Language, name: str, *, model: str, threshold: float = 0.5, batch_size: int = 16):
        from nlp.relation_model import load_relation_model

        ensure_extensions()
        self.name = name
        self.model_path = model
        self.model = load_relation_model(model)
        self.threshold = threshold
        self.batch_size = batch_size

    def __call__(self, doc: Doc) -> Doc:
        if not doc.text.strip():
            return doc
        mentions: list[Mention] = list(doc._.kgqa_mentions or [])
        clusters: list[EntityCluster] = list(doc._.kgqa_entities or [])
        relations = list(doc._.kgqa_relations or [])
        sents = list(doc.sents)
        results = self.model.predict_text(doc, batch_size=self.batch_size)
        nonempty = [s for s in sents if any(not t.is_space for t in s)]
        for result in results:
            sent = nonempty[result["sentence"]] if result.get("sentence", 0) < len(nonempty) else None
            spans = [self._mention_for(doc, e, mentions, clusters) for e in result.get("entities", [])]
            for rel in result.get("relations", []):
                score = float(rel.get("score", 1.0))
                h, t = spans[rel["head"]], spans[rel["tail"]]
                if score < self.threshold or h is None or t is None or h.cluster == t.cluster:
                    continue
                s = sent or doc[h.start].sent
                name = str(rel["type"]).strip().lower().replace(" ", "_")
                relations.append(RelationMention(h.cluster, name, t.cluster, s.start_char, s.end_char,
                                                 round(min(1.0, score) * h.confidence * t.confidence, 4),
                                                 self.extractor, label=name.replace("_", " ")))
        doc._.kgqa_mentions = sorted(mentions, key=lambda m: (m.start, m.end))
        index = {id(m): i for i, m in enumerate(doc._.kgqa_mentions)}
        for c in clusters:
            c.mentions = sorted(index[id(m)] for m in doc._.kgqa_mentions if m.cluster == c.id)
        doc._.kgqa_entities = clusters
        doc._.kgqa_relations = relations
        return doc

    @staticmethod
    def _mention_for(doc: Doc, ent: dict, mentions: list[Mention], clusters: list[EntityCluster]) -> Mention | None:
        start, end = int(ent["start"]), int(ent["end"])
        for m in mentions:
            if m.cluster is not None and m.start < end and start < m.end:
                return m
        typ = SPACY_TO_TYPE.get(str(ent.get("type")), "MISC")
        if typ == "DATE":
            return None
        text = doc[start:end].text
        norm = normalise(text)
        if not norm:
            return None
        cluster = next((c for c in clusters if norm in {normalise(a) for a in c.aliases}), None)
        if cluster is None:
            cluster = EntityCluster(len(clusters), text, typ, [text])
            clusters.append(cluster)
        m = Mention(start, end, typ, "name", cluster.id, float(ent.get("score", 1.0)), text)
        mentions.append(m)
        return m


@Language.factory("kgqa_trained_relations", assigns=["doc._.kgqa_relations", "doc._.kgqa_mentions"],
                  requires=["doc._.kgqa_mentions"],
                  default_config={"model": None, "threshold": 0.5, "batch_size": 16})
def make_trained_relations(nlp: Language, name: str, model: str | None, threshold: float,
                           batch_size: int) -> TrainedRelations:
    if not model:
        raise ValueError("kgqa_trained_relations needs a model folder (config 'model')")
    return TrainedRelations(nlp, name, model=model, threshold=threshold, batch_size=batch_size)

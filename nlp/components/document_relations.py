"""``kgqa_document_relations``: relations read from the whole document by a trained model.

Runs a document-level model written by ``kgqa train relations --format docred``
(:mod:`nlp.docre`) on the Doc's sentences and the entities the linker and coreference found:

* every entity cluster becomes one model entity, its name mentions (and nominals such as
  "the company") its mentions; pronouns are left out, as in the data the model learned from;
* the linker's date and number mentions become time entities (one per distinct date) and number
  entities (one per distinct value), so "born in 1867" and "a population of 40,000" can be objects;
* every entity pair is classified at once; a predicted fact cites the sentences the model weighs
  most (its evidence), one :class:`RelationMention` per cited sentence, so a fact read across
  sentences still names all of its sources.

The sentence-level ``kgqa_relation_extractor``'s facts are kept beside the model's (its phrasings
catch plain prose the model misses: on the demo corpus the union answers 44 of 128 questions, the
model alone 28, the sentence level alone 41); ``replace_sentence_relations=True`` drops them for
the relations the model knows, and the pipeline then spares the sentence extractor those. Relation
names come from the schema when a schema relation has the model's property id (``P19`` ->
``place_of_birth``), else from the model's relation names (``rel_info.json``). The model's entity
types replace a cluster's generic type (MISC) when it is sure of them.
"""
from __future__ import annotations

import os
import re

from spacy.language import Language
from spacy.tokens import Doc

from nlp.components.annotations import EntityCluster, Mention, RelationMention, ensure_extensions
from nlp.dates import parse_date

#: a longer document is read in segments of whole sentences of at most this many words (the
#: model learned from documents of up to about 500 words)
SEGMENT_WORDS = 600
#: the model's entity types -> kgqa's schema types
MODEL_TO_TYPE = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC", "TIME": "DATE", "NUM": "NUM"}


def relation_name(label: str) -> str:
    """A relation label as a graph name: ``"place of birth"`` -> ``place_of_birth``.

    >>> relation_name("located in the administrative territorial entity")
    'located_in_the_administrative_territorial_entity'
    """
    return re.sub(r"[^0-9a-z]+", "_", label.strip().lower()).strip("_") or "related_to"


class DocumentRelations:
    """See the module docstring."""

    extractor = "document_relations"

    def __init__(self, nlp: Language, name: str, *, model: str, threshold: float = 0.5, batch_size: int = 4,
                 replace_sentence_relations: bool = False, type_confidence: float = 0.8):
        from nlp.docre.train import load_docre

        ensure_extensions()
        self.name = name
        self.model_path = model
        self.model = load_docre(model)
        self.threshold = threshold
        self.batch_size = batch_size
        self.replace = replace_sentence_relations
        self.type_confidence = type_confidence
        self._names: dict[str, str] | None = None
        self._nlp = nlp

    # ---- names ----------------------------------------------------------------------------------
    def names(self) -> dict[str, str]:
        """Model relation id -> the graph's relation name (the schema's when the property ids agree)."""
        if self._names is None:
            by_pid = {}
            if "kgqa_relation_extractor" in self._nlp.pipe_names:
                schema = self._nlp.get_pipe("kgqa_relation_extractor").schema
                by_pid = {r.pid: r.name for r in schema if getattr(r, "pid", None)}
            cfg = self.model.config
            self._names = {r: by_pid.get(r) or relation_name(cfg.relation_name(r)) for r in cfg.relations}
        return self._names

    def labels(self) -> dict[str, str]:
        """Graph relation name -> its label (the model's relation name)."""
        return {self.names()[r]: self.model.config.relation_name(r) for r in self.model.config.relations}

    # ---- Doc -> Doc -----------------------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        return self.pipe_docs([doc])[0]

    def warm_up(self) -> None:
        """Load what loads lazily (the relation names' schema lookup) before the first batch."""
        self.names()

    def pipe(self, docs, batch_size: int = 16):
        buf = []
        for doc in docs:
            buf.append(doc)
            if len(buf) >= batch_size:
                yield from self.pipe_docs(buf)
                buf = []
        if buf:
            yield from self.pipe_docs(buf)

    def pipe_docs(self, docs: list[Doc]) -> list[Doc]:
        import torch

        views = [self._document(doc) for doc in docs]
        todo = [(d, seg) for d, v in enumerate(views) if v is not None for seg in v[0] if len(seg[0].entities) >= 2]
        # one thread by default, as for the sentence encoder (KGQA_ENCODER_THREADS overrides): build
        # workers share the cores, so each runs single-threaded
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, int(os.environ.get("KGQA_ENCODER_THREADS", "1"))))
        try:
            subjects = [[k[0] == "c" for k in seg[1]] for _, seg in todo]  # dates and numbers are never heads
            preds = (self.model.predict([seg[0] for _, seg in todo], batch_size=self.batch_size, subjects=subjects)
                     if todo else [])
        finally:
            torch.set_num_threads(previous)
        results: dict[int, list] = {}
        for (d, seg), pred in zip(todo, preds):
            results.setdefault(d, []).append((seg[1], seg[2], pred))
        for d, parts in results.items():
            self._write(docs[d], views[d][1], parts)
        return docs

    def _document(self, doc: Doc):
        """The model's view of ``doc``: segments ``(DocExample, each entity's source (cluster id or
        literal), first sentence)`` and the spaCy sentences. A document longer than
        ``SEGMENT_WORDS`` is read in segments of whole sentences (each still many sentences long)."""
        from nlp.docre.data import DocExample, DocMention

        if not doc.text.strip():
            return None
        try:
            all_sents = list(doc.sents)
        except ValueError:  # a pipeline that sets no sentence boundaries: the whole text is one
            all_sents = [doc[:]]
        sents = [s for s in all_sents if any(not t.is_space for t in s)]
        if not sents:
            return None
        words: list[list[str]] = []
        where: dict[int, tuple[int, int]] = {}  # token index -> (sentence, word)
        for si, s in enumerate(sents):
            row = []
            for t in s:
                if t.is_space:
                    continue
                where[t.i] = (si, len(row))
                row.append(t.text)
            words.append(row)

        def span(start: int, end: int):
            toks = [i for i in range(start, end) if i in where]
            if not toks:
                return None
            s0, w0 = where[toks[0]]
            toks = [i for i in toks if where[i][0] == s0]  # a mention never crosses a sentence
            return s0, w0, where[toks[-1]][1] + 1

        mentions: list[Mention] = list(doc._.kgqa_mentions or [])
        clusters: list[EntityCluster] = list(doc._.kgqa_entities or [])
        groups: dict = {}
        sources: list = []
        for c in clusters:
            groups[("c", c.id)] = []
            sources.append(("c", c.id))
        for m in mentions:
            if m.kind == "pronoun":
                continue
            if m.cluster is not None:
                key = ("c", m.cluster)
            elif m.kind == "date":
                parsed = parse_date(m.text or doc[m.start:m.end].text)
                if parsed is None:
                    continue
                key = ("date", parsed)
            elif m.kind == "number":
                value = (m.text or doc[m.start:m.end].text).strip()
                if not any(ch.isdigit() for ch in value):
                    continue
                key = ("num", value)
            else:
                continue
            if key not in groups:
                groups[key] = []
                sources.append(key)
            sp = span(m.start, m.end)
            if sp is not None:
                groups[key].append(DocMention(sp[0], sp[1], sp[2], {"date": "TIME", "num": "NUM"}.get(key[0], "")))
        segments, start, count = [], 0, 0
        for si, row in enumerate(words):
            if count and count + len(row) > SEGMENT_WORDS:
                segments.append((start, si))
                start, count = si, 0
            count += len(row)
        segments.append((start, len(words)))
        out = []
        for lo, hi in segments:
            keep = [k for k in sources if any(lo <= m.sent < hi for m in groups[k])]
            ents = tuple(tuple(DocMention(m.sent - lo, m.start, m.end, m.type) for m in groups[k] if lo <= m.sent < hi)
                         for k in keep)
            out.append((DocExample(tuple(tuple(w) for w in words[lo:hi]), ents), keep, lo))
        return out, sents

    def _write(self, doc: Doc, sents, parts) -> None:
        names = self.names()
        clusters: list[EntityCluster] = list(doc._.kgqa_entities or [])
        by_id = {c.id: c for c in clusters}
        conf_of = {}
        for m in doc._.kgqa_mentions or []:
            if m.cluster is not None:
                conf_of[m.cluster] = max(conf_of.get(m.cluster, 0.0), m.confidence)
        # learned types: a generic cluster takes the model's type when it is sure
        for key, (typ, p) in ((k, tp) for keys, _, pred in parts for k, tp in zip(keys, pred.types)):
            if key[0] == "c" and key[1] in by_id and p >= self.type_confidence:
                mapped = MODEL_TO_TYPE.get(typ)
                c = by_id[key[1]]
                if mapped in ("PERSON", "ORG", "LOC") and c.type in ("MISC", "", None):
                    c.type = mapped
        relations = list(doc._.kgqa_relations or [])
        known = set(names.values())
        if self.replace:
            relations = [r for r in relations if r.open or r.extractor != "relation_extractor" or r.relation not in known]
        best: dict = {}  # a fact found in two segments keeps its best reading
        for keys, offset, pred in parts:
            for fact in pred.facts:
                key = (keys[fact.head], fact.relation, keys[fact.tail])
                if fact.score >= self.threshold and (key not in best or best[key][0].score < fact.score):
                    best[key] = (fact, offset)
        for (hk, _, tk), (fact, offset) in best.items():
            if hk[0] != "c":
                continue  # a date or number is never a subject
            name = names[fact.relation]
            obj, literal, datatype = None, None, None
            if tk[0] == "c":
                if tk[1] == hk[1]:
                    continue
                obj = tk[1]
            elif tk[0] == "date":
                literal, datatype = tk[1]
            else:
                literal, datatype = tk[1], "string"
            conf = fact.score * conf_of.get(hk[1], 1.0) * (conf_of.get(obj, 1.0) if obj is not None else 1.0)
            for si in (offset + e for e in fact.evidence or (0,)):
                if si >= len(sents):
                    continue
                s = sents[si]
                relations.append(RelationMention(hk[1], name, obj, s.start_char, s.end_char, round(conf, 4),
                                                 self.extractor, obj_literal=literal, obj_datatype=datatype,
                                                 label=self.model.config.relation_name(fact.relation)))
        doc._.kgqa_entities = clusters
        doc._.kgqa_relations = relations


@Language.factory("kgqa_document_relations", assigns=["doc._.kgqa_relations", "doc._.kgqa_entities"],
                  requires=["doc._.kgqa_mentions", "doc._.kgqa_entities"],
                  default_config={"model": None, "threshold": 0.5, "batch_size": 4,
                                  "replace_sentence_relations": False, "type_confidence": 0.8})
def make_document_relations(nlp: Language, name: str, model: str | None, threshold: float, batch_size: int,
                            replace_sentence_relations: bool, type_confidence: float) -> DocumentRelations:
    if not model:
        raise ValueError("kgqa_document_relations needs a model folder (config 'model')")
    return DocumentRelations(nlp, name, model=model, threshold=threshold, batch_size=batch_size,
                             replace_sentence_relations=replace_sentence_relations, type_confidence=type_confidence)


__all__ = ["DocumentRelations", "relation_name", "MODEL_TO_TYPE"]

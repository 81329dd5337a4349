"""``kgqa_document_relations``: a document-level model in the pipeline, facts with every evidence sentence.

A tiny document model (random 2-layer BERT, see conftest) is fitted to tests/data/docred_tiny.json,
then the light pipeline (entity_ruler + linker + coreference) reads the same biographies as text.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kg import KnowledgeGraph
from kg.namespaces import entity_iri, relation_iri
from nlp.components.document_relations import relation_name
from nlp.docre.data import read_docred, read_rel_info
from nlp.pipeline import doc_to_extraction, document_model, load_pipeline
from tests.conftest import TINY_ENCODER, patch_tiny_encoder

DATA = Path(__file__).parent / "data"
TINY = DATA / "docred_tiny.json"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from nlp.docre.train import train_docre

    with pytest.MonkeyPatch.context() as mp:
        patch_tiny_encoder(mp)
        out = tmp_path_factory.mktemp("docre")
        report = train_docre(train=TINY, dev=TINY, out=out, epochs=40, seed=0, encoder=TINY_ENCODER, emb_size=32,
                             block_size=8, lr_encoder=3e-3, lr_heads=3e-2, warmup=0.0, batch_size=2, threads=1,
                             relation_names=read_rel_info(DATA / "docred_tiny_rel_info.json"))
        assert report.dev["relations"]["f1"] > 0.6
        yield out


@pytest.fixture
def nlp(tiny_model, monkeypatch):
    patch_tiny_encoder(monkeypatch)
    pipe = load_pipeline(light=True, model=tiny_model)
    names = set()
    for doc in read_docred(TINY).documents:
        for i in range(len(doc.entities)):
            typ = {"PER": "PERSON", "LOC": "GPE", "ORG": "ORG", "MISC": "WORK_OF_ART", "TIME": "DATE"}[doc.entity_type(i)]
            names |= {(typ, n) for n in doc.entity_names(i)}
    pipe.get_pipe("entity_ruler").add_patterns([{"label": t, "pattern": n} for t, n in sorted(names)])
    return pipe


def text_of(doc) -> str:
    return " ".join(" ".join(s) for s in doc.sents).replace(" .", ".").replace(" ,", ",")


def test_facts_read_across_sentences_cite_their_evidence(nlp):
    assert "kgqa_document_relations" in nlp.pipe_names
    doc_in = read_docred(TINY).documents[3]  # Kesh Lab: "It was founded by Amani Oduya in 2012. Oduya was born in Mombasa."
    text = text_of(doc_in)
    doc = nlp(text)
    ext = doc_to_extraction(doc, "kesh.txt", nlp=nlp)
    facts = {(f.subject, f.predicate, f.object): f for f in ext.facts}
    # the schema's own name for P19; the model's relation name for a property the schema lacks
    birth = [f for f in ext.facts if f.predicate == relation_iri("place_of_birth")]
    assert birth and birth[0].subject == entity_iri("Amani Oduya") and birth[0].object == entity_iri("Mombasa")
    sentences = {f.source.sentence for f in birth}
    assert any("founded by Amani Oduya" in s for s in sentences) and any("born in Mombasa" in s for s in sentences)
    inception = [f for f in ext.facts if f.object == Literal("2012", datatype=URIRef("http://www.w3.org/2001/XMLSchema#gYear"))]
    assert inception and inception[0].subject == entity_iri("Kesh Lab")
    assert all(f.source.extractor in ("document_relations", "open_relations", "relation_extractor") for f in facts.values())
    assert all(0.0 <= f.confidence <= 1.0 for f in ext.facts)
    with KnowledgeGraph.open("memory") as kg:
        kg.add_document("kesh.txt", ext.facts, entities=ext.entities, relations=ext.relations)
        sources = kg.sources(birth[0].subject, birth[0].predicate, birth[0].object)
        assert len({src.sentence for src, _ in sources}) >= 2  # one statement record per evidence sentence


def test_document_model_selection(tiny_model, tmp_path):
    assert document_model(tiny_model, light=True) == Path(tiny_model)
    assert document_model(None, light=True) is None and document_model(None, fast=True) is None
    assert document_model(tmp_path) in (None, document_model(None))  # not a document model: the default
    assert relation_name("country of citizenship") == "country_of_citizenship"


def test_empty_and_entityless_documents(nlp):
    for text in ("", "   ", "Nothing here is named at all.", "Lisbon."):
        doc = nlp(text)
        assert all(r.extractor != "document_relations" for r in (doc._.kgqa_relations or []))


def test_long_documents_are_read_in_segments(nlp, monkeypatch):
    import nlp.components.document_relations as dr

    monkeypatch.setattr(dr, "SEGMENT_WORDS", 40)  # three short biographies: three segments
    docs = read_docred(TINY).documents
    text = " ".join(text_of(d) for d in docs[:3])
    doc = nlp(text)
    found = [r for r in doc._.kgqa_relations if r.extractor == "document_relations"]
    assert found
    for r in found:  # every cited sentence is a real sentence of the document, in the right segment
        sentence = doc.text[r.sent_start:r.sent_end]
        assert sentence and sentence in text
    later = [r for r in found if r.sent_start > len(text_of(docs[0]))]
    assert later  # facts of the second and third segments cite their own sentences


def test_a_pipeline_without_sentence_boundaries_still_reads(tiny_model, monkeypatch):
    import spacy

    patch_tiny_encoder(monkeypatch)
    pipe = spacy.blank("en")
    ruler = pipe.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Amani Oduya"}, {"label": "GPE", "pattern": "Mombasa"}])
    pipe.add_pipe("kgqa_entity_linker", config={"use_embeddings": False})
    pipe.add_pipe("kgqa_document_relations", config={"model": str(tiny_model)})
    doc = pipe("Amani Oduya was born in Mombasa")  # no sentencizer, no parser
    assert doc._.kgqa_entities and isinstance(doc._.kgqa_relations, list)

"""The text pipeline: schema relations, open relations, provenance, bad input (nlp.pipeline)."""
from __future__ import annotations

import json

import pytest
from rdflib import Literal, URIRef

from kg import KnowledgeGraph
from kg.namespaces import KGQA, RDF, REL, TYPE, XSD, entity_iri, relation_iri
from kg.terms import sparql_term
from nlp.pipeline import CHUNK_CHARS, extract, extract_many, load_pipeline
from nlp.schema import SchemaError, load_schema

PATTERNS = [
    {"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "PERSON", "pattern": "Lovelace"},
    {"label": "PERSON", "pattern": "Charles Babbage"}, {"label": "PERSON", "pattern": "Steve Jobs"},
    {"label": "PERSON", "pattern": "Steve Wozniak"}, {"label": "PERSON", "pattern": "Ronald Wayne"},
    {"label": "GPE", "pattern": "London"}, {"label": "GPE", "pattern": "Cupertino"},
    {"label": "ORG", "pattern": "Apple"}, {"label": "ORG", "pattern": "Acme"},
    {"label": "DATE", "pattern": "10 December 1815"}, {"label": "DATE", "pattern": "1976"},
]


@pytest.fixture(scope="module")
def nlp():
    nlp = load_pipeline(light=True)
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    return nlp


def triples(ext):
    out = set()
    for f in ext.facts:
        o = str(f.object) if isinstance(f.object, Literal) else f.object.rsplit("/", 1)[-1]
        out.add((f.subject.rsplit("/", 1)[-1], f.predicate.rsplit("/", 1)[-1], o))
    return out


def test_schema_relation_with_date_literal_and_sentence_offsets(nlp):
    text = "Ada Lovelace was a mathematician. Ada Lovelace was born in London on 10 December 1815."
    ext = extract(nlp, text, "ada.txt")
    assert ("Ada_Lovelace", "place_of_birth", "London") in triples(ext)
    born = [f for f in ext.facts if f.predicate == relation_iri("date_of_birth")]
    assert born and born[0].object == Literal("1815-12-10", datatype=XSD.date)
    for f in ext.facts:
        assert text[f.source.start:f.source.end] == f.source.sentence == "Ada Lovelace was born in London on 10 December 1815."
        assert f.source.document == "ada.txt" and 0.5 <= f.confidence <= 1.0


def test_inverse_phrasing_gives_the_schema_direction(nlp):
    ext = extract(nlp, "Steve Jobs founded Apple in Cupertino. Apple was founded in 1976.", "apple.txt")
    found = triples(ext)
    assert ("Apple", "founded_by", "Steve_Jobs") in found
    assert ("Apple", "inception", "1976") in found
    assert ("Steve_Jobs", "founded_by", "Apple") not in found


def test_a_relation_holds_for_every_coordinated_mention(full_nlp):
    # the conjuncts come from the dependency parse, so this needs the full pipeline
    ext = extract(full_nlp, "Apple was founded by Steve Jobs, Steve Wozniak and Ronald Wayne.", "apple.txt")
    found = triples(ext)
    for founder in ("Steve_Jobs", "Steve_Wozniak", "Ronald_Wayne"):
        assert ("Apple", "founded_by", founder) in found
    # coordination does not create facts between the coordinated names themselves
    assert not any(s == "Steve_Jobs" and o == "Steve_Wozniak" for s, _, o in found)


def test_types_gate_relations(nlp):
    # a company is not born anywhere: place_of_birth needs a person
    ext = extract(nlp, "Acme was born in London.", "acme.txt")
    assert not any(f.predicate == relation_iri("place_of_birth") for f in ext.facts)


def test_entities_carry_types_and_relations_are_described(nlp):
    ext = extract(nlp, "Ada Lovelace was born in London.", "ada.txt")
    ents = {e.label: e for e in ext.entities}
    assert TYPE.Person in ents["Ada Lovelace"].types and TYPE.Place in ents["London"].types
    rel = {r.iri: r for r in ext.relations}[relation_iri("place_of_birth")]
    assert rel.label == "place of birth" and "was born in" in rel.aliases and not rel.open


def test_written_graph_keeps_provenance(nlp):
    text = "Ada Lovelace was born in London."
    ext = extract(nlp, text, "ada.txt")
    with KnowledgeGraph.open("memory") as kg:
        kg.add_document("ada.txt", ext.facts, entities=ext.entities, relations=ext.relations)
        (src, conf), = kg.sources(entity_iri("Ada Lovelace"), relation_iri("place_of_birth"), entity_iri("London"))
        assert src.sentence == text and src.extractor == "relation_extractor" and conf > 0.5


def test_user_schema_replaces_the_default(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"relations": [{"name": "supplies", "label": "supplies", "subject": ["ORG"],
                                                 "object": ["ORG"], "aliases": ["supplies parts to", "sells to"]}]}))
    nlp = load_pipeline(light=True, schema=schema)
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    ext = extract(nlp, "Acme supplies parts to Apple. Ada Lovelace was born in London.", "s.txt")
    assert triples(ext) == {("Acme", "supplies", "Apple")}


def test_bad_schema_files_raise_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"relations": [{"name": "x", "subject": ["ALIEN"], "object": ["LOC"]}]}')
    with pytest.raises(SchemaError, match="ALIEN"):
        load_schema(bad)
    with pytest.raises(SchemaError, match="not found"):
        load_pipeline(light=True, schema=tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{nope")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(tmp_path / "junk.json")


def test_default_schema_has_wikidata_ids_and_paraphrases():
    schema = load_schema()
    for name, pid in [("place_of_birth", "P19"), ("employer", "P108"), ("founded_by", "P112"),
                      ("headquarters_location", "P159"), ("spouse", "P26"), ("award_received", "P166")]:
        assert schema[name].pid == pid and len(schema[name].aliases) >= 3


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01\x02\xff" * 50, "%%%% //// 1234 ((((",
                                  "\ufffd" * 300, "a" * 5000, "London " * 20])
def test_bad_input_never_crashes(nlp, text):
    ext = extract(nlp, text, "junk")
    assert isinstance(ext.facts, list)


def test_huge_text_is_processed_in_pieces_with_document_offsets(nlp):
    filler = "Nothing happens here today. " * (CHUNK_CHARS // 28 + 10)
    text = filler + "Ada Lovelace was born in London."
    ext = extract(nlp, text, "big.txt")
    fact = next(f for f in ext.facts if f.predicate == relation_iri("place_of_birth"))
    assert text[fact.source.start:fact.source.end] == "Ada Lovelace was born in London."


def test_extract_many_keeps_order_and_ids(nlp):
    items = [("a", "Ada Lovelace was born in London."), ("b", ""), ("c", "Steve Jobs founded Apple.")]
    out = list(extract_many(nlp, items, batch_size=2))
    assert [d for d, _ in out] == ["a", "b", "c"]
    assert out[1][1].facts == [] and ("Apple", "founded_by", "Steve_Jobs") in triples(out[2][1])


# ---------------------------------------------------------------------- real models
@pytest.fixture(scope="module")
def full_nlp():
    return load_pipeline()


BIO = ("Marie Curie was a physicist and chemist who worked in France. She was born in Warsaw on 7 November 1867. "
       "Curie moved to Paris in 1891. She married Pierre Curie in 1895. "
       "Marie Skłodowska-Curie won the Nobel Prize in Physics in 1903.")


@pytest.mark.slow
def test_biography_gives_place_of_birth_through_coreference(full_nlp):
    ext = extract(full_nlp, BIO, "curie.txt")
    fact = next(f for f in ext.facts if f.predicate == relation_iri("place_of_birth"))
    assert fact.subject == entity_iri("Marie Curie") and fact.object == entity_iri("Warsaw")
    assert fact.source.sentence == "She was born in Warsaw on 7 November 1867."
    assert BIO[fact.source.start:fact.source.end] == fact.source.sentence
    curie = next(e for e in ext.entities if e.iri == entity_iri("Marie Curie"))
    assert {"Curie", "Marie Skłodowska-Curie"} <= set(curie.aliases)
    assert entity_iri("Pierre Curie") != curie.iri


@pytest.mark.slow
def test_schema_and_open_relations_are_distinguishable(full_nlp):
    ext = extract(full_nlp, "Marie Curie discovered polonium with Pierre Curie. Marie Curie visited Warsaw.", "d.txt")
    with KnowledgeGraph.open("memory") as kg:
        kg.add_document("d.txt", ext.facts, entities=ext.entities, relations=ext.relations)
        rows = {str(r["p"]).rsplit("/", 1)[-1]: str(r["t"]).rsplit("#", 1)[-1] for r in kg.query(
            f"SELECT ?p ?t WHERE {{ ?s ?p ?o . ?p {sparql_term(RDF.type)} ?t }}")}
    assert rows.get("visit") == "OpenRelation"
    opens = [f for f in ext.facts if f.source.extractor == "open_relations"]
    assert opens and max(f.confidence for f in opens) < 0.5


def test_life_dates_in_parentheses_and_place_pairs(nlp):
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": p} for p in ("Passy", "Paris", "France")])
    text = "Ada Lovelace (10 December 1815 – 27 November 1852) wrote notes. She visited Passy, Paris. Paris, France."
    found = triples(extract(nlp, text, "d"))
    assert ("Ada_Lovelace", "date_of_birth", "1815-12-10") in found
    assert ("Ada_Lovelace", "date_of_death", "1852-11-27") in found
    assert ("Passy", "located_in", "Paris") in found
    assert ("Paris", "contains_administrative_territorial_entity", "Passy") in found  # inverse_of
    assert ("Paris", "country", "France") in found and ("Paris", "located_in", "France") not in found
    assert ("Passy", "country", "France") in found  # document-level: Passy in Paris, Paris in France


def test_trained_model_predictions_join_the_facts(monkeypatch, tmp_path):
    """A model folder adds its own relation types on the pipeline's entities (model replaced by a stub here)."""
    import nlp.relation_model as relation_model

    class StubModel:
        def predict_text(self, doc, batch_size=16):
            out = []
            for number, sent in enumerate(s for s in doc.sents):
                words = [t for t in sent if not t.is_space]
                ents, rels = [], []
                for i, tok in enumerate(words):
                    if tok.text in ("Ada", "Acme", "Zorblat"):
                        ents.append({"type": {"Ada": "Peop", "Acme": "Org", "Zorblat": "Org"}[tok.text],
                                     "start": tok.i, "end": tok.i + 1, "score": 0.9})
                if len(ents) == 2:
                    rels.append({"type": "Work_For", "head": 0, "tail": 1, "score": 0.8})
                out.append({"sentence": number, "entities": ents, "relations": rels})
            return out

    monkeypatch.setattr(relation_model, "load_relation_model", lambda path, **kw: StubModel())
    nlp = load_pipeline(light=True, model=tmp_path)
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Ada"}, {"label": "ORG", "pattern": "Acme"}])
    ext = extract(nlp, "Ada joined Acme. Ada left Zorblat.", "m.txt")
    trained = {(f.subject.rsplit("/", 1)[-1], f.predicate.rsplit("/", 1)[-1], f.object.rsplit("/", 1)[-1], f.confidence)
               for f in ext.facts if f.source.extractor == "trained_relations"}
    assert trained == {("Ada", "work_for", "Acme", 0.8), ("Ada", "work_for", "Zorblat", 0.72)}
    assert any(e.label == "Zorblat" for e in ext.entities)  # a span only the model found


def test_a_pipeline_is_described_by_a_config_file(tmp_path):
    cfg = tmp_path / "mine.cfg"
    cfg.write_text("""
[nlp]
lang = "en"
pipeline = ["sentencizer", "entity_ruler", "kgqa_entity_linker", "kgqa_relation_extractor"]

[components]

[components.sentencizer]
factory = "sentencizer"

[components.entity_ruler]
factory = "entity_ruler"

[components.kgqa_entity_linker]
factory = "kgqa_entity_linker"
use_embeddings = false

[components.kgqa_relation_extractor]
factory = "kgqa_relation_extractor"
scorer = "lexical"
threshold = 0.9
""")
    nlp = load_pipeline(config=cfg)
    assert nlp.pipe_names == ["sentencizer", "entity_ruler", "kgqa_entity_linker", "kgqa_relation_extractor"]
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    # threshold 0.9 from the file: a phrase buried in a long connecting text no longer counts
    assert triples(extract(nlp, "Ada Lovelace was born in London.", "a")) == {("Ada_Lovelace", "place_of_birth", "London")}
    assert triples(extract(nlp, "Ada Lovelace , who later wrote many notes on engines , was born in London.", "b")) == set()


def test_dependency_paths_read_from_arrays_match_spacy_tokens(full_nlp):
    from nlp.components.annotations import Mention
    from nlp.components.relation_extractor import ParseArrays, dependency_path

    doc = full_nlp.make_doc("Apple was founded by Steve Jobs in Cupertino. The 1997 - 8 season ended early.")
    for _, proc in full_nlp.pipeline[:6]:  # the spaCy parser and NER only
        doc = proc(doc)
    arrays = ParseArrays(doc)
    for ent in doc.ents:
        assert arrays.root(ent.start, ent.end) == ent.root.i, ent.text
    assert all(arrays.up(t.i) == [t.i, *[a.i for a in t.ancestors]] for t in doc)
    apple, jobs = (Mention(s, e, "ORG", "name", 0, 1.0, "") for s, e in ((0, 1), (4, 6)))
    assert dependency_path(doc, apple, jobs, arrays=arrays) == ("was founded by", False)

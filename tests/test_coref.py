"""Coreference: pronouns and nominals resolved to the entity they refer to."""
from __future__ import annotations

import pytest

from kg.namespaces import entity_iri, relation_iri
from nlp.pipeline import extract, load_pipeline

PATTERNS = [{"label": "PERSON", "pattern": p} for p in ("Marie Curie", "Pierre Curie", "Ada Lovelace", "Mr. Babbage")]
PATTERNS += [{"label": "GPE", "pattern": p} for p in ("Warsaw", "Paris", "London", "Cupertino")]
PATTERNS += [{"label": "ORG", "pattern": p} for p in ("Apple", "Acme")]


@pytest.fixture(scope="module")
def nlp():
    nlp = load_pipeline(light=True)
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    return nlp


def resolved(doc):
    return [(m.text, doc._.kgqa_entities[m.cluster].label) for m in doc._.kgqa_mentions if m.kind != "name"
            and m.cluster is not None]


def test_she_gives_a_fact_about_the_person_with_her_own_sentence(nlp):
    text = "Marie Curie studied physics. She was born in Warsaw."
    ext = extract(nlp, text, "d")
    fact = next(f for f in ext.facts if f.predicate == relation_iri("place_of_birth"))
    assert fact.subject == entity_iri("Marie Curie")
    assert fact.source.sentence == "She was born in Warsaw." and text[fact.source.start:fact.source.end] == fact.source.sentence
    assert fact.confidence < 0.95  # a resolved pronoun is less certain than a name


def test_gender_from_titles_and_earlier_pronouns(nlp):
    doc = nlp("Mr. Babbage met Ada Lovelace in London. She wrote notes. He built engines.")
    assert resolved(doc) == [("She", "Ada Lovelace"), ("He", "Mr. Babbage")]


def test_it_refers_to_a_thing_not_a_person(nlp):
    doc = nlp("Ada Lovelace praised Acme. It was based in London.")
    assert resolved(doc) == [("It", "Acme")]


def test_the_company_refers_to_the_last_organisation(nlp):
    ext = extract(nlp, "Apple hired Ada Lovelace. The company is headquartered in Cupertino.", "d")
    assert any(f.subject == entity_iri("Apple") and f.predicate == relation_iri("headquarters_location")
               for f in ext.facts)


def test_pronoun_without_antecedent_stays_unresolved(nlp):
    doc = nlp("She was born in Warsaw.")
    assert resolved(doc) == []


@pytest.mark.slow
def test_real_model_resolves_his_and_she():
    nlp = load_pipeline()
    ext = extract(nlp, "Pierre Curie was a French physicist. He was born in Paris.", "d")
    assert any(f.subject == entity_iri("Pierre Curie") and f.object == entity_iri("Paris") for f in ext.facts)

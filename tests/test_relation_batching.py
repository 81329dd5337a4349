"""Batched extraction (``nlp.pipe``) gives exactly the facts of one-document-at-a-time extraction.

The relation extractor scores the connecting texts of a whole batch of Docs with one MiniLM call;
a document's facts must not depend on which other documents share its batch.
"""
from __future__ import annotations

import pytest

from nlp.pipeline import load_pipeline

PATTERNS = [
    {"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "PERSON", "pattern": "Charles Babbage"},
    {"label": "PERSON", "pattern": "Steve Jobs"}, {"label": "PERSON", "pattern": "Grace Hopper"},
    {"label": "GPE", "pattern": "London"}, {"label": "GPE", "pattern": "Cupertino"},
    {"label": "GPE", "pattern": "New York"}, {"label": "ORG", "pattern": "Apple"},
    {"label": "ORG", "pattern": "Yale"}, {"label": "DATE", "pattern": "1976"},
]

TEXTS = [
    "Ada Lovelace was born in London. She worked with Charles Babbage.",
    "Steve Jobs founded Apple in Cupertino. Apple was founded in 1976.",
    "",
    "Grace Hopper grew up in New York and later studied at Yale.",
    "Charles Babbage lived in London for most of his life.",
]


def relations(doc):
    return sorted((r.subject, r.relation, r.object, r.obj_literal, r.sent_start, round(r.confidence, 6))
                  for r in doc._.kgqa_relations)


def pipeline(scorer: str):
    nlp = load_pipeline(light=True)
    nlp.get_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.get_pipe("kgqa_relation_extractor").scorer = scorer
    return nlp


def check_batched_equals_single(nlp):
    single = [relations(nlp(t)) for t in TEXTS]
    for batch_size in (1, 2, 64):
        batched = [relations(d) for d in nlp.pipe(TEXTS, batch_size=batch_size)]
        assert batched == single
    assert any(single)  # the texts do give relations, so the comparison means something


def test_batched_pipe_gives_the_same_relations_lexical():
    check_batched_equals_single(pipeline("lexical"))


@pytest.mark.slow
def test_batched_pipe_gives_the_same_relations_minilm():
    check_batched_equals_single(pipeline("minilm"))


def test_only_the_shorter_connecting_text_of_a_pair_is_embedded():
    extractor = pipeline("minilm").get_pipe("kgqa_relation_extractor")
    assert extractor._to_embed(["later moved to the capital and worked at", "worked at"]) == ["worked at"]
    assert extractor._to_embed(["founded", "was founded by"]) == ["founded"]
    # function words only, or too many content words: neither text is embedded (both stay lexical)
    assert extractor._to_embed(["in the", "of"]) == []
    assert extractor._to_embed(["later moved to the capital and worked there"]) == []

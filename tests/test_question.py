"""Question understanding on a tiny graph: kinds, brackets, n-gram and fuzzy linking, masking."""
from __future__ import annotations

import pytest

from reasoning.question import graph_index, normalise, parse_question


def test_brackets_mark_the_topic(films):
    q = parse_question(films, "what did [Mira Castellano] direct", use_parser=False)
    assert q.topic.text == "Mira Castellano" and q.topic.how == "bracket"
    assert q.topic.node.value.endswith("Mira_Castellano")
    assert q.masked == "what did X direct"


def test_without_brackets_the_longest_label_is_found(films):
    q = parse_question(films, "Which language is Night Harbour in?", use_parser=False)
    assert q.topic.text == "Night Harbour"
    assert q.masked == "which language is X in"


def test_misspelt_name_is_linked_fuzzily(films):
    q = parse_question(films, "who directed [Night Harbor]", use_parser=False)
    assert q.topic.how == "fuzzy" and q.topic.node.value.endswith("Night_Harbour")


def test_kinds(films):
    assert parse_question(films, "How many films did [Jun Halloway] direct?", use_parser=False).kind == "count"
    assert parse_question(films, "Did [Jun Halloway] direct [Copper Sky]?", use_parser=False).kind == "boolean"
    q = parse_question(films, "when was [Copper Sky] released", use_parser=False)
    assert (q.kind, q.wh) == ("entity", "when")


def test_yes_no_keeps_both_entities_in_question_order(films):
    q = parse_question(films, "Did Jun Halloway direct Copper Sky?", use_parser=False)
    assert [m.text for m in q.mentions[:2]] == ["Jun Halloway", "Copper Sky"]
    assert q.masked == "did X direct Y"


def test_unknown_entity_has_no_nodes(films):
    q = parse_question(films, "who directed [Completely Unknown Thing]", use_parser=False)
    assert q.topic is not None and q.topic.nodes == []


def test_index_is_cached_and_rebuilt_after_a_change(films, monkeypatch):
    import reasoning.question as question

    monkeypatch.setattr(question, "RECHECK_SECONDS", 0.0)
    first = graph_index(films)
    assert graph_index(films) is first
    films.update('INSERT DATA { <https://kgqa.dev/entity/New_Film> <https://kgqa.dev/relation/directed_by> '
                 '<https://kgqa.dev/entity/Jun_Halloway> . <https://kgqa.dev/entity/New_Film> '
                 '<http://www.w3.org/2000/01/rdf-schema#label> "New Film" }')
    second = graph_index(films)
    assert second is not first and second.lookup("new film")


@pytest.mark.slow
def test_spacy_parse_path(films):
    q = parse_question(films, "Who starred in Copper Sky?")
    assert q.topic.text == "Copper Sky" and q.wh == "who"


def test_normalise():
    assert normalise("  The   Salt Road? ") == "the salt road"


# ------------------------------------------------------------------ the answer type a question asks for
def _asked(kg, text):
    from reasoning.reading import asked_type

    return asked_type(parse_question(kg, text, use_parser=False))


def test_type_words_resolve_to_the_graphs_own_types(people):
    country = _asked(people, "In which country was [Ann Lee] born?")
    assert (country.kind, country.strict) == ("class", True) and any(i.endswith("Country") for i in country.iris)
    assert _asked(people, "Which year was [Ann Lee] born?").kind == "date"
    assert _asked(people, "When did [Carl Hale] die?").kind == "date"
    award = _asked(people, "Which award did [Ann Lee] receive?")  # a class of that name wins over a range
    assert award.kind == "class"
    spouses = _asked(people, "How many spouses does [Bob Stone] have?")  # no such class: the relation's range
    assert spouses.kind == "range" and spouses.iris == {"https://kgqa.dev/relation/spouse"}
    who = _asked(people, "Who received [Gold Quill]?")
    assert who.kind == "class" and not who.strict  # from the wh-word: sorts answers, never paths
    assert _asked(people, "What is the spouse of [Bob Stone]?") is None


def test_a_type_word_the_graph_has_no_type_for_constrains_nothing(films):
    assert _asked(films, "Which language is [Night Harbour] in?") is None  # untyped graph, no such relation
    assert _asked(films, "who directed [Night Harbour]") is None


def test_asking_for_a_kind_reads_the_relation_whose_head_is_a_sort_noun(films):
    from reasoning.reading import sort_relations

    kinds = _asked(films, "what types are the films directed by [Mira Castellano]")
    assert (kinds.kind, kinds.word, kinds.strict) == ("range", "type", True)
    assert kinds.iris == {"https://kgqa.dev/relation/has_genre"} == sort_relations(graph_index(films))
    index = graph_index(films)
    drama = next(n for n in index.labels if index.label(n) == "Drama")
    harbour = next(n for n in index.labels if index.label(n) == "Night Harbour")
    assert kinds.matches(index, drama) and not kinds.matches(index, harbour)
    assert _asked(films, "what kind of film is [Night Harbour]").kind == "range"
    assert _asked(films, "what films did [Mira Castellano] direct") is None  # no sort noun asked


def test_who_is_the_n_of_names_the_answers_role_by_the_relations_agent_noun(films):
    screenwriter = _asked(films, "who is listed as screenwriter of [Lena Okafor] starred movies")
    assert (screenwriter.kind, screenwriter.strict) == ("range", True)
    assert screenwriter.iris == {"https://kgqa.dev/relation/written_by"}  # a screenwriter is a writer
    assert _asked(films, "who is the director of [Salt Road]").iris == {"https://kgqa.dev/relation/directed_by"}
    assert _asked(films, "which screenwriters worked with [Mira Castellano]").iris == \
        {"https://kgqa.dev/relation/written_by"}
    assert _asked(films, "who is the producer of [Salt Road]") is None  # no relation names that role


def test_asking_for_words_reads_the_relations_whose_objects_are_common_words(tmp_path):
    from kg import KnowledgeGraph
    from reasoning.reading import word_relations

    kb = tmp_path / "kb.txt"
    kb.write_text("Night Harbour|has_tags|slow burn\nNight Harbour|has_tags|harbour\nGlass Orchard|has_tags|orchard\n"
                  "Night Harbour|directed_by|Mira Castellano\nGlass Orchard|directed_by|Mira Castellano\n"
                  "Night Harbour|has_genre|Drama\nGlass Orchard|has_genre|Mystery\n", encoding="utf-8")
    kg = KnowledgeGraph.open("memory")
    kg.import_file(kb, "pipe")
    assert word_relations(graph_index(kg)) == {"https://kgqa.dev/relation/has_tags"}  # names and Drama are not words
    for text in ("what words describe [Night Harbour]", "describe [Night Harbour] in a few words",
                 "what terms are applicable to [Night Harbour]"):
        words = _asked(kg, text)
        assert (words.kind, words.strict, words.iris) == ("range", True, {"https://kgqa.dev/relation/has_tags"})
    assert _asked(kg, "who directed [Night Harbour]") is None
    kg.close()


def test_a_range_type_knows_its_nodes(people):
    from reasoning.reading import keep_typed

    spouses = _asked(people, "How many spouses does [Bob Stone] have?")
    index = graph_index(people)
    nodes = [n for n in index.labels if index.label(n) in ("Ann Lee", "Cara Wynn", "Lyon")]
    # spouse is declared symmetric: a subject of it (Ann Lee) is a spouse as much as an object
    assert sorted(index.label(n) for n in keep_typed(index, nodes, spouses)) == ["Ann Lee", "Cara Wynn"]

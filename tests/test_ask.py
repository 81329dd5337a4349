"""`ask` end to end on a tiny hand-made film graph: every question kind, evidence, JSON shape, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Literal
from typer.testing import CliRunner

from kg import Entity, Fact, KnowledgeGraph, Relation, Source
from kg.namespaces import entity_iri, relation_iri
from reasoning import Answer, AnswerSet, EvidenceStep, ask, get_reasoner, register_reasoner

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.slow  # MiniLM embeds the question and the relation paraphrases


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("qa") / "store"
    with KnowledgeGraph.open(str(path)) as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
    return path


def test_who_question_with_brackets(films):
    result = ask(films, "who directed [Night Harbour]?")
    assert result.top == "Mira Castellano"
    step = result.answers[0].evidence[0]
    assert (step.subject, step.predicate, step.object) == ("Night Harbour", "directed by", "Mira Castellano")
    assert step.source is None and step.rule is None  # an imported fact has no sentence
    assert "SELECT" in result.sparql


def test_question_without_brackets_finds_the_entity(films):
    assert ask(films, "Who directed Night Harbour").top == "Mira Castellano"


def test_when_question(films):
    assert ask(films, "when was [Glass Orchard] released").top == "2003"


def test_list_question_returns_every_answer(films):
    result = ask(films, "which films did [Mira Castellano] direct")
    assert set(result.labels()) == {"Night Harbour", "Glass Orchard", "Salt Road"}


def test_two_hop_chain(films):
    result = ask(films, "what languages are the films directed by [Mira Castellano] in")
    assert set(result.labels()) == {"Portuguese", "French"}
    assert len(result.answers[0].evidence) == 2


def test_multi_hop_answers_never_include_the_topic(films):
    result = ask(films, "which actors starred in films together with [Lena Okafor]")
    assert result.answers and "Lena Okafor" not in result.labels()


def test_how_many_answers_with_digits(films):
    assert ask(films, "how many films did [Mira Castellano] direct").top == "3"


def test_yes_and_no(films):
    yes = ask(films, "did [Mira Castellano] direct [Salt Road]?")
    assert yes.top == "yes" and yes.answers[0].evidence
    no = ask(films, "did [Jun Halloway] direct [Salt Road]?")
    assert no.top == "no"


def test_constraint_question(films):
    result = ask(films, "which films directed by Mira Castellano starred Lena Okafor")
    assert set(result.labels()) == {"Night Harbour", "Glass Orchard"}


def test_unknown_entity_gives_empty_answers(films):
    result = ask(films, "who directed [A Film Nobody Made]")
    assert result.answers == [] and result.warnings


def test_question_unrelated_to_the_graph_gives_empty_answers(films):
    assert ask(films, "what is the boiling point of [Drama]").answers == []


@pytest.mark.parametrize("question", [
    "who directed [Night Harbour\"] } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o']",
    "who directed Night Harbour\" } INSERT DATA { <a> <b> <c> } #",
    "what is {the} 'release' \"year\" of [Salt Road] UNION { ?x ?y ?z }",
])
def test_injection_attempts_are_escaped(films, question):
    before = len(films)
    result = ask(films, question)
    assert len(films) == before
    json.dumps(result.to_json())


def test_json_shape_is_exact(films):
    data = ask(films, "who directed [Night Harbour]").to_json()
    assert set(data) >= {"question", "answers", "method", "sparql"}
    answer = data["answers"][0]
    assert set(answer) == {"label", "iri", "score", "evidence"}
    assert set(answer["evidence"][0]) >= {"subject", "predicate", "object", "source", "rule"}


def test_evidence_carries_source_sentence_and_rule(monkeypatch):
    import reasoning.question

    monkeypatch.setattr(reasoning.question, "RECHECK_SECONDS", 0.0)  # the graph changes within the test
    kg = KnowledgeGraph.open("memory")
    ada, london, born = entity_iri("Ada Vance"), entity_iri("Port Elling"), relation_iri("born_in")
    kg.add_document("bio.txt", [Fact(ada, born, london, Source("bio.txt", "Ada Vance was born in Port Elling.", 0, 34,
                                                               "test"), 0.9)],
                    entities=[Entity(ada, "Ada Vance"), Entity(london, "Port Elling")],
                    relations=[Relation(born, "born in")])
    result = ask(kg, "where was Ada Vance born")
    assert result.top == "Port Elling"
    assert result.answers[0].evidence[0].source == {"document": "bio.txt",
                                                    "sentence": "Ada Vance was born in Port Elling."}
    kg.update(f"INSERT DATA {{ GRAPH <https://kgqa.dev/graph/inferred> {{ <{london}> <{relation_iri('located_in')}> "
              f"<{entity_iri('Norland')}> }} }}")
    kg.update(f"INSERT DATA {{ <{entity_iri('Norland')}> <http://www.w3.org/2000/01/rdf-schema#label> \"Norland\" }}")
    inferred = ask(kg, "where is [Port Elling] located")
    assert inferred.top == "Norland"
    assert inferred.answers[0].evidence[0].rule is not None
    kg.close()


def test_registry_accepts_name_class_and_instance(films):
    class Fixed:
        name = "fixed"

        def answer(self, kg, question, *, k=10):
            return AnswerSet(question.text, [Answer("42", None, 1.0, [EvidenceStep("a", "b", "c")])], self.name)

    register_reasoner("fixed", Fixed)
    assert ask(films, "anything?", method="fixed").top == "42"
    assert ask(films, "anything?", method=Fixed).top == "42"
    assert ask(films, "anything?", method=Fixed()).top == "42"
    assert get_reasoner("sparql").name == "sparql"


def test_cli_ask_plain_and_json(store_dir):
    from ui.cli import app

    runner = CliRunner()
    plain = runner.invoke(app, ["ask", "who directed [Night Harbour]", "--store", str(store_dir)])
    assert plain.exit_code == 0, plain.output
    assert "Mira Castellano" in plain.output and "directed by" in plain.output
    as_json = runner.invoke(app, ["ask", "who directed [Night Harbour]", "--store", str(store_dir), "--json"])
    assert json.loads(as_json.output)["answers"][0]["label"] == "Mira Castellano"


def test_cli_ask_file_keeps_order_and_survives_bad_lines(store_dir, tmp_path):
    from ui.cli import app

    questions = tmp_path / "questions.txt"
    questions.write_text("who directed [Night Harbour]\n" + "x" * 3000 + "\nwhen was [Salt Road] released\n",
                         encoding="utf-8")
    result = CliRunner().invoke(app, ["ask", "--file", str(questions), "--store", str(store_dir), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert [r.get("answers", [{}])[0].get("label") if "answers" in r else None for r in rows] == \
        ["Mira Castellano", None, "2007"]
    assert rows[1]["error"]["code"] == "E-QUESTION"


def test_cli_missing_store_is_one_line_error(tmp_path):
    from ui.cli import app

    result = CliRunner().invoke(app, ["ask", "who?", "--store", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_learned_examples_teach_a_new_wording(tmp_path, films):
    from ui.cli import app

    assert ask(films, "zorp blick [Night Harbour]").top != "Portuguese"  # a wording nothing generated covers

    store = tmp_path / "store"
    with KnowledgeGraph.open(str(store)) as kg:
        kg.import_file(DATA / "qa_films.txt", "pipe")
    examples = tmp_path / "examples.tsv"
    examples.write_text("zorp blick [Copper Sky]\tJapanese\nno tab on this line\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "questions", str(examples), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "learned 1 wordings" in result.output and "1 lines without a tab" in result.output
    with KnowledgeGraph.open(str(store)) as kg:
        assert ask(kg, "zorp blick [Night Harbour]").top == "Portuguese"


def test_constraint_nothing_satisfies_gives_empty_answers(films):
    from reasoning.planner import SparqlPlanner

    one_hop = SparqlPlanner(max_hops=1)  # on this tiny graph longer paths tie almost anything together
    result = ask(films, "which films directed by [Jun Halloway] starred [Piet Varga]", method=one_hop)
    assert result.answers == [] and result.warnings

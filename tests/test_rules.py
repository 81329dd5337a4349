"""The rule engine: rule files, built-in RDFS / OWL RL rules, closure in the store, proofs, retraction, CLI."""
from __future__ import annotations

import json

import pytest
from rdflib import OWL, RDF, RDFS, Literal, URIRef
from typer.testing import CliRunner

from kg import Fact, KnowledgeGraph, Source
from kg.namespaces import DERIVATION_GRAPH, INFERRED_GRAPH, KGQA, entity_iri, relation_iri
from kg.terms import sparql_term
from reasoning.rules import (
    OWL_RL_RULES, RDFS_RULES, FactNotFoundError, RuleLimitError, RuleSyntaxError, apply_rules, evaluate,
    explain, load_rules, parse_rules,
)
from reasoning.rules.derivations import DerivationReader
from reasoning.rules.engine import nt

from conftest import DATA

EX = "http://ex.org/"


def ex(name: str) -> URIRef:
    return URIRef(EX + name)


def inferred(triples, rules) -> set[tuple[str, str, str]]:
    """The inferred triples with the ex: namespace stripped, for readable expectations."""
    short = {nt(ex(n)): n for t in triples for n in (str(x)[len(EX):] for x in t if str(x).startswith(EX))}
    vocab = {nt(t): f"{p}:{str(t).split('#')[-1]}" for p, ns in (("rdf", RDF), ("rdfs", RDFS), ("owl", OWL))
             for t in (ns.type if p == "rdf" else None, RDFS.subClassOf, RDFS.subPropertyOf, OWL.sameAs,
                       OWL.equivalentClass, OWL.equivalentProperty, RDFS.domain, RDFS.range) if t is not None
             and str(t).startswith(str(ns))}
    names = {**vocab, **short}
    return {tuple(names.get(x, x) for x in t) for t in evaluate(triples, rules).inferred()}


# ---------------------------------------------------------------------- built-in rules, one by one
RDFS_CASES = {
    "rdfs2 domain": ([(ex("teaches"), RDFS.domain, ex("Teacher")), (ex("ann"), ex("teaches"), ex("math"))],
                     {("ann", "rdf:type", "Teacher")}),
    "rdfs3 range": ([(ex("teaches"), RDFS.range, ex("Subject")), (ex("ann"), ex("teaches"), ex("math"))],
                    {("math", "rdf:type", "Subject")}),
    "rdfs5 subPropertyOf is transitive": (
        [(ex("a"), RDFS.subPropertyOf, ex("b")), (ex("b"), RDFS.subPropertyOf, ex("c"))],
        {("a", "rdfs:subPropertyOf", "c")}),
    "rdfs7 subPropertyOf": ([(ex("mother"), RDFS.subPropertyOf, ex("parent")), (ex("eve"), ex("mother"), ex("cain"))],
                            {("eve", "parent", "cain")}),
    "rdfs9 subClassOf": ([(ex("Cat"), RDFS.subClassOf, ex("Animal")), (ex("tom"), RDF.type, ex("Cat"))],
                         {("tom", "rdf:type", "Animal")}),
    "rdfs11 subClassOf is transitive": (
        [(ex("Cat"), RDFS.subClassOf, ex("Mammal")), (ex("Mammal"), RDFS.subClassOf, ex("Animal"))],
        {("Cat", "rdfs:subClassOf", "Animal")}),
}


@pytest.mark.parametrize("case", sorted(RDFS_CASES))
def test_each_rdfs_rule_concludes_exactly_its_entailment(case):
    triples, expected = RDFS_CASES[case]
    assert inferred(triples, RDFS_RULES) == expected


OWL_CASES = {
    "inverseOf forwards": ([(ex("parentOf"), OWL.inverseOf, ex("childOf")), (ex("eve"), ex("parentOf"), ex("cain"))],
                           {("cain", "childOf", "eve")}),
    "inverseOf backwards": ([(ex("parentOf"), OWL.inverseOf, ex("childOf")), (ex("cain"), ex("childOf"), ex("eve"))],
                            {("eve", "parentOf", "cain")}),
    "SymmetricProperty": ([(ex("spouse"), RDF.type, OWL.SymmetricProperty), (ex("a"), ex("spouse"), ex("b"))],
                          {("b", "spouse", "a")}),
    "TransitiveProperty": ([(ex("partOf"), RDF.type, OWL.TransitiveProperty), (ex("a"), ex("partOf"), ex("b")),
                            (ex("b"), ex("partOf"), ex("c")), (ex("c"), ex("partOf"), ex("d"))],
                           {("a", "partOf", "c"), ("b", "partOf", "d"), ("a", "partOf", "d")}),
    "equivalentClass": ([(ex("Human"), OWL.equivalentClass, ex("Person")), (ex("ann"), RDF.type, ex("Human"))],
                        {("ann", "rdf:type", "Person"), ("Human", "rdfs:subClassOf", "Person"),
                         ("Person", "rdfs:subClassOf", "Human"), ("Person", "owl:equivalentClass", "Human"),
                         # the subClassOf cycle closes on itself (scm-sco, then scm-eqc2)
                         ("Human", "rdfs:subClassOf", "Human"), ("Person", "rdfs:subClassOf", "Person"),
                         ("Human", "owl:equivalentClass", "Human"), ("Person", "owl:equivalentClass", "Person")}),
    "domain inherited along subPropertyOf (scm-dom2)": (
        [(ex("parent"), RDFS.domain, ex("Person")), (ex("mother"), RDFS.subPropertyOf, ex("parent"))],
        {("mother", "rdfs:domain", "Person")}),
    "sameAs: symmetric, transitive and replacing in every position": (
        [(ex("a"), OWL.sameAs, ex("b")), (ex("b"), OWL.sameAs, ex("c")), (ex("a"), ex("knows"), ex("z"))],
        {("b", "owl:sameAs", "a"), ("c", "owl:sameAs", "b"), ("a", "owl:sameAs", "c"), ("c", "owl:sameAs", "a"),
         ("b", "knows", "z"), ("c", "knows", "z"),
         # equality is not reflexive here (eq-ref is left out), but a sameAs chain back to itself is
         ("a", "owl:sameAs", "a"), ("b", "owl:sameAs", "b"), ("c", "owl:sameAs", "c")}),
}


@pytest.mark.parametrize("case", sorted(OWL_CASES))
def test_each_owl_rl_rule_concludes_exactly_its_entailment(case):
    triples, expected = OWL_CASES[case]
    assert inferred(triples, OWL_RL_RULES) == expected


def test_sameas_replaces_objects_and_predicates():
    got = inferred([(ex("x"), ex("knows"), ex("a")), (ex("a"), OWL.sameAs, ex("b")),
                    (ex("knows"), OWL.sameAs, ex("meets"))], OWL_RL_RULES)
    assert {("x", "knows", "b"), ("x", "meets", "a"), ("x", "meets", "b")} <= got


def test_construct_rule_with_a_variable_predicate_evaluates():
    rules = parse_rules(f"""@prefix ex: <{EX}> .
        lift: CONSTRUCT {{ ?x ?general ?y }} WHERE {{ ?specific ex:specialises ?general . ?x ?specific ?y }}""")
    got = inferred([(ex("mother"), ex("specialises"), ex("parent")), (ex("eve"), ex("mother"), ex("cain")),
                    (ex("eve"), ex("knows"), ex("adam"))], rules)
    assert got == {("eve", "parent", "cain")}


def test_range_never_types_a_literal():
    got = inferred([(ex("age"), RDFS.range, ex("Number")), (ex("ann"), ex("age"), Literal(41))], RDFS_RULES)
    assert got == set()


def test_a_large_sameas_group_is_reported():
    with KnowledgeGraph.open("memory") as kg:
        kg.update("INSERT DATA { " + " ".join(f"<{EX}a{i}> {sparql_term(OWL.sameAs)} <{EX}a{i + 1}> ." for i in range(60)) + " }")
        report = apply_rules(kg, owl_rl=True)
    assert report.per_rule["eq-trans"] > 60 * 59 // 2 - 60
    assert any("owl:sameAs group has 61 members" in w for w in report.warnings)


def test_runaway_rules_stop_with_a_clear_error():
    rules = parse_rules("grow: next(X, Y), next(Y, Z) -> next(X, Z)")
    chain = [(ex(f"n{i}"), relation_iri("next"), ex(f"n{i + 1}")) for i in range(200)]
    with pytest.raises(RuleLimitError, match="busiest rules: grow"):
        evaluate(chain, rules, max_facts=1000)


# ---------------------------------------------------------------------- the rule file format
def test_rule_file_reads_horn_construct_prefixes_names_and_labels():
    rules = load_rules(DATA / "rules_family.rules")
    assert [r.name for r in rules] == ["born-in-country", "spouse-both-ways", "polish-born", "grandparent"]
    assert str(rules[0]) == ("born-in-country: (?X <https://kgqa.dev/relation/born_in> ?City), "
                             "(?City <https://kgqa.dev/relation/located_in> ?Y) -> "
                             "(?X <https://kgqa.dev/relation/born_in_country> ?Y)")
    assert rules[2].body[0].object.label == "Poland"  # a quoted label, resolved against the store later
    assert rules[3].head[0].predicate == relation_iri("grandparent_of")


def test_unnamed_rules_are_named_after_their_line():
    rules = parse_rules("# comment\n\nparent(X, Y) -> ancestor(X, Y)\nCONSTRUCT { ?x ?p ?y } WHERE { ?y ?p ?x }")
    assert [r.name for r in rules] == ["rule-3", "rule-4"]


@pytest.mark.parametrize("text, line, says", [
    ("a(X, Y) -> b(X, Z)", 1, "Z appear in the conclusion"),
    ("\n\na(X, Y) b(X, Y)", 3, "expected ',' or '->'"),
    ("# c\na(X) -> b(X, X)", 2, "exactly two arguments"),
    ("a(X, y) -> b(X, X)", 1, "capital letter"),
    ("ok: a(X, Y) -> b(X, Y)\n\nfoo:bar(X, Y) -> b(X, Y)", 3, "unknown prefix 'foo'"),
    ("r: a(X, Y) -> b(X, Y)\nr: a(X, Y) -> c(X, Y)", 2, "named 'r'"),
    ("x: CONSTRUCT { ?x <a:b> ?y }\n WHERE { ?x <a:b> ?y FILTER(?x != ?y) }", 1, "FILTER"),
    ("\nCONSTRUCT { ?x <a:b> ?y }\n WHERE { ?x <a:b> ?y ?? }", 3, "not valid SPARQL"),
    ("CONSTRUCT { ?x <a:b> ?z } WHERE { ?x <a:b> ?y }", 1, "?z appear in the CONSTRUCT template"),
    ("a(X, Y) -> b(X, Y) $", 1, "unexpected character '$'"),
    ("a(X, Y) ->", 1, "the file ends"),
])
def test_parse_errors_name_the_line_and_what_to_write(text, line, says):
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(text)
    assert err.value.line == line
    assert says in str(err.value)
    assert str(err.value).startswith("[E-RULES-SYNTAX]")


def test_parse_error_in_a_file_names_the_file_and_line():
    with pytest.raises(RuleSyntaxError, match=r"rules_bad.rules, line 4: expected ','"):
        load_rules(DATA / "rules_bad.rules")


# ---------------------------------------------------------------------- applying rules to a store
@pytest.fixture
def people():
    with KnowledgeGraph.open("memory") as kg:
        kg.import_file(DATA / "rules_people.txt", "pipe")
        yield kg


def inferred_in_store(kg) -> set[tuple[str, str, str]]:
    rows = kg.query(f"SELECT ?s ?p ?o WHERE {{ GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p ?o }} }}")
    return {tuple(kg.label(t) if isinstance(t, URIRef) else str(t) for t in (r["s"], r["p"], r["o"])) for r in rows}


def test_user_rules_file_infers_into_its_own_graph(people):
    asserted_before = len(people)
    report = apply_rules(people, DATA / "rules_family.rules")
    assert inferred_in_store(people) == {
        ("Marie Curie", "born in country", "Poland"),
        ("Marie Curie", "spouse", "Pierre Curie"),
        ("Marie Curie", "type", "PolishBorn"),
        ("Marie Curie", "grandparent of", "Helene Langevin-Joliot"),
    }
    assert report.inferred == report.added == 4 and report.iterations == 3
    assert report.per_rule == {"born-in-country": 1, "spouse-both-ways": 1, "polish-born": 1, "grandparent": 1}
    assert len(people) == asserted_before  # the default graph still holds only asserted facts
    assert report.warnings == []


def test_derivation_records_link_rule_premises_and_conclusion(people):
    apply_rules(people, DATA / "rules_family.rules")
    record = DerivationReader(people).record(entity_iri("Marie Curie"), relation_iri("born_in_country"),
                                             entity_iri("Poland"))
    assert record.rule == "born-in-country" and record.rule_text.startswith("born-in-country: ")
    # premises in the rule's body order
    assert [(people.label(s), people.label(o)) for s, p, o in record.premises] == [
        ("Marie Curie", "Warsaw"), ("Warsaw", "Poland")]
    # one record line per conclusion, nothing else
    assert len(DerivationReader(people).all_lines()) == 4


def test_unknown_relation_or_label_warns_instead_of_failing_silently(people):
    report = apply_rules(people, parse_rules('bornIn(X, C) -> x(X, C)\nborn_in(X, "Atlantis") -> y(X, X)'))
    assert report.inferred == 0
    assert any("never fires" in w and "bornIn" in w for w in report.warnings)
    assert any('no entity is labelled "Atlantis"' in w for w in report.warnings)


def test_ambiguous_label_in_a_rule_is_an_error_naming_the_line(people):
    people.update(f'INSERT DATA {{ <{EX}other> {sparql_term(RDFS.label)} "Warsaw" }}')
    with pytest.raises(RuleSyntaxError, match=r'line 2: .*"Warsaw" names several entities'):
        apply_rules(people, parse_rules('\nborn_in(X, "Warsaw") -> warsawian(X, X)'))


def test_rdfs_and_owl_rl_run_on_a_store(people):
    people.update(f"""INSERT DATA {{
        {sparql_term(relation_iri("born_in"))} {sparql_term(RDFS.domain)} <{EX}Person> .
        <{EX}Person> {sparql_term(RDFS.subClassOf)} <{EX}Agent> .
        {sparql_term(relation_iri("spouse"))} a {sparql_term(OWL.SymmetricProperty)} }}""")
    report = apply_rules(people, rdfs=True)
    assert report.per_rule == {"rdfs2": 1, "rdfs9": 1}
    report = apply_rules(people, owl_rl=True)
    assert ("Marie Curie", "spouse", "Pierre Curie") in inferred_in_store(people)
    assert report.per_rule["prp-symp"] == 1


def test_applying_twice_leaves_the_same_inferred_graph(people):
    def dump():
        return {str(q) for g in (INFERRED_GRAPH, DERIVATION_GRAPH)
                for q in people.store.quads(__import__("pyoxigraph").NamedNode(str(g)))}
    apply_rules(people, DATA / "rules_family.rules", owl_rl=True)
    first = dump()
    again = apply_rules(people, DATA / "rules_family.rules", owl_rl=True)
    assert again.added == again.retracted == 0
    assert dump() == first and first


def _doc(kg, doc_id, *triples, sentence=None):
    facts = [Fact(entity_iri(s), relation_iri(p), entity_iri(o), Source(doc_id, sentence or f"{s} {p} {o}."), 0.9)
             for s, p, o in triples]
    kg.add_document(doc_id, facts)


@pytest.mark.parametrize("kg", ["memory", "remote"], indirect=True)
def test_retracted_premise_retracts_its_conclusion_but_not_one_derived_otherwise(kg):
    rules = parse_rules("country: born_in(X, C), located_in(C, Y) -> born_in_country(X, Y)")
    _doc(kg, "a.txt", ("Marie", "born_in", "Warsaw"), ("Ada", "born_in", "Warsaw"))
    _doc(kg, "c.txt", ("Marie", "born_in", "Krakow"))
    _doc(kg, "geo.txt", ("Warsaw", "located_in", "Poland"), ("Krakow", "located_in", "Poland"))
    apply_rules(kg, rules)
    assert inferred_in_store(kg) == {("Marie", "born in country", "Poland"), ("Ada", "born in country", "Poland")}

    kg.delete_document("a.txt")
    report = apply_rules(kg, rules)
    assert inferred_in_store(kg) == {("Marie", "born in country", "Poland")}
    assert report.retracted == 1
    tree = explain(kg, entity_iri("Marie"), relation_iri("born_in_country"), entity_iri("Poland"))
    assert {leaf.labels[2] for leaf in tree.asserted_leaves()} == {"Krakow", "Poland"}
    # no derivation record still mentions the deleted document's facts
    lines = DerivationReader(kg).all_lines()
    assert len(lines) == 1 and nt(entity_iri("Ada")) not in lines[0]


# ---------------------------------------------------------------------- proofs
def test_explain_shows_the_proof_tree_down_to_sources():
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "bio.txt", ("Marie Curie", "born_in", "Warsaw"), sentence="Marie Curie was born in Warsaw.")
        _doc(kg, "geo.txt", ("Warsaw", "located_in", "Poland"))
        kg.update(f"""INSERT DATA {{ {sparql_term(entity_iri("Marie Curie"))} {sparql_term(RDFS.label)} "Marie Curie" .
                     {sparql_term(entity_iri("Poland"))} {sparql_term(RDFS.label)} "Poland" }}""")
        apply_rules(kg, parse_rules("country: born_in(X, C), located_in(C, Y) -> born_in_country(X, Y)\n"
                                    "pole: born_in_country(X, \"Poland\") -> compatriot_of(X, \"Poland\")"))
        tree = explain(kg, "Marie Curie", "compatriot_of", "Poland")
        assert tree.kind == "inferred" and tree.rule == "pole" and tree.depth() == 3
        assert tree.render().splitlines() == [
            "Marie Curie —compatriot of→ Poland  [inferred by rule pole]",
            "└── Marie Curie —born in country→ Poland  [inferred by rule country]",
            '    ├── Marie Curie —born in→ Warsaw  [asserted: bio.txt: "Marie Curie was born in Warsaw." (0.90)]',
            '    └── Warsaw —located in→ Poland  [asserted: geo.txt: "Warsaw located_in Poland." (0.90)]',
        ]
        leaf = tree.premises[0].premises[0]
        assert leaf.sources[0][0].sentence == "Marie Curie was born in Warsaw."
        assert json.loads(json.dumps(tree.to_dict()))["premises"][0]["rule"] == "country"
        # an asserted fact explains itself; an unknown one is a clear error
        assert explain(kg, "Marie Curie", "born_in", "<https://kgqa.dev/entity/Warsaw>").kind == "asserted"
        with pytest.raises(FactNotFoundError, match="neither asserts nor infers"):
            explain(kg, "Poland", "born_in", "Marie Curie")


# ---------------------------------------------------------------------- command line
def test_cli_apply_explain_and_check(tmp_path):
    from ui.cli import app

    runner = CliRunner()
    store = str(tmp_path / "store")
    assert runner.invoke(app, ["import", str(DATA / "rules_people.txt"), "--format", "pipe", "--store", store]).exit_code == 0
    res = runner.invoke(app, ["rules", "apply", str(DATA / "rules_family.rules"), "--store", store])
    assert res.exit_code == 0, res.output
    assert "iterations: 3" in res.output and "inferred:   4 facts (+4 new, -0 retracted)" in res.output
    res = runner.invoke(app, ["rules", "explain", '"Marie Curie" born_in_country Poland', "--store", store])
    assert res.exit_code == 0, res.output
    assert "inferred by rule born-in-country" in res.output and "Warsaw —located in→ Poland" in res.output
    res = runner.invoke(app, ["rules", "explain", "Marie Curie", "spouse", "Pierre Curie", "--store", store, "--json"])
    assert json.loads(res.output)["rule"] == "spouse-both-ways"
    res = runner.invoke(app, ["rules", "check", str(DATA / "rules_bad.rules")])
    assert res.exit_code == 2 and "line 4" in res.output
    res = runner.invoke(app, ["rules", "apply", "--store", store])
    assert res.exit_code == 2 and "--rdfs" in res.output
    res = runner.invoke(app, ["rules", "explain", '"Marie Curie" spouse', "--store", store])
    assert res.exit_code == 2 and "a triple has 3" in res.output


@pytest.mark.slow
def test_rules_reasoner_names_the_rule_on_inferred_evidence(people):
    from reasoning import get_reasoner

    apply_rules(people, DATA / "rules_family.rules")
    result = get_reasoner("rules").answer(people, "which country was [Marie Curie] born in country")
    assert result.method == "rules"
    steps = [s for a in result.answers for s in a.evidence if s.predicate_iri == str(relation_iri("born_in_country"))]
    assert steps and all(s.rule == "born-in-country" for s in steps)

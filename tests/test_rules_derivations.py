"""Derivation records (reasoning.rules.derivations): exact retraction, partial rewrites, repair, bulk path."""
from __future__ import annotations

import pytest
from rdflib import Literal

from kg import Fact, KnowledgeGraph, Source
from kg.namespaces import DERIVATION_GRAPH, INFERRED_GRAPH, entity_iri, relation_iri
from kg.terms import sparql_term
from reasoning.rules import apply_rules, explain, parse_rules
from reasoning.rules import derivations as records
from reasoning.rules.derivations import RECORDS_NS, DerivationReader, split_triple
from reasoning.rules.engine import nt

CHAIN = parse_rules("copy: p(X, Y) -> q(X, Y)\njoin: q(X, Y), r(Y, Z) -> s(X, Z)")


def _doc(kg, doc_id, *triples):
    kg.add_document(doc_id, [Fact(entity_iri(s), relation_iri(p), entity_iri(o), Source(doc_id, f"{s} {p} {o}."), 0.9)
                             for s, p, o in triples])


def _inferred(kg) -> set[str]:
    rows = kg.query(f"SELECT ?s ?p ?o WHERE {{ GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p ?o }} }}")
    return {f"{nt(r['s'])} {nt(r['p'])} {nt(r['o'])}" for r in rows}


def _short(line: str) -> str:
    return " ".join(t.rsplit("/", 1)[-1].rstrip(">") for t in line.split(" "))


def check_records(kg) -> dict[str, list[str]]:
    """The stored records are exactly the inferred graph, and every premise is asserted or recorded."""
    lines = DerivationReader(kg).all_lines()
    by_conclusion = {line.split("\t")[0]: line.split("\t")[2:] for line in lines}
    assert len(by_conclusion) == len(lines)
    assert set(by_conclusion) == _inferred(kg)
    for premises in by_conclusion.values():
        for prem in premises:
            s, p, o = (sparql_term(t) for t in split_triple(prem))
            assert prem in by_conclusion or bool(kg.query(f"ASK {{ {s} {p} {o} }}")), prem
    return {_short(c): sorted(_short(x) for x in ps) for c, ps in by_conclusion.items()}


@pytest.mark.parametrize("kg", ["memory", "disk", "remote"], indirect=True)
def test_a_deleted_premise_takes_its_whole_chain_of_conclusions_and_records(kg):
    _doc(kg, "a.txt", ("a", "p", "b"))
    _doc(kg, "c.txt", ("c", "p", "b"))
    _doc(kg, "geo.txt", ("b", "r", "z"))
    apply_rules(kg, CHAIN)
    assert set(check_records(kg)) == {"a q b", "c q b", "a s z", "c s z"}

    kg.delete_document("a.txt")
    report = apply_rules(kg, CHAIN)
    assert (report.added, report.retracted) == (0, 2)
    assert check_records(kg) == {"c q b": ["c p b"], "c s z": ["b r z", "c q b"]}
    assert nt(entity_iri("a")) not in "\n".join(DerivationReader(kg).all_lines())


@pytest.mark.parametrize("kg", ["memory", "remote"], indirect=True)
def test_a_conclusion_derived_another_way_stays_with_its_new_record(kg):
    rules = parse_rules("via-p: p(X, Y) -> q(X, Y)\nvia-t: t(X, Y) -> q(X, Y)")
    _doc(kg, "p.txt", ("a", "p", "b"))
    _doc(kg, "t.txt", ("a", "t", "b"))
    apply_rules(kg, rules)
    first = check_records(kg)["a q b"]
    kg.delete_document("p.txt" if first == ["a p b"] else "t.txt")
    report = apply_rules(kg, rules)
    assert (report.added, report.retracted) == (0, 0)
    after = check_records(kg)["a q b"]
    assert after != first and len(after) == 1
    tree = explain(kg, entity_iri("a"), relation_iri("q"), entity_iri("b"))
    assert [_short(" ".join(nt(x) for x in leaf.triple)) for leaf in tree.asserted_leaves()] == after


def test_only_the_buckets_that_changed_are_rewritten(monkeypatch):
    monkeypatch.setattr(records, "RECORDS_PER_BUCKET", 1)  # one bucket per record, about
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "facts.txt", *[(f"e{i}", "p", f"f{i}") for i in range(12)])
        apply_rules(kg, CHAIN)

        def buckets():
            q = f"SELECT ?b ?t WHERE {{ GRAPH {sparql_term(DERIVATION_GRAPH)} {{ ?b <https://kgqa.dev/ns#text> ?t }} }}"
            return {str(r["b"]): records.unpack(str(r["t"])) for r in kg.query(q)}

        before = buckets()
        assert len(before) > 4 and all(b.startswith(RECORDS_NS) for b in before)
        _doc(kg, "more.txt", ("f0", "r", "z"))  # one new conclusion: e0 s z
        report = apply_rules(kg, CHAIN)
        assert (report.added, report.retracted) == (1, 0)
        after = buckets()
        changed = {b for b in after if before.get(b) != after[b]}
        assert len(changed) == 1 and "e0> <https://kgqa.dev/relation/s>" in after[changed.pop()]
        assert set(check_records(kg)) == {f"e{i} q f{i}" for i in range(12)} | {"e0 s z"}


def test_unchanged_closure_writes_nothing_and_an_interrupted_write_is_repaired():
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "a.txt", ("a", "p", "b"), ("b", "r", "z"))
        apply_rules(kg, CHAIN)
        full = {str(q) for q in kg.store.quads(None)}
        again = apply_rules(kg, CHAIN)
        assert (again.added, again.retracted) == (0, 0)
        # a run stopped between the conclusions and the records: no header, some records missing
        der = sparql_term(DERIVATION_GRAPH)
        kg.update(f"DELETE WHERE {{ GRAPH {der} {{ {der} ?p ?o }} }} ; "
                  f"DELETE WHERE {{ GRAPH {der} {{ <{RECORDS_NS}0> ?p ?o }} }}")
        assert DerivationReader(kg).record(entity_iri("a"), relation_iri("q"), entity_iri("b")) is None
        apply_rules(kg, CHAIN)
        assert {str(q) for q in kg.store.quads(None)} == full


def test_an_unchanged_rerun_skips_the_closure_and_a_changed_input_recomputes_it(monkeypatch):
    from reasoning.rules import apply as apply_mod

    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "a.txt", ("a", "p", "b"), ("b", "r", "z"))
        first = apply_rules(kg, CHAIN)
        full = {str(q) for q in kg.store.quads(None)}
        calls = []
        real = apply_mod.evaluate
        monkeypatch.setattr(apply_mod, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
        again = apply_rules(kg, CHAIN)
        assert again.unchanged and not calls and (again.added, again.retracted) == (0, 0)
        assert (again.inferred, again.iterations, again.per_rule) == (first.inferred, first.iterations, first.per_rule)
        assert {str(q) for q in kg.store.quads(None)} == full
        # other rules, or a conclusion deleted by hand: computed again, and the store repaired
        assert not apply_rules(kg, CHAIN[:1]).unchanged and len(calls) == 1
        assert not apply_rules(kg, CHAIN).unchanged and {str(q) for q in kg.store.quads(None)} == full
        inf = sparql_term(INFERRED_GRAPH)
        kg.update(f"DELETE WHERE {{ GRAPH {inf} {{ ?s {sparql_term(relation_iri('s'))} ?o }} }}")
        repaired = apply_rules(kg, CHAIN)
        assert not repaired.unchanged and repaired.added == 1 and {str(q) for q in kg.store.quads(None)} == full
        # a new asserted fact that changes no conclusion: computed once, then the run is unchanged
        _doc(kg, "more.txt", ("x", "t", "y"))
        n = len(calls)
        assert not apply_rules(kg, CHAIN).unchanged and len(calls) == n + 1
        assert apply_rules(kg, CHAIN).unchanged and len(calls) == n + 1
        # a deleted premise: computed, and its conclusions retracted
        kg.delete_document("a.txt")
        gone = apply_rules(kg, CHAIN)
        assert not gone.unchanged and (gone.inferred, gone.retracted) == (0, 2) and not _inferred(kg)


def test_explain_marks_a_premise_deleted_since_the_last_run():
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "a.txt", ("a", "p", "b"))
        _doc(kg, "geo.txt", ("b", "r", "z"))
        apply_rules(kg, CHAIN)
        kg.delete_document("geo.txt")  # not re-applied yet
        tree = explain(kg, entity_iri("a"), relation_iri("s"), entity_iri("z"))
        assert tree.kind == "inferred" and [p.kind for p in tree.premises] == ["inferred", "missing"]


def test_records_keep_literals_with_tabs_quotes_newlines_and_backslashes():
    text = 'say "hi"\tthen\nleave \\ now'
    with KnowledgeGraph.open("memory") as kg:
        kg.update(f"INSERT DATA {{ {sparql_term(entity_iri('a'))} {sparql_term(relation_iri('motto'))} "
                  f"{sparql_term(Literal(text))} }}")
        apply_rules(kg, parse_rules("m: motto(X, Y) -> said(X, Y)"))
        tree = explain(kg, entity_iri("a"), relation_iri("said"), Literal(text))
        assert tree.rule == "m" and str(tree.premises[0].object) == text
        assert tree.premises[0].kind == "asserted"


@pytest.mark.parametrize("where", ["disk", "disk, two loads at once", "mirrored", "remote"])
def test_the_bulk_path_writes_what_the_transaction_path_writes(monkeypatch, tmp_path, where, request):
    if where == "disk, two loads at once":
        monkeypatch.setattr(records, "BULK_PART_LINES", 5)

    def run(store, limit):
        monkeypatch.setattr(records, "TRANSACTION_LINES", limit)
        _doc(store, "a.txt", *[(f"e{i}", "p", f"f{i}") for i in range(30)], ("f1", "r", "z"))
        _doc(store, "b.txt", ("f2", "r", "z"))
        apply_rules(store, CHAIN)
        first = (_inferred(store), check_records(store))
        store.delete_document("b.txt")
        _doc(store, "c.txt", ("f3", "r", "z"))
        report = apply_rules(store, CHAIN)
        return first, (_inferred(store), check_records(store)), (report.added, report.retracted)

    with KnowledgeGraph.open("memory") as small:
        expected = run(small, 100_000)
    if where == "remote":
        url = request.getfixturevalue("oxigraph_server")
        with KnowledgeGraph.open(f"sparql+{url}/query", update_url=f"{url}/update") as remote:
            remote.update("CLEAR ALL")
            assert run(remote, 2) == expected
        return
    with KnowledgeGraph.open(tmp_path / "s", in_memory=where == "mirrored") as big:
        got = run(big, 2)
    assert got == expected and expected[2] == (1, 1)
    with KnowledgeGraph.open(tmp_path / "s") as disk:  # what reached the disk, not only a copy
        assert (_inferred(disk), check_records(disk)) == expected[1]


def test_retraction_when_the_number_of_buckets_changes(monkeypatch):
    monkeypatch.setattr(records, "RECORDS_PER_BUCKET", 1)  # 17 conclusions: 32 buckets, 16: 16 buckets
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "facts.txt", *[(f"e{i}", "p", f"f{i}") for i in range(16)])
        _doc(kg, "one.txt", ("x", "p", "y"))
        apply_rules(kg, CHAIN)
        kg.delete_document("one.txt")
        report = apply_rules(kg, CHAIN)
        assert (report.added, report.retracted) == (0, 1)
        assert set(check_records(kg)) == {f"e{i} q f{i}" for i in range(16)}
        assert len(DerivationReader(kg).all_lines()) == 16


def test_a_store_with_the_old_derivation_nodes_is_rewritten_in_the_new_layout():
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "a.txt", ("a", "p", "b"))
        der, inf = sparql_term(DERIVATION_GRAPH), sparql_term(INFERRED_GRAPH)
        old = "<https://kgqa.dev/derivation/0123>"
        kg.update(f"""INSERT DATA {{ GRAPH {inf} {{ {sparql_term(entity_iri('a'))} {sparql_term(relation_iri('q'))}
                      {sparql_term(entity_iri('b'))} . {sparql_term(entity_iri('x'))} {sparql_term(relation_iri('q'))}
                      {sparql_term(entity_iri('y'))} }}
            GRAPH {der} {{ {old} a <https://kgqa.dev/ns#Derivation> ; <https://kgqa.dev/ns#rule> <https://kgqa.dev/rule/copy> .
                           {der} <https://kgqa.dev/ns#contentHash> "old" }} }}""")
        report = apply_rules(kg, CHAIN)
        assert (report.added, report.retracted) == (0, 1)  # a q b was there already; x q y no longer follows
        assert check_records(kg) == {"a q b": ["a p b"]}
        assert not bool(kg.query(f"ASK {{ GRAPH {der} {{ {old} ?p ?o }} }}"))


def test_records_list_only_what_the_conclusion_does_not_give_and_read_back_every_premise():
    # two head atoms (which one fired is not stored), a repeated variable, and two names with one slug
    from dataclasses import replace

    rules = parse_rules("both: p(X, Y) -> q(X, Y), q(Y, X)\nsame: r(X, X) -> self(X, X)\n"
                        "join: q(X, Y), t(Y, Z) -> s(X, Z)\njoin_x: q(X, Y), u(Y, Z) -> s2(X, Z)\n"
                        "q(X, Y), t(Y, Z) -> s3(X, Z)")
    rules[-1] = replace(rules[-1], name="join x")  # slugs like "join_x"
    with KnowledgeGraph.open("memory") as kg:
        _doc(kg, "a.txt", ("a", "p", "b"), ("c", "r", "c"), ("a", "t", "z"), ("b", "t", "y"), ("a", "u", "w"))
        apply_rules(kg, rules)
        assert check_records(kg) == {"a q b": ["a p b"], "b q a": ["a p b"], "c self c": ["c r c"],
                                     "a s y": ["a q b", "b t y"], "b s z": ["a t z", "b q a"],
                                     "b s2 w": ["a u w", "b q a"], "a s3 y": ["a q b", "b t y"],
                                     "b s3 z": ["a t z", "b q a"]}
        raw = "\n".join(records.unpack(str(r["t"])) for r in kg.query(
            f"SELECT ?t WHERE {{ GRAPH {sparql_term(DERIVATION_GRAPH)} {{ ?b <https://kgqa.dev/ns#text> ?t }} }}"))
        # the join's record gives Y alone: no premise predicate is written out
        assert "relation/t>" not in raw and "relation/p>" not in raw
        tree = explain(kg, entity_iri("b"), relation_iri("s3"), entity_iri("z"))
        assert tree.rule == "join x"
        assert [_short(" ".join(nt(x) for x in leaf.triple)) for leaf in tree.asserted_leaves()] == ["a p b", "a t z"]

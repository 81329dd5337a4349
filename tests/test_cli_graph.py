"""kgqa import/export/sparql/stats/delete through the CLI, as a user runs them."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from ui.cli import app
from tests.conftest import DATA

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_import_query_stats_delete(tmp_path):
    store = tmp_path / "s"
    r = run("import", DATA / "kg_people.txt", "--store", store)
    assert r.exit_code == 0, r.output
    assert "imported" in r.output and "kg_people.txt" in r.output
    r = run("sparql", "SELECT ?o WHERE { ?s <https://kgqa.dev/relation/worked_on> ?o }", "--store", store,
            "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["results"]["bindings"][0]["o"]["value"] == "https://kgqa.dev/entity/COBOL"
    r = run("sparql", "SELECT ?o WHERE { ?s <https://kgqa.dev/relation/worked_on> ?o }", "--store", store,
            "--format", "csv")
    assert r.stdout.splitlines() == ["o", "https://kgqa.dev/entity/COBOL"]
    q = tmp_path / "q.rq"
    q.write_text("ASK { ?s ?p ?o }")
    assert run("sparql", q, "--store", store).stdout.strip() == "yes"
    r = run("stats", "--store", store, "--json")
    assert json.loads(r.stdout)["document_ids"] == ["kg_people.txt"]
    r = run("delete", "kg_people.txt", "--store", store)
    assert r.exit_code == 0 and "deleted" in r.output
    assert json.loads(run("stats", "--store", store, "--json").stdout)["triples"] == 0


def test_export_formats(tmp_path):
    store = tmp_path / "s"
    run("import", DATA / "kg_people.txt", "--store", store)
    r = run("export", "--store", store, "--format", "nt")
    assert r.exit_code == 0 and "<https://kgqa.dev/entity/Ada_Lovelace>" in r.stdout
    out = tmp_path / "g.graphml"
    r = run("export", "--store", store, "--out", out)
    assert r.exit_code == 0 and out.read_text().startswith("<?xml")


def test_user_errors_are_one_line_with_a_code(tmp_path):
    store = tmp_path / "s"
    r = run("import", DATA / "kg_bad.ttl", "--store", store)
    assert r.exit_code == 2
    assert "[E-PARSE]" in r.output and "line 4" in r.output and "Traceback" not in r.output
    r = run("sparql", "SELECT * WHERE {", "--store", store)
    assert r.exit_code == 2 and "[E-QUERY]" in r.output
    r = run("stats", "--store", tmp_path / "missing")
    assert r.exit_code == 2 and "[E-STORE-MISSING]" in r.output
    r = run("import", tmp_path / "nofile.ttl", "--store", store)
    assert r.exit_code == 2 and "no such file" in r.output
    r = run("import", DATA / "kg_people.txt", "--store", store, "--format", "docx")
    assert r.exit_code == 2 and "[E-FORMAT]" in r.output
    r = run("delete", "unknown-doc", "--store", store)
    assert r.exit_code == 2 and "[E-DOC-MISSING]" in r.output


def test_store_defaults_to_env(tmp_path, monkeypatch):
    monkeypatch.setenv("KGQA_STORE", str(tmp_path / "envstore"))
    assert run("import", DATA / "kg_people.txt").exit_code == 0
    assert (tmp_path / "envstore").is_dir()

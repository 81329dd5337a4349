"""Bulk building: idempotent re-runs, replaced documents, exit codes, kill-and-resume, cluster == local.

Every build here uses the light pipeline (``load_pipeline(light=True)``, no statistical model) with a
small KB whose names its entity_ruler finds, so builds are fast and still produce real facts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kg import KnowledgeGraph
from kg.namespaces import META_GRAPH, KGQA
from nlp.build import BuildReport, build_corpus

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "corpus_small"
DATA_KB = Path(__file__).parent / "data" / "corpus_kb.jsonl"

PEOPLE = [  # (person, birthplace, employer)
    ("Marie Curie", "Warsaw", "University of Paris"), ("Alan Turing", "London", "University of Manchester"),
    ("Ada Lovelace", "London", "Analytical Society"), ("Albert Einstein", "Ulm", "Princeton University"),
    ("Niels Bohr", "Copenhagen", "University of Copenhagen"), ("Lise Meitner", "Vienna", "University of Berlin"),
    ("Enrico Fermi", "Rome", "University of Chicago"), ("Grace Hopper", "New York City", "Harvard University"),
    ("Emmy Noether", "Erlangen", "University of Göttingen"), ("Max Planck", "Kiel", "University of Berlin"),
    ("Dorothy Hodgkin", "Cairo", "University of Oxford"), ("Erwin Schrödinger", "Vienna", "University of Graz"),
    ("Rosalind Franklin", "London", "King's College London"), ("Paul Dirac", "Bristol", "University of Cambridge"),
    ("Srinivasa Ramanujan", "Erode", "University of Cambridge"), ("Werner Heisenberg", "Würzburg", "University of Leipzig"),
    ("Chien-Shiung Wu", "Liuhe", "Columbia University"), ("John von Neumann", "Budapest", "Princeton University"),
    ("Barbara McClintock", "Hartford", "Cornell University"), ("Richard Feynman", "New York City", "Caltech"),
    ("Katherine Johnson", "White Sulphur Springs", "NASA"), ("Alexander Fleming", "Darvel", "St Mary's Hospital"),
    ("Tu Youyou", "Ningbo", "China Academy of Chinese Medical Sciences"), ("Carl Sagan", "Brooklyn", "Cornell University"),
    ("Ernest Rutherford", "Brightwater", "University of Manchester"), ("Hedy Lamarr", "Vienna", "MGM"),
    ("Nikola Tesla", "Smiljan", "Westinghouse Electric"), ("Mary Anning", "Lyme Regis", "Geological Society"),
    ("James Clerk Maxwell", "Edinburgh", "King's College London"), ("Jane Goodall", "London", "Gombe Stream Research Centre"),
]


def write_kb(path: Path) -> Path:
    """A KB (JSONL) naming every person, place and employer of :data:`PEOPLE`."""
    import json

    rows = {}
    for person, city, employer in PEOPLE:
        rows[person] = {"id": f"kbp{len(rows)}", "label": person, "aliases": [person.split()[-1]], "type": "PERSON"}
        rows.setdefault(city, {"id": f"kbl{len(rows)}", "label": city, "type": "LOC"})
        rows.setdefault(employer, {"id": f"kbo{len(rows)}", "label": employer, "type": "ORG"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows.values()), encoding="utf-8")
    return path


@pytest.fixture
def kb(tmp_path) -> Path:
    return write_kb(tmp_path / "kb.jsonl")


def write_corpus(folder: Path, n: int = len(PEOPLE), repeat: int = 1) -> Path:
    """``n`` small biographies written for these tests, one file each (``repeat`` visit sentences)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (person, city, employer) in enumerate(PEOPLE[:n]):
        last = person.split()[-1]
        visits = " ".join(f"In {1900 + i + year}, {person} visited {PEOPLE[(i + year + 1) % len(PEOPLE)][1]} "
                          "with colleagues." for year in range(repeat))
        (folder / f"bio_{i:02d}.txt").write_text(
            f"{person} was born in {city}. {last} worked for {employer}. {visits}\n", encoding="utf-8")
    return folder


def snapshot(kg: KnowledgeGraph) -> set[str]:
    """Every quad of the store except the build times, which differ between any two builds."""
    added = str(KGQA.addedAt)
    return {str(q) for q in kg.store.quads(None) if str(q.predicate.value) != added}


def asserted(kg: KnowledgeGraph) -> set[str]:
    import pyoxigraph as ox

    return {str(q) for q in kg.store.quads(ox.DefaultGraph())}


def test_build_writes_documents_with_provenance_and_counts_failures():
    with KnowledgeGraph.open("memory") as kg:
        report = build_corpus([DATA], kg=kg, light=True, kb=DATA_KB)
        assert (report.seen, report.built, report.failed, report.skipped_unchanged) == (7, 5, 2, 0)
        assert report.workers == 1  # a corpus this small is not worth starting worker processes
        assert {f.id for f in report.failures} == {"people.jsonl#L4", "people.jsonl#notext"}
        assert report.exit_code == 3 and report.words > 40 and report.seconds > 0
        docs = {d.id: d for d in kg.documents()}
        assert set(docs) == {"curie.txt", "lovelace.html", "people.jsonl#einstein", "people.jsonl#L2",
                             "sub/turing.md"}
        assert docs["curie.txt"].extractor == report.extractor and docs["curie.txt"].content_hash
        assert report.facts > 0 and report.facts == sum(d.fact_count for d in docs.values())
        # the document's text is kept, so provenance offsets point into it
        rows = list(kg.query(f"SELECT ?t WHERE {{ GRAPH <{META_GRAPH}> {{ ?d <{KGQA.text}> ?t }} }}"))
        assert any(str(r["t"]).startswith("Marie Curie was born in Warsaw.") for r in rows)


def test_rerun_builds_nothing_and_changed_document_replaces_its_old_facts(tmp_path, kb):
    corpus = write_corpus(tmp_path / "corpus", 4)
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        first = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb)
        before = snapshot(kg)
        assert (first.built, first.failed) == (4, 0)
        again = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb)
        assert (again.built, again.skipped_unchanged, again.replaced) == (0, 4, 0)
        assert snapshot(kg) == before
        old_facts = {d.id: d.fact_count for d in kg.documents()}["bio_00.txt"]
        assert old_facts > 0
        (corpus / "bio_00.txt").write_text("Marie Curie was born in Vienna. Curie worked for Harvard University.\n")
        changed = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb)
        assert (changed.built, changed.replaced, changed.skipped_unchanged) == (1, 1, 3)
        # nothing read from the old text survives: no statement quotes it, Warsaw is no longer asserted
        sentences = {str(r["s"]) for r in kg.query(
            f"SELECT ?s WHERE {{ GRAPH ?g {{ ?st <{KGQA.sentence}> ?s }} }}", all_graphs=True)}
        assert not any("Warsaw" in s for s in sentences)
        assert not any("Warsaw" in q for q in asserted(kg))
        assert "Marie Curie was born in Vienna." in sentences
        # a forced build re-extracts everything and ends in the same graph
        after_change = snapshot(kg)
        forced = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb, force=True)
        assert (forced.built, forced.replaced) == (4, 4)
        assert snapshot(kg) == after_change


def test_one_failing_document_does_not_stop_the_build(tmp_path, monkeypatch, kb):
    import nlp.pipeline as pipeline

    corpus = write_corpus(tmp_path / "corpus", 3)
    (corpus / "bio_01.txt").write_text("BOOM makes the extractor fail.")
    real_extract, real_many = pipeline.extract, pipeline.extract_many

    def extract(nlp, text, doc_id, **kw):
        if "BOOM" in text:
            raise RuntimeError("cannot handle this text")
        return real_extract(nlp, text, doc_id, **kw)

    def extract_many(nlp, items, **kw):
        items = list(items)
        if any("BOOM" in text for _, text in items):
            raise RuntimeError("batch failed")
        return real_many(nlp, items, **kw)

    monkeypatch.setattr(pipeline, "extract", extract)
    monkeypatch.setattr(pipeline, "extract_many", extract_many)
    with KnowledgeGraph.open("memory") as kg:
        report = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb)
        assert (report.built, report.failed) == (2, 1)
        assert report.failures[0].id == "bio_01.txt" and "cannot handle this text" in report.failures[0].reason
        assert [d.id for d in kg.documents()] == ["bio_00.txt", "bio_02.txt"]


def test_cli_exit_codes_and_report(tmp_path, kb):
    from ui.cli import app

    runner = CliRunner()
    good = write_corpus(tmp_path / "good", 3)
    store = tmp_path / "store"
    light = ["--light", "--kb", str(kb)]
    result = runner.invoke(app, ["build", str(good), "--store", str(store), "--workers", "1", *light])
    assert result.exit_code == 0, result.output
    assert "built 3 documents" in result.output
    import json

    report = json.loads((store / "build-report.json").read_text())
    assert (report["seen"], report["built"], report["failed"], report["workers"]) == (3, 3, 0, 1)
    for key in ("skipped_unchanged", "replaced", "words", "seconds", "docs_per_second", "words_per_second"):
        assert key in report

    (good / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    custom = tmp_path / "reports" / "second.json"
    result = runner.invoke(app, ["build", str(good), "--store", str(store), "--workers", "1", *light,
                                 "--report", str(custom)])
    assert result.exit_code == 3, result.output
    report = json.loads(custom.read_text())
    assert (report["built"], report["skipped_unchanged"], report["failed"]) == (0, 3, 1)
    assert report["failures"] == [{"id": "broken.txt", "path": str(good / "broken.txt"), "code": "binary",
                                   "reason": report["failures"][0]["reason"]}]
    assert "binary" in report["failures"][0]["reason"]

    not_a_store = tmp_path / "file.txt"
    not_a_store.write_text("x")
    result = runner.invoke(app, ["build", str(good), "--store", str(not_a_store), *light])
    assert result.exit_code == 2 and "error:" in result.output
    result = runner.invoke(app, ["build", str(good), "--store", str(store), *light, "--schema",
                                 str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    bad_schema = tmp_path / "schema.json"
    bad_schema.write_text("{not json")
    (good / "new.txt").write_text("Ada Lovelace was born in London.")  # something to extract
    result = runner.invoke(app, ["build", str(good), "--store", str(store), *light, "--schema", str(bad_schema)])
    assert result.exit_code == 2 and "pipeline could not load" in result.output, result.output


def test_dask_cluster_gives_the_same_graph_as_a_local_build(tmp_path, kb):
    from distributed import LocalCluster

    corpus = write_corpus(tmp_path / "corpus", 6)
    with KnowledgeGraph.open("memory") as local, KnowledgeGraph.open("memory") as remote:
        build_corpus([corpus], kg=local, workers=1, light=True, kb=kb)
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
            report = build_corpus([corpus], kg=remote, cluster=cluster.scheduler_address, light=True, kb=kb,
                                  batch_documents=2)
        assert (report.built, report.failed, report.cluster) == (6, 0, cluster.scheduler_address)
        assert snapshot(local) == snapshot(remote)
        assert len(asserted(remote)) > 0


@pytest.mark.slow  # starts two worker processes (7 s on idle cores, 49 s while they were busy)
def test_two_local_workers_give_the_same_graph_as_one(tmp_path, kb):
    """Worker processes (their own allocator settings, several batches in flight) build exactly the
    graph of an in-process build: the same batches are cut in every mode."""
    corpus = write_corpus(tmp_path / "corpus", 6)
    with KnowledgeGraph.open("memory") as one, KnowledgeGraph.open("memory") as two:
        first = build_corpus([corpus], kg=one, workers=1, light=True, kb=kb, batch_documents=2)
        second = build_corpus([corpus], kg=two, workers=2, light=True, kb=kb, batch_documents=2)
        assert (second.workers, second.built, second.failed) == (2, 6, 0)
        assert second.facts == first.facts > 0
        assert snapshot(one) == snapshot(two)


def test_one_worker_extracts_the_next_batch_while_writing_and_keeps_warm_up_to_loading(tmp_path, monkeypatch, kb):
    """In-process extraction runs on a thread of its own: at most one batch is extracted ahead of the
    writes (a kill loses two batches at most), the batches go in order, and the report's warm-up
    leaves every batch's extraction in the steady time."""
    import nlp.pipeline as pipeline

    corpus = write_corpus(tmp_path / "corpus", 6)
    real_many = pipeline.extract_many
    built_when_extracting = []

    def slow_many(nlp, items, **kw):
        built_when_extracting.append(len(kg.documents()))
        time.sleep(0.3)  # inside extract_batch's timer: this is extraction time
        return real_many(nlp, items, **kw)

    monkeypatch.setattr(pipeline, "extract_many", slow_many)
    with KnowledgeGraph.open("memory") as kg:
        report = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb, batch_documents=2)
        assert len(built_when_extracting) == 3 and built_when_extracting[0] == 0
        assert all(b - a <= 2 for a, b in zip(built_when_extracting, built_when_extracting[1:]))
        assert built_when_extracting[-1] >= 2  # batch 3 began after batch 1 was written
        assert report.built == 6 and report.seconds - report.warmup_seconds >= 3 * 0.3


def test_keep_freed_memory_lets_a_process_reuse_what_it_freed():
    """After keep_freed_memory(), a 24 MB block freed and allocated again is not faulted in again."""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's allocator settings")
    script = """
import ctypes, resource
from nlp.build import keep_freed_memory
assert keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 24 << 20
def cycle():
    p = libc.malloc(size)
    ctypes.memset(p, 1, size)
    libc.free(p)
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) < 1000  # with glibc's defaults the same loop faulted 6,143 pages here


def test_unreachable_cluster_is_a_usage_error(tmp_path, kb):
    from kg.errors import KGQAError

    corpus = write_corpus(tmp_path / "corpus", 1)
    with KnowledgeGraph.open("memory") as kg, pytest.raises(KGQAError, match="Dask scheduler"):
        build_corpus([corpus], kg=kg, cluster="tcp://127.0.0.1:9", light=True, kb=kb)


@pytest.mark.slow  # starts a build process with two worker processes (about 10-30 s on 2 busy cores)
def test_sigkill_mid_build_then_resume_equals_an_uninterrupted_build(tmp_path, kb):
    """Kill a 2-worker ``kgqa build`` (parent and workers, SIGKILL) after some documents are committed;
    resuming in one process ends in exactly the graph a clean one-process build gives."""
    corpus = write_corpus(tmp_path / "corpus", repeat=8)  # long enough that documents arrive one by one
    killed_store = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ui.cli", "build", str(corpus), "--store", str(killed_store), "--workers", "2",
           "--light", "--kb", str(kb), "--verbose", "--batch-documents", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    committed, seen = 0, []
    deadline = time.monotonic() + 240
    try:
        for line in proc.stderr:  # "built ID" once the document's transaction is committed
            seen.append(line)
            committed += line.startswith("built ")
            if committed >= 5 or time.monotonic() > deadline:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert committed >= 5, "".join(seen)[-2000:]
    with KnowledgeGraph.open(killed_store) as kg:
        survived = {d.id for d in kg.documents()}
        assert committed <= len(survived) < len(PEOPLE), "the kill came too late to test a resume"
        resumed = build_corpus([corpus], kg=kg, workers=1, light=True, kb=kb)
        assert (resumed.skipped_unchanged, resumed.built, resumed.failed) == (
            len(survived), len(PEOPLE) - len(survived), 0)
        with KnowledgeGraph.open("memory") as clean:
            build_corpus([corpus], kg=clean, workers=1, light=True, kb=kb)
            assert len(kg.documents()) == len(PEOPLE)
            assert asserted(kg) == asserted(clean)
            assert snapshot(kg) == snapshot(clean)
            assert len(asserted(clean)) > 4 * len(PEOPLE)


def test_report_json_shape():
    report = BuildReport(store="memory:memory", paths=["x"], workers=2, cluster=None, extractor="e")
    report.fail("a.txt", "x/a.txt", "empty", "empty file")
    report.built, report.words, report.seconds = 4, 1000, 2.0
    out = report.to_dict()
    assert (out["failed"], out["docs_per_second"], out["words_per_second"]) == (1, 2.0, 500.0)
    assert out["failures"] == [{"id": "a.txt", "path": "x/a.txt", "code": "empty", "reason": "empty file"}]
    assert report.exit_code == 3

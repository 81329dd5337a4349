"""Opening stores: missing, foreign and locked paths give clear errors; the store persists."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kg import KnowledgeGraph
from kg.errors import ForeignStoreError, StoreLockedError, StoreNotFoundError
from tests.conftest import DATA


def test_missing_store_for_reading(tmp_path):
    with pytest.raises(StoreNotFoundError) as err:
        KnowledgeGraph.open(tmp_path / "nope", create=False)
    assert "kgqa import" in str(err.value)


def test_foreign_paths(tmp_path):
    (tmp_path / "somefile").write_text("hello")
    with pytest.raises(ForeignStoreError):
        KnowledgeGraph.open(tmp_path / "somefile")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ForeignStoreError):
        KnowledgeGraph.open(tmp_path / "photos")


def test_store_persists_and_reopens(tmp_path):
    with KnowledgeGraph.open(tmp_path / "s") as kg:
        kg.import_file(DATA / "kg_people.txt")
        n = len(kg)
    with KnowledgeGraph.open(tmp_path / "s", create=False) as kg:
        assert len(kg) == n
        # a second handle in the same process shares the open store instead of failing on the lock
        with KnowledgeGraph.open(tmp_path / "s") as again:
            assert len(again) == n


def test_store_locked_by_another_process(tmp_path):
    path = tmp_path / "s"
    with KnowledgeGraph.open(path) as kg:
        kg.import_file(DATA / "kg_people.txt")
        code = textwrap.dedent(f"""
            from kg import KnowledgeGraph
            from kg.errors import StoreLockedError
            try:
                KnowledgeGraph.open({str(path)!r})
            except StoreLockedError as e:
                print("LOCKED", e.code)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert "LOCKED E-STORE-LOCKED" in out.stdout, out.stderr
    assert StoreLockedError("x").code == "E-STORE-LOCKED"

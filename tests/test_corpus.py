"""Corpus readers: every supported format, stable ids, and a reason for every bad input."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nlp.corpus import (CorpusDocument, ReadFailure, count_items, html_to_text, markdown_to_text, read_corpus)

DATA = Path(__file__).parent / "data" / "corpus_small"


def read(paths, **kw):
    items = list(read_corpus(paths, **kw))
    docs = {i.id: i for i in items if isinstance(i, CorpusDocument)}
    fails = {i.id: i for i in items if isinstance(i, ReadFailure)}
    return docs, fails


def test_folder_is_read_recursively_with_stable_ids_in_sorted_order():
    items = list(read_corpus([DATA]))
    assert [i.id for i in items] == ["curie.txt", "lovelace.html", "people.jsonl#einstein", "people.jsonl#L2",
                                     "people.jsonl#L4", "people.jsonl#notext", "sub/turing.md"]
    # the same ids from another working directory and from the file itself
    cwd = os.getcwd()
    try:
        os.chdir(DATA.parent)
        assert [i.id for i in read_corpus(["corpus_small"])] == [i.id for i in items]
    finally:
        os.chdir(cwd)
    assert [i.id for i in read_corpus([DATA / "curie.txt"])] == ["curie.txt"]
    assert count_items([DATA]) == len(items)


def test_each_format_yields_its_prose():
    docs, fails = read([DATA])
    assert docs["curie.txt"].text.startswith("Marie Curie was born in Warsaw.")
    html = docs["lovelace.html"].text
    assert "Ada Lovelace was born in London & worked with Charles Babbage." in html
    for invisible in ("color", "document.write", "Rome", "hidden", "Enable scripts"):
        assert invisible not in html
    md = docs["sub/turing.md"].text
    assert "Alan Turing was born in London." in md and "King's College" in md
    for markup in ("**", "](", "https://", "print(", "title:", "|", "#"):
        assert markup not in md
    assert md.startswith("Alan Turing\n\n")  # the heading is its own paragraph
    assert docs["people.jsonl#einstein"].text == "Albert Einstein was born in Ulm."
    assert docs["people.jsonl#L2"].text == "Niels Bohr was born in Copenhagen."
    # bad JSON lines fail one by one; the good lines around them are kept
    assert fails["people.jsonl#L4"].code == "bad-json" and "line 4" in fails["people.jsonl#L4"].reason
    assert fails["people.jsonl#notext"].code == "bad-json" and '"text"' in fails["people.jsonl#notext"].reason


def test_content_hash_follows_the_text_not_the_file(tmp_path):
    (tmp_path / "a.txt").write_text("Ada was born in London.\n")
    (tmp_path / "b.txt").write_text("Ada was born in London.\r\n")
    docs, _ = read([tmp_path])
    assert docs["a.txt"].content_hash == docs["b.txt"].content_hash
    (tmp_path / "b.txt").write_text("Ada was born in Paris.")
    docs2, _ = read([tmp_path])
    assert docs2["b.txt"].content_hash != docs["b.txt"].content_hash


def test_bad_inputs_each_get_a_reason_and_the_good_file_is_still_read(tmp_path):
    (tmp_path / "good.txt").write_text("Grace Hopper was born in New York.")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("\n\n   \n<!-- only a comment -->\n")
    (tmp_path / "latin1.txt").write_bytes("Zoë was born in Orléans.".encode("latin-1"))
    (tmp_path / "scripts_only.html").write_text("<html><script>var a = 1;</script></html>")
    (tmp_path / "link.txt").symlink_to(tmp_path / "gone.txt")
    os.mkfifo(tmp_path / "pipe.txt")  # opening a FIFO would block forever
    docs, fails = read([tmp_path])
    assert list(docs) == ["good.txt"]
    assert fails["binary.txt"].code == "binary"
    assert fails["empty.txt"].code == "empty"
    assert fails["blank.md"].code == "empty"
    assert fails["scripts_only.html"].code == "empty"
    assert fails["latin1.txt"].code == "invalid-utf8" and "iconv" in fails["latin1.txt"].reason
    assert fails["link.txt"].code == "unreadable"
    assert fails["pipe.txt"].code == "unreadable"
    assert all(f.reason for f in fails.values())


def test_utf16_and_bom_and_declared_html_charset_are_decoded(tmp_path):
    (tmp_path / "u16.txt").write_bytes("Zoë was born in Orléans.".encode("utf-16"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfAda was born in London.")
    (tmp_path / "page.html").write_bytes('<html><head><meta charset="iso-8859-1"></head><body><p>Zoë lived in '
                                         'Orléans.</p></body></html>'.encode("latin-1"))
    docs, fails = read([tmp_path])
    assert not fails
    assert docs["u16.txt"].text == "Zoë was born in Orléans."
    assert docs["bom.txt"].text == "Ada was born in London."
    assert docs["page.html"].text == "Zoë lived in Orléans."


def test_permission_denied_is_a_reason(tmp_path, monkeypatch):
    (tmp_path / "secret.txt").write_text("Classified.")
    (tmp_path / "open.txt").write_text("Public.")
    import builtins

    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):  # root may read anything, so deny like the OS would
        if str(file).endswith("secret.txt"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    docs, fails = read([tmp_path])
    assert list(docs) == ["open.txt"]
    assert fails["secret.txt"].code == "unreadable" and "permission denied" in fails["secret.txt"].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_by_mode(tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text("text")
    path.chmod(0)
    _, fails = read([tmp_path])
    assert fails["locked.txt"].code == "unreadable"


def test_oversized_documents_fail_without_being_read(tmp_path):
    (tmp_path / "long.txt").write_text("word " * 400)  # 2,000 characters
    (tmp_path / "short.txt").write_text("Ada was born in London.")
    (tmp_path / "lines.jsonl").write_text('{"text": "' + "x" * 3000 + '"}\n{"text": "Ada was born in London."}\n')
    docs, fails = read([tmp_path], max_chars=1000)
    assert set(docs) == {"short.txt", "lines.jsonl#L2"}
    assert fails["long.txt"].code == "too-large" and "--max-chars" in fails["long.txt"].reason
    assert fails["lines.jsonl#L1"].code == "too-large"


def test_a_real_50_mb_one_line_file_is_refused_quickly(tmp_path):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as fh:
        fh.write(b"a" * (50 * 1024 * 1024))
    big_jsonl = tmp_path / "huge.jsonl"
    with open(big_jsonl, "wb") as fh:
        fh.write(b'{"text": "' + b"b" * (50 * 1024 * 1024) + b'"}\n{"text": "Ada was born in London."}\n')
    started = time.monotonic()
    docs, fails = read([tmp_path])
    assert time.monotonic() - started < 10
    assert fails["huge.txt"].code == "too-large"
    assert fails["huge.jsonl#L1"].code == "too-large"
    assert list(docs) == ["huge.jsonl#L2"]


def test_duplicate_and_repeated_paths(tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_text(f"Text from {folder}.")
    (tmp_path / "one" / "a b.txt").write_text("Spaced.")
    (tmp_path / "one" / "a_b.txt").write_text("Underscored.")
    items = list(read_corpus([tmp_path / "one", tmp_path / "two", tmp_path / "one" / "a.txt"]))
    docs = [i for i in items if isinstance(i, CorpusDocument)]
    fails = [i for i in items if isinstance(i, ReadFailure)]
    assert [d.id for d in docs] == ["a b.txt", "a.txt"]
    # a.txt from a second folder, and an id that names the same store document as "a b.txt"
    assert sorted((f.id, f.code) for f in fails) == [("a.txt", "duplicate-id"), ("a_b.txt", "duplicate-id")]


def test_missing_and_unsupported_paths_named_explicitly(tmp_path):
    (tmp_path / "slides.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "notes.txt").write_text("Notes.")
    items = list(read_corpus([tmp_path / "nope", tmp_path / "slides.pdf", tmp_path]))
    assert [(i.id, getattr(i, "code", "ok")) for i in items] == [
        ("nope", "missing"), ("slides.pdf", "unsupported"), ("notes.txt", "ok")]  # a folder's PDFs are ignored


def test_markdown_and_html_helpers():
    assert markdown_to_text("> **Note**: see `x` and ![a map](m.png)\n\n1. First item\n2. Second") == \
        "Note: see x and a map\n\nFirst item Second"
    assert html_to_text("<p>One<p>Two</p><br/>Three &eacute;") == "One\n\nTwo\n\nThree é"
    assert html_to_text("<div><span aria-hidden=\"true\">x</span>Shown</div><img hidden src=a>After") == "Shown\n\nAfter"


def test_unlistable_folder_is_a_reason(tmp_path, monkeypatch):
    (tmp_path / "ok.txt").write_text("Readable.")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.txt").write_text("Hidden behind permissions.")
    real_scandir = os.scandir

    def guarded_scandir(path):  # root may list anything, so deny like the OS would
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    docs, fails = read([tmp_path])
    assert list(docs) == ["ok.txt"]
    assert fails["locked/"].code == "unreadable" and "Permission denied" in fails["locked/"].reason

"""Corpus readers: files and folders of ``.txt``, ``.md``, ``.html`` and ``.jsonl`` become documents.

:func:`read_corpus` walks the paths it is given (recursing into folders, in sorted order) and
yields one :class:`CorpusDocument` per document or one :class:`ReadFailure` per item that could
not be read, with a reason a user can act on. It never raises for a bad file: binary files,
empty files, invalid UTF-8, oversized documents, unreadable files and malformed JSON lines each
become a failure and the walk goes on.

Document ids are stable and do not depend on the working directory: the path relative to the
folder given (``sub/a.txt``), the file name for a file given directly, and for JSON Lines
``name.jsonl#ID`` (the line's ``id`` field) or ``name.jsonl#L7`` (line 7, when it has no ``id``).

Size policy: a document with more than ``max_chars`` characters (default 1,000,000, spaCy's own
``nlp.max_length``) fails with reason ``too-large``; files that cannot fit are rejected from their
size on disk before they are read, and JSON lines are read with a bounded buffer, so a 50 MB
one-line file costs neither the time nor the memory to read it.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "a.md").write_text("# Ada\\n\\nAda *Lovelace* wrote [notes](http://x).\\n")
>>> _ = (root / "b.txt").write_bytes(b"")
>>> [(item.id, getattr(item, "text", None) or item.code) for item in read_corpus([root])]
[('a.md', 'Ada\\n\\nAda Lovelace wrote notes.'), ('b.txt', 'empty')]
"""
from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Iterator

from kg.namespaces import slug

#: spaCy's default ``nlp.max_length``: longer texts need memory the parser cannot promise
DEFAULT_MAX_CHARS = 1_000_000
#: file extensions read, by reader
TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
                 ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
# how many bytes of raw file a character of extracted text may cost before we refuse to read it
_RAW_BYTES_PER_CHAR = {"text": 4, "markdown": 16, "html": 16}
_SNIFF = 8192


@dataclass(frozen=True)
class CorpusDocument:
    """One readable document: stable ``id``, extracted ``text``, the file it came from, a content hash."""

    id: str
    text: str
    path: str
    content_hash: str

    @property
    def words(self) -> int:
        """Whitespace-separated words (the unit of the build's words/s)."""
        return count_words(self.text)


@dataclass(frozen=True)
class ReadFailure:
    """An item that could not be read: its id, file, a short ``code`` and a ``reason`` saying what to do."""

    id: str
    path: str
    code: str
    reason: str


def count_words(text: str) -> int:
    """Whitespace-separated words: ``count_words("Ada wrote  notes.")`` is 3."""
    return len(text.split())


def content_hash(text: str) -> str:
    """SHA-256 of the extracted text: a document whose text did not change is not rebuilt."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- walking
def corpus_files(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str] | ReadFailure]:
    """Each file to read with its document id (or a failure for a path that is missing or unsupported).

    Folders are walked recursively in sorted order; hidden files and folders (``.git``) and files
    with other extensions are left out. A file named explicitly with another extension is a failure.
    """
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            yield from _walk(root, root)
        elif root.exists() or root.is_symlink():
            if root.suffix.lower() not in TEXT_SUFFIXES:
                yield ReadFailure(root.name, str(root), "unsupported",
                                  f"unsupported file type {root.suffix or '(none)'!r}; kgqa build reads "
                                  f"{', '.join(sorted(TEXT_SUFFIXES))}")
            else:
                yield root, root.name
        else:
            yield ReadFailure(root.name, str(root), "missing", f"no such file or folder: {str(root)!r}")


def _walk(root: Path, folder: Path) -> Iterator[tuple[Path, str] | ReadFailure]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        rel = folder.relative_to(root).as_posix() + "/"
        yield ReadFailure(rel, str(folder), "unreadable",
                          f"cannot list the folder: {err.strerror or err}; check its permissions")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, path)
        elif Path(entry.name).suffix.lower() in TEXT_SUFFIXES:
            yield path, path.relative_to(root).as_posix()


def count_items(paths: Iterable[str | os.PathLike]) -> int:
    """How many items :func:`read_corpus` will yield, cheaply (files, plus non-blank lines of JSON Lines).

    Used for a progress bar's total; reads ``.jsonl`` files as bytes without decoding them.
    """
    total = 0
    for item in corpus_files(paths):
        if isinstance(item, ReadFailure) or item[0].suffix.lower() != ".jsonl":
            total += 1
            continue
        try:
            with open(item[0], "rb") as fh:
                total += max(1, sum(1 for line in _bounded_lines(fh, 1 << 20) if line[0].strip()))
        except OSError:
            total += 1
    return total


# ---------------------------------------------------------------------- reading
def read_corpus(paths: Iterable[str | os.PathLike], *, max_chars: int = DEFAULT_MAX_CHARS
                ) -> Iterator[CorpusDocument | ReadFailure]:
    """Documents and failures from files and folders, in a stable order; never raises for bad input.

    Two items with the same id (e.g. ``a.txt`` in two folders given together) cannot both be
    kept in one store: the second becomes a ``duplicate-id`` failure.
    """
    first_seen: dict[str, tuple[str, str]] = {}
    for entry in corpus_files(paths):
        if isinstance(entry, ReadFailure):
            yield entry
            continue
        path, doc_id = entry
        kind = TEXT_SUFFIXES[path.suffix.lower()]
        items = _read_jsonl(path, doc_id, max_chars) if kind == "jsonl" else [_read_file(path, doc_id, kind, max_chars)]
        for item in items:
            if isinstance(item, CorpusDocument):
                key = slug(item.id)  # ids that differ only in spacing name the same store document
                first = first_seen.get(key)
                if first is None:
                    first_seen[key] = (item.id, item.path)
                elif first == (item.id, item.path):
                    continue  # the same file named twice (a folder and a file inside it)
                else:
                    yield ReadFailure(item.id, item.path, "duplicate-id",
                                      f"document id {item.id!r} is taken by {first[0]!r} from {first[1]}; rename "
                                      "one of them or build the folders into separate stores")
                    continue
            yield item


def _read_file(path: Path, doc_id: str, kind: str, max_chars: int) -> CorpusDocument | ReadFailure:
    where = str(path)

    def fail(code, reason):
        return ReadFailure(doc_id, where, code, reason)

    try:
        info = path.stat()
    except FileNotFoundError:
        return fail("unreadable", "cannot read: the file does not exist (a broken link?)")
    except OSError as err:
        return fail("unreadable", f"cannot read: {err.strerror or err}")
    if not stat.S_ISREG(info.st_mode):
        return fail("unreadable", "not a regular file (a pipe, socket or device); copy its contents to a file")
    if info.st_size == 0:
        return fail("empty", "empty file")
    limit = max_chars * _RAW_BYTES_PER_CHAR[kind]
    if info.st_size > limit:
        return fail("too-large", f"file of {info.st_size:,} bytes cannot fit the limit of {max_chars:,} "
                                 "characters per document; split it into smaller files (or raise --max-chars)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except PermissionError:
        return fail("unreadable", "cannot read: permission denied; check the file's permissions")
    except OSError as err:
        return fail("unreadable", f"cannot read: {err.strerror or err}")
    text, problem = _decode(data, html=kind == "html")
    if problem:
        return fail(*problem)
    if kind == "markdown":
        text = markdown_to_text(text)
    elif kind == "html":
        text = html_to_text(text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return _document(doc_id, where, text, max_chars)


def _document(doc_id: str, where: str, text: str, max_chars: int) -> CorpusDocument | ReadFailure:
    if not text.strip():
        return ReadFailure(doc_id, where, "empty", "no text (empty, whitespace or markup only)")
    if len(text) > max_chars:
        return ReadFailure(doc_id, where, "too-large",
                           f"{len(text):,} characters, more than the limit of {max_chars:,} per document; "
                           "split it into smaller documents (or raise --max-chars)")
    return CorpusDocument(doc_id, text, where, content_hash(text))


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def _decode(data: bytes, *, html: bool = False) -> tuple[str, tuple[str, str] | None]:
    """Text from bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, or an HTML page's declared charset."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return "", ("binary", "starts with a UTF-16 mark but is not UTF-16 text")
    if b"\x00" in data[:_SNIFF]:
        return "", ("binary", "binary file (NUL bytes), not text; convert it to plain text first")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        if html:
            declared = _META_CHARSET.search(data[:4096])
            if declared:
                try:
                    return data.decode(declared.group(1).decode("ascii")), None
                except (LookupError, UnicodeDecodeError):
                    pass
        return "", ("invalid-utf8", f"not valid UTF-8 (byte {err.start:,}: {data[err.start:err.start + 1]!r}); "
                                    "convert it, e.g. `iconv -f latin1 -t utf-8`")


# ---------------------------------------------------------------------- JSON Lines
def _bounded_lines(fh, limit: int) -> Iterator[tuple[bytes, bool]]:
    """Lines of a binary file, each cut at ``limit`` bytes (the rest is read and dropped); yields (line, too_long)."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # drain the rest of the overlong line in bounded chunks
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line[:limit], True
        else:
            yield line, False


def _read_jsonl(path: Path, doc_id: str, max_chars: int) -> Iterator[CorpusDocument | ReadFailure]:
    """One document per line (``{"text": ..., "id": ...}``); each bad line is its own failure."""
    where = str(path)
    single = _read_file_checks(path, doc_id)
    if single is not None:
        yield single
        return
    found = False
    try:
        with open(path, "rb") as fh:
            for number, (raw, too_long) in enumerate(_bounded_lines(fh, max_chars * 4 + 1024), start=1):
                line_id = f"{doc_id}#L{number}"
                if too_long:
                    yield ReadFailure(line_id, where, "too-large",
                                      f"line {number} is longer than the limit of {max_chars:,} characters "
                                      "per document; split it (or raise --max-chars)")
                    found = True
                    continue
                if not raw.strip():
                    continue
                found = True
                yield _jsonl_item(raw, number, doc_id, where, max_chars)
    except OSError as err:
        yield ReadFailure(doc_id, where, "unreadable", f"cannot read: {err.strerror or err}")
        return
    if not found:
        yield ReadFailure(doc_id, where, "empty", "no JSON lines (empty file)")


def _read_file_checks(path: Path, doc_id: str) -> ReadFailure | None:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return ReadFailure(doc_id, str(path), "unreadable", "not a regular file (a pipe, socket or device)")
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
    except PermissionError:
        return ReadFailure(doc_id, str(path), "unreadable", "cannot read: permission denied; check the file's permissions")
    except OSError as err:
        return ReadFailure(doc_id, str(path), "unreadable", f"cannot read: {err.strerror or err}")
    if b"\x00" in head:
        return ReadFailure(doc_id, str(path), "binary", "binary file (NUL bytes), not JSON Lines text")
    return None


def _jsonl_item(raw: bytes, number: int, doc_id: str, where: str, max_chars: int) -> CorpusDocument | ReadFailure:
    line_id = f"{doc_id}#L{number}"
    try:
        record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8").strip())
    except UnicodeDecodeError as err:
        return ReadFailure(line_id, where, "invalid-utf8", f"line {number} is not valid UTF-8 (byte {err.start})")
    except json.JSONDecodeError as err:
        return ReadFailure(line_id, where, "bad-json", f"line {number} is not valid JSON: {err.msg} (column {err.colno})")
    if not isinstance(record, dict):
        return ReadFailure(line_id, where, "bad-json", f"line {number} is not a JSON object with a \"text\" field")
    ident = record.get("id")
    if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident).strip():
        line_id = f"{doc_id}#{str(ident).strip()}"
    text = record.get("text")
    if text is None:
        return ReadFailure(line_id, where, "bad-json", f"line {number} has no \"text\" field")
    if not isinstance(text, str):
        return ReadFailure(line_id, where, "bad-json", f"line {number}: \"text\" is not a string")
    return _document(line_id, f"{where}:{number}", text.strip(), max_chars)


# ---------------------------------------------------------------------- markup
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(---|\.\.\.)\s*\n", re.S)
_INLINE = [
    (re.compile(r"<!--.*?-->", re.S), ""),                        # comments
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),                # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),                 # inline links -> link text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),                # reference links -> link text
    (re.compile(r"<(https?://[^>]+)>"), r"\1"),                    # autolinks
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),                        # inline HTML tags
    (re.compile(r"`+([^`]+)`+"), r"\1"),                           # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),         # strong
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # emphasis
    (re.compile(r"~~(.+?)~~"), r"\1"),                             # strikethrough
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])"), r"\1"),           # backslash escapes
]
_BLOCK_PREFIX = re.compile(r"^\s{0,3}(?:>\s?)*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,9}[.)]\s+)?")


def markdown_to_text(markdown: str) -> str:
    """Prose from Markdown: markup, code blocks, link targets, tables rules and front matter removed.

    Blocks stay separated by a blank line so headings do not run into the next sentence.

    >>> markdown_to_text("# Title\\n\\n* **Ada** met [Babbage](https://x.org).\\n\\n```\\ncode\\n```\\n")
    'Title\\n\\nAda met Babbage.'
    """
    text = _FRONT_MATTER.sub("", markdown.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    blocks: list[list[str]] = [[]]
    fence = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1) == fence:
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            continue
        stripped = line.strip()
        if (not stripped or re.fullmatch(r"([-*_=]\s*){3,}", stripped)          # blank, rules, setext underlines
                or re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", stripped)  # table rules
                or re.match(r"^\s{0,3}\[[^\]]+\]:\s*\S+", line)):               # link definitions
            blocks.append([])
            continue
        if line.startswith(("    ", "\t")) and not blocks[-1]:
            continue  # an indented code block
        heading = re.match(r"^\s{0,3}#{1,6}\s", line)
        line = _BLOCK_PREFIX.sub("", line, count=1)
        line = re.sub(r"\s#+\s*$", "", line)  # closing hashes of a heading
        if "|" in line and stripped.startswith("|"):
            line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        for pattern, repl in _INLINE:
            line = pattern.sub(repl, line)
        if heading:
            blocks.append([line.strip()])
            blocks.append([])
        else:
            blocks[-1].append(line.strip())
    paragraphs = [" ".join(part for part in block if part) for block in blocks]
    return "\n\n".join(p for p in paragraphs if p.strip())


class _VisibleText(HTMLParser):
    """Collects the text a browser would show: no script/style/head, no ``hidden`` elements."""

    SKIP = {"script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe", "object"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    BLOCK = {"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption",
             "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
             "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul", "body", "html"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0

    def handle_starttag(self, tag, attrs):
        if self._skip_tag is not None:
            self._skip_depth += tag == self._skip_tag
            return
        hidden = any(name == "hidden" or (name == "aria-hidden" and value == "true") for name, value in attrs)
        if (tag in self.SKIP or hidden) and tag not in self.VOID:
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if self._skip_tag is None and tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._skip_tag is None:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML page (scripts, styles, head and hidden elements dropped), one block a paragraph.

    >>> html_to_text("<html><head><title>T</title><script>var x=1;</script></head>"
    ...              "<body><h1>Ada</h1><p>Ada &amp; Charles<br>met.</p><p hidden>secret</p></body></html>")
    'Ada\\n\\nAda & Charles\\n\\nmet.'
    """
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; a pathological page keeps what was parsed so far
        pass
    text = "".join(parser.parts)
    blocks = (re.sub(r"\s+", " ", block).strip() for block in text.split("\n"))
    return "\n\n".join(b for b in blocks if b)

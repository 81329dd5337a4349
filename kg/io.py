"""Reading and writing graph files: RDF formats through Oxigraph's parsers, delimited triples by hand.

Delimited triples (``csv``, ``tsv`` and ``pipe`` for ``head|relation|tail`` lines) mint entity IRIs
from labels and relation IRIs from names, and keep the labels:

>>> quads = list(read_delimited(io.StringIO("Ada Lovelace|collaborator|Charles Babbage\\n"), "pipe"))
>>> sorted({q.predicate.value for q in quads})[:2]
['http://www.w3.org/1999/02/22-rdf-syntax-ns#type', 'http://www.w3.org/2000/01/rdf-schema#label']
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Iterator

import pyoxigraph as ox

from kg.errors import FormatError, ParseError
from kg.namespaces import KGQA, RDF, RDFS, entity_iri, label_from_name, relation_iri

#: format name -> pyoxigraph RdfFormat (None for delimited formats)
RDF_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
}
DELIMITED_FORMATS = ("csv", "tsv", "pipe")
EXPORT_FORMATS = tuple(RDF_FORMATS) + ("graphml",)
QUAD_FORMATS = ("nq", "trig")

_ALIASES = {
    "turtle": "ttl", "ntriples": "nt", "n-triples": "nt", "nquads": "nq", "n-quads": "nq",
    "json-ld": "jsonld", "json": "jsonld", "rdfxml": "xml", "rdf": "xml", "owl": "xml",
    "psv": "pipe", "txt": "pipe",
}
_HEADERS = {("head", "relation", "tail"), ("subject", "predicate", "object"),
            ("source", "relation", "target"), ("s", "p", "o"), ("h", "r", "t")}


def normalise_format(fmt: str | None, path: str | os.PathLike | None = None, *, export: bool = False) -> str:
    """A canonical format name from a name or, when ``fmt`` is None, the file extension.

    >>> normalise_format(None, "kb.txt"), normalise_format("Turtle"), normalise_format(None, "x.nq")
    ('pipe', 'ttl', 'nq')
    """
    if fmt is None:
        if path is None:
            raise FormatError("no format given; pass --format (ttl, nt, nq, trig, jsonld, csv, tsv, pipe)")
        suffixes = Path(path).suffixes
        fmt = suffixes[-1][1:] if suffixes else ""
        if fmt == "gz" and len(suffixes) > 1:
            fmt = suffixes[-2][1:]
    name = _ALIASES.get(fmt.lower(), fmt.lower())
    known = EXPORT_FORMATS if export else tuple(RDF_FORMATS) + DELIMITED_FORMATS
    if name not in known:
        raise FormatError(f"unknown format {fmt!r}; use one of: {', '.join(known)}")
    return name


def _syntax_line(err: Exception) -> int | None:
    line = getattr(err, "lineno", None)
    if line:
        return int(line)
    m = re.search(r"line (\d+)", str(err))
    return int(m.group(1)) if m else None


def file_base_iri(path: str | os.PathLike) -> str:
    """The base IRI of a file: its location as a ``file:`` URL (what relative IRIs in it resolve against).

    >>> file_base_iri("/data/people.ttl")
    'file:///data/people.ttl'
    """
    return Path(path).resolve().as_uri()


def read_rdf(path: str | os.PathLike, fmt: str, *, base_iri: str | None = None) -> list:
    """All quads of an RDF file; a syntax error raises :class:`ParseError` naming the line.

    Relative IRIs (``<people.ttl#a>``, RDF/XML's ``rdf:about=""``) resolve against ``base_iri``,
    by default the file's own location (:func:`file_base_iri`); a ``@base``/``xml:base`` in the
    file takes precedence, as the formats say.
    """
    try:
        return list(ox.parse(path=str(path), format=RDF_FORMATS[fmt], base_iri=base_iri or file_base_iri(path)))
    except SyntaxError as err:
        msg = str(err).split(" (line")[0]
        raise ParseError(msg, path=str(path), line=_syntax_line(err)) from None
    except ValueError as err:  # only the base IRI can be malformed here
        raise ParseError(f"{err}; give an absolute IRI such as http://example.org/ as the base",
                         path=str(path)) from None
    except UnicodeDecodeError as err:
        raise ParseError(f"not valid UTF-8 ({err.reason})", path=str(path)) from None
    except OSError as err:
        raise ParseError(f"cannot read the file: {err.strerror or err}", path=str(path)) from None


def _split(line: str, fmt: str, lineno: int, path: str | None) -> list[str]:
    if fmt == "csv":
        fields = next(csv.reader([line]))
    elif fmt == "tsv":
        fields = line.split("\t")
    else:
        fields = line.split("|")
    fields = [f.strip() for f in fields]
    if len(fields) != 3 or not all(fields):
        sep = {"csv": "comma", "tsv": "tab", "pipe": "'|'"}[fmt]
        raise ParseError(
            f"expected three non-empty {sep}-separated fields (head, relation, tail), got {len(fields)}",
            path=path, line=lineno,
        )
    return fields


def read_delimited(stream, fmt: str, *, path: str | None = None) -> Iterator:
    """Triples (as default-graph quads) from delimited text; labels and types come with each new term."""
    seen_ent: set[str] = set()
    seen_rel: set[str] = set()
    label, rtype = ox.NamedNode(str(RDFS.label)), ox.NamedNode(str(RDF.type))
    ent_cls, rel_cls = ox.NamedNode(str(KGQA.Entity)), ox.NamedNode(str(KGQA.Relation))
    for lineno, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, rel, tail = _split(line, fmt, lineno, path)
        if lineno == 1 and (head.lower(), rel.lower(), tail.lower()) in _HEADERS:
            continue
        h, t = ox.NamedNode(str(entity_iri(head))), ox.NamedNode(str(entity_iri(tail)))
        r = ox.NamedNode(str(relation_iri(rel)))
        for name, node in ((head, h), (tail, t)):
            if name not in seen_ent:
                seen_ent.add(name)
                yield ox.Quad(node, label, ox.Literal(name))
                yield ox.Quad(node, rtype, ent_cls)
        if rel not in seen_rel:
            seen_rel.add(rel)
            yield ox.Quad(r, label, ox.Literal(label_from_name(rel)))
            yield ox.Quad(r, rtype, rel_cls)
        yield ox.Quad(h, r, t)


def read_delimited_file(path: str | os.PathLike, fmt: str) -> list:
    """All quads of a delimited file; bad lines and bad bytes raise :class:`ParseError` naming the line."""
    try:
        with open(path, "rb") as raw:
            return list(read_delimited(_decoded_lines(raw, str(path)), fmt, path=str(path)))
    except OSError as err:
        raise ParseError(f"cannot read the file: {err.strerror or err}", path=str(path)) from None


def _decoded_lines(raw, path: str):
    for lineno, bline in enumerate(raw, 1):
        try:
            yield bline.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ParseError(f"not valid UTF-8 ({err.reason}); re-save the file as UTF-8", path=path,
                             line=lineno) from None


def read_file(path: str | os.PathLike, fmt: str | None = None, *, base_iri: str | None = None) -> list:
    """Quads from any supported file (format from ``fmt`` or the extension); relative IRIs in RDF
    files resolve against ``base_iri`` (default: the file's location, see :func:`read_rdf`)."""
    p = Path(path)
    if not p.exists():
        raise ParseError("no such file", path=str(path))
    if p.is_dir():
        raise ParseError("is a folder; give a file", path=str(path))
    fmt = normalise_format(fmt, path)
    if fmt in DELIMITED_FORMATS:
        return read_delimited_file(p, fmt)
    return read_rdf(p, fmt, base_iri=base_iri)


def write_quads(quads, output, fmt: str) -> None:
    """Serialise quads (or triples) to a path or binary stream."""
    ox.serialize(quads, output, format=RDF_FORMATS[fmt])

"""Query results: lazy rows of rdflib terms over pyoxigraph solutions, with a deadline and a row cap.

>>> from kg import KnowledgeGraph
>>> kg = KnowledgeGraph.open("memory")
>>> kg.update('INSERT DATA { <http://ex/a> <http://ex/p> "x" }')
>>> [row.asdict() for row in kg.query("SELECT ?s ?o WHERE { ?s ?p ?o }")]
[{'s': rdflib.term.URIRef('http://ex/a'), 'o': rdflib.term.Literal('x')}]
"""
from __future__ import annotations

import csv
import io
import json
import time
from xml.sax.saxutils import escape
from typing import Iterator

import pyoxigraph as ox

from kg.errors import QueryTimeoutError, ResultTooLargeError
from kg.terms import to_rdflib

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

_RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
_GRAPH_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "json-ld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


class Row:
    """One SELECT solution: ``row["name"]``, ``row[0]``, ``row.name`` or ``row.asdict()`` (rdflib terms)."""

    __slots__ = ("_solution", "_vars", "_index")

    def __init__(self, solution, variables: tuple[str, ...], index: dict[str, int] | None = None):
        self._solution = solution
        self._vars = variables
        # pyoxigraph looks a value up by position much faster than by name, so names map to positions
        self._index = index if index is not None else {v: i for i, v in enumerate(variables)}

    def __getitem__(self, key):
        if isinstance(key, int):
            self._vars[key]  # IndexError for a position out of range, as before
            return to_rdflib(self._solution[key % len(self._vars)])
        i = self._index.get(key)
        return to_rdflib(self._solution[key if i is None else i])

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._vars:
            raise AttributeError(name)
        return self[name]

    def __iter__(self):
        return map(to_rdflib, self._solution)

    def __len__(self):
        return len(self._vars)

    def get(self, key, default=None):
        value = self[key]
        return default if value is None else value

    def asdict(self) -> dict:
        """Bound variables only, like rdflib's ``ResultRow.asdict()``."""
        return {v: value for v, value in zip(self._vars, map(to_rdflib, self._solution)) if value is not None}

    def __repr__(self):
        return f"Row({self.asdict()!r})"


class QueryResult:
    """The result of :meth:`kg.KnowledgeGraph.query`.

    ``type`` is ``"SELECT"``, ``"ASK"`` or ``"CONSTRUCT"`` (also DESCRIBE). Iterating a SELECT gives
    :class:`Row` objects, a CONSTRUCT gives (s, p, o) rdflib triples; ``bool(result)`` answers an ASK.
    Rows are produced lazily; ``timeout`` (seconds) and ``max_rows`` are checked while iterating and
    raise :class:`~kg.errors.QueryTimeoutError` / :class:`~kg.errors.ResultTooLargeError`.
    """

    def __init__(self, raw, *, timeout: float | None = None, max_rows: int | None = None,
                 started: float | None = None):
        self._raw = raw
        self.timeout = timeout
        self.max_rows = max_rows
        self._started = started if started is not None else time.monotonic()
        if isinstance(raw, ox.QueryBoolean):
            self.type = "ASK"
            self.vars: tuple[str, ...] = ()
            self.askAnswer = bool(raw)
        elif isinstance(raw, ox.QuerySolutions):
            self.type = "SELECT"
            self.vars = tuple(v.value for v in raw.variables)
            self.askAnswer = None
        else:
            self.type = "CONSTRUCT"
            self.vars = ("subject", "predicate", "object")
            self.askAnswer = None
        self._consumed = False

    def __bool__(self):
        if self.type == "ASK":
            return self.askAnswer
        return True

    def _check(self, n: int):
        if self.max_rows is not None and n > self.max_rows:
            raise ResultTooLargeError(
                f"the result has more than {self.max_rows} rows; add a LIMIT to the query or raise the row cap"
            )
        if self.timeout is not None and time.monotonic() - self._started > self.timeout:
            raise QueryTimeoutError(
                f"the query ran longer than {self.timeout:g} s; make it more selective or raise the timeout"
            )

    def raw(self) -> Iterator:
        """The underlying pyoxigraph solutions/triples, with the deadline and row cap enforced."""
        if self.type == "ASK":
            return iter(())
        if self._consumed:
            raise RuntimeError("a query result can be iterated only once; run the query again")
        self._consumed = True
        return self._guarded()

    def _guarded(self):
        self._check(0)
        n = 0
        for item in self._raw:
            n += 1
            if n % 64 == 0 or self.max_rows is not None:
                self._check(n)
            yield item

    def __iter__(self):
        if self.type == "ASK":
            return iter(())
        if self.type == "SELECT":
            vs = self.vars
            index = {v: i for i, v in enumerate(vs)}
            return (Row(s, vs, index) for s in self.raw())
        return ((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)) for t in self.raw())

    def rows(self) -> list:
        return list(self)

    def serialize(self, format: str = "json") -> bytes:
        """The whole result in a SPARQL results format (json/xml/csv/tsv) or, for CONSTRUCT, an RDF format."""
        fmt = format.lower()
        if self.type == "ASK":
            return _ask_bytes(self.askAnswer, fmt)
        if self.type == "SELECT":
            if fmt not in _RESULT_FORMATS:
                raise ValueError(f"unknown results format {format!r}; use json, xml, csv or tsv")
            return _WRITERS[fmt](self.vars, list(self.raw()))
        if fmt not in _GRAPH_FORMATS:
            raise ValueError(f"unknown RDF format {format!r}; use ttl, nt, jsonld or xml")
        return ox.serialize(list(self.raw()), format=_GRAPH_FORMATS[fmt]) or b""


def _ask_bytes(answer: bool, fmt: str) -> bytes:
    word = "true" if answer else "false"
    if fmt == "xml":
        return (
            '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{word}</boolean></sparql>\n"
        ).encode()
    if fmt == "csv":
        return f"_askResult\r\n{word}\r\n".encode()
    if fmt == "tsv":
        return f"?_askResult\n{word}\n".encode()
    return json.dumps({"head": {}, "boolean": answer}).encode()


def _json_term(t) -> dict:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        out = {"type": "literal", "value": t.value}
        if t.language:
            out["xml:lang"] = t.language
        elif t.datatype.value != _XSD_STRING:
            out["datatype"] = t.datatype.value
        return out
    return {"type": "literal", "value": str(t)}


def _write_json(variables, solutions) -> bytes:
    bindings = []
    for s in solutions:
        b = {}
        for v in variables:
            t = s[v]
            if t is not None:
                b[v] = _json_term(t)
        bindings.append(b)
    return json.dumps({"head": {"vars": list(variables)}, "results": {"bindings": bindings}},
                      ensure_ascii=False).encode()


def _write_xml(variables, solutions) -> bytes:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    out += [f'<variable name="{v}"/>' for v in variables]
    out.append("</head><results>")
    for s in solutions:
        out.append("<result>")
        for v in variables:
            t = s[v]
            if t is None:
                continue
            if isinstance(t, ox.NamedNode):
                inner = f"<uri>{escape(t.value)}</uri>"
            elif isinstance(t, ox.BlankNode):
                inner = f"<bnode>{escape(t.value)}</bnode>"
            elif isinstance(t, ox.Literal) and t.language:
                inner = f'<literal xml:lang="{escape(t.language)}">{escape(t.value)}</literal>'
            elif isinstance(t, ox.Literal) and t.datatype.value != _XSD_STRING:
                inner = f'<literal datatype="{escape(t.datatype.value)}">{escape(t.value)}</literal>'
            else:
                inner = f"<literal>{escape(getattr(t, 'value', str(t)))}</literal>"
            out.append(f'<binding name="{v}">{inner}</binding>')
        out.append("</result>")
    out.append("</results></sparql>\n")
    return "".join(out).encode()


def _write_csv(variables, solutions) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(variables)
    for s in solutions:
        w.writerow(["" if s[v] is None else (("_:" + s[v].value) if isinstance(s[v], ox.BlankNode)
                                              else getattr(s[v], "value", str(s[v]))) for v in variables])
    return buf.getvalue().encode()


def _write_tsv(variables, solutions) -> bytes:
    lines = ["\t".join("?" + v for v in variables)]
    for s in solutions:
        lines.append("\t".join("" if s[v] is None else str(s[v]) for v in variables))
    return ("\n".join(lines) + "\n").encode()


_WRITERS = {"json": _write_json, "xml": _write_xml, "csv": _write_csv, "tsv": _write_tsv}

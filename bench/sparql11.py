"""W3C SPARQL 1.1 query-evaluation tests through kgqa, beside bare pyoxigraph on the same tests.

For every folder of the suite (``<data>/sparql11/*/manifest.ttl``) each ``mf:QueryEvaluationTest``
and ``mf:CSVResultFormatTest`` entry is run twice:

* ``kgqa``: a fresh in-memory :class:`kg.KnowledgeGraph`; each ``qt:data`` file is imported with
  ``kg.import_file`` (what ``kgqa import`` runs: relative IRIs resolve against the file's location)
  and each ``qt:graphData`` file with ``import_file(..., graph=<the file's IRI>)``; the query goes to
  the SPARQL endpoint of :func:`ui.http.create_app` (an in-process ``TestClient``, the same app
  ``kgqa serve`` runs) as ``application/sparql-query`` with ``BASE <the query file>`` in front;
* ``pyoxigraph``: a bare ``pyoxigraph.Store`` loading the same files (``base_iri`` and
  ``to_graph`` set the same way) and answering ``Store.query(..., base_iri=...)``.

Results are compared with the expected ones (SPARQL XML/JSON/TSV results, RDF result sets in
Turtle, graphs for CONSTRUCT, CSV text for the CSV tests): as bags, or in order when the query
sorts at its outermost level (``ORDER BY``); blank nodes up to a one-to-one renaming; literals by
value for numbers and booleans of the same datatype (``"01"^^xsd:integer`` = ``"1"^^xsd:integer``),
a plain literal equal to its ``xsd:string`` form, language tags case-insensitively; the projected
variables must be the same set. It prints passed tests per folder and the tests each system fails.

Example::

    nice -n 10 .venv/bin/python bench/sparql11.py            # ../shared/data/sparql11
    nice -n 10 .venv/bin/python bench/sparql11.py --systems kgqa,pyoxigraph,kgqa-all-graphs
    nice -n 10 .venv/bin/python bench/sparql11.py --data tests/data/sparql11_tiny --verbose
"""
from __future__ import annotations

import argparse
import csv
import functools
import io
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyoxigraph as ox  # noqa: E402

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
QT = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#"
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
TEST_TYPES = (MF + "QueryEvaluationTest", MF + "CSVResultFormatTest")
SYSTEMS = ("kgqa", "pyoxigraph")

_RDF_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".rdf": ox.RdfFormat.RDF_XML,
                ".trig": ox.RdfFormat.TRIG, ".nq": ox.RdfFormat.N_QUADS, ".jsonld": ox.RdfFormat.JSON_LD}
_RESULT_FORMATS = {".srx": ox.QueryResultsFormat.XML, ".srj": ox.QueryResultsFormat.JSON,
                   ".tsv": ox.QueryResultsFormat.TSV}
_INTEGERS = {XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
                               "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong",
                               "unsignedShort", "unsignedByte")}
#: how many partial matchings the blank-node comparison may try before it gives up (a failure)
MAX_STEPS = 200_000


# ---------------------------------------------------------------------- the manifest
@dataclass
class Case:
    """One test of a manifest."""

    folder: str
    name: str
    kind: str  # "eval" or "csv"
    query: Path
    data: list[Path] = field(default_factory=list)
    graph_data: list[Path] = field(default_factory=list)
    result: Path | None = None
    lax: bool = False


def _path(term) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(term.value).path))


def read_manifest(path: Path) -> list[Case]:
    """The evaluation tests of one ``manifest.ttl``, in the order of its ``mf:entries`` list."""
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri())
    entries = [r["e"] for r in store.query(
        f"SELECT ?e WHERE {{ ?m a <{MF}Manifest> ; <{MF}entries>/<{RDF}rest>*/<{RDF}first> ?e }}")]
    out = []
    for e in dict.fromkeys(entries):
        types = {r["t"].value for r in store.query(f"SELECT ?t WHERE {{ {e} a ?t }}")}
        kind = "csv" if TEST_TYPES[1] in types else "eval" if TEST_TYPES[0] in types else None
        if kind is None:
            continue

        def objects(subject, pred):
            return [q.object for q in store.quads_for_pattern(subject, ox.NamedNode(pred), None, None)]

        action = objects(e, MF + "action")[0]
        name = objects(e, MF + "name")
        result = objects(e, MF + "result")
        lax = any(o.value == MF + "LaxCardinality" for o in objects(e, MF + "resultCardinality"))
        out.append(Case(
            folder=path.parent.name,
            name=name[0].value if name else e.value.rsplit("#", 1)[-1],
            kind=kind,
            query=_path(objects(action, QT + "query")[0]),
            data=sorted(_path(o) for o in objects(action, QT + "data")),
            graph_data=sorted(_path(o) for o in objects(action, QT + "graphData")),
            result=_path(result[0]) if result else None,
            lax=lax,
        ))
    return out


def discover(root: Path) -> list[Path]:
    """Manifests under ``root``: its own ``manifest.ttl``, else one per sub-folder."""
    if (root / "manifest.ttl").is_file():
        return [root / "manifest.ttl"]
    return sorted(p / "manifest.ttl" for p in root.iterdir() if (p / "manifest.ttl").is_file())


# ---------------------------------------------------------------------- comparable results
def _literal_key(lit: ox.Literal) -> tuple:
    if lit.language:
        return ("lit", lit.value, lit.language.lower(), None)
    dt = lit.datatype.value
    value: object = lit.value
    try:
        if dt in _INTEGERS:
            value = int(value)
        elif dt == XSD + "decimal":
            value = Decimal(value).normalize()
        elif dt in (XSD + "double", XSD + "float"):
            value = float(value)
        elif dt == XSD + "boolean":
            value = {"1": "true", "0": "false"}.get(value.strip(), value.strip())
    except (ValueError, InvalidOperation):
        pass  # an ill-typed literal compares by its text
    return ("lit", value, None, dt)


def term_key(term) -> tuple | None:
    """A hashable, comparable form of a pyoxigraph term; blank nodes as ``("bnode", id)``."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return ("iri", term.value)
    if isinstance(term, ox.BlankNode):
        return ("bnode", term.value)
    if isinstance(term, ox.Literal):
        return _literal_key(term)
    return ("other", str(term))


@dataclass
class Outcome:
    """What a query gave: a boolean, solutions (rows of term keys) or a graph (rows s/p/o)."""

    kind: str  # "boolean", "solutions", "graph", "csv"
    boolean: bool | None = None
    variables: frozenset = frozenset()
    rows: list = field(default_factory=list)


def _solutions(results) -> Outcome:
    if isinstance(results, ox.QueryBoolean):
        return Outcome("boolean", boolean=bool(results))
    variables = [v.value for v in results.variables]
    rows = []
    for sol in results:
        rows.append({v: term_key(sol[v]) for v in variables if sol[v] is not None})
    return Outcome("solutions", variables=frozenset(variables), rows=rows)


def _graph(triples) -> Outcome:
    rows = {(term_key(t.subject), term_key(t.predicate), term_key(t.object)) for t in triples}
    return Outcome("graph", rows=[dict(zip("spo", r)) for r in rows])


def _csv_rows(text: str) -> Outcome:
    table = list(csv.reader(io.StringIO(text)))
    if not table:
        return Outcome("csv")
    header, body = table[0], table[1:]
    rows = []
    for line in body:
        row = {}
        for var, cell in zip(header, line):
            if cell == "":
                continue
            row[var] = ("bnode", cell[2:]) if cell.startswith("_:") else ("text", cell)
        rows.append(row)
    return Outcome("csv", variables=frozenset(header), rows=rows)


def _result_set_graph(store: ox.Store) -> Outcome | None:
    """An RDF result set (``rs:ResultSet`` in Turtle) as solutions; None when the graph is not one."""
    sets = list(store.quads_for_pattern(None, ox.NamedNode(RDF + "type"), ox.NamedNode(RS + "ResultSet"), None))
    if not sets:
        return None
    rs = sets[0].subject

    def objects(subject, pred):
        return [q.object for q in store.quads_for_pattern(subject, ox.NamedNode(RS + pred), None, None)]

    boolean = objects(rs, "boolean")
    if boolean:
        return Outcome("boolean", boolean=boolean[0].value == "true")
    variables = frozenset(v.value for v in objects(rs, "resultVariable"))
    indexed = []
    for sol in objects(rs, "solution"):
        row = {}
        for b in objects(sol, "binding"):
            row[objects(b, "variable")[0].value] = term_key(objects(b, "value")[0])
        index = objects(sol, "index")
        indexed.append((int(index[0].value) if index else 0, row))
    indexed.sort(key=lambda ir: ir[0])
    return Outcome("solutions", variables=variables, rows=[r for _, r in indexed])


def expected_outcome(case: Case) -> Outcome:
    """The expected result file of a test, parsed."""
    path = case.result
    if case.kind == "csv":
        return _csv_rows(path.read_text(encoding="utf-8"))
    if path.suffix in _RESULT_FORMATS:
        return _solutions(ox.parse_query_results(path=str(path), format=_RESULT_FORMATS[path.suffix]))
    store = ox.Store()
    store.load(path=str(path), format=_RDF_FORMATS[path.suffix], base_iri=path.resolve().as_uri())
    return _result_set_graph(store) or _graph(q.triple for q in store.quads_for_pattern(None, None, None, None))


# ---------------------------------------------------------------------- comparing
def _bnodes(row: dict) -> bool:
    return any(v is not None and v[0] == "bnode" for v in row.values())


def _extend(mapping: dict, back: dict, a: dict, b: dict):
    """``mapping``/``back`` grown so that row ``a`` maps onto row ``b``, or None when it cannot."""
    if a.keys() != b.keys():
        return None
    m, r = dict(mapping), dict(back)
    for k, va in a.items():
        vb = b[k]
        if va[0] == "bnode" or vb[0] == "bnode":
            if va[0] != vb[0]:
                return None
            if m.get(va[1], vb[1]) != vb[1] or r.get(vb[1], va[1]) != va[1]:
                return None
            m[va[1]], r[vb[1]] = vb[1], va[1]
        elif va != vb:
            return None
    return m, r


def rows_match(actual: list, expected: list, *, ordered: bool) -> bool:
    """Whether two lists of rows are equal, as bags or in order, up to renaming blank nodes."""
    if len(actual) != len(expected):
        return False
    if not ordered:
        plain_a = Counter(tuple(sorted(r.items())) for r in actual if not _bnodes(r))
        plain_e = Counter(tuple(sorted(r.items())) for r in expected if not _bnodes(r))
        if plain_a != plain_e:
            return False
        actual = [r for r in actual if _bnodes(r)]
        expected = [r for r in expected if _bnodes(r)]
    steps = [0]

    def search(i: int, used: frozenset, mapping: dict, back: dict) -> bool:
        if i == len(actual):
            return True
        steps[0] += 1
        if steps[0] > MAX_STEPS:
            return False
        for j in ([i] if ordered else range(len(expected))):
            if j in used:
                continue
            grown = _extend(mapping, back, actual[i], expected[j])
            if grown is not None and search(i + 1, used | {j}, *grown):
                return True
        return False

    return search(0, frozenset(), {}, {})


def _distinct(rows: list) -> list:
    return [dict(t) for t in dict.fromkeys(tuple(sorted(r.items())) for r in rows)]


def compare(actual: Outcome, expected: Outcome, *, ordered: bool, lax: bool = False) -> str | None:
    """None when ``actual`` is the expected result, else a short reason."""
    if actual.kind != expected.kind:
        return f"got a {actual.kind} result, expected a {expected.kind} result"
    if actual.kind == "boolean":
        return None if actual.boolean == expected.boolean else f"got {actual.boolean}, expected {expected.boolean}"
    if actual.kind in ("solutions", "csv") and actual.variables != expected.variables:
        return f"variables {sorted(actual.variables)}, expected {sorted(expected.variables)}"
    a, e = actual.rows, expected.rows
    if lax:
        a, e = _distinct(a), _distinct(e)
    if rows_match(a, e, ordered=ordered and actual.kind != "graph"):
        return None
    return f"{len(a)} rows/triples differ from the {len(e)} expected"


def outer_order_by(query: str) -> bool:
    """Whether a query sorts its final results: ``ORDER BY`` outside every brace group."""
    from kg.query_shape import _TOKEN

    depth = 0
    words = [m for m in _TOKEN.finditer(query) if m.lastgroup != "skip"]
    for i, m in enumerate(words):
        if m.lastgroup == "open" and m.group() == "{":
            depth += 1
        elif m.lastgroup == "close" and m.group() == "}":
            depth -= 1
        elif depth == 0 and m.group().upper() == "ORDER" and i + 1 < len(words) \
                and words[i + 1].group().upper() == "BY":
            return True
    return False


# ---------------------------------------------------------------------- the two systems
def run_pyoxigraph(case: Case) -> Outcome:
    store = ox.Store()
    for path in case.data:
        store.load(path=str(path), format=_RDF_FORMATS[path.suffix], base_iri=path.resolve().as_uri())
    for path in case.graph_data:
        store.load(path=str(path), format=_RDF_FORMATS[path.suffix], base_iri=path.resolve().as_uri(),
                   to_graph=ox.NamedNode(path.resolve().as_uri()))
    results = store.query(case.query.read_text(encoding="utf-8"), base_iri=case.query.resolve().as_uri())
    if case.kind == "csv":
        return _csv_rows(results.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8"))
    if isinstance(results, ox.QueryTriples):
        return _graph(results)
    return _solutions(results)


def run_kgqa(case: Case, *, all_graphs: bool = False) -> Outcome:
    from fastapi.testclient import TestClient

    from kg import KnowledgeGraph
    from ui.http import create_app

    with KnowledgeGraph.open("memory") as kg:
        for i, path in enumerate(case.data):
            kg.import_file(path, doc_id=f"{i}-{path.name}")
        for i, path in enumerate(case.graph_data):
            kg.import_file(path, doc_id=f"graph-{i}-{path.name}", graph=path.resolve().as_uri())
        text = f"BASE <{case.query.resolve().as_uri()}>\n" + case.query.read_text(encoding="utf-8")
        accept = "text/csv" if case.kind == "csv" else \
            "application/sparql-results+json, application/n-triples;q=0.9"
        with TestClient(create_app(kg, workers=1, all_graphs=all_graphs)) as client:
            resp = client.post("/sparql", content=text.encode("utf-8"),
                               headers={"Content-Type": "application/sparql-query", "Accept": accept})
    if resp.status_code != 200:
        raise RuntimeError(f"HTTP {resp.status_code}: {resp.text.strip()[:200]}")
    ctype = resp.headers.get("content-type", "").split(";")[0]
    if case.kind == "csv":
        return _csv_rows(resp.text)
    if ctype == "application/n-triples":
        return _graph(ox.parse(resp.content, format=ox.RdfFormat.N_TRIPLES))
    return _solutions(ox.parse_query_results(resp.content, format=ox.QueryResultsFormat.JSON))


RUNNERS = {"kgqa": run_kgqa, "pyoxigraph": run_pyoxigraph,
           # the endpoint started with --all-graphs: kgqa's bookkeeping graphs in the dataset too
           "kgqa-all-graphs": functools.partial(run_kgqa, all_graphs=True)}


def run_case(case: Case, system: str) -> str | None:
    """None when ``system`` passes the test, else why it fails."""
    try:
        expected = expected_outcome(case)
    except Exception as err:  # noqa: BLE001 - a broken test file is reported, not fatal
        return f"cannot read the expected result: {type(err).__name__}: {err}"
    try:
        actual = RUNNERS[system](case)
    except Exception as err:  # noqa: BLE001 - every failure is a failed test
        return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
    ordered = outer_order_by(case.query.read_text(encoding="utf-8"))
    return compare(actual, expected, ordered=ordered, lax=case.lax)


@dataclass
class SuiteResult:
    cases: list[Case]
    failures: dict  # system -> {case index: reason}
    seconds: dict  # system -> seconds

    def passed(self, system: str, folder: str | None = None) -> int:
        return sum(1 for i, c in enumerate(self.cases)
                   if (folder is None or c.folder == folder) and i not in self.failures[system])


def run_suite(root: Path, systems=SYSTEMS) -> SuiteResult:
    """Run every test under ``root`` with each system."""
    cases = [c for m in discover(root) for c in read_manifest(m)]
    failures = {s: {} for s in systems}
    seconds = {s: 0.0 for s in systems}
    for i, case in enumerate(cases):
        for system in systems:  # systems take turns, so machine load hits both alike
            started = time.perf_counter()
            reason = run_case(case, system)
            seconds[system] += time.perf_counter() - started
            if reason is not None:
                failures[system][i] = reason
    return SuiteResult(cases, failures, seconds)


def print_report(res: SuiteResult, *, verbose: bool = False) -> None:
    systems = list(res.failures)
    folders = list(dict.fromkeys(c.folder for c in res.cases))
    width = max([len(f) for f in folders] + [6])
    print(f"{'folder':<{width}}  {'tests':>5}  " + "  ".join(f"{s:>10}" for s in systems))
    for f in folders:
        n = sum(1 for c in res.cases if c.folder == f)
        print(f"{f:<{width}}  {n:>5}  " + "  ".join(f"{res.passed(s, f):>10}" for s in systems))
    print(f"{'total':<{width}}  {len(res.cases):>5}  " + "  ".join(f"{res.passed(s):>10}" for s in systems))
    print(f"{'seconds':<{width}}  {'':>5}  " + "  ".join(f"{res.seconds[s]:>10.1f}" for s in systems))
    for s in systems:
        others = [o for o in systems if o != s]
        only = [i for i in res.failures[s] if all(i not in res.failures[o] for o in others)]
        print(f"\nfailed by {s} only: {len(only)}" + (f" (of {len(res.failures[s])} failed)" if others else ""))
        for i in (sorted(res.failures[s]) if verbose else only):
            c = res.cases[i]
            print(f"  {c.folder}/{c.query.name} {c.name!r}: {res.failures[s][i]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data",
                        help="data folder holding sparql11/ (or a folder of manifests itself)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated, of: kgqa, pyoxigraph, kgqa-all-graphs (the endpoint with all_graphs=True)")
    parser.add_argument("--verbose", action="store_true", help="list every failure, not only the differences")
    args = parser.parse_args(argv)
    root = args.data / "sparql11" if (args.data / "sparql11").is_dir() else args.data
    if not discover(root):
        parser.error(f"no manifest.ttl under {root}")
    import logging

    logging.getLogger("kgqa.http").setLevel(logging.CRITICAL)  # failures are reported in the table
    res = run_suite(root, [s.strip() for s in args.systems.split(",") if s.strip()])
    print(f"W3C SPARQL 1.1 query tests in {root}: {len(res.cases)} tests\n")
    print_report(res, verbose=args.verbose)


if __name__ == "__main__":
    main()

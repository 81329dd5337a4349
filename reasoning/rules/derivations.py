"""How a closure is kept in the store: conclusions as plain triples, derivations as compact records.

* ``GRAPH <https://kgqa.dev/graph/inferred>`` holds each inferred fact once, as a plain triple (the
  facts SPARQL and the planner read);
* ``GRAPH <https://kgqa.dev/graph/derivations>`` holds the derivations as **records**, one line per
  conclusion (one rule firing)::

      S P O <TAB> rule-slug <TAB> V1 <TAB> V2 ...

  terms in N-Triples syntax (which escapes tabs and newlines, so the separators are unambiguous).
  ``V1 V2 ...`` are the values of the rule's variables that the conclusion does not give (``?c`` of
  ``rdfs9: (?c rdfs:subClassOf ?d), (?x rdf:type ?c) -> (?x rdf:type ?d)``; for a rule with several
  head atoms, those not at one place in all of them), in the order the rule's **layout** lists them;
  the premises are the rule's body atoms with the conclusion's and these values put in
  (:func:`expand`), in body order. The layout is stored with the rule (``kgqa:premise``, JSON:
  ``body``, ``head``, ``free``), so a record is about half the text of one listing every premise.
  A premise is an asserted fact or another conclusion, whose own
  record says how it was derived; a fact is only derived from facts of earlier rounds, so following
  premises always ends at asserted facts. The records are grouped by a hash of their conclusion
  (CRC-32 of ``S P O``) into ``k`` buckets, about :data:`RECORDS_PER_BUCKET` records each, ``k`` a
  power of two; each bucket is one node with one literal, the sorted records deflated (about 7x
  smaller) in base64 (:func:`pack`, :func:`unpack`)::

      <https://kgqa.dev/derivations/17> kgqa:text "eJzt..."^^xsd:base64Binary ; kgqa:contentHash "<hash>" .
      <https://kgqa.dev/rule/rdfs9> rdfs:label "rdfs9" ; rdfs:comment "<the rule>" ; kgqa:premise "<layout>" .
      <https://kgqa.dev/graph/derivations> kgqa:contentHash "<fingerprint>" ; kgqa:factCount N .

  ``N`` is the number of conclusions and gives ``k`` (:func:`bucket_count`); finding why a fact
  holds reads one bucket (:class:`DerivationReader`). Two quads per bucket instead of about eight
  per conclusion: the records cost a few literals, the conclusions themselves one quad each.

Writing (:func:`write_closure`) compares the new closure with the stored one: an unchanged
fingerprint writes nothing; otherwise the conclusions that no longer follow leave the inferred
graph (a conclusion with another derivation stays, with its new record), new ones come in, and
only the buckets whose content hash changed are replaced; which conclusions came and went is read
from the changed buckets alone. Small changes go in one SPARQL update (one transaction). Large
ones (first runs, big closures): one update deletes what is stale, the conclusions go to
Oxigraph's bulk loader (in threads, two loads at once past :data:`BULK_PART_LINES`: it releases the
GIL, so the records are built and the closure freed meanwhile), then the records and the header in
one transaction. The header goes last, so a run
that stops half-way leaves none and the next run rewrites both graphs.

>>> from kg import KnowledgeGraph
>>> from reasoning.rules.apply import apply_rules
>>> from reasoning.rules.parser import parse_rules
>>> kg = KnowledgeGraph.open("memory")
>>> kg.update("INSERT DATA { <http://ex/a> <https://kgqa.dev/relation/spouse> <http://ex/b> }")
>>> _ = apply_rules(kg, parse_rules("sym: spouse(X, Y) -> spouse(Y, X)"))
>>> spouse = URIRef("https://kgqa.dev/relation/spouse")
>>> d = DerivationReader(kg).record(URIRef("http://ex/b"), spouse, URIRef("http://ex/a"))
>>> d.rule, [str(t[0]) for t in d.premises]
('sym', ['http://ex/a'])
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import zlib
from typing import NamedTuple

import pyoxigraph as ox
from rdflib import URIRef

from kg.namespaces import BASE, DERIVATION_GRAPH, INFERRED_GRAPH, KGQA, RDFS, XSD, slug
from kg.terms import sparql_term, to_rdflib
from reasoning.rules.engine import Closure, from_nt, nt
from reasoning.rules.model import Var

RECORDS_NS = BASE + "derivations/"
RULE_NS = BASE + "rule/"
#: the run's input key (asserted facts + rules) and its report, written with the header
INPUT_NODE = RECORDS_NS + "input"
#: part of the fingerprint: a store written in another layout is rewritten by the next run
#: (/3: records list the rule's free variables, not the premises)
FORMAT = "kgqa-derivation-records/3"
#: records per bucket, on average (a bucket literal is then some tens of kB)
RECORDS_PER_BUCKET = 64
#: changes up to this many lines (conclusions + bucket quads) and bytes of records are written as
#: one SPARQL update; larger ones through the loaders
TRANSACTION_LINES = 20_000
TRANSACTION_BYTES = 4_000_000

_INF, _DER = f"<{INFERRED_GRAPH}>", f"<{DERIVATION_GRAPH}>"
_TEXT, _HASH, _COUNT = f"<{KGQA.text}>", f"<{KGQA.contentHash}>", f"<{KGQA.factCount}>"
_INPUT = f"<{INPUT_NODE}>"
_LAYOUT = f"<{KGQA.premise}>"


def bucket_count(n: int) -> int:
    """How many buckets hold ``n`` records: a power of two, so it changes only when ``n`` doubles.

    >>> bucket_count(0), bucket_count(64), bucket_count(65), bucket_count(68_026)
    (1, 1, 2, 2048)
    """
    k = 1
    while k * RECORDS_PER_BUCKET < n:
        k <<= 1
    return k


def bucket_of(key: str, k: int) -> int:
    """The bucket of the record whose conclusion is ``key`` (``"S P O"`` in N-Triples terms)."""
    return zlib.crc32(key.encode()) & (k - 1)


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def pack(text: str) -> str:
    """Records text as stored: deflated (level 1: fast; record text shrinks about 7x), base64.

    >>> unpack(pack("records")), unpack("not a records literal")
    ('records', '')
    """
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 1)).decode("ascii")


def unpack(blob: str) -> str:
    """The records text of a stored literal (empty for a literal that is not a records blob)."""
    try:
        return zlib.decompress(base64.b64decode(blob, validate=True)).decode("utf-8")
    except (ValueError, zlib.error):
        return ""


def _literal(text: str) -> str:
    """``text`` as an N-Triples / SPARQL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def conclusion_lines(closure: Closure) -> list[str]:
    """The conclusions of a closure as ``"S P O"`` lines (N-Triples terms), in the order they were found."""
    names = closure.terms.names()
    return [f"{names[s]} {names[p]} {names[o]}" for s, p, o in closure.derivations]


class Layout(NamedTuple):
    """How a rule's records are written and read back: the rule's body and head atoms (terms in
    N-Triples syntax, variables as ``?name``) and ``free``, the variables a record lists, in order."""

    body: tuple
    head: tuple
    free: tuple

    @classmethod
    def of(cls, rule) -> "Layout":
        """The layout of a rule: its body variables that the conclusion does not fix, in body order.

        >>> from reasoning.rules.builtin import RDFS_RULES
        >>> Layout.of(RDFS_RULES[4]).free  # rdfs9: (?c sco ?d), (?x type ?c) -> (?x type ?d)
        ('c',)
        """
        def terms(atoms):
            return tuple(tuple("?" + t.name if isinstance(t, Var) else nt(t) for t in a) for a in atoms)

        body, head = terms(rule.body), terms(rule.head)
        fixed = {head[0][k] for k in range(3) if head[0][k][0] == "?" and all(h[k] == head[0][k] for h in head)}
        free: list[str] = []
        for a in body:
            free.extend(t for t in a if t[0] == "?" and t not in fixed and t not in free)
        return cls(body, head, tuple(t[1:] for t in free))

    def to_json(self) -> str:
        return json.dumps({"body": self.body, "head": self.head, "free": self.free})

    @classmethod
    def from_json(cls, text: str) -> "Layout | None":
        try:
            d = json.loads(text)
            return cls(tuple(map(tuple, d["body"])), tuple(map(tuple, d["head"])), tuple(d["free"]))
        except (ValueError, KeyError, TypeError):
            return None

    def formatter(self, prefix: str, names: list[str]):
        """``f(key, premises) -> record line`` for this rule's firings; ``premises`` are the engine's
        (term ids, in body order), ``names`` its term names, ``prefix`` a tab and the rule slug."""
        where = []  # (premise, position) of each free variable's first occurrence
        for v in self.free:
            where.append(next((i, j) for i, a in enumerate(self.body) for j, t in enumerate(a) if t == "?" + v))
        if not where:
            return lambda key, pr: key + prefix
        pre = prefix + "\t"
        if len(where) == 1:
            (i, j), = where
            return lambda key, pr: key + pre + names[pr[i][j]]
        if len(where) == 2:
            (i, j), (m, n) = where
            return lambda key, pr: key + pre + names[pr[i][j]] + "\t" + names[pr[m][n]]
        return lambda key, pr: key + pre + "\t".join([names[pr[i][j]] for i, j in where])

    def premises(self, key: str, values: list[str]) -> list[str] | None:
        """The premises (``"S P O"`` lines, body order, each once) of the record of conclusion ``key``
        that lists ``values``; None when the record does not fit the layout."""
        if len(values) != len(self.free):
            return None
        conclusion = key.split(" ", 2)
        bound = dict(zip(("?" + v for v in self.free), values))
        head = self.head[0]
        for k in range(3):
            if head[k][0] == "?" and head[k] not in bound:
                bound[head[k]] = conclusion[k]
        try:
            lines = [" ".join(bound[t] if t[0] == "?" else t for t in a) for a in self.body]
        except KeyError:
            return None
        return list(dict.fromkeys(lines))  # a rule that matched one fact twice lists it once


def expand(line: str, layouts: dict) -> str:
    r"""A stored record as ``S P O <TAB> rule-slug <TAB> S1 P1 O1 <TAB> ...`` (premises in full), given the
    layouts by rule slug; a record without a layout (an older store) lists its premises already.

    >>> from rdflib import URIRef
    >>> from reasoning.rules.model import Atom, Rule
    >>> sco, a = URIRef("http://ex/sco"), URIRef("http://ex/type")
    >>> c, d, x = Var("c"), Var("d"), Var("x")
    >>> layout = Layout.of(Rule("r9", (Atom(c, sco, d), Atom(x, a, c)), (Atom(x, a, d),)))
    >>> layout.free
    ('c',)
    >>> expand("<http://ex/x> <http://ex/type> <http://ex/D>\tr9\t<http://ex/C>", {"r9": layout}).split("\t")
    ['<http://ex/x> <http://ex/type> <http://ex/D>', 'r9', '<http://ex/C> <http://ex/sco> <http://ex/D>', '<http://ex/x> <http://ex/type> <http://ex/C>']
    """
    parts = line.split("\t")
    layout = layouts.get(parts[1]) if len(parts) > 1 else None
    if layout is None:
        return line
    premises = layout.premises(parts[0], parts[2:])
    return line if premises is None else "\t".join([parts[0], parts[1], *premises])


def _slugs(rules) -> list[str]:
    """One IRI-safe slug per rule, distinct (two rule names can slug alike: "a b", "a_b")."""
    out: list[str] = []
    taken: set = set()
    for r in rules:
        base = s = slug(r.name)
        n = 1
        while s in taken:
            n += 1
            s = f"{base}-{n}"
        taken.add(s)
        out.append(s)
    return out


class Records:
    """The records of a closure (see the module docstring), ready to write or compare.

    ``inferred`` are the closure's :func:`conclusion_lines`, when already made.
    """

    def __init__(self, closure: Closure, inferred: list[str] | None = None):
        names = closure.terms.names()
        self.rules = closure.rules
        self.slugs = _slugs(closure.rules)
        self.layouts = [Layout.of(r) for r in closure.rules]
        #: the conclusions as "S P O" lines, in the order they were found
        self.inferred = inferred if inferred is not None else conclusion_lines(closure)
        self.k = k = bucket_count(len(closure))
        buckets: list[list[str]] = [[] for _ in range(k)]
        crc, mask = zlib.crc32, k - 1
        fmt = [lay.formatter("\t" + s, names) for lay, s in zip(self.layouts, self.slugs)]
        for key, (ri, premises) in zip(self.inferred, closure.derivations.values()):
            buckets[crc(key.encode()) & mask].append(fmt[ri](key, premises))
        #: bucket index -> records text, and -> (the literal stored: :func:`pack` of it, its hash);
        #: empty buckets left out
        self.bodies: dict[int, str] = {}
        self.buckets: dict[int, tuple[str, str]] = {}
        for i, lines in enumerate(buckets):
            if lines:
                lines.sort()
                body = self.bodies[i] = "\n".join(lines)
                blob = pack(body)
                self.buckets[i] = (blob, _hash(blob))
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{FORMAT} {RECORDS_PER_BUCKET} {k}\n".encode())
        for r, s in zip(closure.rules, self.slugs):
            h.update(f"{s}\t{r}\n".encode())
        for i, (_, digest) in self.buckets.items():
            h.update(f"{i}:{digest}".encode())
        self.fingerprint = h.hexdigest()

    def bucket_lines(self, indexes) -> list[str]:
        out = []
        for i in indexes:
            blob, digest = self.buckets[i]
            node = f"<{RECORDS_NS}{i}>"
            out.append(f'{node} {_TEXT} "{blob}"^^<{XSD.base64Binary}>')
            out.append(f"{node} {_HASH} {_literal(digest)}")
        return out

    def rule_lines(self) -> list[str]:
        out = []
        for r, s, lay in zip(self.rules, self.slugs, self.layouts):
            node = f"<{RULE_NS}{s}>"
            out.append(f"{node} <{RDFS.label}> {_literal(r.name)}")
            out.append(f"{node} <{RDFS.comment}> {_literal(str(r))}")
            out.append(f"{node} {_LAYOUT} {_literal(lay.to_json())}")
        return out

    def header_lines(self, run: "Run | None" = None) -> list[str]:
        return [f"{_DER} {_HASH} {_literal(self.fingerprint)}",
                f'{_DER} {_COUNT} "{len(self.inferred)}"^^<{XSD.integer}>'] + _run_lines(run, len(self.buckets))


class Run(NamedTuple):
    """What a closure was computed from, kept with the header so that an unchanged re-run skips the
    closure: ``key`` hashes the asserted facts and the rules (:func:`input_key`), ``report`` is the
    run's summary (JSON-able: counts, rounds, rules fired, warnings) given back by :func:`stored_run`."""

    key: str
    report: dict


def input_key(asserted: bytes, rules, max_facts=None) -> str:
    """The hash of a run's input: the asserted facts as read (N-Triples bytes) and the rules."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT} {RECORDS_PER_BUCKET} {max_facts}\n".encode())
    for r in rules:
        h.update(f"{r.name}\t{r}\n".encode())
    h.update(asserted)
    return h.hexdigest()


def _run_lines(run: "Run | None", n_buckets: int) -> list[str]:
    if run is None:
        return []
    report = dict(run.report, buckets=n_buckets)
    return [f"{_INPUT} {_HASH} {_literal(run.key)}",
            f"{_INPUT} <{RDFS.comment}> {_literal(json.dumps(report, sort_keys=True))}"]


# ---------------------------------------------------------------------- reading
class Derivation(NamedTuple):
    """How one conclusion was derived: the rule's name and text, premises in body order (rdflib terms)."""

    rule: str
    rule_text: str | None
    premises: tuple


def split_triple(text: str) -> tuple:
    """``"S P O"`` (N-Triples terms) -> rdflib terms; subjects and predicates hold no spaces."""
    s, p, o = text.split(" ", 2)
    return tuple(to_rdflib(from_nt(x)) for x in (s, p, o))


class DerivationReader:
    """Reads derivation records from a store, one bucket per look-up (buckets are cached)."""

    def __init__(self, kg):
        self.kg = kg
        self._k: int | None = None
        self._buckets: dict[int, str] = {}
        self._rules: dict[str, tuple[str, str | None]] = {}
        self._layouts: dict[str, Layout] | None = None

    def _one(self, query: str):
        rows = list(self.kg.query(query))
        return rows[0] if rows else None

    @property
    def k(self) -> int:
        """The number of buckets (0 when no records are stored)."""
        if self._k is None:
            row = self._one(f"SELECT ?n WHERE {{ GRAPH {_DER} {{ {_DER} {_COUNT} ?n }} }}")
            self._k = bucket_count(int(row["n"].toPython())) if row and row["n"] is not None else 0
        return self._k

    @property
    def layouts(self) -> dict[str, Layout]:
        """Rule slug -> the layout its records are written in (:class:`Layout`)."""
        if self._layouts is None:
            rows = self.kg.query(f"SELECT ?n ?l WHERE {{ GRAPH {_DER} {{ ?n {_LAYOUT} ?l }} }}")
            self._layouts = {}
            for r in rows:
                node, layout = str(r["n"]), Layout.from_json(str(r["l"]))
                if node.startswith(RULE_NS) and layout is not None:
                    self._layouts[node[len(RULE_NS):]] = layout
        return self._layouts

    def _bucket(self, i: int) -> str:
        if i not in self._buckets:
            row = self._one(f"SELECT ?t WHERE {{ GRAPH {_DER} {{ <{RECORDS_NS}{i}> {_TEXT} ?t }} }}")
            self._buckets[i] = "\n" + unpack(str(row["t"])) + "\n" if row else "\n"
        return self._buckets[i]

    def line(self, key: str) -> str | None:
        """The record of the conclusion ``key`` (``"S P O"``) with its premises in full
        (``S P O <TAB> rule-slug <TAB> S1 P1 O1 <TAB> ...``, see :func:`expand`), or None."""
        if not self.k:
            return None
        text = self._bucket(bucket_of(key, self.k))
        start = text.find("\n" + key + "\t")
        if start < 0:
            return None
        return expand(text[start + 1:text.index("\n", start + 1)], self.layouts)

    def record(self, subject, predicate, obj) -> Derivation | None:
        """The derivation of an inferred fact (rdflib terms), or None when no record holds it."""
        line = self.line(f"{nt(subject)} {nt(predicate)} {nt(obj)}")
        if line is None:
            return None
        parts = line.split("\t")
        name, text = self._rule(parts[1])
        return Derivation(name, text, tuple(split_triple(x) for x in parts[2:]))

    def _rule(self, rule_slug: str) -> tuple[str, str | None]:
        if rule_slug not in self._rules:
            node = sparql_term(URIRef(RULE_NS + rule_slug))
            row = self._one(f"SELECT ?name ?text WHERE {{ GRAPH {_DER} {{ OPTIONAL {{ {node} <{RDFS.label}> ?name }} "
                            f"OPTIONAL {{ {node} <{RDFS.comment}> ?text }} }} }}")
            name = str(row["name"]) if row and row["name"] is not None else rule_slug
            text = str(row["text"]) if row and row["text"] is not None else None
            self._rules[rule_slug] = (name, text)
        return self._rules[rule_slug]

    def all_lines(self) -> list[str]:
        """Every record in the store, premises in full (for checks and tests; reads all buckets)."""
        rows = self.kg.query(f"SELECT ?t WHERE {{ GRAPH {_DER} {{ ?b {_TEXT} ?t }} }}")
        layouts = self.layouts
        return [expand(line, layouts) for r in rows for line in unpack(str(r["t"])).split("\n") if line]


# ---------------------------------------------------------------------- writing
def _graph_text(kg, graph) -> bytes:
    """The triples of one graph as N-Triples (UTF-8), one ``S P O .`` line each."""
    oxi = getattr(kg.store, "oxigraph", None)
    node = ox.DefaultGraph() if graph is None else ox.NamedNode(str(graph))
    if oxi is not None:
        return oxi.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=node)
    return "".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in kg.store.quads(node)).encode("utf-8")


def _graph_lines(kg, graph, text: bytes | None = None) -> list[str]:
    """The triples of one graph as N-Triples lines without the final `` .`` (from ``text``, its
    :func:`_graph_text`, when already read)."""
    data = (_graph_text(kg, graph) if text is None else text).decode("utf-8")
    return [line[:-2] for line in data.splitlines() if line]


class _Stored(NamedTuple):
    fingerprint: str | None
    #: the stored run's input key (:class:`Run`)
    key: str | None
    #: triples in the inferred graph, and conclusions the header says were written
    n_graph: int
    n_header: int | None
    #: bucket index -> content hash
    buckets: dict


def _stored_state(kg) -> _Stored:
    fp, key, n_header, buckets = None, None, None, {}
    rows = kg.query(f"SELECT ?n ?h ?c WHERE {{ GRAPH {_DER} {{ ?n {_HASH} ?h OPTIONAL {{ ?n {_COUNT} ?c }} }} }}")
    for r in rows:
        node = str(r["n"])
        if node == str(DERIVATION_GRAPH):
            fp = str(r["h"])
            n_header = int(r["c"].toPython()) if r["c"] is not None else None
        elif node == INPUT_NODE:
            key = str(r["h"])
        elif node.startswith(RECORDS_NS) and node[len(RECORDS_NS):].isdigit():
            buckets[int(node[len(RECORDS_NS):])] = str(r["h"])
    rows = list(kg.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {_INF} {{ ?s ?p ?o }} }}"))
    n = int(rows[0]["n"].toPython()) if rows and rows[0]["n"] is not None else 0
    return _Stored(fp, key, n, n_header, buckets)


def stored_run(kg, key: str) -> dict | None:
    """The report of the stored run when its input key is ``key`` and its conclusions and records
    are all there (a complete write: header present, as many inferred triples and buckets as it
    wrote); else None, and the closure must be computed."""
    old = _stored_state(kg)
    if old.key != key or old.fingerprint is None or old.n_graph != old.n_header:
        return None
    rows = list(kg.query(f"SELECT ?t WHERE {{ GRAPH {_DER} {{ {_INPUT} <{RDFS.comment}> ?t }} }}"))
    try:
        report = json.loads(str(rows[0]["t"])) if rows else None
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("buckets") != len(old.buckets):
        return None
    return report


def _changed_buckets(rec: "Records", old: dict) -> list[int]:
    return sorted(i for i in set(rec.buckets) | set(old)
                  if old.get(i) != (rec.buckets[i][1] if i in rec.buckets else None))


def _bucket_diff(kg, rec: "Records", changed: list[int], old: dict) -> tuple[list[str], list[str]]:
    """(new, gone) conclusions, read from the changed buckets only: a conclusion that came or went
    changed its bucket, so the other buckets need not be read."""
    old_keys: set = set()
    wanted = [i for i in changed if i in old]
    for j in range(0, len(wanted), 500):
        nodes = " ".join(f"<{RECORDS_NS}{i}>" for i in wanted[j:j + 500])
        for r in kg.query(f"SELECT ?t WHERE {{ VALUES ?b {{ {nodes} }} GRAPH {_DER} {{ ?b {_TEXT} ?t }} }}"):
            old_keys.update(line.split("\t", 1)[0] for line in unpack(str(r["t"])).split("\n"))
    new_keys = {line.split("\t", 1)[0] for i in changed if i in rec.bodies for line in rec.bodies[i].split("\n")}
    return [k for k in new_keys if k not in old_keys], [k for k in old_keys if k not in new_keys]


def _insert_data(lines_by_graph: list[tuple[str, list[str]]]) -> str:
    parts = [f"GRAPH {g} {{\n" + " .\n".join(lines) + " .\n}" for g, lines in lines_by_graph if lines]
    return "INSERT DATA {\n" + "\n".join(parts) + "\n}" if parts else ""


def _nquads(lines_by_graph: list[tuple[str, list[str]]]) -> bytes:
    return "".join(f"{line} {g} .\n" for g, lines in lines_by_graph for line in lines).encode("utf-8")


#: a bulk write of at least twice this many lines is split in two loads that run at once: one
#: Oxigraph bulk load keeps about one core busy (0.31 s for 59k conclusions on this 2-core machine,
#: 0.21 s in two halves, records built meanwhile)
BULK_PART_LINES = 20_000


class _BulkWriter:
    """One bulk write of N-Quads lines, in threads where the store allows it: Oxigraph's bulk loader
    releases the GIL, so the derivation records are built while the conclusions are written. The
    loads only add quads that no other write touches meanwhile, so running two at once is safe."""

    def __init__(self, kg, lines_by_graph: list[tuple[str, list[str]]]):
        from kg.stores import OxigraphStore

        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        if not any(lines for _, lines in lines_by_graph):
            return
        blank = any("_:" in line for g, lines in lines_by_graph if g == _INF for line in lines)
        if type(kg.store) is OxigraphStore and not blank:
            if len(lines_by_graph) == 1:  # one graph: N-Triples into it, cheaper to make than N-Quads
                g, lines = lines_by_graph[0]
                graph = ox.NamedNode(g[1:-1])
                parts = 2 if len(lines) >= 2 * BULK_PART_LINES else 1
                step = -(-len(lines) // parts)
                jobs = [((" .\n".join(lines[i:i + step]) + " .\n").encode("utf-8"), ox.RdfFormat.N_TRIPLES, graph)
                        for i in range(0, len(lines), step)]
            else:
                jobs = [(_nquads(lines_by_graph), ox.RdfFormat.N_QUADS, None)]
            for job in jobs:
                thread = threading.Thread(target=self._run, args=(kg.store.oxigraph, *job), daemon=True)
                thread.start()
                self.threads.append(thread)
        else:  # parsing keeps blank node ids; a mirrored store writes its disk and its copy
            kg.store.bulk_extend(list(ox.parse(_nquads(lines_by_graph), format=ox.RdfFormat.N_QUADS)))

    def _run(self, oxi, data: bytes, fmt, graph) -> None:
        try:
            if graph is None:
                oxi.bulk_load(data, format=fmt)
            else:
                oxi.bulk_load(data, format=fmt, to_graph=graph)
        except BaseException as err:  # re-raised in wait()
            self.errors.append(err)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]


def _load(kg, lines_by_graph: list[tuple[str, list[str]]]) -> None:
    """Lines without blank nodes written in one transaction (a remote store: in order, in chunks)."""
    from kg.stores import OxigraphStore

    data = _nquads(lines_by_graph)
    if type(kg.store) is OxigraphStore:
        kg.store.oxigraph.load(data, format=ox.RdfFormat.N_QUADS)
    else:
        kg.store.extend(list(ox.parse(data, format=ox.RdfFormat.N_QUADS)))


def write_closure(kg, closure: Closure, run: Run | None = None, *, release: bool = False) -> tuple[int, int]:
    """Bring the inferred and derivation graphs to ``closure``; returns (added, retracted) conclusions.

    ``run`` (what the closure was computed from) is stored with the header, for :func:`stored_run`.
    ``release``: the caller is done with the closure, which is freed (:meth:`Closure.release`) once
    its records are made, while the conclusions are still being written.
    """
    inferred = conclusion_lines(closure)
    old = _stored_state(kg)
    rec = fresh = gone = None
    if old.fingerprint is not None:
        rec = Records(closure, inferred)
        # unchanged: the fingerprint covers every record, so every conclusion
        if rec.fingerprint == old.fingerprint and old.n_graph == len(inferred):
            if run is not None and run.key != old.key:  # same closure from other input: note the input
                kg.store.update(f"DELETE WHERE {{ GRAPH {_DER} {{ {_INPUT} ?p ?o }} }} ;\n"
                                + _insert_data([(_DER, _run_lines(run, len(rec.buckets)))]))
            return 0, 0
        if old.buckets and old.n_graph == old.n_header and bucket_count(old.n_header) == rec.k:
            fresh, gone = _bucket_diff(kg, rec, _changed_buckets(rec, old.buckets), old.buckets)
    if fresh is None:  # no records to compare with: compare the inferred graph itself
        old_inf = _graph_lines(kg, INFERRED_GRAPH) if old.n_graph else []
        old_set, new_set = set(old_inf), set(inferred)
        fresh = [t for t in inferred if t not in old_set]
        gone = [t for t in old_inf if t not in new_set]
    # first run, another layout, an interrupted run or mostly new: both graphs from scratch (also
    # when a gone conclusion holds a blank node, which DELETE DATA cannot name)
    rewrite = (old.fingerprint is None or not old.buckets or len(fresh) + len(gone) > len(inferred) // 2
               or any("_:" in t for t in gone))
    inf_lines = inferred if rewrite else fresh
    writer = None
    deletes: list[str] = []
    if rewrite:
        deletes = [f"DROP SILENT GRAPH {_DER}", f"DROP SILENT GRAPH {_INF}"]
        if len(inf_lines) > TRANSACTION_LINES:
            # big: the conclusions go to the bulk loader at once, the records are built meanwhile
            kg.store.update(" ;\n".join(deletes))
            deletes = []
            writer = _BulkWriter(kg, [(_INF, inf_lines)])
            inf_lines = []
    try:
        if rec is None:
            rec = Records(closure, inferred)
        if release:
            closure.release()
    finally:
        if writer is not None:
            writer.wait()
    if rewrite:
        buckets = sorted(rec.buckets)
    else:
        buckets = [i for i in _changed_buckets(rec, old.buckets) if i in rec.buckets]
        stale = [i for i in old.buckets if i not in rec.buckets or i in buckets]
        if gone:
            deletes.append(f"DELETE DATA {{ GRAPH {_INF} {{\n" + " .\n".join(gone) + " .\n} }")
        # the rule nodes and the header are rewritten every time (a handful of quads)
        deletes.append(f"DELETE {{ GRAPH {_DER} {{ ?n ?p ?o }} }} WHERE {{ GRAPH {_DER} {{ ?n ?p ?o "
                       f"FILTER(?n = {_DER} || ?n = {_INPUT} || STRSTARTS(STR(?n), \"{RULE_NS}\")) }} }}")
        if stale:
            nodes = " ".join(f"<{RECORDS_NS}{i}>" for i in stale)
            deletes.append(f"DELETE {{ GRAPH {_DER} {{ ?n ?p ?o }} }} WHERE {{ VALUES ?n {{ {nodes} }} "
                           f"GRAPH {_DER} {{ ?n ?p ?o }} }}")
    der_lines = rec.rule_lines() + rec.bucket_lines(buckets)
    size = sum(len(rec.buckets[i][0]) for i in buckets)  # bytes of the literals
    if writer is None and len(inf_lines) + len(gone) + len(der_lines) <= TRANSACTION_LINES and size <= TRANSACTION_BYTES:
        # one transaction: readers see the old closure or the new one, never a mix
        insert = _insert_data([(_INF, inf_lines), (_DER, der_lines + rec.header_lines(run))])
        kg.store.update(" ;\n".join(deletes + [insert]))
    else:
        if deletes:
            kg.store.update(" ;\n".join(deletes))
        if inf_lines:
            _BulkWriter(kg, [(_INF, inf_lines)]).wait()
        # the records and the header in one transaction, last: the header marks the write complete
        _load(kg, [(_DER, der_lines + rec.header_lines(run))])
    return len(fresh), len(gone)


__all__ = ["write_closure", "stored_run", "input_key", "Run", "Records", "Layout", "expand", "DerivationReader", "Derivation",
           "bucket_count", "bucket_of",
           "RECORDS_NS", "RULE_NS", "RECORDS_PER_BUCKET"]

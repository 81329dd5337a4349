"""The knowledge graph: one API over any store.

How facts are kept (any SPARQL 1.1 store can hold it):

* the **default graph** holds every asserted fact once, with entity labels, aliases and types: plain
  SPARQL over it sees the knowledge graph;
* each **document** (an imported file or a text) has a **named graph** ``<https://kgqa.dev/doc/ID>``
  holding a copy of the triples it supports plus, for facts read from text, one ``kgqa:Statement``
  record per fact (``rdf:subject/predicate/object``, ``kgqa:sentence``, ``kgqa:start``, ``kgqa:end``,
  ``kgqa:extractor``, ``kgqa:confidence``). Deleting a document drops its graph and removes from the
  default graph only the triples no other document supports;
* ``<https://kgqa.dev/graph/meta>`` holds one ``kgqa:Document`` record per document (content hash,
  path, extractor, time, fact count); ``.../graph/inferred`` holds rule conclusions and
  ``.../graph/predicted`` link predictions, never mixed with asserted facts;
* named graphs of an imported TriG / N-Quads file keep their names. They and the default graph are
  the user's dataset, what :meth:`KnowledgeGraph.query` shows; the document and ``graph/...``
  graphs above are bookkeeping, out of ``GRAPH ?g`` unless named or ``all_graphs=True``.

>>> from rdflib import Literal
>>> from kg.facts import Fact, Source
>>> from kg.namespaces import entity_iri, relation_iri
>>> with KnowledgeGraph.open("memory") as kg:
...     _ = kg.add_document("bio.txt", [Fact(entity_iri("Ada"), relation_iri("born_in"), entity_iri("London"),
...                                     Source("bio.txt", "Ada was born in London.", 0, 23, "demo"), 0.9)])
...     len(kg), [s.sentence for s, c in kg.sources(entity_iri("Ada"), relation_iri("born_in"), entity_iri("London"))]
(1, ['Ada was born in London.'])
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import pyoxigraph as ox
from rdflib import Literal, URIRef

from kg import io as kgio
from kg.errors import DocumentNotFoundError, KGQAError
from kg.facts import Document, Entity, Fact, Relation, Source
from kg.namespaces import (
    DOC, INFERRED_GRAPH, KGQA, META_GRAPH, OWL, PREDICTED_GRAPH, RDF, RDFS, SKOS, STMT, XSD,
    document_iri, is_bookkeeping_graph, local_name,
)
from kg.query_shape import check_query_shape, dataset_use
from kg.results import QueryResult
from kg.stores import Store, quads_text, resolve_store
from kg.terms import sparql_term, to_ox, to_rdflib

_DEFAULT = ox.DefaultGraph()
#: imports larger than this many quads go through Oxigraph's bulk loader
BULK_THRESHOLD = 100_000
_N = ox.NamedNode
#: a cheap first look: a query without the word GRAPH cannot enumerate named graphs
_GRAPH_WORD = re.compile("graph", re.IGNORECASE)


def _node(term) -> ox.NamedNode:
    return _N(str(term))


@dataclass
class ImportReport:
    """What :meth:`KnowledgeGraph.import_file` did."""

    document: str
    path: str
    format: str
    triples: int
    seconds: float
    replaced: bool = False


ProgressCallback = Callable[[str, int, int | None], None]


class KnowledgeGraph:
    """A knowledge graph over a store; see the module docstring for how facts are kept.

    Open with :meth:`open`; use as a context manager to close the store when done.
    """

    def __init__(self, store: Store, *, default_timeout: float | None = None):
        self.store = store
        self.default_timeout = default_timeout

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, location: str | os.PathLike | Store = "memory", *, create: bool = True,
             update_url: str | None = None, read_only: bool = False,
             timeout: float | None = None, in_memory: bool = False) -> "KnowledgeGraph":
        """Open a store by name (``"memory"``), folder path or SPARQL endpoint URL.

        ``create=False`` raises :class:`~kg.errors.StoreNotFoundError` for a missing folder.
        ``in_memory=True`` (folders only) answers queries from an in-memory copy of the folder, for
        read-mostly serving; writes still reach the disk (:class:`kg.stores.MirroredStore`).
        """
        return cls(resolve_store(location, create=create, update_url=update_url, read_only=read_only,
                                 in_memory=in_memory),
                   default_timeout=timeout)

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def location(self) -> str:
        return self.store.location

    # ------------------------------------------------------------------ SPARQL
    def query(self, sparql: str, *, timeout: float | None = None, max_rows: int | None = None,
              all_graphs: bool = False, default_graphs: Iterable[str] | None = None,
              named_graphs: Iterable[str] | None = None) -> QueryResult:
        """Run a SPARQL query; rows come lazily as :class:`kg.results.Row` (``.asdict()``).

        The query sees the user's dataset: the default graph (the asserted facts) and the user's own
        named graphs (those of imported TriG / N-Quads files). kgqa's bookkeeping graphs (each
        document's graph, ``graph/meta``, ``graph/inferred``, ``graph/derivations``,
        ``graph/predicted``; see :func:`kg.namespaces.is_bookkeeping_graph`) are left out of
        ``GRAPH ?g`` but stay reachable by name: ``GRAPH <https://kgqa.dev/graph/meta> { ... }``,
        an IRI of theirs anywhere in the query (``FILTER(?g = <...>)``, ``VALUES``) or ``FROM NAMED``.
        ``all_graphs=True`` shows every graph. (On a remote SPARQL endpoint the endpoint's own
        dataset applies.)

        ``default_graphs`` and ``named_graphs`` (graph IRIs) set the query's dataset the way the
        SPARQL 1.1 Protocol's ``default-graph-uri`` and ``named-graph-uri`` do: once either is given,
        the default graph is the merge of ``default_graphs`` (empty if only ``named_graphs`` is given)
        and ``GRAPH`` reaches exactly ``named_graphs`` (none if only ``default_graphs`` is given).
        They take precedence over FROM / FROM NAMED in the query, may name bookkeeping graphs, and
        make ``all_graphs`` moot. A graph the store lacks is simply empty. A remote endpoint gets
        them as protocol parameters.

        >>> kg = KnowledgeGraph.open("memory")
        >>> _ = kg.add_document("notes", [Fact(URIRef("http://ex/a"), URIRef("http://ex/p"), URIRef("http://ex/b"))])
        >>> len(kg.query("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows())
        0
        >>> len(kg.query("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", all_graphs=True).rows()) > 0
        True
        >>> kg.update("INSERT DATA { GRAPH <http://ex/g1> { <http://ex/a> <http://ex/p> 1 } "
        ...           "GRAPH <http://ex/g2> { <http://ex/a> <http://ex/p> 2 } }")
        >>> [str(r["o"]) for r in kg.query("SELECT ?o FROM <http://ex/g1> WHERE { ?s ?p ?o }",
        ...                                  default_graphs=["http://ex/g2"])]
        ['2']
        >>> [str(r["g"]) for r in kg.query("SELECT ?g WHERE { GRAPH ?g { } }", named_graphs=["http://ex/g1"])]
        ['http://ex/g1']
        """
        started = time.monotonic()
        check_query_shape(sparql)
        if default_graphs is not None or named_graphs is not None:
            # the caller's dataset, whole: a part left out is empty, as in the protocol
            raw = self.store.query(
                sparql, timeout=timeout,
                default_graph=dataset_graph_names(() if default_graphs is None else default_graphs, "default_graphs"),
                named_graphs=dataset_graph_names(() if named_graphs is None else named_graphs, "named_graphs"))
        else:
            named = None if all_graphs else self._user_named_graphs(sparql)
            if named is None:
                raw = self.store.query(sparql, timeout=timeout)
            else:
                raw = self.store.query(sparql, timeout=timeout, named_graphs=named)
        return QueryResult(raw, timeout=timeout if timeout is not None else self.default_timeout,
                           max_rows=max_rows, started=started)

    def _user_named_graphs(self, sparql: str) -> list | None:
        """The named graphs ``GRAPH ?g`` may range over in ``sparql`` (None: no restriction is needed).

        Only a ``GRAPH ?var`` enumerates graphs, and a query with FROM / FROM NAMED chose its own
        dataset, so most queries (plain patterns, ``GRAPH <iri>``) run untouched.
        """
        if not self.store.scopes_named_graphs or not _GRAPH_WORD.search(sparql):
            return None
        use = dataset_use(sparql)
        if use.declares_dataset or not use.graph_variable:
            return None
        return [g for g in self.store.named_graphs()
                if not isinstance(g, ox.NamedNode) or not is_bookkeeping_graph(g.value) or g.value in use.iris]

    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update."""
        check_query_shape(sparql, max_tokens=max(100_000, len(sparql) // 4))
        self.store.update(sparql)

    def __len__(self) -> int:
        """Number of asserted facts (triples in the default graph, labels and types included)."""
        return self.store.triple_count()

    # ------------------------------------------------------------------ writing facts
    def add_document(self, doc_id: str, facts: Iterable[Fact] = (), *, entities: Iterable[Entity] = (),
                     relations: Iterable[Relation] = (), content_hash: str | None = None,
                     source_path: str | None = None, extractor: str | None = None,
                     text: str | None = None, replace: bool = True) -> Document:
        """Write one document's facts, entities and relations in one transaction.

        A document already in the store is replaced (its old facts removed first) unless
        ``replace=False``, in which case :class:`KGQAError` is raised.
        """
        doc = document_iri(doc_id)
        exists = self.has_document(doc_id)
        if exists and not replace:
            raise KGQAError(f"document {doc_id!r} is already in the store", code="E-DOC-EXISTS")
        g = _node(doc)
        triples: list[tuple] = []
        records: list[tuple] = []
        facts = list(facts)
        for ent in entities:
            triples.extend(_entity_triples(ent))
        for rel in relations:
            triples.extend(_relation_triples(rel))
        for f in facts:
            s, p, o = to_ox(f.subject), to_ox(f.predicate), to_ox(f.object)
            triples.append((s, p, o))
            records.extend(_statement_triples(doc, f))
        quads = [ox.Quad(s, p, o, _DEFAULT) for s, p, o in triples]
        quads += [ox.Quad(s, p, o, g) for s, p, o in triples]
        quads += [ox.Quad(s, p, o, g) for s, p, o in records]
        record = Document(doc_id, doc, content_hash, source_path, extractor, len(facts),
                          datetime.now(timezone.utc).isoformat(timespec="seconds"))
        quads += _document_quads(record, text)
        if exists:
            # one SPARQL update = one transaction: a reader or a kill never sees the document missing
            self.update(self._delete_document_sparql(doc_id) + " ;\nINSERT DATA {\n" + quads_text(quads) + "\n}")
        else:
            self.store.extend(quads)
        return record

    def add_facts(self, facts: Iterable[Fact], *, doc_id: str = "facts", **kw) -> Document:
        """Shorthand for :meth:`add_document` with facts only."""
        return self.add_document(doc_id, facts, **kw)

    # ------------------------------------------------------------------ documents
    def has_document(self, doc_id: str, content_hash: str | None = None) -> bool:
        """Whether ``doc_id`` is in the store (with this content hash, when given)."""
        doc = sparql_term(document_iri(doc_id))
        if content_hash is None:
            q = f"ASK {{ GRAPH {sparql_term(META_GRAPH)} {{ {doc} a {sparql_term(KGQA.Document)} }} }}"
        else:
            q = (f"ASK {{ GRAPH {sparql_term(META_GRAPH)} {{ {doc} {sparql_term(KGQA.contentHash)} "
                 f"{sparql_term(Literal(content_hash))} }} }}")
        return bool(self.query(q))

    def documents(self) -> list[Document]:
        """All document records, sorted by id."""
        q = f"""SELECT ?d ?hash ?path ?ex ?n ?at WHERE {{ GRAPH {sparql_term(META_GRAPH)} {{
              ?d a {sparql_term(KGQA.Document)} .
              OPTIONAL {{ ?d {sparql_term(KGQA.contentHash)} ?hash }}
              OPTIONAL {{ ?d {sparql_term(KGQA.sourcePath)} ?path }}
              OPTIONAL {{ ?d {sparql_term(KGQA.extractor)} ?ex }}
              OPTIONAL {{ ?d {sparql_term(KGQA.factCount)} ?n }}
              OPTIONAL {{ ?d {sparql_term(KGQA.addedAt)} ?at }} }} }}"""
        out = []
        for r in self.query(q):
            iri = r["d"]
            doc_id = _doc_id(iri)
            out.append(Document(doc_id, iri, _s(r["hash"]), _s(r["path"]), _s(r["ex"]),
                                int(r["n"].toPython()) if r["n"] is not None else 0, _s(r["at"])))
        return sorted(out, key=lambda d: d.id)

    def delete_document(self, doc_id: str) -> int:
        """Remove a document: its graph, its record, and the facts no other document supports.

        Returns how many asserted triples left the default graph.
        """
        if not self.has_document(doc_id):
            raise DocumentNotFoundError(
                f"no document {doc_id!r} in the store; `kgqa stats` lists the documents"
            )
        before = len(self)
        self.update(self._delete_document_sparql(doc_id))
        return before - len(self)

    @staticmethod
    def _delete_document_sparql(doc_id: str) -> str:
        doc = sparql_term(document_iri(doc_id))
        return f"""
            DELETE {{ ?s ?p ?o }} WHERE {{
              GRAPH {doc} {{ ?s ?p ?o }}
              FILTER NOT EXISTS {{
                GRAPH ?g {{ ?s ?p ?o }}
                FILTER(?g != {doc} && STRSTARTS(STR(?g), {sparql_term(Literal(str(DOC)))}))
              }}
            }} ;
            DROP SILENT GRAPH {doc} ;
            DELETE WHERE {{ GRAPH {sparql_term(META_GRAPH)} {{ {doc} ?p ?o }} }}"""

    # ------------------------------------------------------------------ provenance
    def sources(self, subject, predicate, obj) -> list[tuple[Source, float]]:
        """Every (source, confidence) that supports a fact: statement records first, then whole documents."""
        s, p, o = sparql_term(subject), sparql_term(predicate), sparql_term(obj)
        q = f"""SELECT ?g ?sentence ?start ?end ?extractor ?conf WHERE {{
              {{ GRAPH ?g {{ ?st a {sparql_term(KGQA.Statement)} ; {sparql_term(RDF.subject)} {s} ;
                     {sparql_term(RDF.predicate)} {p} ; {sparql_term(RDF.object)} {o} .
                  OPTIONAL {{ ?st {sparql_term(KGQA.sentence)} ?sentence }}
                  OPTIONAL {{ ?st {sparql_term(KGQA.start)} ?start }}
                  OPTIONAL {{ ?st {sparql_term(KGQA.end)} ?end }}
                  OPTIONAL {{ ?st {sparql_term(KGQA.extractor)} ?extractor }}
                  OPTIONAL {{ ?st {sparql_term(KGQA.confidence)} ?conf }} }} }}
              UNION
              {{ GRAPH ?g {{ {s} {p} {o} }}
                 FILTER NOT EXISTS {{ GRAPH ?g {{ ?st2 {sparql_term(RDF.subject)} {s} ;
                     {sparql_term(RDF.predicate)} {p} ; {sparql_term(RDF.object)} {o} }} }}
                 OPTIONAL {{ GRAPH {sparql_term(META_GRAPH)} {{ ?g {sparql_term(KGQA.extractor)} ?extractor }} }} }}
              FILTER(STRSTARTS(STR(?g), {sparql_term(Literal(str(DOC)))}))
            }}"""
        out = []
        for r in self.query(q, all_graphs=True):  # the statements live in the documents' graphs
            src = Source(_doc_id(r["g"]), _s(r["sentence"]), _i(r["start"]), _i(r["end"]),
                         _s(r["extractor"]) or "import")
            conf = float(r["conf"].toPython()) if r["conf"] is not None else 1.0
            out.append((src, conf))
        out.sort(key=lambda sc: (-sc[1], sc[0].document, sc[0].start or 0))
        return out

    def confidence(self, subject, predicate, obj) -> float:
        """A fact's confidence: the noisy-or of its sources' confidences (0.0 when it is not asserted)."""
        miss = 1.0
        found = False
        for _, c in self.sources(subject, predicate, obj):
            found = True
            miss *= 1.0 - c
        return round(1.0 - miss, 6) if found else 0.0

    # ------------------------------------------------------------------ import / export
    def import_file(self, path: str | os.PathLike, format: str | None = None, *, doc_id: str | None = None,
                    progress: ProgressCallback | None = None, base_iri: str | None = None,
                    graph: str | None = None) -> ImportReport:
        """Import an RDF or delimited file as one document, all or nothing.

        The whole file is parsed before anything is written, so a malformed file raises
        :class:`~kg.errors.ParseError` naming the line and leaves the store unchanged. Triples in the
        default graph (or, for N-Quads/TriG, in the file's default graph) become asserted facts of the
        document ``doc_id`` (default: the file name); quads in the file's named graphs are restored
        into those graphs as they are. Re-importing the same ``doc_id`` replaces it.

        Relative IRIs resolve against ``base_iri``, by default the file's location (``file:///...``).
        ``graph`` (an IRI) puts the file's default-graph triples into that named graph of the user's
        data instead of the default graph (like SPARQL's ``LOAD <file> INTO GRAPH <graph>``); they are
        then not asserted facts of the document.
        """
        started = time.monotonic()
        fmt = kgio.normalise_format(format, path)
        target = None
        if graph is not None:
            try:
                target = ox.NamedNode(str(graph))
            except ValueError:
                raise KGQAError(f"{str(graph)!r} is not an IRI; name the graph with an absolute IRI such as "
                                "http://example.org/graph", code="E-GRAPH-IRI") from None
            if is_bookkeeping_graph(target.value):
                raise KGQAError(f"{target.value} is one of kgqa's own graphs; import into another graph name",
                                code="E-GRAPH-IRI")
        if progress:
            progress("parse", 0, None)
        quads = kgio.read_file(path, fmt, base_iri=base_iri)
        if target is not None:
            quads = [ox.Quad(q.subject, q.predicate, q.object, target)
                     if isinstance(q.graph_name, ox.DefaultGraph) else q for q in quads]
        if progress:
            progress("parse", len(quads), len(quads))
        doc_id = doc_id or Path(path).name
        doc = _node(document_iri(doc_id))
        replaced = self.has_document(doc_id)
        asserted = [q for q in quads if isinstance(q.graph_name, ox.DefaultGraph)]
        kept = [q for q in quads if not isinstance(q.graph_name, ox.DefaultGraph)]
        writes = asserted + [ox.Quad(q.subject, q.predicate, q.object, doc) for q in asserted] + kept
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        record = Document(doc_id, document_iri(doc_id), h.hexdigest(), str(Path(path).resolve()),
                          f"import:{fmt}", len(asserted), datetime.now(timezone.utc).isoformat(timespec="seconds"))
        meta = _document_quads(record, None)
        if replaced:
            self.delete_document(doc_id)
        if progress:
            progress("write", 0, len(writes))
        if len(writes) > BULK_THRESHOLD and hasattr(self.store, "bulk_extend"):
            # Already fully parsed and valid, so Oxigraph's bulk loader (several times faster) is
            # safe here; the document record goes last, so an import killed midway is simply
            # not listed and re-importing the file ends in the same graph.
            self.store.bulk_extend(writes)
            self.store.extend(meta)
        else:
            self.store.extend(writes + meta)
        self.store.flush()
        if progress:
            progress("write", len(writes), len(writes))
        # with graph=, the triples that went into that graph are what the user imported
        loaded = len(asserted) if target is None else sum(1 for q in kept if q.graph_name == target)
        return ImportReport(doc_id, str(path), fmt, loaded, time.monotonic() - started, replaced)

    def export(self, path: str | os.PathLike, format: str | None = None) -> int:
        """Write the graph to a file. Triple formats and GraphML hold the asserted facts; N-Quads and
        TriG hold the whole dataset (documents, provenance, inferred and predicted graphs) as a backup.
        Returns the number of triples or quads written."""
        fmt = kgio.normalise_format(format, path, export=True)
        if fmt == "graphml":
            import networkx as nx

            from kg.views import graphml_ready

            G = self.to_networkx()
            nx.write_graphml(graphml_ready(G), str(path))
            return G.number_of_edges()
        if fmt in kgio.QUAD_FORMATS:
            quads = list(self.store.quads(None))
        else:
            quads = [ox.Triple(q.subject, q.predicate, q.object) for q in self.store.quads(_DEFAULT)]
        kgio.write_quads(quads, str(path), fmt)
        return len(quads)

    def serialize(self, format: str = "ttl") -> bytes:
        """The asserted facts as bytes in an RDF format."""
        fmt = kgio.normalise_format(format, export=True)
        triples = [ox.Triple(q.subject, q.predicate, q.object) for q in self.store.quads(_DEFAULT)]
        return ox.serialize(triples, format=kgio.RDF_FORMATS[fmt])

    # ------------------------------------------------------------------ views
    def to_networkx(self, *, include_inferred: bool = False):
        """The entity graph as a ``networkx.MultiDiGraph`` (see :func:`kg.views.to_networkx`)."""
        from kg.views import to_networkx

        return to_networkx(self, include_inferred=include_inferred)

    def stats(self) -> dict:
        """Counts a user asks for first: facts, entities, relations, documents, inferred, predicted."""
        def count(q):
            rows = list(self.query(q, all_graphs=True))  # statements are counted in every document graph
            return int(rows[0]["n"].toPython()) if rows and rows[0]["n"] is not None else 0

        typ = sparql_term(RDF.type)
        return {
            "store": f"{self.store.kind}:{self.store.location}",
            "triples": len(self),
            "entities": count(f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ ?e {typ} {sparql_term(KGQA.Entity)} }}"),
            "relations": count(
                f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?s ?p ?o FILTER(?p NOT IN ({typ}, "
                f"{sparql_term(RDFS.label)}, {sparql_term(SKOS.altLabel)}, {sparql_term(OWL.sameAs)})) }}"),
            "documents": count(f"SELECT (COUNT(?d) AS ?n) WHERE {{ GRAPH {sparql_term(META_GRAPH)} "
                               f"{{ ?d a {sparql_term(KGQA.Document)} }} }}"),
            "statements": count(f"SELECT (COUNT(?st) AS ?n) WHERE {{ GRAPH ?g {{ ?st a {sparql_term(KGQA.Statement)} }} }}"),
            "inferred": count(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p ?o }} }}"),
            "predicted": count(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {sparql_term(PREDICTED_GRAPH)} {{ ?s ?p ?o }} }}"),
        }

    def entities_by_label(self, label: str, *, limit: int = 6) -> list[URIRef]:
        """IRIs whose ``rdfs:label`` is exactly ``label`` or, when none is, whose ``skos:altLabel`` is;
        sorted, at most ``limit``. Several means the label is ambiguous."""
        lit = sparql_term(Literal(label))
        for pred in (RDFS.label, SKOS.altLabel):
            rows = self.query(f"SELECT DISTINCT ?e WHERE {{ ?e {sparql_term(pred)} {lit} }} LIMIT {int(limit)}")
            found = sorted({str(r["e"]) for r in rows if isinstance(r["e"], URIRef)})
            if found:
                return [URIRef(f) for f in found]
        return []

    def label(self, iri) -> str:
        """The rdfs:label of an IRI, or its last path segment."""
        rows = list(self.query(f"SELECT ?l WHERE {{ {sparql_term(iri)} {sparql_term(RDFS.label)} ?l }} LIMIT 1"))
        return str(rows[0]["l"]) if rows else local_name(iri)


# ---------------------------------------------------------------------- helpers
def dataset_graph_names(graphs: Iterable[str] | str, argument: str = "graph") -> list[ox.NamedNode]:
    """Graph IRIs (strings, rdflib or pyoxigraph IRIs) as pyoxigraph names, checked one by one.

    ``argument`` names where they came from in the error (``default_graphs``, ``default-graph-uri``).

    >>> dataset_graph_names(["http://ex/g1"], "named_graphs")
    [<NamedNode value=http://ex/g1>]
    >>> dataset_graph_names(["g1"], "default-graph-uri")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kg.errors.KGQAError: [E-GRAPH-IRI] default-graph-uri 'g1' is not an absolute IRI (...); give the graph's full IRI, ...
    """
    if isinstance(graphs, (str, ox.NamedNode)):
        graphs = [graphs]
    names = []
    for g in graphs:
        value = g.value if isinstance(g, ox.NamedNode) else g
        if not isinstance(value, str):
            raise KGQAError(f"{argument} takes graph IRIs (strings), not {type(g).__name__}", code="E-GRAPH-IRI")
        try:
            names.append(ox.NamedNode(str(value)))
        except ValueError as err:
            raise KGQAError(f"{argument} {str(value)!r} is not an absolute IRI ({err}); give the graph's full "
                            "IRI, such as http://example.org/graph", code="E-GRAPH-IRI") from None
    return names


def _s(term) -> str | None:
    return None if term is None else str(term)


def _i(term) -> int | None:
    return None if term is None else int(term.toPython())


def _doc_id(iri) -> str:
    from urllib.parse import unquote

    return unquote(str(iri)[len(str(DOC)):])


def _entity_triples(ent: Entity):
    s = to_ox(ent.iri)
    yield s, _node(RDF.type), _node(KGQA.Entity)
    yield s, _node(RDFS.label), ox.Literal(ent.label)
    for a in ent.aliases:
        if a != ent.label:
            yield s, _node(SKOS.altLabel), ox.Literal(a)
    for t in ent.types:
        yield s, _node(RDF.type), to_ox(t)
    for same in ent.same_as:
        yield s, _node(OWL.sameAs), to_ox(same)
    if ent.description:
        yield s, _node(RDFS.comment), ox.Literal(ent.description)


def _relation_triples(rel: Relation):
    s = to_ox(rel.iri)
    yield s, _node(RDF.type), _node(KGQA.OpenRelation if rel.open else KGQA.Relation)
    yield s, _node(RDFS.label), ox.Literal(rel.label)
    for a in rel.aliases:
        yield s, _node(SKOS.altLabel), ox.Literal(a)


def statement_iri(doc: URIRef, fact: Fact) -> URIRef:
    """A stable IRI for the record of one fact read from one place in one document."""
    src = fact.source or Source("")
    key = "\x1f".join(map(str, (doc, *fact.triple, src.start, src.end)))
    return STMT[hashlib.sha1(key.encode()).hexdigest()]


def _statement_triples(doc: URIRef, fact: Fact):
    st = _node(statement_iri(doc, fact))
    yield st, _node(RDF.type), _node(KGQA.Statement)
    yield st, _node(RDF.subject), to_ox(fact.subject)
    yield st, _node(RDF.predicate), to_ox(fact.predicate)
    yield st, _node(RDF.object), to_ox(fact.object)
    yield st, _node(KGQA.document), _node(doc)
    yield st, _node(KGQA.confidence), ox.Literal(repr(float(fact.confidence)), datatype=_node(XSD.double))
    src = fact.source
    if src is not None:
        yield st, _node(KGQA.extractor), ox.Literal(src.extractor)
        if src.sentence is not None:
            yield st, _node(KGQA.sentence), ox.Literal(src.sentence)
        if src.start is not None:
            yield st, _node(KGQA.start), ox.Literal(str(int(src.start)), datatype=_node(XSD.integer))
        if src.end is not None:
            yield st, _node(KGQA.end), ox.Literal(str(int(src.end)), datatype=_node(XSD.integer))


def _document_quads(doc: Document, text: str | None):
    d, g = _node(doc.iri), _node(META_GRAPH)
    out = [ox.Quad(d, _node(RDF.type), _node(KGQA.Document), g),
           ox.Quad(d, _node(KGQA.factCount), ox.Literal(str(doc.fact_count), datatype=_node(XSD.integer)), g)]
    for pred, value in ((KGQA.contentHash, doc.content_hash), (KGQA.sourcePath, doc.source_path),
                        (KGQA.extractor, doc.extractor), (KGQA.addedAt, doc.added_at), (KGQA.text, text)):
        if value is not None:
            out.append(ox.Quad(d, _node(pred), ox.Literal(value), g))
    return out

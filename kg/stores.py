"""Quad stores behind :class:`kg.KnowledgeGraph`, chosen by name or URL (rdflib's plugin habit).

========================================  =============================================
location                                  store
========================================  =============================================
``"memory"``                              in-memory Oxigraph (tests, scratch work)
a folder path                             embedded on-disk Oxigraph (the default)
``"sparql+http://host/query"``            a remote SPARQL 1.1 endpoint (query + update)
========================================  =============================================

>>> store = resolve_store("memory")
>>> store.kind
'memory'
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterable, Iterator

import pyoxigraph as ox

from kg.errors import (
    ForeignStoreError,
    KGQAError,
    QueryError,
    ReadOnlyStoreError,
    RemoteStoreError,
    StoreError,
    StoreLockedError,
    StoreNotFoundError,
)

_MARKER = "kgqa-store.json"


def compact_error(err) -> str:
    """A parser message on one line, with Oxigraph's long list of expected tokens cut short."""
    text = " ".join(str(err).split())
    if " expected one of " in text:
        head, tail = text.split(" expected one of ", 1)
        text = head + " expected one of " + (tail[:80] + " ..." if len(tail) > 80 else tail)
    return text


class Store:
    """What a store does. Terms here are pyoxigraph terms; :class:`kg.KnowledgeGraph` speaks rdflib."""

    kind = "abstract"
    location = ""
    read_only = False
    #: whether kg.query may narrow ``GRAPH ?g`` to the user's graphs with ``query(named_graphs=...)``
    #: (a remote endpoint cannot: the protocol's named-graph-uri would also empty its default graph)
    scopes_named_graphs = False
    _revision = None

    @property
    def revision(self) -> int:
        """A counter bumped after every write made through this process (update, extend, remove_graph).

        Caches of what is derived from the data (question answers, indexes) key on it: an equal
        revision means no write landed in between. Handles on the same folder share one counter; a
        remote endpoint's own writers are not seen (only this process's writes count).
        """
        return self._revision[0] if self._revision is not None else 0

    def _changed(self) -> None:
        if self._revision is None:
            self._revision = [0]
        with _REVISION_LOCK:
            self._revision[0] += 1

    def query(self, sparql: str, *, timeout: float | None = None, default_graph: list | None = None,
              named_graphs: list | None = None):  # pragma: no cover - interface
        """Run a query, as ``pyoxigraph.Store.query`` does.

        ``default_graph`` (graph names, pyoxigraph terms), when given, replaces the query's default
        graph (and its FROM) by the merge of those graphs; ``named_graphs``, when given, are the only
        graphs ``GRAPH`` reaches (and replace its FROM NAMED). None keeps that part as the query
        (or the store) has it.
        """
        raise NotImplementedError

    def named_graphs(self) -> list:
        """The names (pyoxigraph terms) of the store's named graphs."""
        return [row["g"] for row in self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }")]

    def update(self, sparql: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def extend(self, quads: list) -> None:  # pragma: no cover - interface
        """Add quads in one transaction."""
        raise NotImplementedError

    def quads(self, graph=None) -> Iterator:  # pragma: no cover - interface
        """Quads of one graph (``ox.DefaultGraph()`` or a NamedNode), or of all graphs when ``graph`` is None."""
        raise NotImplementedError

    def triple_count(self) -> int:
        rows = list(self.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))
        return int(rows[0]["n"].value) if rows else 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


_REVISION_LOCK = threading.Lock()


# One pyoxigraph Store per folder per process: RocksDB allows a single read-write opener,
# so a second KnowledgeGraph on the same folder in this process shares the first one's handle.
_OPEN: dict[str, list] = {}
_OPEN_LOCK = threading.Lock()


def _is_lock_error(err: OSError) -> bool:
    text = str(err).lower()
    return "lock" in text and ("hold" in text or "resource temporarily" in text or "no locks" in text)


class OxigraphStore(Store):
    """Embedded Oxigraph, in memory (``path=None``) or on disk."""

    scopes_named_graphs = True

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True,
                 read_only: bool = False):
        self.read_only = read_only
        self._revision = [0]
        if path is None:
            self.kind, self.location, self._key = "memory", "memory", None
            self._store = ox.Store()
            return
        p = Path(path).expanduser()
        self.kind, self.location = "oxigraph", str(p)
        _check_folder(p, create=create)
        self._key = str(p.resolve())
        with _OPEN_LOCK:
            entry = _OPEN.get(self._key)
            if entry is not None:
                entry[1] += 1
                self._store = entry[0]
                self._revision = entry[2]  # one write counter per folder
                return
            try:
                store = ox.Store.read_only(str(p)) if read_only else ox.Store(str(p))
            except OSError as err:
                if _is_lock_error(err):
                    raise StoreLockedError(str(p)) from None
                raise StoreError(f"cannot open the store at {str(p)!r}: {err}") from None
            marker = p / _MARKER
            if not marker.exists() and not read_only:
                marker.write_text('{"kgqa_store": 1}\n')
            _OPEN[self._key] = [store, 1, self._revision]
            self._store = store

    @property
    def oxigraph(self) -> ox.Store:
        """The underlying ``pyoxigraph.Store``."""
        return self._store

    def query(self, sparql, *, timeout=None, default_graph=None, named_graphs=None):
        dataset = {}
        if default_graph is not None:
            dataset["default_graph"] = list(default_graph)
        if named_graphs is not None:
            dataset["named_graphs"] = list(named_graphs)
        try:
            return self._store.query(sparql, **dataset)
        except SyntaxError as err:
            raise QueryError(compact_error(err)) from None
        except OSError as err:
            raise StoreError(str(err)) from None

    def named_graphs(self):
        return list(self._store.named_graphs())

    def update(self, sparql):
        if self.read_only:
            raise ReadOnlyStoreError("this store was opened read-only")
        try:
            self._store.update(sparql)
        except SyntaxError as err:
            raise QueryError(compact_error(err)) from None
        except OSError as err:
            raise StoreError(str(err)) from None
        finally:
            self._changed()

    def extend(self, quads):
        try:
            self._store.extend(quads)
        finally:
            self._changed()

    def bulk_extend(self, quads):
        try:
            self._store.bulk_extend(quads)
        finally:
            self._changed()

    def quads(self, graph=None):
        return self._store.quads_for_pattern(None, None, None, graph)

    def remove_graph(self, graph):
        try:
            if self._store.contains_named_graph(graph):
                self._store.remove_graph(graph)
        finally:
            self._changed()

    def flush(self):
        if self.kind == "oxigraph" and not self.read_only:
            self._store.flush()

    def close(self):
        if self._key is None:
            return
        with _OPEN_LOCK:
            entry = _OPEN.get(self._key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                if not self.read_only:
                    try:
                        entry[0].flush()
                    except OSError:
                        pass
                del _OPEN[self._key]
                entry.clear()
                # RocksDB releases its lock only when the last reference to the handle is gone
                self._store = None
                import gc

                gc.collect()
        self._key = None


_LEXEME = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""' r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"' r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>|#[^\n]*|_:|[A-Za-z_]\w*|\S'
)
_MINTING_CALLS = {"UUID", "STRUUID", "NOW", "RAND", "BNODE"}


def update_may_mint(sparql: str) -> bool:
    """Whether running this update twice could give two different results: it mints blank nodes
    (``_:``, ``[ ]`` or a collection in an INSERT), calls UUID/STRUUID/NOW/RAND/BNODE, or LOADs.

    >>> update_may_mint('DELETE { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?o != 1) } ; '
    ...                 'INSERT DATA { <a:b> <a:c> "(x) [y] _:z" }')
    False
    >>> update_may_mint('INSERT DATA { <a:b> <a:c> (1 2) }')
    True
    >>> update_may_mint('INSERT { ?s <a:t> ?t } WHERE { ?s ?p ?o BIND(NOW() AS ?t) }')
    True
    """
    # strings, IRIs and comments cannot mint anything: drop them (a lone "<" is less-than)
    tokens = [t for t in _LEXEME.findall(sparql) if t[0] not in "\"'<#" or t == "<"]
    for i, tok in enumerate(tokens):
        word = tok.upper()
        if word == "LOAD" or (word in _MINTING_CALLS and tokens[i + 1:i + 2] == ["("]):
            return True
        if word == "INSERT":  # the template (or DATA block) is the next brace group
            depth = 0
            for t in tokens[i + 1:]:
                if t == "{":
                    depth += 1
                elif t == "}":
                    depth -= 1
                    if depth <= 0:
                        break
                elif depth > 0 and t in ("(", "[", "_:"):
                    return True
    return False


class MirroredStore(OxigraphStore):
    """An on-disk Oxigraph store answered from an in-memory copy: the read-mostly serving mode.

    Opening copies every quad from the folder into memory (it takes time and RAM in proportion to the
    store); queries then run on the copy, several times faster on joins than on disk. Writes go to
    disk first (durable), then to the copy. An update that may mint fresh values (blank nodes, RDF
    collections, UUID()/NOW()/RAND()/BNODE(); see :func:`update_may_mint`) or that LOADs a URL is
    not replayed on the copy: the copy is reloaded from disk instead, so the two never drift apart. The folder stays locked for other writers as usual; open it once per
    process in this mode (another plain KnowledgeGraph on the same folder would write past the copy).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plain = OxigraphStore(tmp)
    ...     plain.update("INSERT DATA { <http://ex/a> <http://ex/p> 1 }")
    ...     plain.close()
    ...     store = MirroredStore(tmp)
    ...     before = store.triple_count()
    ...     store.update("DELETE DATA { <http://ex/a> <http://ex/p> 1 }")
    ...     store.close()
    ...     before, store.kind
    (1, 'oxigraph+memory')
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True, read_only: bool = False):
        super().__init__(path, create=create, read_only=read_only)
        self.kind = "oxigraph+memory"
        self._disk = self._store
        self._write_lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        copy = ox.Store()
        # extend keeps blank node ids (a dump + reload would rename them) and beats bulk_extend in memory
        copy.extend(self._disk.quads_for_pattern(None, None, None, None))
        self._store = copy  # one assignment: queries already running keep the old copy

    def update(self, sparql):
        if self.read_only:
            from kg.errors import ReadOnlyStoreError

            raise ReadOnlyStoreError("this store was opened read-only")
        with self._write_lock:
            try:
                self._disk.update(sparql)
            except SyntaxError as err:
                raise QueryError(compact_error(err)) from None
            except OSError as err:
                raise StoreError(str(err)) from None
            try:
                if update_may_mint(sparql):
                    self._reload()
                else:
                    self._store.update(sparql)
            finally:
                self._changed()

    def extend(self, quads):
        quads = list(quads)
        with self._write_lock:
            try:
                self._disk.extend(quads)
                self._store.extend(quads)
            finally:
                self._changed()

    def bulk_extend(self, quads):
        quads = list(quads)
        with self._write_lock:
            try:
                self._disk.bulk_extend(quads)
                self._store.extend(quads)
            finally:
                self._changed()

    def remove_graph(self, graph):
        with self._write_lock:
            try:
                if self._disk.contains_named_graph(graph):
                    self._disk.remove_graph(graph)
                if self._store.contains_named_graph(graph):
                    self._store.remove_graph(graph)
            finally:
                self._changed()

    def flush(self):
        if not self.read_only:
            self._disk.flush()

    def close(self):
        self._store, self._disk = self._disk, None  # OxigraphStore.close releases the disk handle
        super().close()


def _check_folder(p: Path, *, create: bool) -> None:
    if p.exists() and not p.is_dir():
        raise ForeignStoreError(f"{str(p)!r} is a file, not a kgqa store; give a folder path for --store")
    if not p.exists():
        if not create:
            raise StoreNotFoundError(
                f"no store at {str(p)!r}; create one with `kgqa import FILE --store {p}` or `kgqa build`"
            )
        return
    entries = {e.name for e in p.iterdir()}
    if entries and "CURRENT" not in entries and _MARKER not in entries:
        raise ForeignStoreError(
            f"{str(p)!r} is a folder that is not a kgqa store; choose an empty or new folder for --store"
        )
    if not entries and not create:
        raise StoreNotFoundError(f"the store at {str(p)!r} is empty; import or build something into it first")


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint over HTTP: queries to ``query_url``, updates to ``update_url``."""

    kind = "sparql"

    def __init__(self, query_url: str, update_url: str | None = None, *, timeout: float = 60.0,
                 headers: dict | None = None):
        import httpx

        if query_url.startswith("sparql+"):
            query_url = query_url[len("sparql+"):]
        self.location = query_url
        self.query_url = query_url
        if update_url is None:
            if query_url.rstrip("/").endswith("/query"):
                update_url = query_url.rstrip("/")[: -len("query")] + "update"
            else:
                update_url = query_url
        self.update_url = update_url
        self._client = httpx.Client(timeout=timeout, headers=headers or {})

    def _post(self, url, data, *, accept=None):
        import httpx

        headers = {"Accept": accept} if accept else {}
        try:
            resp = self._client.post(url, data=data, headers=headers)
        except httpx.HTTPError as err:
            raise RemoteStoreError(f"cannot reach the SPARQL endpoint {url}: {err}") from None
        if resp.status_code == 400:
            raise QueryError(resp.text.strip()[:2000])
        if resp.status_code >= 300:
            raise RemoteStoreError(f"the endpoint {url} answered {resp.status_code}: {resp.text.strip()[:500]}")
        return resp

    def query(self, sparql, *, timeout=None, default_graph=None, named_graphs=None):
        # kg.query scopes GRAPH ?g only where scopes_named_graphs is set, so a dataset reaching here is
        # one the caller asked for: it goes out as the protocol's default-graph-uri / named-graph-uri
        form = {"query": sparql}
        if default_graph is not None or named_graphs is not None:
            form.update(_protocol_dataset(default_graph, named_graphs))
        resp = self._post(
            self.query_url, form,
            accept="application/sparql-results+json, application/n-triples;q=0.9",
        )
        ctype = resp.headers.get("content-type", "").split(";")[0].strip()
        if ctype in ("application/sparql-results+json", "application/json"):
            return ox.parse_query_results(resp.content, format=ox.QueryResultsFormat.JSON)
        if ctype in ("application/sparql-results+xml", "application/xml"):
            return ox.parse_query_results(resp.content, format=ox.QueryResultsFormat.XML)
        fmt = ox.RdfFormat.from_media_type(ctype) or ox.RdfFormat.N_TRIPLES
        return _Triples(list(ox.parse(resp.content, format=fmt)))

    def update(self, sparql):
        try:
            self._post(self.update_url, {"update": sparql})
        finally:
            self._changed()

    def extend(self, quads, *, chunk: int = 20000):
        quads = list(quads)
        for i in range(0, len(quads), chunk):
            self.update("INSERT DATA {\n" + quads_text(quads[i:i + chunk]) + "\n}")

    bulk_extend = extend

    def quads(self, graph=None):
        if graph is None:
            q = "SELECT ?s ?p ?o ?g WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
        elif isinstance(graph, ox.DefaultGraph):
            q = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
        else:
            q = f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} BIND({graph} AS ?g) }}"
        for sol in self.query(q):
            g = sol["g"] if "g" in q else None
            yield ox.Quad(sol["s"], sol["p"], sol["o"], g if g is not None else ox.DefaultGraph())

    def remove_graph(self, graph):
        self.update(f"DROP SILENT GRAPH {graph}")

    def close(self):
        self._client.close()


def _protocol_dataset(default_graph, named_graphs) -> dict:
    """The SPARQL Protocol form fields for a dataset, or a KGQAError when the protocol cannot say it.

    The protocol replaces the whole dataset once either field is present, and has no name for "the
    endpoint's own default graph" nor for an empty dataset.
    """
    if default_graph is None or named_graphs is None:
        raise KGQAError("a remote SPARQL endpoint takes a whole dataset (default and named graphs together); "
                        "pass both default_graph and named_graphs (an empty list for none)", code="E-DATASET")
    fields: dict[str, list[str]] = {}
    for name, graphs in (("default-graph-uri", default_graph), ("named-graph-uri", named_graphs)):
        for g in graphs:
            if not isinstance(g, ox.NamedNode):
                raise KGQAError(f"the SPARQL Protocol names graphs by IRI only, not {g}; give the graphs' "
                                "IRIs, or name them with FROM / FROM NAMED in the query", code="E-DATASET")
            fields.setdefault(name, []).append(g.value)
    if not fields:
        raise KGQAError("the SPARQL Protocol cannot ask a remote endpoint for an empty dataset; "
                        "name at least one graph", code="E-DATASET")
    return fields


class _Triples(list):
    """CONSTRUCT results fetched from a remote endpoint (quacks like ``pyoxigraph.QueryTriples``)."""


def quads_text(quads: Iterable) -> str:
    default, named = [], {}
    for q in quads:
        line = f"{q.subject} {q.predicate} {q.object} ."
        if isinstance(q.graph_name, ox.DefaultGraph):
            default.append(line)
        else:
            named.setdefault(str(q.graph_name), []).append(line)
    parts = ["\n".join(default)]
    for g, lines in named.items():
        parts.append(f"GRAPH {g} {{\n" + "\n".join(lines) + "\n}")
    return "\n".join(parts)


STORES = {"memory": OxigraphStore, "oxigraph": OxigraphStore, "sparql": RemoteStore}


def resolve_store(location="memory", *, create: bool = True, update_url: str | None = None,
                  read_only: bool = False, in_memory: bool = False) -> Store:
    """A store from a name, URL, path, Store class or Store instance (PyKEEN's resolver habit).

    ``in_memory=True`` serves a store folder from an in-memory copy (:class:`MirroredStore`).
    """
    if isinstance(location, Store):
        return location
    if isinstance(location, type) and issubclass(location, Store):
        return location()
    loc = str(location)
    if loc in ("memory", ":memory:"):
        return OxigraphStore(None)
    if loc.startswith(("sparql+http://", "sparql+https://", "http://", "https://")):
        if in_memory:
            raise StoreError("in_memory serving needs a store folder, not a SPARQL endpoint URL")
        return RemoteStore(loc, update_url)
    if in_memory:
        return MirroredStore(loc, create=create, read_only=read_only)
    return OxigraphStore(loc, create=create, read_only=read_only)

"""Refuse SPARQL text whose size or nesting could exhaust Oxigraph's recursive parser.

A few thousand nested brackets or chained unary operators overflow a normal thread stack inside
the parser and kill the whole process (seen with pyoxigraph 0.5 on an 8 MB stack), so every query and update goes through this cheap lexical
pass first (:meth:`kg.KnowledgeGraph.query` and ``update`` call it).

>>> check_query_shape("SELECT * WHERE { ?s ?p ?o }")
>>> check_query_shape("ASK { FILTER(" + "!" * 20000 + "true) }")
Traceback (most recent call last):
...
kg.errors.QueryError: [E-QUERY-COMPLEX] the query has more than 6,000 operators; simplify it or split it
"""
from __future__ import annotations

import re
from typing import NamedTuple

from kg.errors import QueryError

_TOKEN = re.compile(
    r'(?P<skip>\s+|#[^\n]*)'
    r'|"""(?:[^"\\]|\\.|"(?!""))*"""' r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"' r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r'|(?P<open>[({\[])|(?P<close>[)}\]])'
    r'|[\w$?@:.\-]+|.',
    re.S,
)

_OPERATORS = set("!+-*/|^&=<>")


def check_query_shape(text: str, *, max_tokens: int = 100_000, max_depth: int = 200,
                      max_operators: int = 6_000, allow_service: bool = True) -> None:
    """Refuse query text whose size or nesting could exhaust the parser (QueryError ``E-QUERY-COMPLEX``),
    and, unless ``allow_service``, federated ``SERVICE`` calls (``E-SERVICE-DISABLED``).

    >>> check_query_shape("SELECT * WHERE { ?s ?p ?o }")
    >>> check_query_shape("ASK {" + "{" * 300 + "}" * 301)
    Traceback (most recent call last):
    ...
    kg.errors.QueryError: [E-QUERY-COMPLEX] the query nests brackets deeper than 200 levels; flatten it
    """
    tokens = depth = deepest = operators = 0
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "skip":
            continue
        tokens += 1
        if m.lastgroup is None and len(m.group()) == 1 and m.group() in _OPERATORS:
            # long operator chains (a && b && ..., !!!x) recurse in the parser like brackets do
            operators += 1
            if operators > max_operators:
                raise QueryError(f"the query has more than {max_operators:,} operators; simplify it or split it",
                                 code="E-QUERY-COMPLEX")
        if tokens > max_tokens:
            raise QueryError(f"the query has more than {max_tokens:,} tokens, more than this server accepts; "
                             "split it into smaller queries", code="E-QUERY-COMPLEX")
        if m.lastgroup == "open":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > max_depth:
                    raise QueryError(f"the query nests brackets deeper than {max_depth} levels; flatten it",
                                     code="E-QUERY-COMPLEX")
        elif m.lastgroup == "close":
            depth -= 1
        elif not allow_service and m.group().upper() == "SERVICE":
            raise QueryError("federated queries (SERVICE) are disabled on this server; query the other "
                             "endpoint yourself", code="E-SERVICE-DISABLED")


class DatasetUse(NamedTuple):
    """What a query's text says about the graphs it reads (see :func:`dataset_use`)."""

    #: the query has FROM / FROM NAMED: it chose its own dataset
    declares_dataset: bool
    #: some ``GRAPH ?var`` ranges over the named graphs
    graph_variable: bool
    #: every absolute IRI written in the query (prefixed names expanded, relative ones resolved)
    iris: frozenset


def dataset_use(text: str) -> DatasetUse:
    """A lexical look at which graphs a query can reach: FROM clauses, ``GRAPH ?var`` and the IRIs it names.

    >>> use = dataset_use('PREFIX g: <https://kgqa.dev/graph/> SELECT * { GRAPH ?g { ?s ?p "GRAPH ?x" } '
    ...                   'FILTER(?g = g:meta) }')
    >>> use.declares_dataset, use.graph_variable, sorted(use.iris)
    (False, True, ['https://kgqa.dev/graph/', 'https://kgqa.dev/graph/meta'])
    >>> dataset_use("SELECT * FROM NAMED <http://ex/g> { GRAPH <http://ex/g> { ?s ?p ?o } }")[:2]
    (True, False)
    """
    from urllib.parse import urljoin

    prefixes: dict[str, str] = {}
    base = ""
    iris: set[str] = set()
    declares = graph_var = False
    words = [m.group() for m in _TOKEN.finditer(text) if m.lastgroup != "skip"]
    for i, tok in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        upper = tok.upper()
        if tok.startswith("<") and tok.endswith(">") and len(tok) > 1:
            iri = tok[1:-1]
            iri = urljoin(base, iri) if base and ":" not in iri.split("/", 1)[0] else iri
            iris.add(iri)
            if i >= 1 and words[i - 1].upper() == "BASE":
                base = iri
            elif i >= 2 and words[i - 2].upper() == "PREFIX":
                prefixes[words[i - 1][:-1]] = iri
        elif upper == "FROM":
            declares = True
        elif upper == "GRAPH" and nxt[:1] in ("?", "$"):
            graph_var = True
        elif ":" in tok and tok[0] not in "?$@_\"'" and not (i >= 1 and words[i - 1].upper() == "PREFIX"):
            pfx, _, local = tok.rstrip(".").partition(":")
            if pfx in prefixes:
                iris.add(prefixes[pfx] + local)
    return DatasetUse(declares, graph_var, frozenset(iris))

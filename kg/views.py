"""Views of the knowledge graph for algorithms and drawing.

>>> from kg import KnowledgeGraph
>>> kg = KnowledgeGraph.open("memory")
>>> kg.update('''PREFIX r: <http://www.w3.org/2000/01/rdf-schema#>
...   INSERT DATA { <http://ex/a> <http://ex/knows> <http://ex/b> . <http://ex/a> r:label "A" }''')
>>> G = to_networkx(kg)
>>> G.nodes["http://ex/a"]["label"], list(G.edges(keys=True))
('A', [('http://ex/a', 'http://ex/b', 'http://ex/knows')])
"""
from __future__ import annotations

import networkx as nx
import pyoxigraph as ox

from kg.namespaces import INFERRED_GRAPH, RDF, RDFS, SKOS, local_name

_SKIP = {str(RDF.type), str(RDFS.label), str(SKOS.altLabel), str(RDFS.comment)}


def to_networkx(kg, *, include_inferred: bool = False) -> nx.MultiDiGraph:
    """Entities are nodes (``label``, ``types``, ``aliases`` and literal facts as attributes); facts
    between entities are edges keyed by the predicate IRI, with ``label`` and ``inferred``."""
    G = nx.MultiDiGraph()
    rel_labels: dict[str, str] = {}
    graphs = [ox.DefaultGraph()] + ([ox.NamedNode(str(INFERRED_GRAPH))] if include_inferred else [])
    literal_facts = []
    for graph in graphs:
        inferred = not isinstance(graph, ox.DefaultGraph)
        for q in kg.store.quads(graph):
            s, p, o = q.subject, q.predicate.value, q.object
            if isinstance(s, ox.Triple):
                continue
            sid = s.value
            if p == str(RDFS.label):
                if isinstance(o, ox.Literal):
                    rel_labels.setdefault(sid, o.value)
                continue
            if p == str(RDF.type):
                if isinstance(o, ox.NamedNode):
                    G.add_node(sid)
                    G.nodes[sid].setdefault("types", []).append(o.value)
                continue
            if p == str(SKOS.altLabel):
                G.add_node(sid)
                G.nodes[sid].setdefault("aliases", []).append(o.value)
                continue
            if p in _SKIP:
                continue
            if isinstance(o, ox.Literal):
                literal_facts.append((sid, p, o.value))
                continue
            G.add_edge(sid, o.value, key=p, predicate=p, inferred=inferred)
    for sid, p, value in literal_facts:
        if sid in G:
            G.nodes[sid].setdefault("literals", []).append((p, value))
    for n in G.nodes:
        G.nodes[n]["label"] = rel_labels.get(n, local_name(n))
    for _, _, k, data in G.edges(keys=True, data=True):
        data["label"] = rel_labels.get(k, local_name(k))
    # relation and class nodes only carry labels/types; drop those not linked to anything
    for n in [n for n in G.nodes if G.degree(n) == 0 and "http://www.w3.org/2002/07/owl#" not in n
              and "https://kgqa.dev/ns#Relation" in G.nodes[n].get("types", [])]:
        G.remove_node(n)
    return G


def graphml_ready(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes are GraphML scalars (lists joined with ``|``)."""
    H = nx.MultiDiGraph()
    for n, data in G.nodes(data=True):
        H.add_node(n, **{k: _scalar(v) for k, v in data.items()})
    for u, v, k, data in G.edges(keys=True, data=True):
        H.add_edge(u, v, key=k, **{a: _scalar(b) for a, b in data.items()})
    return H


def _scalar(v):
    if isinstance(v, (list, tuple)):
        return "|".join(_scalar(x) if not isinstance(x, tuple) else "=".join(map(str, x)) for x in v)
    return v if isinstance(v, (str, int, float, bool)) else str(v)


__all__ = ["to_networkx", "graphml_ready"]

"""Knowledge graph <-> tensors, as pure functions that also return the node and relation index maps.

:func:`kg_to_tensors` reads the asserted entity-to-entity facts of a graph (IRI objects only; types,
labels, aliases and literals are left out of the edges but labels are kept for the text side) into
an ``edge_index``/``edge_type`` pair; :func:`tensors_to_triples` goes back.

>>> from kg import KnowledgeGraph
>>> from kg.io import read_delimited
>>> import io
>>> with KnowledgeGraph.open("memory") as kg:
...     kg.store.extend(list(read_delimited(io.StringIO("Ada|knows|Charles\\nCharles|lives in|London\\n"), "pipe")))
...     graph = kg_to_tensors(kg)
>>> graph.num_nodes, graph.num_relations, graph.num_edges
(3, 2, 2)
>>> sorted(graph.labels[iri] for iri in graph.entities)
['Ada', 'Charles', 'London']
>>> triples = tensors_to_triples(graph.edge_index, graph.edge_type, graph.entities, graph.relations)
>>> sorted((graph.labels[s], graph.labels[p], graph.labels[o]) for s, p, o in triples)
[('Ada', 'knows', 'Charles'), ('Charles', 'lives in', 'London')]
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from kg.namespaces import OWL, RDF, RDFS, SKOS

#: predicates that describe nodes rather than relate entities
_NOT_EDGES = frozenset(str(p) for p in (RDF.type, RDFS.label, SKOS.altLabel, OWL.sameAs, RDFS.comment,
                                        RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range))
_LABEL, _ALT = str(RDFS.label), str(SKOS.altLabel)


@dataclass
class GraphTensors:
    """A graph as tensors plus the maps back to IRIs.

    ``edge_index[:, e]`` is ``(subject, object)`` of fact ``e`` and ``edge_type[e]`` its relation;
    ``entities[i]``/``relations[r]`` are IRIs and ``entity_index``/``relation_index`` invert them;
    ``labels`` maps IRIs to rdfs:label and ``aliases`` to skos:altLabel lists.
    """

    edge_index: torch.Tensor
    edge_type: torch.Tensor
    entities: list[str]
    relations: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        self.entity_index = {iri: i for i, iri in enumerate(self.entities)}
        self.relation_index = {iri: i for i, iri in enumerate(self.relations)}

    @property
    def num_nodes(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_edges(self) -> int:
        return int(self.edge_type.numel())

    def label(self, iri: str) -> str:
        """rdfs:label of an IRI, else its last path segment with underscores as spaces."""
        from kg.namespaces import local_name

        return self.labels[iri] if iri in self.labels else local_name(iri)

    def to_data(self):
        """A :class:`torch_geometric.data.Data` with ``edge_index``, ``edge_type`` and ``num_nodes``."""
        from torch_geometric.data import Data

        return Data(edge_index=self.edge_index, edge_type=self.edge_type, num_nodes=self.num_nodes)


def kg_to_tensors(kg, *, graph=None) -> GraphTensors:
    """The asserted entity graph of ``kg`` as :class:`GraphTensors` (nodes and relations in first-seen order).

    Reads ``kg.store.quads`` of the default graph (or ``graph``, a pyoxigraph graph name) in one pass;
    facts whose object is a literal and the descriptive predicates (rdf:type, labels, ...) are not edges.
    """
    import pyoxigraph as ox

    graph = ox.DefaultGraph() if graph is None else graph
    ent: dict[str, int] = {}
    rel: dict[str, int] = {}
    heads: list[int] = []
    tails: list[int] = []
    types: list[int] = []
    labels: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    for q in kg.store.quads(graph):
        s, p, o = q.subject, q.predicate.value, q.object
        if not isinstance(s, ox.NamedNode):
            continue
        if p == _LABEL and isinstance(o, ox.Literal):
            labels.setdefault(s.value, o.value)
            continue
        if p == _ALT and isinstance(o, ox.Literal):
            aliases.setdefault(s.value, []).append(o.value)
            continue
        if p in _NOT_EDGES or not isinstance(o, ox.NamedNode):
            continue
        heads.append(ent.setdefault(s.value, len(ent)))
        tails.append(ent.setdefault(o.value, len(ent)))
        types.append(rel.setdefault(p, len(rel)))
    edge_index = torch.tensor([heads, tails], dtype=torch.long).reshape(2, -1)
    return GraphTensors(edge_index, torch.tensor(types, dtype=torch.long), list(ent), list(rel), labels, aliases)


def triples_to_tensors(triples, *, labels: dict[str, str] | None = None) -> GraphTensors:
    """:class:`GraphTensors` from ``(subject, predicate, object)`` strings (IRIs or plain names).

    >>> g = triples_to_tensors([("a", "r", "b"), ("b", "r", "c")])
    >>> g.entity_index["c"], g.edge_type.tolist()
    (2, [0, 0])
    """
    ent: dict[str, int] = {}
    rel: dict[str, int] = {}
    rows = [(ent.setdefault(str(s), len(ent)), rel.setdefault(str(p), len(rel)), ent.setdefault(str(o), len(ent)))
            for s, p, o in triples]
    arr = torch.tensor(rows, dtype=torch.long).reshape(-1, 3)
    return GraphTensors(arr[:, [0, 2]].t().contiguous(), arr[:, 1].contiguous(), list(ent), list(rel),
                        dict(labels or {}))


def tensors_to_triples(edge_index: torch.Tensor, edge_type: torch.Tensor, entities: list[str],
                       relations: list[str]) -> list[tuple[str, str, str]]:
    """The inverse of :func:`kg_to_tensors`: ``(subject, predicate, object)`` IRI strings per edge."""
    return [(entities[h], relations[r], entities[t])
            for (h, t), r in zip(edge_index.t().tolist(), edge_type.tolist())]


def with_inverse_edges(edge_index: torch.Tensor, edge_type: torch.Tensor, num_relations: int):
    """Edges in both directions: the reverse of an edge of type ``r`` has type ``r + num_relations``.

    >>> ei, et = with_inverse_edges(torch.tensor([[0], [1]]), torch.tensor([0]), 1)
    >>> ei.tolist(), et.tolist()
    ([[0, 1], [1, 0]], [0, 1])
    """
    return (torch.cat([edge_index, edge_index.flip(0)], dim=1),
            torch.cat([edge_type, edge_type + num_relations]))


@dataclass(frozen=True)
class Fingerprint:
    """What a model saw of a graph: counts, a hash of its relation set, and a hash per sampled entity."""

    num_nodes: int
    num_edges: int
    relations_hash: str
    relations: tuple[str, ...]
    sample: dict

    def to_json(self) -> dict:
        return {"num_nodes": self.num_nodes, "num_edges": self.num_edges, "relations_hash": self.relations_hash,
                "relations": list(self.relations), "sample": dict(self.sample)}

    @classmethod
    def from_json(cls, data: dict) -> "Fingerprint":
        return cls(int(data["num_nodes"]), int(data["num_edges"]), data["relations_hash"],
                   tuple(data["relations"]), dict(data["sample"]))


def fingerprint(graph: GraphTensors, *, sample_size: int = 200) -> Fingerprint:
    """A fingerprint of ``graph``: node/edge counts, relation-set hash, and the neighbourhood hash of a
    deterministic sample of entities (those whose IRI hashes lowest), so edits inside the graph show.

    >>> g = triples_to_tensors([("a", "r", "b")])
    >>> fingerprint(g).num_edges
    1
    """
    rels = tuple(sorted(graph.relations))
    rel_hash = hashlib.sha1("\n".join(rels).encode()).hexdigest()
    keyed = sorted(graph.entities, key=lambda iri: hashlib.sha1(iri.encode()).hexdigest())[:sample_size]
    chosen = {graph.entity_index[iri] for iri in keyed}
    rows: dict[int, list[str]] = {i: [] for i in chosen}
    heads, tails = graph.edge_index[0].numpy(), graph.edge_index[1].numpy()
    types = graph.edge_type.numpy()
    mask = np.isin(heads, list(chosen)) | np.isin(tails, list(chosen))
    for h, t, r in zip(heads[mask], tails[mask], types[mask]):
        fact = f"{graph.entities[h]} {graph.relations[r]} {graph.entities[t]}"
        for node in (h, t):
            if node in rows:
                rows[node].append(fact)
    sample = {graph.entities[i]: hashlib.sha1("\n".join(sorted(f)).encode()).hexdigest()[:12] for i, f in rows.items()}
    return Fingerprint(graph.num_nodes, graph.num_edges, rel_hash, rels, sample)


def fingerprint_drift(old: Fingerprint, new: Fingerprint, *, threshold: float = 0.1) -> str | None:
    """Why a model trained on ``old`` should be retrained for ``new`` (None when the change is small).

    >>> a = fingerprint(triples_to_tensors([("a", "r", "b")]))
    >>> b = fingerprint(triples_to_tensors([("a", "r", "b"), ("b", "s", "c")]))
    >>> fingerprint_drift(a, a) is None, fingerprint_drift(a, b)
    (True, "1 relation(s) the model never saw (e.g. 's')")
    """
    unseen = sorted(set(new.relations) - set(old.relations))
    if unseen:
        return f"{len(unseen)} relation(s) the model never saw (e.g. {unseen[0]!r})"
    for what, before, after in (("entities", old.num_nodes, new.num_nodes), ("facts", old.num_edges, new.num_edges)):
        if abs(after - before) > threshold * max(before, 1):
            return f"the graph has {after:,} {what}, the model saw {before:,}"
    common = set(old.sample) & set(new.sample)
    changed = sum(old.sample[k] != new.sample[k] for k in common) + len(set(old.sample) - set(new.sample))
    if old.sample and changed > threshold * len(old.sample):
        return f"{changed} of {len(old.sample)} sampled entities changed their facts"
    return None

"""kg: the knowledge graph — fact model, namespaces, stores, provenance, import/export, views, SPARQL.

>>> from kg import KnowledgeGraph
>>> with KnowledgeGraph.open("memory") as kg:
...     len(kg)
0
"""
from kg.errors import KGQAError

__all__ = ["KnowledgeGraph", "Fact", "Source", "Entity", "Relation", "Document", "ImportReport",
           "QueryResult", "Row", "KGQAError"]

# imported on first use: the fact model, the graph and its results need rdflib (~0.1 s), which
# a command that only imports kg.errors (every kgqa command's module does) should not pay for
_LAZY = {"Fact": "kg.facts", "Source": "kg.facts", "Entity": "kg.facts", "Relation": "kg.facts",
         "Document": "kg.facts", "KnowledgeGraph": "kg.graph", "ImportReport": "kg.graph",
         "QueryResult": "kg.results", "Row": "kg.results"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kg' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""kg: the knowledge graph — fact model, namespaces, stores, provenance, import/export, views, SPARQL.

>>> from kg import KnowledgeGraph
>>> with KnowledgeGraph.open("memory") as kg:
...     len(kg)
0
"""
from kg.errors import KGQAError
from kg.facts import Document, Entity, Fact, Relation, Source
from kg.graph import ImportReport, KnowledgeGraph
from kg.results import QueryResult, Row

__all__ = ["KnowledgeGraph", "Fact", "Source", "Entity", "Relation", "Document", "ImportReport",
           "QueryResult", "Row", "KGQAError"]

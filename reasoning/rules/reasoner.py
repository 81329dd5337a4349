"""``kgqa ask --method rules``: answers over asserted and inferred facts, each inferred step naming its rule.

The rules reasoner does not apply rules while answering (``kgqa rules apply`` does, once); it plans
the question like the SPARQL reasoner over the asserted facts and the inferred graph, and fills in
which rule derived each inferred fact on the evidence path. With no inferred facts in the store it
answers from the asserted facts and says so in ``warnings``.
"""
from __future__ import annotations

from rdflib import Literal, URIRef

from kg.namespaces import INFERRED_GRAPH
from kg.terms import sparql_term


def rule_name(kg, subject, predicate, obj) -> str | None:
    """The name of the rule that derived an inferred fact, or None when no derivation is stored.

    >>> from kg import KnowledgeGraph
    >>> from reasoning.rules import apply_rules, parse_rules
    >>> kg = KnowledgeGraph.open("memory")
    >>> kg.update("INSERT DATA { <http://ex/a> <https://kgqa.dev/relation/spouse> <http://ex/b> }")
    >>> _ = apply_rules(kg, parse_rules("sym: spouse(X, Y) -> spouse(Y, X)"))
    >>> rule_name(kg, URIRef("http://ex/b"), URIRef("https://kgqa.dev/relation/spouse"), URIRef("http://ex/a"))
    'sym'
    """
    from reasoning.rules.derivations import DerivationReader

    record = DerivationReader(kg).record(subject, predicate, obj)
    return record.rule if record is not None else None


class RulesReasoner:
    """The ``rules`` reasoner (see the module docstring)."""

    name = "rules"

    def answer(self, kg, question, *, k: int = 10):
        from reasoning.planner import SparqlPlanner

        result = SparqlPlanner().answer(kg, question, k=k)
        result.method = "rules"
        has_inferred = bool(kg.query(f"ASK {{ GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p ?o }} }}"))
        if not has_inferred:
            result.warnings.append("no inferred facts in the store: run `kgqa rules apply` first")
        for answer in result.answers:
            for step in answer.evidence:
                if step.rule is None or not (step.subject_iri and step.predicate_iri):
                    continue
                obj = URIRef(step.object_iri) if step.object_iri else Literal(step.object)
                step.rule = rule_name(kg, URIRef(step.subject_iri), URIRef(step.predicate_iri), obj) or step.rule
        return result

"""The rule engine: Horn and CONSTRUCT rules, built-in RDFS and OWL RL, proofs.

Apply rules to a store, then ask why a conclusion holds::

    from kg import KnowledgeGraph
    from reasoning.rules import apply_rules, explain
    with KnowledgeGraph.open("kgqa-store") as kg:
        report = apply_rules(kg, "family.rules", rdfs=True)
        print(report.summary())
        print(explain(kg, "Ada Lovelace", "grandparentOf", "Lord Byron").render())

Conclusions live in ``GRAPH <https://kgqa.dev/graph/inferred>`` (never mixed with asserted
facts), one derivation record each (rule + premises) in ``GRAPH <https://kgqa.dev/graph/derivations>``;
see :mod:`reasoning.rules.derivations` for the records and :mod:`reasoning.rules.parser` for the
rule file format.
"""
from reasoning.rules.apply import RulesReport, apply_rules, collect_rules
from reasoning.rules.builtin import OWL_RL_RULES, RDFS_RULES
from reasoning.rules.engine import Closure, RuleLimitError, evaluate
from reasoning.rules.explain import FactNotFoundError, ProofTree, explain
from reasoning.rules.model import Atom, Rule, Var
from reasoning.rules.parser import RuleSyntaxError, load_rules, parse_rules
from reasoning.rules.reasoner import RulesReasoner, rule_name
from reasoning.resolver import register_reasoner

register_reasoner("rules", RulesReasoner)

__all__ = ["apply_rules", "explain", "load_rules", "parse_rules", "evaluate", "collect_rules",
           "RulesReport", "ProofTree", "Closure", "Rule", "Atom", "Var", "RDFS_RULES", "OWL_RL_RULES",
           "RuleSyntaxError", "RuleLimitError", "FactNotFoundError", "RulesReasoner", "rule_name"]

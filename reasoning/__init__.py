"""reasoning: question -> answer. Question understanding, SPARQL planning, rules, GNN, explained answers.

One entry point, :func:`ask`; pluggable reasoners are looked up by name in one registry::

    from kg import KnowledgeGraph
    from reasoning import ask
    with KnowledgeGraph.open("kgqa-store") as kg:
        print(ask(kg, "who directed [Kismet]").to_json())

Models (spaCy, MiniLM) load lazily on first use, so importing this package is cheap.
"""
from reasoning.answers import Answer, AnswerSet, EvidenceStep
from reasoning.api import ask
from reasoning.resolver import Reasoner, get_reasoner, has_reasoner, reasoner_names, register_reasoner

__all__ = ["ask", "Answer", "AnswerSet", "EvidenceStep", "Reasoner", "get_reasoner", "register_reasoner",
           "has_reasoner", "reasoner_names", "Question", "parse_question"]


def __getattr__(name):
    # Question and parse_question pull in the label index; load them only when asked for.
    if name in ("Question", "parse_question"):
        from reasoning import question

        return getattr(question, name)
    raise AttributeError(name)

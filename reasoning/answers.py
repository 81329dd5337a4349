"""What an answer looks like: ranked :class:`Answer` objects with their evidence, in an :class:`AnswerSet`.

Every answer carries the path of facts that supports it (:class:`EvidenceStep`, labels and IRIs),
the source document and sentence of each fact read from text, and the rule of each inferred fact.

>>> step = EvidenceStep("Ada Lovelace", "born in", "London", source={"document": "bio.txt",
...                     "sentence": "Ada was born in London."})
>>> ans = AnswerSet("where was Ada Lovelace born", [Answer("London", "https://kgqa.dev/entity/London", 1.0,
...                 [step])], method="sparql", sparql="SELECT ...")
>>> ans.to_json()["answers"][0]["evidence"][0]["source"]["document"]
'bio.txt'
>>> ans.top
'London'
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvidenceStep:
    """One fact on an answer's evidence path: labels of subject, predicate, object (IRIs kept beside them).

    ``source`` is ``{"document", "sentence"}`` for a fact read from text, None for an imported fact;
    ``rule`` names the rule that inferred the fact (None for asserted facts).
    """

    subject: str
    predicate: str
    object: str
    source: dict | None = None
    rule: str | None = None
    subject_iri: str | None = None
    predicate_iri: str | None = None
    object_iri: str | None = None
    predicted: bool = False

    def to_json(self) -> dict:
        out = {"subject": self.subject, "predicate": self.predicate, "object": self.object,
               "source": dict(self.source) if self.source else None, "rule": self.rule}
        for key in ("subject_iri", "predicate_iri", "object_iri"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.predicted:
            out["predicted"] = True
        return out

    def text(self) -> str:
        """The step as one readable line: ``Ada Lovelace --born in--> London``."""
        return f"{self.subject} --{self.predicate}--> {self.object}"


@dataclass
class Answer:
    """One answer: its label (``yes``/``no`` and digits for yes/no and counting questions), IRI, score, evidence."""

    label: str
    iri: str | None = None
    score: float = 1.0
    evidence: list[EvidenceStep] = field(default_factory=list)
    predicted: bool = False
    #: which parts proposed this answer (``sparql``, ``gnn``, ``examples``, ``rules``) when ``auto`` ranked
    #: every part's evidence together (:mod:`reasoning.ranking`); empty otherwise
    parts: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"label": self.label, "iri": self.iri, "score": round(float(self.score), 6),
               "evidence": [step.to_json() for step in self.evidence]}
        if self.predicted:
            out["predicted"] = True
        if self.parts:
            out["parts"] = list(self.parts)
        return out


@dataclass
class AnswerSet:
    """Answers to one question, best first; an empty ``answers`` list means the graph does not know."""

    question: str
    answers: list[Answer] = field(default_factory=list)
    method: str = "sparql"
    sparql: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def top(self) -> str | None:
        """The best answer's label, or None when the graph does not know."""
        return self.answers[0].label if self.answers else None

    def labels(self) -> list[str]:
        return [a.label for a in self.answers]

    def to_json(self) -> dict:
        """The ``kgqa ask --json`` shape."""
        out = {"question": self.question, "answers": [a.to_json() for a in self.answers],
               "method": self.method, "sparql": self.sparql}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

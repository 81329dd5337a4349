"""Why does the graph hold a fact? A proof tree down to asserted facts and their sources.

>>> from kg import KnowledgeGraph
>>> from reasoning.rules.apply import apply_rules
>>> from reasoning.rules.parser import parse_rules
>>> kg = KnowledgeGraph.open("memory")
>>> kg.update('''PREFIX rel: <https://kgqa.dev/relation/> PREFIX ent: <https://kgqa.dev/entity/>
...   PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
...   INSERT DATA { ent:Ada rel:bornIn ent:London . ent:London rel:locatedIn ent:England .
...                 ent:Ada rdfs:label "Ada" . ent:London rdfs:label "London" . ent:England rdfs:label "England" }''')
>>> _ = apply_rules(kg, parse_rules("country: bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)"))
>>> print(explain(kg, "Ada", "bornInCountry", "England").render())
Ada —bornInCountry→ England  [inferred by rule country]
├── Ada —bornIn→ London  [asserted]
└── London —locatedIn→ England  [asserted]
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from rdflib import Literal, URIRef
from rdflib.term import Identifier

from kg.errors import KGQAError
from kg.facts import Source
from kg.namespaces import RDF, RDFS, REL, relation_iri
from kg.terms import sparql_term
from reasoning.rules.derivations import DerivationReader
from reasoning.rules.parser import DEFAULT_PREFIXES

#: proof trees stop here (a transitive chain can be long); deeper premises are elided
MAX_DEPTH = 25
#: at most this many nodes are expanded in one tree
MAX_NODES = 500


class FactNotFoundError(KGQAError):
    code = "E-FACT-MISSING"


class AmbiguousTermError(KGQAError):
    code = "E-AMBIGUOUS"


@dataclass
class ProofTree:
    """One fact and why it holds: ``kind`` is ``asserted`` (with ``sources``), ``inferred`` (with
    ``rule`` and ``premises``), ``missing`` (a premise no longer in the store: re-apply the rules) or
    ``elided`` (the tree was cut at :data:`MAX_DEPTH` / :data:`MAX_NODES`, or the fact is shown above)."""

    subject: Identifier
    predicate: URIRef
    object: Identifier
    labels: tuple[str, str, str]
    kind: str
    rule: str | None = None
    rule_text: str | None = None
    sources: list[tuple[Source, float]] = field(default_factory=list)
    premises: list["ProofTree"] = field(default_factory=list)

    @property
    def triple(self):
        return (self.subject, self.predicate, self.object)

    def depth(self) -> int:
        return 1 + max((p.depth() for p in self.premises), default=0)

    def asserted_leaves(self) -> list["ProofTree"]:
        """The asserted facts the proof rests on (each once)."""
        out, seen = [], set()

        def walk(t):
            if t.kind == "asserted" and t.triple not in seen:
                seen.add(t.triple)
                out.append(t)
            for p in t.premises:
                walk(p)
        walk(self)
        return out

    def _line(self) -> str:
        s, p, o = self.labels
        head = f"{s} —{p}→ {o}"
        if self.kind == "inferred":
            return f"{head}  [inferred by rule {self.rule}]"
        if self.kind == "asserted":
            if not self.sources:
                return f"{head}  [asserted]"
            shown = []
            for src, conf in self.sources[:3]:
                where = src.document
                if src.sentence:
                    where += f': "{src.sentence}"'
                if conf < 1.0:
                    where += f" ({conf:.2f})"
                shown.append(where)
            more = f" +{len(self.sources) - 3} more" if len(self.sources) > 3 else ""
            return f"{head}  [asserted: {'; '.join(shown)}{more}]"
        if self.kind == "missing":
            return f"{head}  [no longer in the store: run `kgqa rules apply` again]"
        return f"{head}  [...]"

    def render(self) -> str:
        """The tree as indented text, one fact per line."""
        lines = [self._line()]

        def walk(node, prefix):
            for i, p in enumerate(node.premises):
                last = i == len(node.premises) - 1
                lines.append(prefix + ("└── " if last else "├── ") + p._line())
                walk(p, prefix + ("    " if last else "│   "))
        walk(self, "")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict:
        """JSON-ready: subject/predicate/object IRIs (or literal text), labels, kind, rule, sources, premises."""
        return {
            "subject": str(self.subject), "predicate": str(self.predicate), "object": str(self.object),
            "labels": list(self.labels), "kind": self.kind, "rule": self.rule, "rule_text": self.rule_text,
            "sources": [{"document": s.document, "sentence": s.sentence, "confidence": c} for s, c in self.sources],
            "premises": [p.to_dict() for p in self.premises],
        }


# ---------------------------------------------------------------------- resolving user text
def parse_triple_text(text: str) -> tuple[str, str, str]:
    """``'"Marie Curie" bornIn Poland'`` -> three parts (quote parts that contain spaces).

    >>> parse_triple_text('"Marie Curie" bornIn <https://kgqa.dev/entity/Poland>')
    ('Marie Curie', 'bornIn', '<https://kgqa.dev/entity/Poland>')
    """
    try:
        parts = shlex.split(text)
    except ValueError as err:
        raise KGQAError(f"cannot read {text!r} as a triple ({err}); close the quotes",
                        code="E-TRIPLE") from None
    if len(parts) != 3:
        raise KGQAError(f"{text!r} has {len(parts)} parts, a triple has 3: subject, predicate and object; "
                        "quote the parts with spaces, e.g. '\"Marie Curie\" bornIn Warsaw'", code="E-TRIPLE")
    return parts[0], parts[1], parts[2]


def _as_iri(text: str) -> URIRef | None:
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    if text.startswith(("http://", "https://", "urn:")):
        return URIRef(text)
    prefix, sep, local = text.partition(":")
    if sep and prefix in DEFAULT_PREFIXES and " " not in text:
        return URIRef(DEFAULT_PREFIXES[prefix] + local)
    return None


def resolve_node(kg, term) -> Identifier:
    """An entity (or literal) from an rdflib term, an IRI text, or a label or alias."""
    if isinstance(term, Identifier):
        return term
    iri = _as_iri(term)
    if iri is not None:
        return iri
    found = kg.entities_by_label(term)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise AmbiguousTermError(f"\"{term}\" is the label of several entities "
                                 f"({', '.join('<' + f + '>' for f in found[:5])}); give the IRI in <...>")
    return Literal(term)  # not a label: the literal value itself


def resolve_predicate(kg, term) -> URIRef:
    """A relation from an IRI, a prefixed name, a relation label (``born in``) or name (``bornIn``)."""
    if isinstance(term, URIRef):
        return term
    iri = _as_iri(term)
    if iri is not None:
        return iri
    if term in ("a", "type"):
        return RDF.type
    lit = sparql_term(Literal(term))
    rows = list(kg.query(f"SELECT DISTINCT ?r WHERE {{ ?r {sparql_term(RDFS.label)} {lit} "
                         f"FILTER(STRSTARTS(STR(?r), {sparql_term(Literal(str(REL)))})) }} LIMIT 2"))
    if len(rows) == 1:
        return rows[0]["r"]
    return relation_iri(term)


# ---------------------------------------------------------------------- building the tree
def explain(kg, subject, predicate, obj, *, max_depth: int = MAX_DEPTH) -> ProofTree:
    """The proof tree of a fact: asserted (with its sources) or inferred (rule + premise trees).

    ``subject``, ``predicate`` and ``obj`` are rdflib terms or text: an IRI (``<...>`` or
    ``http...``), a prefixed name (``rdf:type``), a label or alias, or for the predicate a relation
    name. Raises :class:`FactNotFoundError` when the fact is neither asserted nor inferred.
    """
    s = resolve_node(kg, subject)
    p = resolve_predicate(kg, predicate)
    o = resolve_node(kg, obj)
    labels: dict = {}
    budget = [MAX_NODES]
    seen: set = set()
    tree = _node(kg, DerivationReader(kg), (s, p, o), labels, max_depth, budget, seen)
    if tree.kind == "missing":
        raise FactNotFoundError(
            f"the graph neither asserts nor infers {_show(s)} {_show(p)} {_show(o)}; check the names "
            "(labels, relation names or <IRIs>), or run `kgqa rules apply` first")
    return tree


def _show(term) -> str:
    return f"<{term}>" if isinstance(term, URIRef) else f'"{term}"'


def _label(kg, term, cache: dict) -> str:
    if term not in cache:
        cache[term] = kg.label(term) if isinstance(term, URIRef) else str(term)
    return cache[term]


def _node(kg, reader, triple, labels, depth, budget, seen) -> ProofTree:
    s, p, o = triple
    tree = ProofTree(s, p, o, (_label(kg, s, labels), _pred_label(kg, p, labels), _label(kg, o, labels)), "elided")
    if depth <= 0 or budget[0] <= 0 or triple in seen:
        return tree
    budget[0] -= 1
    seen.add(triple)
    if bool(kg.query(f"ASK {{ {sparql_term(s)} {sparql_term(p)} {sparql_term(o)} }}")):
        tree.kind = "asserted"
        tree.sources = kg.sources(s, p, o)
        return tree
    record = reader.record(s, p, o)
    if record is None:
        tree.kind = "missing"
        return tree
    tree.kind = "inferred"
    tree.rule, tree.rule_text = record.rule, record.rule_text
    for prem in record.premises:  # in the rule's body order
        tree.premises.append(_node(kg, reader, prem, labels, depth - 1, budget, seen))
    return tree


def _pred_label(kg, p, cache: dict) -> str:
    if p not in cache:
        text = str(p)
        if text.startswith(str(REL)):
            cache[p] = kg.label(p)
        else:
            for prefix, ns in DEFAULT_PREFIXES.items():
                if text.startswith(ns) and prefix != "ent":
                    cache[p] = f"{prefix}:{text[len(ns):]}"
                    break
            else:
                cache[p] = kg.label(p)
    return cache[p]

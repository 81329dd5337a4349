"""Entity linking: label normalisation, name matching, and indexes over the graph and a KB file.

Names are compared after :func:`normalise` (accents folded, case, "the", possessives and
punctuation dropped). :func:`name_match` scores how well a mention fits a set of known names:
exact, acronym, part of a personal/organisation name ("Curie" in "Marie Curie"), or fuzzy
(rapidfuzz). :class:`NameIndex` holds candidate entities from the graph
(:meth:`NameIndex.from_graph`) or from a KB file (:func:`load_kb`).

>>> normalise("The Marie Skłodowska-Curie's")
'marie sklodowska curie'
>>> name_match("Curie", ["Marie Skłodowska-Curie"], "PERSON") >= 0.85
True
>>> name_match("IBM", ["International Business Machines"], "ORG") >= 0.85
True
>>> name_match("Paris", ["Paris Hilton"], "LOC")
0.0
>>> name_match("Copenhagen", ["University of Copenhagen"], "ORG")  # what follows "of" is another entity
0.0
"""
from __future__ import annotations

import csv
import json
import re
import threading
import unicodedata
from functools import lru_cache
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process
from rdflib import URIRef

from kg.errors import KGQAError

_STOP = {"the", "of", "and", "for", "a", "an", "&", "de", "la", "le", "von", "van", "der"}
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "lady", "lord", "saint", "st",
           "king", "queen", "prince", "princess", "president", "general", "captain", "jr", "sr"}
#: token-containment merges ("Curie" -> "Marie Curie") only for these types
_PART_TYPES = {"PERSON", "ORG"}
#: in "University of Copenhagen", "Bank of America", "Universidad de Chile" the words after these
#: name another entity (a place, a field), so a short name made of them only is not a short form
_OF = {"of", "for"}
_OF_NAMES = _OF | {"de", "di", "du", "des", "del", "della", "da", "do", "dos", "das"}


class KBError(KGQAError):
    """A KB file that cannot be read."""

    code = "E-KB"


def normalise(text: str) -> str:
    """Comparable form of a name: ASCII-folded, lower case, no leading "the", no possessive, no punctuation."""
    return _normalise(text or "")


@lru_cache(maxsize=100_000)
def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O").replace("ß", "ss")
    text = text.lower().strip()
    text = re.sub(r"['’]s\b", "", text)
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^the ", "", text)
    return text


def name_tokens(norm: str) -> set[str]:
    """Content tokens of a normalised name (stop words and titles dropped)."""
    return {t for t in norm.split() if t not in _STOP and t not in _TITLES}


def head_tokens(norm: str, mention_type: str | None = None) -> set[str]:
    """Content tokens of a normalised name before its first "of" (persons: "de", "da" ... are part of
    the surname, so only "of"/"for" cut): ``head_tokens("university of copenhagen")`` is ``{'university'}``."""
    cuts = _OF if mention_type == "PERSON" else _OF_NAMES
    words = norm.split()
    for k, w in enumerate(words):
        if k > 0 and w in cuts:
            return name_tokens(" ".join(words[:k]))
    return name_tokens(norm)


def acronym(norm: str) -> str:
    """Initials of the content words: ``acronym("international business machines")`` is ``'ibm'``."""
    return "".join(t[0] for t in norm.split() if t not in _STOP)


def name_match(mention: str, names, mention_type: str, *, fuzzy_threshold: float = 90.0) -> float:
    """How well ``mention`` names the same thing as one of ``names`` (0 = no, 1 = same name).

    Part-of-name matches ("Curie" ~ "Marie Curie") count only for persons and organisations, and
    only when the shorter name shares a word with the longer one's head: "Copenhagen" is not a short
    form of "University of Copenhagen" (see :func:`head_tokens`).
    """
    m = normalise(mention)
    if not m:
        return 0.0
    m_tok = name_tokens(m)
    best = 0.0
    for name in names:
        n = normalise(name)
        if not n:
            continue
        if m == n:
            return 1.0
        if mention_type in _PART_TYPES:
            n_tok = name_tokens(n)
            if m_tok and n_tok and ((m_tok <= n_tok and m_tok & head_tokens(n, mention_type))
                                    or (n_tok <= m_tok and n_tok & head_tokens(m, mention_type))):
                best = max(best, 0.9)
            # "IBM" ~ "International Business Machines"
            if mention.isupper() and len(m) >= 2 and " " not in m and acronym(n) == m and len(n.split()) >= 2:
                best = max(best, 0.9)
            if name.isupper() and len(n) >= 2 and " " not in n and acronym(m) == n and len(m.split()) >= 2:
                best = max(best, 0.9)
        if min(len(m), len(n)) >= 4 and spelling_variants(m, n):
            ratio = fuzz.ratio(m, n)
            if ratio >= fuzzy_threshold:
                best = max(best, ratio / 100.0 * 0.95)
    return best


_NUMBERISH = re.compile(r"^(\d+\w*|[ivxlc]+)$")


def spelling_variants(a: str, b: str) -> bool:
    """Two normalised names that may be one name spelt two ways: no differing number or roman
    numeral ("World War I" / "World War II", "2000 Summer Olympics" / "2016 ..."), and, word for
    word, no whole word swapped for another ("Western Hemisphere" / "Eastern Hemisphere").

    >>> spelling_variants("marie curie", "marie curi"), spelling_variants("world war i", "world war ii")
    (True, False)
    """
    wa, wb = a.split(), b.split()
    if {w for w in wa if _NUMBERISH.match(w)} != {w for w in wb if _NUMBERISH.match(w)}:
        return False
    if len(wa) == len(wb):
        return all(x == y or (x[0] == y[0] and fuzz.ratio(x, y) >= 75) for x, y in zip(wa, wb))
    return True


def types_compatible(a: str | None, b: str | None) -> bool:
    """Types that may name the same entity (MISC and unknown fit anything)."""
    return a is None or b is None or a == b or "MISC" in (a, b)


@dataclass
class Candidate:
    """An entity a mention may link to."""

    iri: str
    label: str
    aliases: list[str] = field(default_factory=list)
    type: str | None = None
    description: str | None = None
    same_as: list[str] = field(default_factory=list)


class NameIndex:
    """Candidates looked up by normalised name, by name token and by fuzzy match.

    >>> idx = NameIndex()
    >>> idx.add(Candidate("https://kgqa.dev/entity/Marie_Curie", "Marie Curie", ["Curie"], "PERSON"))
    >>> [c.label for c in idx.lookup("Marie Skłodowska-Curie", "PERSON")]
    ['Marie Curie']
    """

    def __init__(self):
        self.candidates: dict[str, Candidate] = {}
        self.by_name: dict[str, set[str]] = {}
        self.by_token: dict[str, set[str]] = {}
        self._names: list[str] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.candidates)

    def add(self, cand: Candidate) -> None:
        with self._lock:
            old = self.candidates.get(cand.iri)
            if old is not None:
                for a in [cand.label, *cand.aliases]:
                    if a not in old.aliases and a != old.label:
                        old.aliases.append(a)
                old.type = old.type or cand.type
                cand = old
            else:
                self.candidates[cand.iri] = cand
            for name in [cand.label, *cand.aliases]:
                n = normalise(name)
                if not n:
                    continue
                if n not in self.by_name:
                    self._names = None
                self.by_name.setdefault(n, set()).add(cand.iri)
                for t in name_tokens(n):
                    self.by_token.setdefault(t, set()).add(cand.iri)

    def lookup(self, name: str, type: str | None = None, *, fuzzy_threshold: float = 92.0,
               max_token_candidates: int = 50) -> list[Candidate]:
        """Candidates whose names match ``name`` (exact, part of name, or fuzzy), type-compatible ones only."""
        n = normalise(name)
        if not n:
            return []
        found = set(self.by_name.get(n, ()))
        if type in _PART_TYPES or type is None:
            toks = name_tokens(n)
            # a shared rare token makes a candidate; name_match below decides
            for t in toks:
                hits = self.by_token.get(t, ())
                if len(hits) <= max_token_candidates:
                    found |= set(hits)
        if not found and len(n) >= 4:
            if self._names is None:
                self._names = list(self.by_name)
            hit = process.extractOne(n, self._names, scorer=fuzz.ratio, score_cutoff=fuzzy_threshold)
            if hit:
                found |= self.by_name[hit[0]]
        out = []
        for iri in found:
            c = self.candidates[iri]
            if not types_compatible(type, c.type):
                continue
            if name_match(name, [c.label, *c.aliases], type or c.type or "MISC") > 0:
                out.append(c)
        return out

    # ------------------------------------------------------------------ sources
    @classmethod
    def from_graph(cls, kg) -> "NameIndex":
        """Every ``kgqa:Entity`` of a graph with its rdfs:label, skos:altLabel and kgqa type."""
        from kg.namespaces import KGQA, RDF, RDFS, SKOS, TYPE
        from kg.terms import sparql_term

        from nlp.schema import TYPE_CLASS

        by_class = {str(TYPE[v]): k for k, v in TYPE_CLASS.items()}
        idx = cls()
        q = f"""SELECT ?e ?l ?a ?t WHERE {{ ?e {sparql_term(RDF.type)} {sparql_term(KGQA.Entity)} ;
                 {sparql_term(RDFS.label)} ?l .
               OPTIONAL {{ ?e {sparql_term(SKOS.altLabel)} ?a }}
               OPTIONAL {{ ?e {sparql_term(RDF.type)} ?t FILTER(STRSTARTS(STR(?t), "{TYPE}")) }} }}"""
        rows: dict[str, Candidate] = {}
        for r in kg.query(q):
            iri = str(r["e"])
            c = rows.get(iri)
            if c is None:
                c = rows[iri] = Candidate(iri, str(r["l"]))
            if r["a"] is not None and str(r["a"]) not in c.aliases:
                c.aliases.append(str(r["a"]))
            if r["t"] is not None:
                c.type = by_class.get(str(r["t"]), c.type)
        for c in rows.values():
            idx.add(c)
        return idx


# one index per open graph; refreshed when the graph shrinks (documents deleted)
_graph_indexes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _document_count(kg) -> int:
    from kg.namespaces import KGQA, META_GRAPH
    from kg.terms import sparql_term

    rows = list(kg.query(f"SELECT (COUNT(?d) AS ?n) WHERE {{ GRAPH {sparql_term(META_GRAPH)} "
                         f"{{ ?d a {sparql_term(KGQA.Document)} }} }}"))
    return int(rows[0]["n"].toPython()) if rows and rows[0]["n"] is not None else 0


def graph_index(kg, *, max_age: float = 30.0) -> NameIndex:
    """The cached :class:`NameIndex` of ``kg`` (built on first use).

    The pipeline adds every entity it extracts to this index itself, so building a corpus into one
    graph does not re-read the store for each document. The index is re-read from the store when the
    number of documents changed and it is older than ``max_age`` seconds (others wrote or deleted).
    """
    import time

    now = time.monotonic()
    entry = _graph_indexes.get(kg)
    if entry is not None and now - entry[2] > max_age:
        if _document_count(kg) == entry[1]:
            entry[2] = now
        else:
            entry = None
    if entry is None:
        entry = [NameIndex.from_graph(kg), _document_count(kg), now]
        _graph_indexes[kg] = entry
    return entry[0]


def external_iri(kb_id: str) -> URIRef:
    """The IRI for a KB id: kept when it is an IRI, Wikidata for ``Q123``, ``urn:kb:`` otherwise."""
    kb_id = kb_id.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*:", kb_id, re.I) and " " not in kb_id:
        return URIRef(kb_id)
    if re.fullmatch(r"Q\d+", kb_id):
        return URIRef("http://www.wikidata.org/entity/" + kb_id)
    from urllib.parse import quote

    return URIRef("urn:kb:" + quote(kb_id, safe=""))


def load_kb(path: str | Path) -> NameIndex:
    """Read a KB file of known entities into a :class:`NameIndex`.

    JSONL: one object a line with ``id``, ``label``, optional ``aliases`` (list or ``|``-separated),
    ``description``, ``type`` (a schema type such as PERSON/ORG/LOC or a spaCy label such as GPE).
    TSV (``.tsv``/``.tab``): columns ``id  label  aliases  description  type`` (aliases ``|``-separated;
    a header row starting with ``id`` is skipped). Bad lines are skipped; a file without one good
    line raises :class:`KBError`.
    """
    from nlp.schema import ENTITY_TYPES, SPACY_TO_TYPE

    path = Path(path)
    if not path.is_file():
        raise KBError(f"KB file {str(path)!r} not found; pass a JSONL or TSV file of id, label, aliases, description, type")
    idx = NameIndex()
    tsv = path.suffix.lower() in (".tsv", ".tab")

    def norm_type(t):
        t = (t or "").strip()
        return t.upper() if t.upper() in ENTITY_TYPES else SPACY_TO_TYPE.get(t.upper(), None)

    def split_aliases(a):
        if isinstance(a, list):
            return [str(x) for x in a if str(x).strip()]
        return [x.strip() for x in str(a or "").split("|") if x.strip()]

    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t") if tsv else fh
        for line in rows:
            try:
                if tsv:
                    if not line or line[0].strip().lower() == "id":
                        continue
                    line = list(line) + [""] * 5
                    kb_id, label, aliases, desc, typ = line[:5]
                else:
                    if not line.strip():
                        continue
                    rec = json.loads(line)
                    kb_id, label = str(rec.get("id", "")), str(rec.get("label", ""))
                    aliases, desc, typ = rec.get("aliases", []), rec.get("description"), rec.get("type")
                if not kb_id.strip() or not label.strip():
                    continue
                iri = str(external_iri(kb_id))
                idx.add(Candidate(iri, label.strip(), split_aliases(aliases), norm_type(typ),
                                  (desc or None) and str(desc), [iri]))
            except (ValueError, AttributeError, TypeError):
                continue
    if not len(idx):
        raise KBError(f"{path}: no usable entries (each needs an id and a label)")
    return idx


__all__ = ["normalise", "name_tokens", "head_tokens", "name_match", "spelling_variants", "types_compatible", "Candidate", "NameIndex",
           "graph_index", "load_kb", "external_iri", "KBError"]

"""Reading a question beyond its words' closeness to a relation: the answer type it asks for, the
direction it asks a relation in, symmetric relations, and which of a path's answers to trust first.

* **Answer types.** "which country", "what year", "how many people", "who" and "when" name the type of
  the answer. The word is resolved against the graph itself (:func:`asked_type`): a year or a date
  reads as literals that look like dates (``xsd:date``, ``xsd:gYear``, ``1815``, ``1815-12-10``); a
  class of the graph whose label is the word (``people`` -> ``Person``) or is close to it in MiniLM
  space (``company`` -> ``Organization``); a relation whose label's head noun is the word (``country``
  -> the objects of ``country``, ``award`` -> the objects of ``award received``: the relation's
  observed range). "What type(s) / kind(s) / sort(s)" asks for a classification: the range of the
  relations whose label's head is itself a sort noun (``has genre``); a question asking for words
  ("what words describe X", "in a few words") asks for the range of the relations whose objects are
  nearly all common words, written in lower case (keywords, tags). A word the graph has no type for
  constrains nothing.
  :func:`retype` moves the planner's paths whose answers have the wrong type down, and lets the
  extensions of a wrong-typed path by one hop to the right type inherit its score: "In which country
  was X born?" reads place of birth -> country. :func:`keep_typed` drops the answers of a path that
  have the wrong type when others have the right one ("who received the award" lists people, not the
  university the extraction also tied to it).
* **Direction.** The question's voice says who did what: of a relation labelled ``V by`` the agent
  is the object, of a relation labelled with a verb the subject, so ``who was influenced by X`` reads
  ``influenced by`` backwards from X and ``influence`` forwards, ``who influenced X`` the other way
  round (:func:`asked_direction`, :func:`direction_penalty`).
* **Symmetric relations** (declared ``owl:SymmetricProperty``, or nearly all of whose facts are stated
  both ways in the graph) are read both ways: ``Y spouse X`` answers "who is X's spouse" as well as
  ``X spouse Y`` (:func:`symmetric_variants`).
* **Inverse relations** (two relations most of whose facts each states the other's reversed, as text
  read by one model per direction gives ``participant`` and ``participant in``) are read together:
  "who participated in X" finds ``X participant Y`` as well as ``Y participant in X``, and an answer
  both state is better supported (:func:`inverse_relations`, :func:`equivalent_paths`).
* **Order.** Among equally supported answers, those the topic also reaches by another relation come
  last (:func:`reached_otherwise`): a date the extraction gave both as a birth and as a death date
  is the weaker answer to "when did X die". Before that, the answer the text states most surely comes
  first (:func:`source_confidence`): of "X country England" (confidence 0.6) and "X country United
  Kingdom" (0.9) the second, where the order was alphabetical before.

>>> from kg import KnowledgeGraph
>>> from reasoning.question import parse_question
>>> kg = KnowledgeGraph.open("memory")
>>> _ = kg.import_file("tests/data/qa_films.txt", "pipe")
>>> asked_type(parse_question(kg, "which year was [Night Harbour] released", use_parser=False)).kind
'date'
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import pyoxigraph as ox

from kg.namespaces import KGQA, OWL, RDF, XSD

#: words naming a date or a year as the answer's type
DATE_WORDS = {"year", "years", "date", "dates", "day", "days", "month", "months", "decade", "century", "when"}
#: a class this close (MiniLM cosine) to the type word, and this much closer than any other class, is its type
CLASS_SIMILARITY = 0.5
CLASS_MARGIN = 0.1
#: score taken from a path whose answers have the wrong type (when some candidate path has the right one)
TYPE_PENALTY = 0.3
#: what a one-hop extension to the right type costs against the wrong-typed path it extends
EXTEND_COST = 0.1
#: paths (best first) whose answers' types are looked at
TYPED_TOP = 20
#: score taken from a path that reads "... by X" the wrong way round
DIRECTION_PENALTY = 0.2
#: score taken from a path that goes there and back over the relation a constraint already ties the answer by
REDUNDANT_PENALTY = 0.2
#: share of a relation's facts stated both ways that makes it symmetric (with at least SYMMETRIC_PAIRS pairs)
SYMMETRIC_SHARE = 0.8
SYMMETRIC_PAIRS = 2
#: two relations are inverses when at least this share of EACH one's facts the other states reversed
#: (and at least INVERSE_PAIRS facts): one-way overlaps ("located in" holds for far more pairs than
#: "contains" states) and relations that merely co-occur on a pair stay apart
INVERSE_SHARE = 0.5
INVERSE_PAIRS = 3

_DATE_TYPES = {str(XSD.date), str(XSD.gYear), str(XSD.gYearMonth), str(XSD.dateTime)}
_DATE_TEXT = re.compile(r"^-?\d{3,4}(-\d{2}(-\d{2})?)?$")
#: words after "which"/"what" that are not a type ("what is", "which of", "what else")
_NOT_TYPE = {"is", "are", "was", "were", "be", "been", "did", "does", "do", "has", "have", "had", "can", "could",
             "will", "would", "should", "of", "else", "kind", "kinds", "sort", "sorts", "type", "types", "other",
             "the", "a", "an", "one", "ones", "to", "in", "on", "at", "by", "for", "from", "with", "about", "s"}
_PREPOSITIONS = {"in", "on", "at", "of", "from", "to", "for", "with", "about", "into", "by", "as"}


@dataclass(frozen=True)
class AnswerType:
    """The type a question asks its answer to have.

    ``kind`` is ``date`` (literals that read as dates), ``class`` (nodes typed with one of ``iris``) or
    ``range`` (nodes that are the object of one of the relations ``iris``). ``strict`` types were named
    by a word of the question ("which country"); the others come from the wh-word alone ("who" asks for
    a person) and only sort out a path's answers, never the path.
    """

    word: str
    kind: str
    iris: frozenset = frozenset()
    strict: bool = True

    def matches(self, index, node) -> bool | None:
        """Whether ``node`` has this type; None when the graph cannot tell (an entity with no type)."""
        if self.kind == "date":
            return is_date(index, node)
        if self.kind == "class":
            if isinstance(node, ox.Literal):
                return False
            types = index.types.get(node)
            return bool(types & self.iris) if types else None
        return node in _range_nodes(index, self.iris)


def is_date(index, node) -> bool:
    """Whether ``node`` is a literal that reads as a year or a date."""
    if not isinstance(node, ox.Literal):
        return False
    if node.datatype is not None and node.datatype.value in _DATE_TYPES:
        return True
    return bool(_DATE_TEXT.match(node.value.strip()))


def _range_nodes(index, relations: frozenset) -> set:
    cache = index.caches.setdefault("range_nodes", {})
    found = cache.get(relations)
    if found is None:
        both = relations & symmetric_relations(index)  # a spouse's spouse is a spouse too
        found = {o for s, edges in index.out.items() for p, o in edges if p in relations}
        found |= {s for s, edges in index.out.items() for p, _ in edges if p in both}
        cache[relations] = found
    return found


# ------------------------------------------------------------------------------------ the asked type
def type_word(question) -> tuple[str, bool] | None:
    """The word that names the answer's type and whether the question named it (``strict``), or None.

    >>> from reasoning.question import Question
    >>> type_word(Question("In which country was X born?", "In which country was X born?"))
    ('country', True)
    >>> type_word(Question("Who founded X?", "Who founded X?", wh="who"))
    ('person', False)
    """
    lower = question.clean.casefold()
    spans = [(m.start, m.end) for m in question.mentions if m.nodes]
    pattern = (r"^(?:how many|how much|number of|count)\s+(?:of\s+)?(?:the\s+)?([a-z]+)" if question.kind == "count"
               else r"\b(?:which|what)\s+([a-z]+)")
    for match in re.finditer(pattern, lower):
        word = match.group(1)
        if word in _NOT_TYPE or any(a <= match.start(1) < b for a, b in spans):
            continue
        return word, True
    if question.kind == "count":
        return None
    if question.wh == "when":
        return "date", True
    if question.wh in ("who", "whom"):
        return "person", False
    return None


def asked_type(question) -> AnswerType | None:
    """The :class:`AnswerType` the question asks for, resolved against its graph; None when it names
    none the graph has (see the module docstring for the order: dates, classes, relation ranges)."""
    index = question.index
    if index is None:
        return None
    sort = _asked_sort(question)
    if sort is not None:
        return sort
    if _asks_for_words(question):
        relations = frozenset(word_relations(index))
        if relations:
            return AnswerType("word", "range", relations)
    role = _asked_role(question)
    if role is not None:
        return role
    found = type_word(question)
    if found is None:
        return None
    word, strict = found
    lemma = _lemma_of(question, word)
    if word in DATE_WORDS or lemma in DATE_WORDS:
        return AnswerType(lemma, "date", strict=strict)
    forms = {word, lemma, _singular(word)}
    classes = _class_by_label(index, forms)
    if classes:
        return AnswerType(lemma, "class", frozenset(classes), strict)
    relations = _relations_naming(index, forms)
    if relations:
        return AnswerType(lemma, "range", relations, strict)
    near = _class_by_similarity(index, lemma)
    if near:
        return AnswerType(lemma, "class", frozenset({near}), strict)
    return None


#: English nouns that name a kind of thing ("what types are the films", "what kind of music"): asked for,
#: they ask for a classification, which a graph holds as a relation whose label's head is such a noun
SORT_NOUNS = {"type", "kind", "sort", "category", "class", "genre", "variety", "species"}
_SORT_WORD = re.compile(r"\b(?:which|what)\s+(types?|kinds?|sorts?|categor(?:y|ies)|class(?:es)?)\b")


#: nouns that ask for words themselves ("what words describe X", "describe X in a few words", "what terms")
_WORD_NOUN = re.compile(r"\b(?:(?:key)?words?|terms)\b")


def _asks_for_words(question) -> bool:
    """Whether the question asks for words (outside the topic's name): answers that are common words,
    written in lower case, rather than names (see :meth:`AnswerType.matches`)."""
    lower = question.clean.casefold()
    spans = [(m.start, m.end) for m in question.mentions if m.nodes]
    return any(not any(a <= w.start() < b for a, b in spans) for w in _WORD_NOUN.finditer(lower))


#: share of a relation's objects whose labels must be common words for it to hold words (keywords, tags)
WORD_SHARE = 0.8


def word_relations(index) -> set[str]:
    """Relations whose objects are nearly all common words (:func:`is_lexical`), such as keywords."""
    cached = index.caches.get("word_relations")
    if cached is None:
        counts: dict = {}
        for edges in index.out.values():
            for p, o in edges:
                label = o.value if isinstance(o, ox.Literal) else index.label(o)
                n, words = counts.get(p, (0, 0))
                counts[p] = (n + 1, words + bool(label and is_lexical(label)))
        cached = {p for p, (n, words) in counts.items() if n >= 2 and words >= WORD_SHARE * n}
        index.caches["word_relations"] = cached
    return cached


def is_lexical(label: str) -> bool:
    """A label that reads as common words, not a name, a number or a date: letters, none upper case.

    >>> is_lexical("martial arts"), is_lexical("Gérard Depardieu"), is_lexical("Comedy"), is_lexical("1998")
    (True, False, False, False)
    """
    return any(c.isalpha() for c in label) and label == label.lower() and not _DATE_TEXT.match(label.strip())


def _asked_sort(question) -> AnswerType | None:
    """"What type(s)/kind(s)/sort(s) ..." asks for a classification: the range of the graph's relations
    whose label's head is a sort noun (``has genre``, ``category``); None when the question asks no such
    thing or the graph holds no such relation."""
    match = _SORT_WORD.search(question.clean.casefold())
    if match is None:
        return None
    relations = frozenset(sort_relations(question.index))
    if not relations:
        return None
    return AnswerType(_sort_noun(match.group(1)), "range", relations)


def _sort_noun(word: str) -> str | None:
    """``word`` as a :data:`SORT_NOUNS` noun in the singular ("classes" -> "class"), or None."""
    for singular in (word, _singular(word), word[:-2] if word.endswith("es") else word):
        if singular in SORT_NOUNS:
            return singular
    return None


def sort_relations(index) -> set[str]:
    """Relations whose label's head noun names a kind of thing (:data:`SORT_NOUNS`): ``has genre``,
    ``genre``, ``product category``."""
    cached = index.caches.get("sort_relations")
    if cached is None:
        cached = set()
        for iri, info in index.relations.items():
            words = [w for w in info.label.lower().split() if w not in ("has", "have", "had", "is")]
            if "of" in words:
                words = words[:words.index("of")]
            if words and _sort_noun(words[-1]):
                cached.add(iri)
        index.caches["sort_relations"] = cached
    return cached


#: "who is (listed as) the screenwriter of ...": the role the answer plays
_WHO_ROLE = re.compile(r"\bwho (?:is|was|are|were)(?: (?:listed|credited|named) as)?(?: the| a| an)? ([a-z-]+) (?:of|for)\b")


def _asked_role(question) -> AnswerType | None:
    """"Who is the N of ..." names the answer's role: the range of the relations whose head or agent noun
    N is (or ends in: a "screenwriter" is a "writer"); None when the graph has no such relation."""
    match = _WHO_ROLE.search(question.clean.casefold())
    if match is None:
        return None
    word = match.group(1)
    forms = {word, _singular(word)}
    relations = _relations_naming(question.index, forms)
    return AnswerType(word, "range", relations) if relations else None


def _relations_naming(index, forms: set[str]) -> frozenset:
    """The relations whose label's head noun is one of ``forms``; failing those, the ones named by role
    (:func:`_named_by_role`)."""
    return frozenset(p for p, head in _relation_heads(index).items() if head in forms) or \
        _named_by_role(index, forms)


def _named_by_role(index, forms: set[str]) -> frozenset:
    """Relations whose agent noun (``directed by`` -> director) is one of ``forms`` or the end of one (a
    compound: "screenwriter" ends in "writer", "co-director" in "director"), or whose head noun ends one."""
    heads = {**_relation_heads(index), **_agent_nouns(index)}

    def names(head: str) -> bool:
        return head in forms or (len(head) >= 4 and any(f.endswith(head) and len(f) > len(head) for f in forms))

    return frozenset(p for p, head in heads.items() if names(head))


def _agent_nouns(index) -> dict[str, str]:
    """The doer of each relation labelled as a passive verb: ``directed by`` -> ``director``."""
    cached = index.caches.get("agent_nouns")
    if cached is None:
        from reasoning.paraphrases import agent_noun, base_form

        cached = {}
        for iri, info in index.relations.items():
            words = info.label.lower().split()
            if len(words) == 2 and words[1] == "by" and re.search(r"(ed|en)$", words[0]):
                cached[iri] = agent_noun(base_form(words[0]))
        index.caches["agent_nouns"] = cached
    return cached


def _lemma_of(question, word: str) -> str:
    lemma = next((lemma for text, lemma in question.words if text == word), None)
    if lemma is None:
        from reasoning.planner import _lemma

        lemma = _lemma(word)
    return "person" if lemma == "people" else lemma  # English's one plural that no lemmatizer maps


def _singular(word: str) -> str:
    """A regular English plural's singular (``countries`` -> ``country``), for when no lemmatizer ran."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _class_by_label(index, words: set[str]) -> list[str]:
    return [iri for iri, label in index.class_labels.items() if label.casefold() in words]


def _class_by_similarity(index, word: str) -> str | None:
    """The class whose label is close to ``word`` in MiniLM space, clearly closer than any other."""
    if not index.class_labels:
        return None
    from reasoning.question import Encoder

    iris = sorted(index.class_labels)
    cache = index.caches.setdefault("class_vectors", {})
    if "rows" not in cache:
        cache["rows"] = Encoder.get().encode([index.class_labels[i].casefold() for i in iris])
    sims = cache["rows"] @ Encoder.get().encode([word])[0]
    order = sims.argsort()[::-1]
    best = float(sims[order[0]])
    second = float(sims[order[1]]) if len(order) > 1 else -1.0
    if best >= CLASS_SIMILARITY and best - second >= CLASS_MARGIN:
        return iris[int(order[0])]
    return None


def _relation_heads(index) -> dict[str, str]:
    """The head noun of each relation whose label is a noun phrase: ``place of birth`` -> ``place``,
    ``award received`` -> ``award``, ``country`` -> ``country`` (verbal and prepositional labels have none)."""
    cached = index.caches.get("relation_heads")
    if cached is None:
        cached = {}
        for iri, info in index.relations.items():
            words = info.label.lower().split()
            if not words or words[-1] in _PREPOSITIONS or words[0] in _PREPOSITIONS or \
                    words[0] in ("has", "have", "had", "is", "was", "contains"):
                continue
            if re.search(r"(ed|en)$", words[0]) and len(words) > 1 and words[1] in _PREPOSITIONS:
                continue  # "located in ...", "born in"
            if "of" in words:
                head = words[words.index("of") - 1] if words.index("of") else ""
            elif len(words) >= 2 and re.search(r"(ed|en)$", words[-1]):
                head = words[-2]  # "award received"
            else:
                head = words[-1]
            if head:
                cached[iri] = head
        index.caches["relation_heads"] = cached
    return cached


# ------------------------------------------------------------------------------------ typed paths
#: a path's type is judged on the nodes it reaches with frontiers of at most this many (a sample of a hub's)
FIT_CAP = 500


def path_answers(index, topic, path, *, cap: int = FIT_CAP) -> set:
    from reasoning.planner import _reach

    return {n for n in _reach(index, topic, path, cap=cap) if n != topic}


def path_fit(index, topic, path, asked: AnswerType, *, answers=None) -> float | None:
    """Share of the path's answers that have the asked type (None: none of them is known either way)."""
    answers = path_answers(index, topic, path) if answers is None else answers
    known = [m for m in (asked.matches(index, n) for n in answers) if m is not None]
    if not known:
        return None
    return sum(known) / len(known)


def retype(index, topic, ranked: list, asked: AnswerType | None) -> list:
    """The planner's ranked :class:`~reasoning.planner.PathScore` list with the answer type read in.

    A path whose answers mostly have the wrong type loses :data:`TYPE_PENALTY`; a one-hop extension of
    it to the right type scores at least the wrong path's score less :data:`EXTEND_COST` (the question
    asked for that relation, then one hop more to reach its type). Nothing changes when no path among
    the first :data:`TYPED_TOP` has the right type, or the type came from the wh-word alone.
    """
    if asked is None or not asked.strict or not ranked:
        return ranked
    fits = {ps.path: path_fit(index, topic, ps.path, asked) for ps in ranked[:TYPED_TOP]}
    if not any(f is not None and f >= 0.5 for f in fits.values()):
        return ranked
    by_path = {ps.path: ps for ps in ranked}
    new_score = {}
    for ps in ranked:
        f = fits.get(ps.path)
        new_score[ps.path] = ps.score - (TYPE_PENALTY if f is not None and f < 0.5 else 0.0)
    for ps in ranked[:TYPED_TOP]:
        f = fits[ps.path]
        if f is None or f >= 0.5:
            continue
        for ext, other in by_path.items():
            if len(ext) == len(ps.path) + 1 and ext[:-1] == ps.path:
                g = fits.get(ext)
                if g is None:
                    g = fits[ext] = path_fit(index, topic, ext, asked)
                if g is not None and g >= 0.5:
                    new_score[ext] = max(new_score[ext], ps.score - EXTEND_COST)
    return _rescored(ranked, new_score)


def _rescored(ranked: list, new_score: dict) -> list:
    out = []
    for ps in ranked:
        delta = new_score[ps.path] - ps.score
        out.append(dataclasses.replace(ps, score=ps.score + delta, base=ps.base + delta) if delta else ps)
    out.sort(key=lambda ps: (-ps.score, len(ps.path)))
    return out


def keep_typed(index, nodes: list, asked: AnswerType | None) -> list:
    """``nodes`` without those of the wrong type, when some have the right one (else all of them)."""
    if asked is None or not nodes:
        return nodes
    marks = [asked.matches(index, n) for n in nodes]
    if not any(m is True for m in marks):
        return nodes
    return [n for n, m in zip(nodes, marks) if m is not False]


# ------------------------------------------------------------------------------------ direction
def asked_direction(label: str, masked: str) -> bool | None:
    """Whether the question (topic masked as ``X``) asks the relation ``label`` forwards from X (True),
    backwards (False), or does not say (None).

    Voice decides it, with the label's own verb: of ``V by`` (``influenced by``) the agent is the
    object, of a verb label (``influence``, ``work with``) the subject.

    >>> asked_direction("influenced by", "who was influenced by X"), asked_direction("influenced by", "who influenced X")
    (False, True)
    >>> asked_direction("influence", "who influenced X"), asked_direction("influence", "whom did X influence")
    (False, True)
    >>> asked_direction("work with", "who worked with X"), asked_direction("spouse", "who is the spouse of X")
    (False, None)
    >>> asked_direction("starred actors", "which films were starred by X")  # a noun phrase: no voice
    """
    words = label.lower().split()
    if not words or not masked:
        return None
    from reasoning.paraphrases import base_form

    passive = len(words) >= 2 and words[-1] == "by"
    verbal = len(words) == 1 or (len(words) == 2 and words[1] in _PREPOSITIONS)  # "influence", "work with"
    if not (passive or verbal) or words[0] in ("has", "have", "had", "is", "was", "be"):
        return None  # a noun phrase ("starred actors", "place of birth"): its voice says nothing
    verb = " ".join(words[:-1]) if passive else words[0]
    if " " in verb:
        return None
    stem = _stem(base_form(verb) if passive else verb)
    if len(stem) < 3:
        return None
    rest = "" if passive else "".join(rf"\s+{re.escape(w)}" for w in words[1:])
    word = rf"\b{re.escape(stem)}\w*"
    agent_x = re.search(rf"{word} by X\b", masked) or re.search(rf"\b(?:did|does|do|has|have|had) X {word}", masked)
    if passive:
        if agent_x:
            return False  # "what was directed by X", "what did X direct": X directed it
        if re.search(rf"{word}\s+(?:the\s+)?X\b", masked):
            return True  # "who directed X": X was directed by the answer
        return None
    if re.search(rf"{word} by X\b", masked) or re.search(rf"\b(?:did|does|do|has|have|had) X {word}{rest}", masked):
        return True  # "who was influenced by X", "whom did X influence": X did it
    if re.search(rf"{word}{rest}\s+(?:the\s+)?X\b", masked):
        return False  # "who influenced X", "who worked with X": the answer did it to X
    return None


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("e") else word


def direction_penalty(index, question, ranked: list) -> list:
    """The ranked paths whose first hop reads its relation the other way round than the question's
    voice (:func:`asked_direction`) lose :data:`DIRECTION_PENALTY`."""
    masked = question.masked or ""
    if "X" not in masked or not ranked:
        return ranked
    wanted: dict = {}
    new_score = {}
    for ps in ranked:
        first = ps.path[0]
        if first.predicate not in wanted:
            info = index.relations.get(first.predicate)
            wanted[first.predicate] = asked_direction(info.label, masked) if info else None
        want = wanted[first.predicate]
        wrong = want is not None and first.forward != want
        new_score[ps.path] = ps.score - (DIRECTION_PENALTY if wrong else 0.0)
    return _rescored(ranked, new_score)


# ------------------------------------------------------------------------------------ constraints
def constraint_penalty(ranked: list, constraints_of: dict) -> list:
    """The ranked paths with those that go there and back over a relation one of their constraints ties
    the answer by moved down: "who was born in X and founded Y" is the people born in X whom Y was
    founded by, not the co-founders of what people born in X founded (the constraint already says
    the answer founded Y; the detour through another founder says nothing more)."""
    if not constraints_of:
        return ranked
    new_score = {}
    for ps in ranked:
        tied = {step.predicate for step, _ in constraints_of.get(ps.path, ())}
        detour = any(a.predicate == b.predicate and a.forward != b.forward and a.predicate in tied
                     for a, b in zip(ps.path, ps.path[1:]))
        new_score[ps.path] = ps.score - (REDUNDANT_PENALTY if detour else 0.0)
    return _rescored(ranked, new_score)


# ------------------------------------------------------------------------------------ symmetric relations
def symmetric_relations(index) -> set[str]:
    """Relations read both ways: declared ``owl:SymmetricProperty``, or stated both ways for nearly all of
    their facts (at least :data:`SYMMETRIC_PAIRS` pairs)."""
    cached = index.caches.get("symmetric")
    if cached is None:
        declared = str(OWL.SymmetricProperty)
        cached = {p for p in index.relations if declared in index.types.get(ox.NamedNode(p), ())}
        facts: dict = {}
        for s, edges in index.out.items():
            for p, o in edges:
                facts.setdefault(p, set()).add((s, o))
        for p, pairs in facts.items():
            both = sum(1 for s, o in pairs if (o, s) in pairs and s != o)
            if both >= SYMMETRIC_PAIRS and both >= SYMMETRIC_SHARE * len(pairs):
                cached.add(p)
        index.caches["symmetric"] = cached
    return cached


def symmetric_variants(index, path) -> list[tuple]:
    """``path`` and the paths with its symmetric hops turned round (at most 8, ``path`` first)."""
    from reasoning.paraphrases import Step

    symmetric = symmetric_relations(index)
    variants = [()]
    for step in path:
        turns = [step, Step(step.predicate, not step.forward)] if step.predicate in symmetric else [step]
        variants = [v + (t,) for v in variants for t in turns][:8]
    return variants


def inverse_relations(index) -> dict[str, set[str]]:
    """Each relation's inverses: the relations that state at least :data:`INVERSE_SHARE` of its facts
    reversed, and it theirs (at least :data:`INVERSE_PAIRS` of them). A declared ``owl:inverseOf`` counts
    once the rule engine has stated its conclusions (``kgqa rules``: every fact then holds both ways).

    >>> from kg import KnowledgeGraph
    >>> from reasoning.question import graph_index
    >>> kg = KnowledgeGraph.open("memory")
    >>> _ = kg.import_file("tests/data/qa_films.txt", "pipe")
    >>> inverse_relations(graph_index(kg))  # a film graph states each relation one way only
    {}
    """
    cached = index.caches.get("inverses")
    if cached is None:
        cached = {}
        size: dict = {}
        by_pair: dict = {}
        for s, edges in index.out.items():
            for p, o in edges:
                size[p] = size.get(p, 0) + 1
                by_pair.setdefault((s, o), set()).add(p)
        shared: dict = {}
        for (s, o), preds in by_pair.items():
            for q in by_pair.get((o, s), ()):
                for p in preds:
                    if p != q:
                        shared[(p, q)] = shared.get((p, q), 0) + 1
        for (p, q), n in shared.items():
            if p < q and n >= INVERSE_PAIRS and n >= INVERSE_SHARE * size[p] and n >= INVERSE_SHARE * size[q]:
                cached.setdefault(p, set()).add(q)
                cached.setdefault(q, set()).add(p)
        index.caches["inverses"] = cached
    return cached


def equivalent_paths(index, path) -> list[tuple]:
    """``path`` and the paths that say the same (at most 8, ``path`` first): its symmetric hops turned round
    (:func:`symmetric_variants`) and its hops over a relation with an inverse read over the inverse the
    other way round (``X participant ?y`` and ``?y participant in X``)."""
    from reasoning.paraphrases import Step

    inverses = inverse_relations(index)
    variants = symmetric_variants(index, path)
    if not any(step.predicate in inverses for step in path):
        return variants
    out = []
    for variant in variants:
        grown = [()]
        for step in variant:
            turns = [step] + [Step(q, not step.forward) for q in sorted(inverses.get(step.predicate, ()))]
            grown = [g + (t,) for g in grown for t in turns]
        out += grown
    return list(dict.fromkeys(out))[:8]


# ------------------------------------------------------------------------------------ order
def reached_otherwise(index, topic, path) -> set:
    """The nodes ``topic`` reaches in one hop over another relation than ``path``'s first one."""
    first = path[0].predicate if path else None
    return {n for p, n in index.out.get(topic, ()) if p != first} | \
        {n for p, n in index.inn.get(topic, ()) if p != first}


def source_confidence(kg, topic, paths) -> dict:
    """For one-hop ``paths`` (a relation, and the paths that say the same: :func:`equivalent_paths`), how
    surely the text states each answer: the highest confidence among the statement records (facts read
    from text) that tie it to ``topic`` (its surest sentence; the noisy-or of all of them, as
    :meth:`kg.KnowledgeGraph.confidence` reads a fact, favours facts the model cited many sentences for).
    Empty for longer paths and for facts without statement records (an imported file),
    so the order of their answers does not change.
    """
    from rdflib import URIRef

    from kg.terms import sparql_term
    from reasoning.path_queries import _term_of

    if not paths or any(len(path) != 1 for path in paths):
        return {}
    subject, predicate, obj, conf = (sparql_term(t) for t in (RDF.subject, RDF.predicate, RDF.object,
                                                                  KGQA.confidence))
    bodies = []
    for (step,) in paths:
        ends = (f"{subject} {_term_of(topic)} ; {obj} ?ans" if step.forward
                else f"{obj} {_term_of(topic)} ; {subject} ?ans")
        bodies.append(f"{{ GRAPH ?g {{ ?st {ends} ; {predicate} {sparql_term(URIRef(step.predicate))} ; {conf} ?c }} }}")
    sparql = f"SELECT ?ans (MAX(?c) AS ?conf) WHERE {{ {' UNION '.join(bodies)} }} GROUP BY ?ans"
    out = {}
    try:
        for row in kg.query(sparql, all_graphs=True):
            if row["ans"] is not None and row["conf"] is not None:
                out[_to_ox(row["ans"])] = float(row["conf"].toPython())
    except Exception:  # a store that cannot answer this (a remote endpoint's dataset) only loses the order
        return {}
    return out


def _to_ox(term):
    from kg.terms import to_ox

    return to_ox(term)

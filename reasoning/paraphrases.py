"""Paraphrases learned from the graph itself: template questions generated from its own relations.

Nothing here is written for one dataset: the wording comes from each relation's label and aliases
(``"directed by"``, ``"has genre"``, ``"release year"``) and, when the graph types its entities, from
the type of the answers. English grammar decides the form: a passive label ``"V by"`` gives
``who V X`` / ``what was V by X``; ``"has N"`` gives ``what is the N of X``; a noun phrase ``L`` gives
``what is the L of X`` / ``what has L X``. Paths of several hops nest noun phrases: the two hops
``directed by`` reversed, then ``in language`` read ``what is the language of the things directed by X``.

>>> step = Step("https://kgqa.dev/relation/directed_by", True)
>>> path_paraphrases([step], {step.predicate: ("directed by",)})[:2]
['who directed X', 'X was directed by whom']
>>> back = Step("https://kgqa.dev/relation/directed_by", False)
>>> lang = Step("https://kgqa.dev/relation/in_language", True)
>>> "what is the language of the things directed by X" in path_paraphrases(
...     [back, lang], {back.predicate: ("directed by",), lang.predicate: ("in language",)}, limit=40)
True
"""
from __future__ import annotations

import itertools
import re
from typing import NamedTuple


class Step(NamedTuple):
    """One hop of a relation path: the predicate IRI and whether it is followed subject -> object."""

    predicate: str
    forward: bool


_PREPOSITIONS = {"in", "on", "at", "of", "from", "to", "for", "with", "about", "into", "under", "near"}
_AUXILIARIES = r"(?:is|are|was|were|did|does|do|has|have|had)"
#: "what genre does X have", "what language is X in": the question already says what kind of answer
_NAMES_KIND = re.compile(rf"^what (?!{_AUXILIARIES}\b)[a-z ]+? {_AUXILIARIES} ")


def _phrases(label: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(forward questions, forward noun phrases, reverse questions, reverse noun phrases) with ``{x}``."""
    words = label.strip().split()
    label = " ".join(words)
    low = [w.lower() for w in words]
    if len(words) >= 2 and low[-1] == "by":  # passive with agent: "directed by", "written by"
        verb = " ".join(words[:-1])
        base = base_form(verb)
        past = verb if verb.endswith("ed") else f"{base}s"  # irregular participles ("written") are no past tense
        fq = [f"who {past} {{x}}", f"{{x}} was {verb} by whom", f"who {base}s {{x}}", f"what is {{x}} {verb} by"]
        fn = [f"the person who {past} {{x}}", f"whoever {base}s {{x}}"]
        rq = [f"what was {verb} by {{x}}", f"what did {{x}} {base}", f"which things were {verb} by {{x}}"]
        rn = [f"the things {verb} by {{x}}", f"what {{x}} {base}s"]
    elif len(words) >= 2 and low[0] in ("has", "have", "had"):
        noun = " ".join(words[1:])
        fq = [f"what is the {noun} of {{x}}", f"what {noun} does {{x}} have", f"what {noun} is {{x}}"]
        fn = [f"the {noun} of {{x}}", f"the {noun}s of {{x}}"]
        rq = [f"what has {noun} {{x}}", f"which things have the {noun} {{x}}"]
        rn = [f"the things with {noun} {{x}}", f"the things whose {noun} is {{x}}"]
    elif len(words) >= 2 and low[0] in _PREPOSITIONS:
        noun = " ".join(words[1:])
        fq = [f"what {noun} is {{x}} {words[0]}", f"what is the {noun} of {{x}}", f"{{x}} is {label} what"]
        fn = [f"the {noun} of {{x}}", f"the {noun}s of {{x}}"]
        rq = [f"what is {words[0]} {{x}}", f"which things are {label} {{x}}"]
        rn = [f"the things {words[0]} {{x}}", f"the things whose {noun} is {{x}}"]
    elif len(words) >= 2 and low[-1] in _PREPOSITIONS:  # "born in", "located in", "member of"
        fq = [f"what is {{x}} {label}", f"{{x}} was {label} what", f"where is {{x}} {label}"]
        fn = [f"what {{x}} is {label}", f"the place {{x}} is {label}"]
        rq = [f"who was {label} {{x}}", f"what is {label} {{x}}"]
        rn = [f"the ones {label} {{x}}", f"the things {label} {{x}}"]
    else:  # a noun phrase: "release year", "starred actors", "capital", "spouse"
        fq = [f"what is the {label} of {{x}}", f"{{x}} {label}", f"what are the {label} of {{x}}"]
        fn = [f"the {label} of {{x}}", f"{{x}}'s {label}"]
        rq = [f"what has {label} {{x}}", f"which things have {{x}} as {label}"]
        rn = [f"the things whose {label} is {{x}}", f"the things with {label} {{x}}"]
    return fq, fn, rq, rn


def step_phrases(step: Step, labels: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """(questions, noun phrases) for one hop, from every label and alias of its relation."""
    questions, nouns = [], []
    for label in labels.get(step.predicate, ()) or (_fallback_label(step.predicate),):
        fq, fn, rq, rn = _phrases(label)
        questions += fq if step.forward else rq
        nouns += fn if step.forward else rn
    return list(dict.fromkeys(questions)), list(dict.fromkeys(nouns))


def path_paraphrases(path: list[Step] | tuple[Step, ...], labels: dict[str, tuple[str, ...]], *,
                     answer_type: str | None = None, limit: int = 8) -> list[str]:
    """Questions that ask for the end of ``path`` starting from ``X`` (at most ``limit``, most natural first).

    ``labels`` maps a predicate IRI to its label and aliases; ``answer_type`` (a class label such as
    ``person``) adds ``which person ...`` forms.
    """
    per_step = [step_phrases(step, labels) for step in path]
    per_step = _share_phrases(path, labels, per_step)
    inner_options: list[list[str]] = [["X"]]
    for questions, nouns in per_step[:-1]:
        if not nouns:  # the second half of a "same relation" pair, already worded by the first
            inner_options.append(inner_options[-1])
            continue
        grown = []
        for inner in inner_options[-1]:
            for noun in nouns[:2]:
                grown.append(noun.format(x=inner))
        inner_options.append(grown[:4])
    last_questions, _ = per_step[-1]
    out: list[str] = []
    for question_form, inner in itertools.product(last_questions, inner_options[-1]):
        out.append(question_form.format(x=inner))
    if answer_type:
        # "what is X ..." -> "which person is X ..."; a question that names its kind already stays as it is
        typed = [q if _NAMES_KIND.match(q) else re.sub(r"^(who|what)\b", f"which {answer_type}", q) for q in out]
        out = [q for pair in zip(out, typed) for q in pair]
    out = list(dict.fromkeys(out))
    # interleave so that every question form and every inner wording appears within the limit
    return out[:limit]


_BASE_FORMS: dict[str, str] = {}


def base_form(verb: str) -> str:
    """The base form of a participle (``written`` -> ``write``), by spaCy's lemmatizer when it is installed.

    >>> base_form("directed")
    'direct'
    """
    words = verb.split()
    last = words[-1]
    found = _BASE_FORMS.get(last)
    if found is None:
        try:
            from reasoning.question import load_spacy

            doc = load_spacy()(f"It was {last} by them.")
            found = doc[2].lemma_.lower() if len(doc) > 2 and doc[2].lemma_ else last
        except (ImportError, OSError):  # no model: strip a regular ending
            found = re.sub(r"(ed|en)$", "", last) if len(last) > 4 else last
        _BASE_FORMS[last] = found
    return " ".join(words[:-1] + [found])


def agent_noun(base: str) -> str:
    """The doer of a verb in its base form: ``direct`` -> ``director``, ``write`` -> ``writer``.

    >>> agent_noun("direct"), agent_noun("write"), agent_noun("produce"), agent_noun("edit"), agent_noun("paint")
    ('director', 'writer', 'producer', 'editor', 'painter')
    """
    words = base.split()
    if not words:
        return base
    last = words[-1]
    if re.search(r"(ct|it|ate)$", last):
        doer = last[:-1] + "or" if last.endswith("ate") else last + "or"
    elif last.endswith("e"):
        doer = last + "r"
    else:
        doer = last + "er"
    return " ".join(words[:-1] + [doer])


def base_forms(verbs) -> None:
    """Look up the base forms of many participles in one spaCy pass (``base_form`` then finds them).

    One ``nlp.pipe`` over all of a graph's relation words instead of one call per word: a fresh
    process reads a hundred relations' labels in a fraction of the time.
    """
    todo = [w for w in dict.fromkeys(v.split()[-1] for v in verbs if v.split()) if w not in _BASE_FORMS]
    if not todo:
        return
    try:
        from reasoning.question import load_spacy

        docs = load_spacy().pipe(f"It was {w} by them." for w in todo)
        for word, doc in zip(todo, docs):
            _BASE_FORMS[word] = doc[2].lemma_.lower() if len(doc) > 2 and doc[2].lemma_ else word
    except (ImportError, OSError):  # no model: base_form strips a regular ending, one word at a time
        pass


def _share_phrases(path, labels, per_step):
    """A hop from X to its r and back to other things with that r reads "things with the same r as X"."""
    out = list(per_step)
    i = 0
    while i + 1 < len(path):
        a, b = path[i], path[i + 1]
        if a.predicate == b.predicate and a.forward and not b.forward:
            names = labels.get(a.predicate, ()) or (_fallback_label(a.predicate),)
            words = names[0].split()
            if len(words) >= 2 and words[-1].lower() == "by":
                verb = " ".join(words[:-1])
                questions = [f"what was {verb} by the same person as {{x}}", f"which things share the one who {verb} {{x}}"]
                nouns = [f"the things {verb} by the same person as {{x}}", f"the things sharing the one who {verb} {{x}}"]
            else:
                noun = " ".join(words[1:]) if len(words) >= 2 and words[0].lower() in {"has", "have"} | _PREPOSITIONS \
                    else names[0]
                questions = [f"what has the same {noun} as {{x}}", f"which things share the {noun} of {{x}}"]
                nouns = [f"the things with the same {noun} as {{x}}", f"the things sharing the {noun} of {{x}}"]
            out[i] = ([], [])
            out[i + 1] = (questions, nouns)
            i += 2
        else:
            i += 1
    return out


def _fallback_label(iri: str) -> str:
    local = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    local = re.sub(r"([a-z])([A-Z])", r"\1 \2", local)
    return re.sub(r"[_\s]+", " ", local).strip().lower()


class ExampleBank:
    """Question wordings learned from example question/answer pairs (optional, for a domain's own phrasing).

    Each example's question, with its topic masked as ``X``, becomes one more paraphrase of the relation
    path that best reproduces the example's answers (see :func:`reasoning.planner.learn_examples`).
    Saved as JSON beside the store (``kgqa-qa-examples.json``) so ``kgqa ask`` uses it.

    >>> bank = ExampleBank([("who made X", (Step("https://kgqa.dev/relation/directed_by", True),))])
    >>> ExampleBank.from_json(bank.to_json()).entries == bank.entries
    True
    """

    FILE_NAME = "kgqa-qa-examples.json"

    def __init__(self, entries: list[tuple[str, tuple[Step, ...]]] | None = None):
        self.entries = list(entries or [])

    def __len__(self) -> int:
        return len(self.entries)

    def by_path(self) -> dict[tuple[Step, ...], list[str]]:
        out: dict[tuple[Step, ...], list[str]] = {}
        for text, path in self.entries:
            out.setdefault(tuple(path), []).append(text)
        return out

    def to_json(self) -> dict:
        return {"version": 1, "examples": [{"question": text, "path": [[s.predicate, s.forward] for s in path]}
                                           for text, path in self.entries]}

    @classmethod
    def from_json(cls, data: dict) -> "ExampleBank":
        return cls([(e["question"], tuple(Step(p, bool(f)) for p, f in e["path"])) for e in data.get("examples", [])])

    def save(self, path) -> None:
        import json

        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh)

    @classmethod
    def load(cls, path) -> "ExampleBank":
        import json

        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))

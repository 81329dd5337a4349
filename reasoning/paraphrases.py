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


def _phrases(label: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(forward questions, forward noun phrases, reverse questions, reverse noun phrases) with ``{x}``."""
    words = label.strip().split()
    label = " ".join(words)
    low = [w.lower() for w in words]
    if len(words) >= 2 and low[-1] == "by":  # passive with agent: "directed by", "written by"
        verb = " ".join(words[:-1])
        fq = [f"who {verb} {{x}}", f"{{x}} was {verb} by whom", f"what is {{x}} {verb} by"]
        fn = [f"the person who {verb} {{x}}", f"whoever {verb} {{x}}"]
        rq = [f"what was {verb} by {{x}}", f"which things were {verb} by {{x}}", f"what did {{x}} {verb}"]
        rn = [f"the things {verb} by {{x}}", f"what {{x}} {verb}"]
    elif len(words) >= 2 and low[0] in ("has", "have", "had"):
        noun = " ".join(words[1:])
        fq = [f"what is the {noun} of {{x}}", f"what {noun} does {{x}} have", f"{{x}} has which {noun}"]
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
                     answer_type: str | None = None, limit: int = 12) -> list[str]:
    """Questions that ask for the end of ``path`` starting from ``X`` (at most ``limit``, most natural first).

    ``labels`` maps a predicate IRI to its label and aliases; ``answer_type`` (a class label such as
    ``person``) adds ``which person ...`` forms.
    """
    per_step = [step_phrases(step, labels) for step in path]
    inner_options: list[list[str]] = [["X"]]
    for questions, nouns in per_step[:-1]:
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
        typed = [re.sub(r"^(who|what)\b", f"which {answer_type}", q) for q in out]
        out = [q for pair in zip(out, typed) for q in pair]
    out = list(dict.fromkeys(out))
    # interleave so that every question form and every inner wording appears within the limit
    return out[:limit]


def _fallback_label(iri: str) -> str:
    local = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    local = re.sub(r"([a-z])([A-Z])", r"\1 \2", local)
    return re.sub(r"[_\s]+", " ", local).strip().lower()

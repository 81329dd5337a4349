"""Relation paths put into plain English for the reasoner's generated questions.

A relation label is read for its grammar, the way a person would turn it into a question (nothing
here knows any dataset):

- a passive label ``"V by"`` (``"directed by"``) has a verb (``directed`` / ``direct``) and an agent
  noun (``director``): forward it reads "who directed X", "the directors of X"; backwards "the things
  directed by X", "what did X direct";
- ``"has N"``, ``"in N"`` and plain noun labels (``"has genre"``, ``"in language"``, ``"release
  year"``) have a noun: "the genre of X", "the things whose language is X", "the things in X";
- a participle before a noun (``"starred actors"``) gives a verb as well: "who starred in X", "the X
  starred films", "the co-stars of X"; before a preposition (``"located in"``) it stays a plain label;
- two hops out and back along one relation are one idiom: "the things with the same director as X",
  "the things that share writers with X", "the co-writers of X".

The things a hop passes through are named by generic words or by random category nouns ("the
films directed by X", "the songs directed by X"), so the reader learns that such a noun says
nothing about the relation.

>>> import random
>>> rng = random.Random(0)
>>> words = [["directed by"], ["in language"]]
>>> q = natural_question([2, 1], words, 2, rng)   # X <-directed by- film -in language-> answer
>>> "direct" in q and "language" in q
True
"""
from __future__ import annotations

import random
import re

from reasoning.gnn.text import TOPIC
from reasoning.paraphrases import _PREPOSITIONS, agent_noun, base_form

#: generic plural nouns for the things a hop passes through (besides category nouns)
_THINGS = ("things", "ones", "items", "works", "entries")
_PERSON = ("person", "one", "people")
#: nouns of time: a relation ending in one is asked with "when" ("when was X released")
_TIME_NOUNS = {"year", "date", "time", "day", "month", "century", "decade", "era", "period"}
_IRREGULAR_PLURALS = {"person": "people", "man": "men", "woman": "women", "child": "children",
                      "series": "series", "species": "species", "people": "people"}


def plural(noun: str) -> str:
    """English plural of the last word of ``noun`` (regular rules plus a few irregular nouns).

    >>> plural("director"), plural("city"), plural("release year"), plural("box"), plural("person")
    ('directors', 'cities', 'release years', 'boxes', 'people')
    """
    words = noun.split()
    if not words:
        return noun
    last = words[-1]
    low = last.lower()
    if low in _IRREGULAR_PLURALS:
        last = _IRREGULAR_PLURALS[low]
    elif low.endswith("s") and not low.endswith("ss"):
        pass  # already plural ("starred actors", "tags")
    elif re.search(r"[^aeiou]y$", low):
        last = last[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", low):
        last = last + "es"
    else:
        last = last + "s"
    return " ".join(words[:-1] + [last])


class Forms:
    """How one relation wording can be said: ``kind`` is ``"passive"``, ``"prep"`` or ``"noun"``."""

    def __init__(self, wording: str):
        words = wording.split()
        low = [w.lower() for w in words]
        self.verb = self.base = self.past = self.prep = None
        if len(words) >= 2 and low[-1] == "by":
            self.kind = "passive"
            self.verb = " ".join(words[:-1])  # "directed", "written"
            self.base = base_form(self.verb)  # "direct", "write"
            self.past = self.verb if self.verb.endswith("ed") else f"{self.base}s"
            self.nouns = [agent_noun(self.base)]  # "director", "writer"
        elif len(words) >= 2 and low[0] in {"has", "have", "had"}:
            self.kind = "noun"
            self.nouns = [" ".join(words[1:])]
        elif len(words) >= 2 and low[0] in _PREPOSITIONS:
            self.kind = "prep"
            self.prep = words[0]
            self.nouns = [" ".join(words[1:])]
        else:
            self.kind = "noun"
            self.nouns = [wording]
            if len(words) >= 2 and re.search(r"[a-z]ed$", low[0]) and low[-1] not in _PREPOSITIONS:
                # a participle before the noun gives a verb too: "starred actors" = those who starred in X
                self.verb = words[0]
                self.base = base_form(self.verb)
                self.past = self.verb
        # the head of a noun phrase is its last word unless an "of" follows it: "release year" -> "year"
        head = self.nouns[0].split()
        if len(head) >= 2 and "of" not in [w.lower() for w in head] and head[-1].lower() not in _PREPOSITIONS:
            self.nouns.append(head[-1])

    @property
    def when(self) -> str | None:
        """For a time noun ("release year", "birth date"): the event's verb, "release" -> "released"."""
        head = self.nouns[0].split()
        if head[-1].lower() not in _TIME_NOUNS:
            return None
        if len(head) >= 2 and head[0].isalpha():
            first = head[0]
            return first + ("d" if first.endswith("e") else "ed")
        return ""

    def noun(self, rng: random.Random, many: bool | None = None) -> str:
        noun = rng.choice(self.nouns)
        many = rng.random() < 0.4 if many is None else many
        return plural(noun) if many else noun


def _things(rng: random.Random, category_nouns) -> str:
    if category_nouns and rng.random() < 0.5:
        return plural(rng.choice(category_nouns))
    return rng.choice(_THINGS)


def _who(rng: random.Random) -> str:
    return rng.choice(("who", "whom", f"which {rng.choice(_PERSON)}", "what"))


def _possessive(inner: str) -> bool:
    """"X's genre" reads right only after a plain name: "films directed by X's genre" is ambiguous."""
    return " " not in inner


def noun_phrase(forms: Forms, forward: bool, inner: str, rng: random.Random, things: str) -> str:
    """The answers of one hop from ``inner`` as a noun phrase ("the directors of X", "the films directed by X")."""
    if forward:
        options = [f"the {forms.noun(rng)} of {inner}", f"the {forms.noun(rng)} of {inner}"]
        if _possessive(inner):
            options += [f"{inner}'s {forms.noun(rng)}", f"the {inner} {forms.noun(rng)}"]
        if forms.kind == "passive":
            options += [f"the {rng.choice(_PERSON)} who {forms.past} {inner}", f"whoever {forms.past} {inner}"]
        elif forms.verb:
            options += [f"the {rng.choice(_PERSON)} who {forms.past} in {inner}"]
        return rng.choice(options)
    if forms.kind == "passive":
        options = [f"the {things} {forms.verb} by {inner}", f"the {things} that {inner} {forms.past}",
                   f"what {inner} {forms.past}", f"the {things} {inner} {forms.past}",
                   f"{things} {forms.verb} by {inner}"]
        if _possessive(inner):  # a name before a participle: "the X directed films"
            options += [f"{inner} {forms.verb} {things}", f"the {inner} {forms.verb} {things}"]
    elif forms.kind == "prep":
        options = [f"the {things} {forms.prep} {inner}", f"the {things} whose {forms.noun(rng, False)} is {inner}",
                   f"the {things} with {forms.noun(rng, False)} {inner}"]
    else:
        options = [f"the {things} whose {forms.noun(rng)} is {inner}", f"the {things} with {forms.noun(rng)} {inner}",
                   *([f"the {things} {forms.verb} by {inner}", f"the {things} {inner} {forms.past} in"]
                     if forms.verb else []),
                   *([f"the {things} {forms.when} in {inner}"] if forms.when else []),
                   f"the {things} that have {inner} as {forms.noun(rng, False)}", f"{things} with {inner}"]
        if forms.verb and _possessive(inner):  # "the X starred films"
            options += [f"{inner} {forms.past} {things}", f"the {inner} {forms.past} {things}"]
    return rng.choice(options)


def question(forms: Forms, forward: bool, inner: str, rng: random.Random, things: str) -> str:
    """A question asking for the answers of the last hop from ``inner``."""
    be = rng.choice(("is", "are", "was", "were"))
    if forward:
        if forms.kind == "passive":
            options = [f"who {forms.past} {inner}", f"who {forms.base}s {inner}",
                       f"{inner} {be} {forms.verb} by {_who(rng)}", f"who {be} the {forms.noun(rng)} of {inner}",
                       f"which {rng.choice(_PERSON)} {forms.past} {inner}", f"who {forms.past} {inner}",
                       f"the {forms.noun(rng)} of {inner} {be} who", f"name the {forms.noun(rng, True)} of {inner}"]
        else:
            noun = forms.noun(rng)
            options = [f"what {be} the {noun} of {inner}", f"what {noun} {be} {inner}",
                       f"what {noun} does {inner} have", f"which {noun} {be} {inner}",
                       f"the {noun} of {inner} {be} what", f"{inner} {be} of which {noun}",
                       f"{inner} has which {noun}"]
            if _possessive(inner):
                options.append(f"what {be} {inner}'s {noun}")
            if forms.kind == "prep":
                options += [f"what {noun} {be} {inner} {forms.prep}", f"{inner} {be} {forms.prep} which {noun}"]
            if forms.when is not None:
                event = forms.when or "made"
                options += [f"when {be} {inner} {event}", f"when did {inner} {forms.nouns[0].split()[0]}",
                            f"{inner} {be} {event} in which {forms.noun(rng)}", f"in what {noun} {be} {inner} {event}"]
            if forms.verb:  # "starred actors": who starred in X
                options += [f"who {forms.past} in {inner}", f"which {noun} {forms.past} in {inner}"]
        return rng.choice(options)
    if forms.kind == "passive":
        options = [f"what did {inner} {forms.base}", f"which {things} did {inner} {forms.base}",
                   f"what {be} {forms.verb} by {inner}", f"{inner} {forms.past} which {things}",
                   f"which {things} {be} {forms.verb} by {inner}", f"what {things} did {inner} {forms.base}",
                   f"{inner} {forms.past} what", f"list the {things} {forms.verb} by {inner}"]
    elif forms.kind == "prep":
        noun = forms.noun(rng, False)
        options = [f"which {things} {be} {forms.prep} {inner}", f"what {be} {forms.prep} {inner}",
                   f"which {things} have {noun} {inner}", f"what {things} {be} in the {noun} {inner}",
                   f"list the {things} {forms.prep} {inner}"]
    else:
        noun = forms.noun(rng)
        options = [f"which {things} have {noun} {inner}", f"what has {inner} as {noun}",
                   *([f"what did {inner} {forms.base} in", f"which {things} {be} {forms.verb} by {inner}",
                      f"{inner} {forms.past} in which {things}"] if forms.verb else []),
                   *([f"which {things} {be} {forms.when} in {inner}"] if forms.when else []),
                   f"which {things} have {inner} as their {noun}", f"what {things} {be} {inner} the {noun} of",
                   f"{inner} is the {noun} of which {things}", f"list the {things} with {noun} {inner}"]
    return rng.choice(options)


def pair_phrase(forms: Forms, same: bool, inner: str, rng: random.Random, things: str) -> str:
    """Two hops out and back as one noun phrase: ``same`` (X -r-> Y <-r- Z) "the films with the same
    director as X"; otherwise (X <-r- Y -r-> Z) "the co-writers of X"."""
    if same:
        noun = forms.noun(rng)
        options = [f"the {things} with the same {noun} as {inner}", f"the {things} that share {plural(noun)} with {inner}",
                   f"the {things} sharing the {noun} of {inner}", f"the other {things} of the {noun} of {inner}"]
        if forms.kind == "passive":
            options += [f"the {things} {forms.verb} by the same {rng.choice(_PERSON)} as {inner}",
                        f"the {things} whose {plural(noun)} also {forms.past} {inner}",
                        f"the {things} the {noun} of {inner} also {forms.past}",
                        f"what the {noun} of {inner} also {forms.past}"]
        elif forms.verb:  # "starred actors": the films the actors of X also starred in
            options += [f"the {things} the {noun} of {inner} also {forms.past} in",
                        f"the other {things} the {noun} in {inner} {forms.past} in"]
        return rng.choice(options)
    noun = forms.noun(rng)
    options = [f"the co-{plural(noun)} of {inner}", f"the {plural(noun)} together with {inner}",
               f"the others sharing a {forms.noun(rng, False)} with {inner}"]
    if forms.kind == "passive":
        options += [f"the people who {forms.past} {_things(rng, ())} with {inner}",
                    f"the ones who co-{forms.past} with {inner}", f"those who {forms.base} with {inner}"]
    elif forms.verb:  # "starred actors" -> "the co-stars of X", "those who starred together with X"
        options += [f"the co-{plural(forms.base)} of {inner}", f"the co-{plural(forms.base)} of {inner}",
                    f"those who {forms.past} together with {inner}", f"the ones who {forms.past} alongside {inner}"]
    return rng.choice(options)


def pair_question(forms: Forms, same: bool, inner: str, rng: random.Random, things: str) -> str:
    phrase = pair_phrase(forms, same, inner, rng, things)
    if same and forms.verb and rng.random() < 0.3:
        # "the director of X also directed which films", "the actors in X also starred in which films"
        prep = "" if forms.kind == "passive" else " in"
        noun = forms.noun(rng)
        return rng.choice((f"the {noun} of {inner} also {forms.past}{prep} which {things}",
                           f"the {noun} in {inner} also {forms.past}{prep} which {things}",
                           f"what else did the {noun} of {inner} {forms.base}{prep}",
                           f"which other {things} did the {noun} of {inner} {forms.base}{prep}"))
    if not same and forms.verb and rng.random() < 0.3:
        if forms.kind == "passive":
            return rng.choice((f"who co-{forms.past} {things} with {inner}", f"who {forms.past} {things} with {inner}"))
        return rng.choice((f"who is a co-{forms.base} of {inner}", f"{inner} is a co-{forms.base} of who",
                           f"{inner} {forms.past} together with who", f"who {forms.past} in {things} with {inner}"))
    return _wrap(phrase, rng)


def _wrap(phrase: str, rng: random.Random) -> str:
    return rng.choice(("what are {P}", "which are {P}", "{P}", "name {P}", "list {P}", "who are {P}",
                       "what is {P}", "give me {P}")).format(P=phrase)


def split_pairs(path, num_relations: int, rng: random.Random, pairs: float) -> list[tuple[str, int]]:
    """The path cut into steps ``("one", k)`` and, with probability ``pairs``, out-and-back pairs
    ``("pair", k)`` (``k`` then ``k`` reversed) to be worded as one idiom."""
    units, i = [], 0
    while i < len(path):
        k = path[i]
        if i + 1 < len(path) and path[i + 1] == (k + num_relations) % (2 * num_relations) and rng.random() < pairs:
            units.append(("pair", k))
            i += 2
        else:
            units.append(("one", k))
            i += 1
    return units


def natural_question(path, wordings, num_relations: int, rng: random.Random, *, pairs: float = 0.5,
                     category_nouns=()) -> str:
    """The directed-type ``path`` from ``X`` as a plain-English question (see the module docstring)."""
    units = split_pairs(path, num_relations, rng, pairs)
    inner = TOPIC
    for n, (kind, k) in enumerate(units):
        forms = Forms(rng.choice(wordings[k % num_relations]))
        forward, last = k < num_relations, n == len(units) - 1
        things = _things(rng, category_nouns)
        if kind == "pair":
            inner = pair_question(forms, forward, inner, rng, things) if last else \
                pair_phrase(forms, forward, inner, rng, things)
        elif last and (n == 0 or rng.random() < 0.75):
            inner = question(forms, forward, inner, rng, things)
        else:
            inner = noun_phrase(forms, forward, inner, rng, things)
            if last:
                inner = _wrap(inner, rng)
    return inner

"""Rules that turn spaCy's DATE and number entities into the mentions a document is read with.

:func:`value_mentions` makes ``date`` and ``number`` mentions of one entity span: a date range is
two dates ("from 1992 to 2002" -> "1992", "2002"), a day NER left out is put back ("8 | December 1818"), hedges and relative words are dropped ("more
than three years later" -> "three years"), a date span with nothing to anchor it ("the following
year", "weekly") is no mention, an age is a number ("at the age of 36" -> "36"), and a bare year
that NER read as a count ("in 1764") is a date. Dates and numbers are values, not entities: their
mentions have no cluster.

>>> import spacy
>>> doc = spacy.blank("en")("He competed from 1992 to 2002 and retired the following year, at the age of 36.")
>>> doc.ents = [Span(doc, 2, 6, "DATE"), Span(doc, 8, 11, "DATE"), Span(doc, 13, 17, "DATE")]
>>> [(m.text, m.kind, m.type) for ent in doc.ents for m in value_mentions(ent)]
[('1992', 'date', 'DATE'), ('2002', 'date', 'DATE'), ('36', 'number', 'NUM')]
"""
from __future__ import annotations

import re

from spacy.tokens import Span

from nlp.components.annotations import Mention

#: spaCy labels whose spans are dates (``date`` mentions) and numbers (``number`` mentions)
DATE_LABELS = ("DATE", "TIME")
NUMBER_LABELS = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")

_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
#: words that join the two ends of a range
_RANGE = {"–", "—", "-", "to", "and", "until", "till", "through", "thru"}
#: hedges before a value, and relative words after it, that are not part of it
_LEADING = {"from", "between", "since", "about", "around", "circa", "c.", "approximately", "nearly", "almost",
            "over", "some", "roughly", "only", "under", "more", "less", "fewer", "than", "at", "least", "up",
            "to", "by", "in", "on", "of"}
_TRAILING = {"later", "earlier", "ago", "before", "after", "or"}
_EDGE = {",", "–", "—", "-"}
_ORDINAL = re.compile(r"^[a-z]+(st|nd|rd|th)$")
_YEAR = re.compile(r"^(1\d{3}|20\d{2})$")
_BEFORE_YEAR = {"in", "since", "from", "until", "till", "by", "(", "–", "-", "to", "and", "of"}


def value_mentions(ent: Span) -> list[Mention]:
    """The ``date``/``number`` mentions of one spaCy entity span (none for other labels)."""
    if ent.label_ in DATE_LABELS:
        return _dates(ent)
    if ent.label_ in NUMBER_LABELS:
        doc = ent.doc
        if ent.label_ == "CARDINAL" and len(ent) == 1 and _YEAR.match(ent.text) and (
                (ent.start > 0 and doc[ent.start - 1].lower_ in _BEFORE_YEAR)
                or (ent.end < len(doc) and doc[ent.end].text in ("–", "-", "to"))):
            return [_mention(doc, ent.start, ent.end, "date")]
        start, end = _trim(doc, ent.start, ent.end)
        if start < end and any(t.like_num or any(c.isdigit() for c in t.text) for t in doc[start:end]):
            return [_mention(doc, start, end, "number")]
    return []


def _dates(ent: Span) -> list[Mention]:
    doc = ent.doc
    start = ent.start
    # "8 | December 1818": NER left the day out
    if (start > 0 and doc[start].lower_.rstrip(".") in _MONTHS and doc[start - 1].text.isdigit()
            and 1 <= int(doc[start - 1].text) <= 31 and doc[start - 1].ent_type_ in ("", ent.label_)):
        start -= 1
    toks = list(range(start, ent.end))
    # "the age of 36": an age is a number
    for k, i in enumerate(toks[:-1]):
        if doc[i].lower_ in ("age", "aged", "ages") and (doc[toks[k + 1]].like_num or doc[toks[k + 1]].lower_ == "of"):
            nums = [j for j in toks[k + 1:] if doc[j].like_num]
            if nums:
                return [_mention(doc, nums[0], nums[0] + 1, "number")]
    # a range is two dates: cut at each joining word with an anchored part on both sides
    parts, begin = [], start
    for i in toks:
        if doc[i].lower_ in _RANGE and _anchored(doc, begin, i) and _anchored(doc, i + 1, ent.end):
            parts.append((begin, i))
            begin = i + 1
    parts.append((begin, ent.end))
    out = []
    for start, end in parts:
        start, end = _trim(doc, start, end)
        if start < end and _anchored(doc, start, end):
            out.append(_mention(doc, start, end, "date"))
    return out


def _anchored(doc, start: int, end: int) -> bool:
    """A date part that says which time it is: a number, a month, or a name ("the Heian Period")."""
    for t in doc[start:end]:
        # an ordinal word ("the first night", "its second week") does not say when
        if (t.like_num and not _ORDINAL.match(t.lower_)) or any(c.isdigit() for c in t.text) \
                or t.lower_.rstrip(".") in _MONTHS:
            return True
        # a capital at a sentence start says nothing ("Annual", "That year")
        if t.is_title and not t.is_stop and not t.is_sent_start:
            return True
    return False


def _trim(doc, start: int, end: int) -> tuple[int, int]:
    while start < end and (doc[start].lower_ in _LEADING or doc[start].text in _EDGE):
        start += 1
    while end > start and (doc[end - 1].lower_ in _TRAILING or doc[end - 1].text in _EDGE):
        end -= 1
    return start, end


def _mention(doc, start: int, end: int, kind: str) -> Mention:
    return Mention(start, end, "DATE" if kind == "date" else "NUM", kind, None, 1.0, doc[start:end].text)


__all__ = ["value_mentions", "DATE_LABELS", "NUMBER_LABELS"]

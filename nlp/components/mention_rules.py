"""Rules that make mentions spaCy's NER gets wrong or misses: dates and numbers, and names.

:func:`value_mentions` makes ``date`` and ``number`` mentions of one entity span: a date range is
two dates ("from 1992 to 2002" -> "1992", "2002"), a day NER left out is put back ("8 | December 1818"), hedges and relative words are dropped ("more
than three years later" -> "three years"), a date span with nothing to anchor it ("the following
year", "weekly") is no mention, an age is a number ("at the age of 36" -> "36"), and a bare year
that NER read as a count ("in 1764") is a date. Dates and numbers are values, not entities: their
mentions have no cluster.

:func:`rule_names` finds names NER missed: a run of capitalised words ("Old Crow Medicine Show",
"INSEAD"; "of", "and", "the" ... inside it), a short title-case quotation ('" Two Doors Down "'), and
a name with a quoted nickname ('Wilfried " Willi " Schneider', a person). Its type comes from its
last word when that is a kind of thing ("... River" is a place, "... Records" an organisation,
"... Awards" an event), else MISC; "X ( born ..." makes a person.

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
from nlp.components.coreference import NOMINALS

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


# ---------------------------------------------------------------------- names NER missed
#: confidence of a name found by these rules: NER's own names have 1.0, and the linker gives the names
#: it finds again by itself (another occurrence of a known name) 0.9
RULE_CONFIDENCE = 0.9
#: lower-case words that may stand inside a name ("Bank of America", "Simon and Garfunkel")
#: ("and" is not one: "Meiji Restoration and Charter Oath" are two names; titles come quoted)
_JOINERS = {"of", "the", "for", "&", "de", "du", "des", "la", "le", "les", "von", "van", "der", "den", "di", "da",
            "del", "della", "'s", "’s"}
#: offices and roles: "Professor of Commercial Law" names the field, "Lieutenant Governor" nobody
_ROLES = {"president", "vice", "minister", "secretary", "director", "deputy", "chairman", "chairwoman", "chair",
          "governor", "mayor", "senator", "ambassador", "chancellor", "premier", "admiral", "general", "commander",
          "fellow", "member", "head", "chief", "representative", "advisor", "adviser", "officer", "lieutenant",
          "colonel", "major", "captain", "sergeant", "bishop", "archbishop", "professor", "lecturer", "dean",
          "rector", "principal", "manager", "coach", "editor", "founder", "leader", "speaker", "judge", "emperor",
          "empress", "pope", "cardinal", "doge", "prophet", "writer", "producer", "player", "mp", "councillor",
          "commissioner", "attorney", "solicitor", "treasurer", "marshal", "inspector", "assistant"}
#: titles of rank: no name alone or at the end ("Prime Minister Dr."), but "Duke of Anjou" is one
_RANKS = {"mr", "mrs", "ms", "dr", "prof", "sir", "lord", "lady", "duke", "duchess", "king", "queen", "prince",
          "princess", "count", "countess", "earl", "baron", "elector", "detective", "doctor", "saint", "pharaoh",
          "marshal", "regent", "dowager", "tsar", "czar", "sultan", "emir", "shah", "caliph"}
_QUOTES = {'"', "“", "”", "„", "″"}
#: the last word of a name -> its type (beyond the nouns coreference knows: "the company" ...)
_HEAD_TYPES = {**NOMINALS,
               **{w: "LOC" for w in ("street", "avenue", "road", "park", "bridge", "pass", "creek", "bay", "sea",
                                     "valley", "forest", "peak", "glacier", "canal", "square", "zone", "airport",
                                     "station", "highway", "motorway", "drive", "gulf", "ocean", "peninsula", "hill",
                                     "mountains", "islands", "falls", "heights", "coast", "desert", "basin")},
               **{w: "ORG" for w in ("records", "association", "society", "committee", "league", "army", "navy",
                                     "ministry", "department", "inc", "ltd", "corp", "co", "foundation", "trust",
                                     "commission", "academy", "orchestra", "choir", "brigade", "regiment",
                                     "squadron", "federation", "union", "church", "hospital")},
               **{w: "EVENT" for w in ("award", "awards", "prize", "cup", "olympics", "games", "tour", "contest",
                                       "revolution", "rebellion", "massacre", "crisis", "conference", "summit")}}
#: capitalised words that are no names on their own
_NOT_NAMES = {"i", "mr", "mrs", "ms", "dr", "sir", "st", "mt", "no", "ok", "tv"}


def rule_names(doc, mentions: list[Mention]) -> list[Mention]:
    """``mentions`` plus the names the rules find in ``doc`` (see the module docstring), in text order.

    A quotation or nickname name replaces NER mentions inside it ("Two" in '" Two Doors Down "');
    a capitalised run only fills words no mention holds.
    """
    found: list[Mention] = []
    for start, end, typ in _quoted(doc):
        inside = [m for m in mentions if start <= m.start and m.end <= end]
        if any(m.start == start and m.end == end for m in inside):
            continue  # NER has the very name
        if any(m.start < end and start < m.end for m in mentions if m not in inside):
            continue  # NER has a name across the quotation
        mentions = [m for m in mentions if m not in inside]
        found.append(Mention(start, end, typ, "name", None, RULE_CONFIDENCE, doc[start:end].text))
    taken = [False] * len(doc)
    for m in mentions + found:
        for i in range(m.start, m.end):
            taken[i] = True
    persons = {(m.start, m.end): m for m in mentions if m.kind == "name" and m.type == "PERSON"}
    starts = {start: m for (start, _), m in persons.items()}
    ends = {end: m for (_, end), m in persons.items()}
    for start, end in _capitalised_runs(doc, taken):
        # "Adolf | Hitler", "Anatoly | Borisovich Chubais": NER cut a person's name short
        person = starts.get(end) or ends.get(start)
        if person is not None and end - start <= 3 and all(t.is_title and t.is_alpha for t in doc[start:end]):
            person.start, person.end = min(start, person.start), max(end, person.end)
            person.text = doc[person.start:person.end].text
            continue
        found.append(Mention(start, end, _name_type(doc, start, end), "name", None, RULE_CONFIDENCE,
                             doc[start:end].text))
    mentions = sorted(mentions + found, key=lambda m: (m.start, m.end))
    return _numbered_names(doc, mentions)


def _numbered_names(doc, mentions: list[Mention]) -> list[Mention]:
    """A number that ends a name is part of it ("Torpedo Squadron 8", "Oregon Route 99"), and so is a
    year that opens an event's name ("2000 Summer Olympics")."""
    names = {m.start: m for m in mentions if m.kind == "name"}
    names_end = {m.end: m for m in mentions if m.kind == "name"}
    drop = set()
    for m in mentions:
        if m.end - m.start != 1 or not doc[m.start].text.isdigit():
            continue
        after = names.get(m.end)
        before = names_end.get(m.start)
        if m.kind == "date" and after is not None and after.type == "EVENT" and len(doc[m.start].text) == 4:
            after.start, after.text = m.start, doc[m.start:after.end].text
            drop.add(id(m))
        elif (m.kind == "number" and before is not None and before.type != "PERSON" and len(doc[m.start].text) <= 3
              and (m.end >= len(doc) or not (_capital(doc[m.end]) or doc[m.end].like_num
                                             or doc[m.end].text in _RANGE | {":"}))):  # not a score
            before.end, before.text = m.end, doc[before.start:m.end].text
            drop.add(id(m))
    return [m for m in mentions if id(m) not in drop] if drop else mentions


def split_name_span(doc, start: int, end: int, label: str) -> list[tuple[int, int]]:
    """An NER name span cut where it runs over two names: at a comma, semicolon, bracket or slash
    ("Helen , Lewis Stone"; "Council on Foreign Relations ( CFR"), and for persons at "and"/"&"
    ("Yusuf and Zulaikha"); a piece without a capital is dropped.

    >>> import spacy
    >>> doc = spacy.blank("en")("Helen, Lewis Stone and Yusuf and Zulaikha")
    >>> [doc[s:e].text for s, e in split_name_span(doc, 0, 4, "PERSON") + split_name_span(doc, 5, 8, "PERSON")]
    ['Helen', 'Lewis Stone', 'Yusuf', 'Zulaikha']
    """
    cuts = {",", ";", "(", ")", "[", "]", "/"} | ({"and", "&"} if label == "PERSON" else set())
    parts, begin = [], start
    for i in range(start, end):
        if doc[i].lower_ in cuts:
            parts.append((begin, i))
            begin = i + 1
    parts.append((begin, end))
    if len(parts) == 1:
        return parts
    return [(s, e) for s, e in parts if s < e and any(_capital(t) for t in doc[s:e])]


def _capital(t) -> bool:
    return t.text[:1].isupper() and any(c.isalpha() for c in t.text)


def _quoted(doc):
    """``(start, end, type)`` of title-case quotations ('" Go West "') and of names with a quoted
    nickname ('Wilfried " Willi " Schneider')."""
    quotes = [t.i for t in doc if t.text in _QUOTES]
    for a, b in zip(quotes, quotes[1:]):
        inner = doc[a + 1:b]
        if not 0 < len(inner) <= 8 or any(t.is_sent_start for t in inner[1:]) or any(t.text in _QUOTES for t in inner):
            continue
        words = [t for t in inner if t.is_alpha]
        if not words or not _capital(inner[0]) or inner[-1].text in (".", ",", ";", ":"):
            continue
        if 2 * sum(_capital(t) for t in words) < len(words) + (1 if len(words) > 2 else 0):
            continue
        # a nickname between a first name and a surname: the whole is a person's name
        before, after = a, b + 1
        while before > 0 and _capital(doc[before - 1]) and doc[before - 1].is_alpha and before > a - 3:
            before -= 1
        if before < a and after < len(doc) and _capital(doc[after]) and doc[after].is_alpha and len(inner) <= 2:
            end = after + 1
            while end < len(doc) and _capital(doc[end]) and doc[end].is_alpha and end < after + 2:
                end += 1
            yield before, end, "PERSON"
            continue
        yield a + 1, b, "WORK"


def _capitalised_runs(doc, taken: list[bool]):
    """``(start, end)`` of runs of capitalised words no mention holds."""
    i, n = 0, len(doc)
    while i < n:
        t = doc[i]
        # a capitalised stop word inside a sentence belongs to a title ("How Could Hell Be Any Worse")
        if taken[i] or not _capital(t) or (t.is_stop and (t.is_sent_start or t.lower_ in _NOT_NAMES)):
            i += 1
            continue
        start = end = i
        k = i
        while k < n and not taken[k]:
            tok = doc[k]
            if _capital(tok) or (k > start and tok.like_num and _capital(doc[k - 1])):
                k += 1
                end = k
            elif k > start and (tok.lower_ in _JOINERS or tok.text == "-") and k + 1 < n and not taken[k + 1] \
                    and _capital(doc[k + 1]) and not doc[k + 1].is_sent_start:
                k += 1
            else:
                break
            if k < n and doc[k].is_sent_start:
                break
        i = max(end, i + 1)
        # "Professor of Commercial Law" -> "Commercial Law"; "Bishop of Pittsburgh" -> "Pittsburgh"
        for k in range(start, end - 1):
            if doc[k].lower_ == "of":
                if all(doc[j].lower_.rstrip(".") in _ROLES for j in range(start, k)):
                    start = k + 1
                break
        while start < end and ((doc[start].is_stop and (doc[start].is_sent_start or doc[start].lower_ in ("the", "a", "an")))
                               or doc[start].lower_ in _JOINERS):
            start += 1
        if start >= end or doc[end - 1].lower_.rstrip(".") in _ROLES | _RANKS:
            continue  # "President", "Lieutenant Governor", "Holy Roman Emperor"
        words = doc[start:end]
        if not any(t.is_alpha and not t.is_stop for t in words):
            continue
        # one capitalised word opening a sentence is only a capital letter ("Cramming is ..."), unless
        # the tagger says it is a proper noun ("Calueque is a town")
        if len(words) == 1 and ((words[0].is_sent_start and words[0].tag_ not in ("NNP", "NNPS"))
                                or words[0].lower_ in _NOT_NAMES or len(words[0]) < 2):
            continue
        if len(words) == 1 and words[0].lower_.rstrip(".") in _MONTHS:
            continue
        yield start, end


def name_kind(word: str) -> str | None:
    """The type a name ending in ``word`` has when ``word`` is a kind of thing: ``name_kind("Records")``
    is ``'ORG'``, ``name_kind("Airport")`` ``'LOC'``; None for other words."""
    last = word.lower().rstrip(".")
    return _HEAD_TYPES.get(last) or (_HEAD_TYPES.get(last[:-1]) if last.endswith("s") else None)


def _name_type(doc, start: int, end: int) -> str:
    typ = name_kind(doc[end - 1].text)
    if typ is not None and end - start >= 2:
        return typ
    # "Marie Curie ( born 7 November 1867 ) ...": a person
    if end + 1 < len(doc) and doc[end].text == "(" and doc[end + 1].lower_ in ("born", "b.", "née"):
        return "PERSON"
    return "MISC"


__all__ = ["value_mentions", "rule_names", "split_name_span", "name_kind", "DATE_LABELS", "NUMBER_LABELS", "RULE_CONFIDENCE"]

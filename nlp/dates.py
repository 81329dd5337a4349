"""Date mentions -> XSD literal values.

>>> parse_date("7 November 1867")
('1867-11-07', 'date')
>>> parse_date("November 7, 1867")
('1867-11-07', 'date')
>>> parse_date("in March 1921")
('1921-03', 'gYearMonth')
>>> parse_date("1903")
('1903', 'gYear')
>>> parse_date("last week") is None
True
"""
from __future__ import annotations

import re

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_M = r"(?P<m>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_PATTERNS = [
    re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _M + r",?\s+(?P<y>\d{3,4})\b", re.I),
    re.compile(r"\b" + _M + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{3,4})\b", re.I),
    re.compile(r"\b(?P<y>\d{4})-(?P<mm>\d{2})-(?P<d>\d{2})\b"),
    re.compile(r"\b" + _M + r",?\s+(?P<y>\d{3,4})\b", re.I),
    re.compile(r"(?<![\d'’])(?P<y>1\d{3}|20\d{2}|[5-9]\d{2})(?![\d'’]|s\b)"),
]


def parse_date(text: str) -> tuple[str, str] | None:
    """``(lexical value, XSD datatype local name)`` for the first date in ``text``, or None.

    Datatypes: ``date`` (day known), ``gYearMonth``, ``gYear``. Decades ("the 1890s") and relative
    dates give None.
    """
    if not text:
        return None
    for pat in _PATTERNS:
        m = pat.search(text)
        if not m:
            continue
        g = m.groupdict()
        year = int(g["y"])
        month = _MONTHS.get(g["m"].lower().rstrip(".")) if g.get("m") else (int(g["mm"]) if g.get("mm") else None)
        day = int(g["d"]) if g.get("d") else None
        if month is not None and not 1 <= month <= 12:
            return None
        if day is not None and month is not None:
            if not 1 <= day <= 31:
                return None
            return f"{year:04d}-{month:02d}-{day:02d}", "date"
        if month is not None:
            return f"{year:04d}-{month:02d}", "gYearMonth"
        return f"{year:04d}", "gYear"
    return None


__all__ = ["parse_date"]

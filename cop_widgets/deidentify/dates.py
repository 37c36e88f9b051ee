"""Exact dates: "12 March 2019", "Tuesday the 3rd", "12/3/2019", "born on 12/3"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import P_DATE, P_SHORT_DATE, REASONS, Candidate

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
_WEEKDAY = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
    r"|Mon|Tues|Tue|Wed|Thurs|Thu|Fri|Sat|Sun)"
)
_ORD = r"(?:st|nd|rd|th)"
_DAY_MONTH = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(?:the\s+)?(?P<day>\d{{1,2}}){_ORD}?\s+(?:of\s+)?(?P<month>{_MONTH})\b\.?"
    rf"(?:,?\s+(?:\d{{4}}|'\d{{2}})\b)?",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"\b(?P<month>{_MONTH})\.?\s+(?:the\s+)?(?P<day>\d{{1,2}}){_ORD}?\b(?:,?\s+\d{{4}}\b)?",
    re.IGNORECASE,
)
_WEEKDAY_ORDINAL = re.compile(rf"\b{_WEEKDAY},?\s+(?:the\s+)?\d{{1,2}}{_ORD}\b", re.IGNORECASE)
_BORN_ORDINAL = re.compile(rf"\bborn\s+(?:on\s+)?(?P<date>the\s+\d{{1,2}}{_ORD})\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\w/-]|\.\d)"
)
_ISO_DATE = re.compile(
    r"(?<![\w/.-])(?P<y>(?:19|20)\d{2})(?P<sep>[/.-])(?P<a>\d{1,2})(?P=sep)(?P<b>\d{1,2})(?![\w/-]|\.\d)"
)
# "on 12/3" has no year but is still an exact date; without the leading word it is too often a
# fraction or a score, so a day/month pair needs one of these words in front.
_SHORT_DATE = re.compile(
    r"\b(?:on|since|from|until|till|by|dated|born|dob:?|d\.o\.b\.?)\s+"
    r"(?P<date>(?P<a>\d{1,2})/(?P<b>\d{1,2}))(?![\w/]|\.\d)",
    re.IGNORECASE,
)
# A lowercase "may" or "march" is usually the verb; other months are unambiguous in any case.
_VERB_MONTHS = {"may", "mar", "march"}


def _plausible_day_month(a: int, b: int) -> bool:
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= b <= 31 and 1 <= a <= 12)


def _month_ok(m: re.Match) -> bool:
    month = m.group("month")
    return not (month.lower() in _VERB_MONTHS and month[0].islower())


def find_dates(text: str) -> Iterable[Candidate]:
    """Exact dates, written out or in numbers."""
    reason = REASONS["date"]
    for rx in (_DAY_MONTH, _MONTH_DAY):
        for m in rx.finditer(text):
            if _month_ok(m) and 1 <= int(m.group("day")) <= 31:
                yield Candidate(m.start(), m.end(), "date", P_DATE, reason)
    for m in _WEEKDAY_ORDINAL.finditer(text):
        yield Candidate(m.start(), m.end(), "date", P_DATE, reason)
    for m in _BORN_ORDINAL.finditer(text):
        yield Candidate(m.start("date"), m.end("date"), "date", P_DATE, reason)
    for rx in (_NUMERIC_DATE, _ISO_DATE):
        for m in rx.finditer(text):
            if _plausible_day_month(int(m.group("a")), int(m.group("b"))):
                yield Candidate(m.start(), m.end(), "date", P_DATE, reason)
    for m in _SHORT_DATE.finditer(text):
        if _plausible_day_month(int(m.group("a")), int(m.group("b"))):
            yield Candidate(m.start("date"), m.end("date"), "date", P_SHORT_DATE, reason)

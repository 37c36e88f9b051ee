"""Government numbers: Medicare, Centrelink, tax file, licence, passport and the like."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import P_GOV_BARE, P_GOV_KEYWORD, REASONS, Candidate

_GOV_KEYWORD = re.compile(
    r"\b(?:medicare|crn|customer\s+reference|centrelink|tfn|tax\s+file|licen[cs]e|passport"
    r"|ihi|healthcare\s+identifier|health\s*care\s+card|concession\s+card|pension\s+card|dva"
    r"|immicard|visa\s+grant|usi|proof\s+of\s+age|birth\s+certificate)\b",
    re.IGNORECASE,
)
_GOV_NUMBER = re.compile(r"(?<![\w$.,-])[A-Za-z]{0,3}\d[\d \-]{3,22}\d[A-Za-z]?(?![\w-])")
_GOV_BARE = [
    re.compile(r"(?<![\w+(-])\d{9}[A-Za-z](?!\w)"),  # Centrelink CRN
    re.compile(r"(?<![\w+(-])\d{3}([ -])\d{3}\1\d{3}[A-Za-z]?(?![\w-]|[ -]\d)"),  # TFN, CRN
    re.compile(r"(?<![\w+(-])\d{4} ?\d{5} ?\d{1,2}(?![\w-]|[ -]\d)"),  # Medicare
    re.compile(r"(?<![\w+(-])\d{4} \d{4} \d{4} \d{4}(?![\w-]|[ -]\d)"),  # IHI, 16 digits
    re.compile(r"(?<![\w+(-])\d{9,11}(?![\w-])"),
]
# A keyword is linked to a number only inside the same clause, a short way along.
_GOV_WINDOW = 60
# Five digits is enough next to most keywords ("card ending 4567 1" still narrows it down), but
# Centrelink is mostly mentioned with payments, so there only a CRN-sized number counts.
_GOV_MIN_DIGITS = 5
_CENTRELINK_MIN_DIGITS = 9


def find_government_numbers(text: str) -> Iterable[Candidate]:
    """Numbers near a word such as "Medicare", and bare numbers of their shapes."""
    reason = REASONS["government_number"]
    for kw in _GOV_KEYWORD.finditer(text):
        window_end = min(len(text), kw.end() + _GOV_WINDOW)
        stop = re.search(r"[.!?;\n](?:\s|$)", text[kw.end() : window_end])
        if stop:
            window_end = kw.end() + stop.start()
        m = _GOV_NUMBER.search(text, kw.end(), window_end)
        least = _CENTRELINK_MIN_DIGITS if kw.group().lower() == "centrelink" else _GOV_MIN_DIGITS
        if m and sum(ch.isdigit() for ch in m.group()) >= least:
            end = m.end()
            while text[end - 1] in " -":
                end -= 1
            yield Candidate(m.start(), end, "government_number", P_GOV_KEYWORD, reason)
    for rx in _GOV_BARE:
        for m in rx.finditer(text):
            yield Candidate(m.start(), m.end(), "government_number", P_GOV_BARE, reason)

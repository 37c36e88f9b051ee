"""Phone numbers: full Australian and international numbers (via `phonenumbers`) and
local numbers written without an area code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import (
    CLAUSE_BREAK,
    P_LOCAL_PHONE,
    P_PHONE,
    REASONS,
    Candidate,
)

# Public helplines and emergency numbers identify a service, not a person: "I gave her the
# Lifeline number, 13 11 14" is good practice, not a privacy slip.
_PUBLIC_NUMBERS = frozenset(
    """000 112 106 131114 1800737732 1800551800 139276 1300224636 131444 1800422737
    1800184527 1800650890 1800008774 1300659467 1800011046 1300364277 132500 1800882436
    1800199008 1800688009 1800656463 1800100000 1800009623""".split()
)


# Australian mobile and landline shapes, as a second net: phonenumbers reads a run of numbers
# separated only by spaces ("0491 570 156 0491 570 157") as one long, invalid number.
_AU_PHONE = re.compile(r"(?<![\w+(])(?:\+61\s?(?:\(0\)\s?)?|0|\(0)[2-478]\)?(?:[ .-]?\d){8}(?!\d)")


def find_phones(text: str) -> Iterable[Candidate]:
    """Full phone numbers, Australian or international, except public helplines."""
    if not re.search(r"\d[\d\s().-]{5,}\d", text):
        return
    for m in _AU_PHONE.finditer(text):
        yield Candidate(m.start(), m.end(), "phone", P_PHONE, REASONS["phone"])
    # Imported here, not at the top: phonenumbers' metadata costs ~25 ms and memory that every
    # participant kernel would otherwise pay at start, most of them without ever needing it.
    import phonenumbers

    for match in phonenumbers.PhoneNumberMatcher(text, "AU", leniency=phonenumbers.Leniency.VALID):
        raw = match.raw_string
        # Written Australian numbers start with 0, +, a bracket or 13/1300/1800. A bare digit run
        # that merely parses as valid is more often a Medicare, Centrelink or tax file number.
        if raw[0].isdigit() and raw[0] != "0" and not raw.startswith(("13", "18")):
            continue
        if re.sub(r"\D", "", raw) in _PUBLIC_NUMBERS:
            continue
        yield Candidate(match.start, match.end, "phone", P_PHONE, REASONS["phone"])


# Numbers written without an area code: "9876 5432" (an Australian landline's 8 digits), a
# mobile without its 0 ("491 570 159") or a short New Zealand/UK-style local number ("555 1234").
# The 4+4 shape is distinctive enough on its own; the others, and 8 digits run together, need a
# phone word shortly before them in the same clause ("ring her on", "ph", "landline").
_LOCAL_PHONE = re.compile(r"(?<![\w$+(./-])(?<!\d[ -])[2-9]\d{3}([ -]?)\d{4}(?![\w/-]|[ .,]\d)")
_BARE_MOBILE = re.compile(r"(?<![\w$+(./-])(?<!\d[ -])4\d{2}([ -])\d{3}\1\d{3}(?![\w/-]|[ .,]\d)")
_SHORT_LOCAL_PHONE = re.compile(r"(?<![\w$+(./-])(?<!\d[ -])[2-9]\d{2}[ -]\d{4}(?![\w/-]|[ .,]\d)")
_PHONE_WORD = re.compile(
    r"\b(?:phone[ds]?|ph|tel|telephone|mob|mobile|cell|landline|line|number|no|call(?:ed|s)?"
    r"|ring|rang|rings|text(?:ed|s)?|dial(?:led)?|contact|reach(?:ed)?|sms)\b\.?",
    re.IGNORECASE,
)
_PHONE_WINDOW = 40  # characters before the number ("ring her on"); half that after it


def _near_phone_word(text: str, start: int, end: int) -> bool:
    """True when a phone word stands shortly before or after the number, in the same clause."""
    before = text[max(0, start - _PHONE_WINDOW) : start]
    breaks = list(CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    after = text[end : end + _PHONE_WINDOW // 2]
    first_break = CLAUSE_BREAK.search(after)
    if first_break:
        after = after[: first_break.start()]
    return _PHONE_WORD.search(before) is not None or _PHONE_WORD.search(after) is not None


def _looks_like_years_or_amount(a: str, b: str) -> bool:
    # "2020 2023" is a pair of years; "5000-6000" a range of amounts, not a phone number.
    years = all(1900 <= int(x) <= 2099 for x in (a, b))
    return years or (a.endswith("00") and b.endswith("00"))


def find_local_phones(text: str) -> Iterable[Candidate]:
    """Numbers without an area code (see the comment above)."""
    reason = REASONS["phone"]
    for m in _LOCAL_PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _looks_like_years_or_amount(digits[:4], digits[4:]):
            continue
        if m.group(1) or _near_phone_word(text, m.start(), m.end()):
            yield Candidate(m.start(), m.end(), "phone", P_LOCAL_PHONE, reason)
    for rx in (_BARE_MOBILE, _SHORT_LOCAL_PHONE):
        for m in rx.finditer(text):
            if _near_phone_word(text, m.start(), m.end()):
                yield Candidate(m.start(), m.end(), "phone", P_LOCAL_PHONE, reason)

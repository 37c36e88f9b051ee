"""De-identification guard: finds likely identifiers in free text before it is shared.

One module for every app that saves free text (DOMAIN.md §4.1). It runs locally, with no
network and no model: regular expressions, the `phonenumbers` library for phone numbers, and
small word lists. It is a prompt for the author, not a guarantee: it aims to catch most direct
identifiers while keeping false alarms on well de-identified writing rare, because a check that
cries wolf on every sentence teaches people to tick the box without reading.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = (
    "phone",
    "email",
    "date",
    "address",
    "school",
    "government_number",
    "case_number",
    "vehicle_plate",
    "name",
    "listed_name",
)

# Shown to the author next to each highlight: plain words, with what to write instead.
REASONS = {
    "phone": "looks like a phone number",
    "email": "looks like an email address",
    "date": "looks like an exact date (use an age or a rough time, e.g. 'last winter')",
    "address": "looks like a street address (use e.g. 'the family home', 'a rural town')",
    "school": "looks like the name of a school, childcare centre or club (use 'the school')",
    "government_number": "looks like a government number (Medicare, Centrelink, tax file, "
    "licence or passport)",
    "case_number": "looks like a case, file or reference number",
    "vehicle_plate": "looks like a vehicle registration plate (use e.g. 'his car')",
    "name": "looks like a name of a person or place (use a role, e.g. 'the mother', 'Child A')",
    "listed_name": "is one of the names listed as mentioned",
}
_HANDLE_REASON = "looks like a social media handle"
_HOSPITAL_REASON = (
    "looks like the name of a hospital (use e.g. 'the hospital', 'a children's hospital')"
)


@dataclass(frozen=True)
class Finding:
    start: int  # index in the text
    end: int
    kind: str  # one of KINDS
    text: str  # the matched text
    reason: str  # short plain-language explanation shown to a person


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    kind: str
    priority: int  # overlaps go to the higher priority, then to the longer match
    reason: str


# When two candidates overlap, the more specific pattern wins: an email address contains
# name-like words, an address contains a street name, a keyword-led number is surer than a bare one.
_P_EMAIL = 100
_P_GOV_KEYWORD = 90
_P_DATE = 86
_P_CASE_KEYWORD = 85
_P_PLATE_KEYWORD = 88  # "rego XTR 482": surer than a bare number or a capitalised word
_P_PHONE = 80
_P_LOCAL_PHONE = 78  # "9876 5432": a full number with its area code wins over its tail
_P_ADDRESS = 70
_P_SHORT_DATE = 69  # "from 12/3 Marine Parade" is a unit number, not the 12th of March
_P_SCHOOL = 68
_P_HOSPITAL = 67
_P_CASE_PATTERN = 65
_P_PLATE = 62
_P_GOV_BARE = 60
_P_LISTED = 55
_P_HANDLE = 45
_P_NAME = 40


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


# ---------------------------------------------------------------------------------- dates

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


def _find_dates(text: str) -> Iterable[_Candidate]:
    reason = REASONS["date"]
    for rx in (_DAY_MONTH, _MONTH_DAY):
        for m in rx.finditer(text):
            if _month_ok(m) and 1 <= int(m.group("day")) <= 31:
                yield _Candidate(m.start(), m.end(), "date", _P_DATE, reason)
    for m in _WEEKDAY_ORDINAL.finditer(text):
        yield _Candidate(m.start(), m.end(), "date", _P_DATE, reason)
    for m in _BORN_ORDINAL.finditer(text):
        yield _Candidate(m.start("date"), m.end("date"), "date", _P_DATE, reason)
    for rx in (_NUMERIC_DATE, _ISO_DATE):
        for m in rx.finditer(text):
            if _plausible_day_month(int(m.group("a")), int(m.group("b"))):
                yield _Candidate(m.start(), m.end(), "date", _P_DATE, reason)
    for m in _SHORT_DATE.finditer(text):
        if _plausible_day_month(int(m.group("a")), int(m.group("b"))):
            yield _Candidate(m.start("date"), m.end("date"), "date", _P_SHORT_DATE, reason)


# ---------------------------------------------------------------------------------- email
# Found by expanding around each "@" with bounded patterns: an unanchored email regex rescans
# the rest of the text from every position and goes quadratic on long runs like "a.a.a.…".

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}\Z")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,29})")


def _find_emails_and_handles(text: str) -> Iterable[_Candidate]:
    for at in (m.start() for m in re.finditer("@", text)):
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(text, at + 1, at + 1 + 255)
        if local and domain and re.search(r"\.[A-Za-z]{2,}$", domain.group()):
            start = local.start()
            while start < at and text[start] in "._%+'-":  # no leading punctuation
                start += 1
            if start < at:
                yield _Candidate(start, domain.end(), "email", _P_EMAIL, REASONS["email"])
                continue
        handle = _HANDLE.match(text, at)
        if handle:
            end = handle.end()
            while text[end - 1] == ".":  # a handle at the end of a sentence
                end -= 1
            yield _Candidate(at, end, "name", _P_HANDLE, _HANDLE_REASON)


# Handles written without "@". A token that ordinary prose never uses ("lil_jayy07",
# "nightowl#4821") is flagged anywhere; one that could be a word or a file name ("kayz.xo.2009",
# "DinoKing2014", "TheRealTradieDad") only near a platform or account word in the same sentence.
_PLATFORM_WORD = re.compile(
    r"\b(?=[acdfghiklmprstuxy])"  # first letters only: halves the time on long texts
    r"(?:instagram|insta|ig|tiktok|snapchat|snap|facebook|fb|messenger|discord|xbox|psn"
    r"|playstation|roblox|fortnite|minecraft|youtube|twitch|twitter|threads|kik|steam|reddit"
    r"|tinder|telegram|handle|username|user\s?name|gamer\s?tag|screen\s?name|account|profile"
    r"|page|channel|posts?|posted|follows?|followed|games)\b",
    re.IGNORECASE,
)
_UNMISTAKABLE_HANDLE = re.compile(
    r"(?<![\w@.#/-])(?:[A-Za-z0-9][A-Za-z0-9.]*_[A-Za-z0-9_.]*|_[A-Za-z0-9][A-Za-z0-9_.]*"
    r"|[A-Za-z][A-Za-z0-9_.]{1,30}#\d{4})(?![\w@/-])"
)
_POSSIBLE_HANDLE = re.compile(
    r"(?<![\w@.#/-])(?=[A-Za-z0-9_.]*(?:\d|[A-Za-z0-9]\.[A-Za-z0-9]|[a-z][A-Z]))"
    r"[A-Za-z0-9][A-Za-z0-9_.]{3,30}(?![\w@/-])"
)
_HANDLE_WINDOW = 50
_CLAUSE_BREAK = re.compile(r"[.;!?](?:\s|$)|\n")
_CAMEL_CASE = re.compile(r"[a-z][A-Z]")


def _handle_shaped(token: str) -> bool:
    """True for "kayz.xo.2009", "Reaper07", "TheRealTradieDad"; false for words, times, units."""
    letters = sum(ch.isalpha() for ch in token)
    if letters < 3:
        return False
    if "." in token.strip("."):  # a dot between letters or digits, not a full stop
        return token[0].isalpha() and not re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", token)
    has_digit = any(ch.isdigit() for ch in token)
    if has_digit:
        return token[0].isalpha() and not token.isupper()  # "sk8r", "DinoKing2014", not "PS5"
    return len(_CAMEL_CASE.findall(token)) >= 2  # "TheRealTradieDad", not "TikTok" or "iPad"


def _find_handles_without_at(text: str) -> Iterable[_Candidate]:
    for m in _UNMISTAKABLE_HANDLE.finditer(text):
        end = m.end()
        while text[end - 1] == ".":
            end -= 1
        if sum(ch.isalpha() for ch in text[m.start() : end]) >= 2:
            yield _Candidate(m.start(), end, "name", _P_HANDLE, _HANDLE_REASON)
    # Only the few characters around each platform word are looked at: fast on long texts.
    seen: set[int] = set()
    for pw in _PLATFORM_WORD.finditer(text):
        lo, hi = max(0, pw.start() - _HANDLE_WINDOW), min(len(text), pw.end() + _HANDLE_WINDOW)
        for m in _POSSIBLE_HANDLE.finditer(text, lo, hi):
            end = m.end()
            while text[end - 1] == ".":
                end -= 1
            between = text[min(end, pw.start()) : max(m.start(), pw.end())]
            if m.start() in seen or _CLAUSE_BREAK.search(between):
                continue  # already taken, or in another sentence
            cut_short = m.end() < len(text) and re.match(r"[\w@/-]", text[m.end()])
            if not cut_short and _handle_shaped(text[m.start() : end]):
                seen.add(m.start())
                yield _Candidate(m.start(), end, "name", _P_HANDLE, _HANDLE_REASON)


# ---------------------------------------------------------------------------------- phone


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


def _find_phones(text: str) -> Iterable[_Candidate]:
    if not re.search(r"\d[\d\s().-]{5,}\d", text):
        return
    for m in _AU_PHONE.finditer(text):
        yield _Candidate(m.start(), m.end(), "phone", _P_PHONE, REASONS["phone"])
    # Imported here, not at the top: phonenumbers' metadata costs ~25 ms and memory that every
    # participant kernel would otherwise pay at start, most of them without ever needing it.
    import phonenumbers

    for m in phonenumbers.PhoneNumberMatcher(text, "AU", leniency=phonenumbers.Leniency.VALID):
        raw = m.raw_string
        # Written Australian numbers start with 0, +, a bracket or 13/1300/1800. A bare digit run
        # that merely parses as valid is more often a Medicare, Centrelink or tax file number.
        if raw[0].isdigit() and raw[0] != "0" and not raw.startswith(("13", "18")):
            continue
        if re.sub(r"\D", "", raw) in _PUBLIC_NUMBERS:
            continue
        yield _Candidate(m.start, m.end, "phone", _P_PHONE, REASONS["phone"])


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
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    after = text[end : end + _PHONE_WINDOW // 2]
    first_break = _CLAUSE_BREAK.search(after)
    if first_break:
        after = after[: first_break.start()]
    return _PHONE_WORD.search(before) is not None or _PHONE_WORD.search(after) is not None


def _looks_like_years_or_amount(a: str, b: str) -> bool:
    # "2020 2023" is a pair of years; "5000-6000" a range of amounts, not a phone number.
    years = all(1900 <= int(x) <= 2099 for x in (a, b))
    return years or (a.endswith("00") and b.endswith("00"))


def _find_local_phones(text: str) -> Iterable[_Candidate]:
    reason = REASONS["phone"]
    for m in _LOCAL_PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _looks_like_years_or_amount(digits[:4], digits[4:]):
            continue
        if m.group(1) or _near_phone_word(text, m.start(), m.end()):
            yield _Candidate(m.start(), m.end(), "phone", _P_LOCAL_PHONE, reason)
    for rx in (_BARE_MOBILE, _SHORT_LOCAL_PHONE):
        for m in rx.finditer(text):
            if _near_phone_word(text, m.start(), m.end()):
                yield _Candidate(m.start(), m.end(), "phone", _P_LOCAL_PHONE, reason)


# ------------------------------------------------------------------------ government numbers

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


def _find_government_numbers(text: str) -> Iterable[_Candidate]:
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
            yield _Candidate(m.start(), end, "government_number", _P_GOV_KEYWORD, reason)
    for rx in _GOV_BARE:
        for m in rx.finditer(text):
            yield _Candidate(m.start(), m.end(), "government_number", _P_GOV_BARE, reason)


# ----------------------------------------------------------------------------- case numbers

_CASE_KEYWORD = re.compile(
    r"\b(?:case|file|client|matter|ref|reference|report|event|incident|job|docket|notification"
    r"|intake|referral|record|episode|ticket|childstory|cris|cops|id)"
    r"(?:\s*(?:no\b\.?|number\b|num\b\.?|nbr\b|#|id\b|ref\b\.?|reference\b|code\b)){0,2}"
    r"\s*(?:is\s+|was\s+|:\s*|-\s*)?#?\s*"
    r"(?P<id>(?=[A-Za-z0-9/-]*\d{3})[A-Za-z0-9][A-Za-z0-9/-]{2,24})(?![\w/-])",
    re.IGNORECASE,
)
_CASE_DESIGNATOR = re.compile(
    r"\b(?:no\b\.?|number|num\b\.?|nbr|#|id|ref)\s*(?:is|was|:)?\s*#?\s*$", re.IGNORECASE
)
_CASE_PATTERNS = [
    re.compile(r"\b[A-Z]{1,5}[-/]\d{2,4}[-/]\d{2,8}\b"),  # CP-2021-1234, INT/2023/5567
    re.compile(r"\b[A-Z]{2,5}\d{3,}/\d{2,4}\b"),  # BR1234/2022
    re.compile(r"\b[A-Z]{1,3}-?\d{6,}\b"),  # E123456789
    re.compile(r"\b[A-Z]{2,4}-\d{4,}\b"),  # CL-00982
]


def _find_case_numbers(text: str) -> Iterable[_Candidate]:
    reason = REASONS["case_number"]
    for m in _CASE_KEYWORD.finditer(text):
        ident = m.group("id")
        # "the 2019 report" is fine; "report 2019" alone is more likely a year than an id,
        # unless a word such as "no." or "#" says it is a number.
        if ident.isdigit() and len(ident) == 4 and 1950 <= int(ident) <= 2099:
            if not _CASE_DESIGNATOR.search(text[m.start() : m.start("id")]):
                continue
        yield _Candidate(m.start("id"), m.end("id"), "case_number", _P_CASE_KEYWORD, reason)
    for rx in _CASE_PATTERNS:
        for m in rx.finditer(text):
            yield _Candidate(m.start(), m.end(), "case_number", _P_CASE_PATTERN, reason)


# --------------------------------------------------------------------------- vehicle plates
# Two nets. After a word such as "rego" or "plates", a short run of capitals and digits is read
# as a plate ("rego XTR 482", "custom plates, BIGDAZ"). Anywhere else only the shapes that
# Australian, New Zealand and UK plates take, in capitals ("1KD 7FW", "512 KQR", "GH71 XKD").

_PLATE_KEYWORD = re.compile(
    r"(?i:\b(?=[clnprv])(?P<kw>rego(?:['’]?d)?|registration|registered|reg\b\.?"
    r"|(?:number|licen[cs]e|custom|personali[sz]ed|vanity)?\s*plates?))"
    # up to three short lowercase words between ("number", "is", "down as", "that read")
    r"(?P<gap>(?:[\s,:(#-]+[a-z]{1,8}){0,3}?)[\s,:(#-]+"
    # letters with at least one digit in any case, or a run of capitals ("BIGDAZ")
    r"(?P<plate>(?:(?=[A-Za-z]*\d)[A-Za-z0-9]{1,8}|[A-Z0-9]{2,8})(?:[ -][A-Z0-9]{1,4}){0,2})"
    r"(?![\w'’-])"
)
_BARE_PLATES = re.compile(
    r"(?<![\w$./-])(?:"
    r"[A-Z]{3}[ -]?\d{3}"  # ABC 123, ABC-123 (NSW, Vic, NZ)
    r"|\d{3}[ -]?[A-Z]{3}"  # 123 ABC (Qld)
    r"|\d[A-Z]{2}[ -]?\d[A-Z]{2}"  # 1AB 2CD (Vic)
    r"|\d[A-Z]{3}[ -]?\d{3}"  # 1ABC 234 (WA)
    r"|[A-Z]{2}[ -]?\d{2}[ -]?[A-Z]{2}"  # AB 12 CD (NSW, NT)
    r"|[A-Z]{3}[ -]?\d{2}[A-Z]"  # ABC 12D (NSW, ACT)
    r"|[A-Z]{2}\d{2}[ -]?[A-Z]{3}"  # AB12 CDE (UK)
    r"|[A-Z][ -]?\d{3}[ -]?[A-Z]{3}"  # S 123 ABC (SA)
    r")(?![\w/-]|[ -]\d)"
)
# Letter groups that are places, currencies or services, not plates: "NSW 123", "450 AUD".
_NOT_PLATE_LETTERS = _words(
    """nsw vic qld tas act aud nzd usd gbp eur dcj ndis gst abn acn crn tfn usi ihi dva cbd
    pcyc afl nrl sms mms gps ptsd adhd fasd covid sdq asq dass phq gad epds nrt"""
)
_PLATE_KEYWORD_ONLY_WORDS = _words("number is was as down that read reads it its the a of on")


def _plate_letters(plate: str) -> str:
    return "".join(ch for ch in plate if ch.isalpha())


def _is_keyword_plate(plate: str, keyword: str) -> bool:
    """A run after "rego", "plates" …: letters with digits, or a personalised all-capitals plate."""
    chars = plate.replace(" ", "").replace("-", "")
    if not 2 <= len(chars) <= 8 or chars.isdigit():
        return False
    if (
        plate.lower() in _PLATE_KEYWORD_ONLY_WORDS
        or _plate_letters(plate).lower() in _NOT_PLATE_LETTERS
    ):
        return False
    if any(ch.isdigit() for ch in chars):
        return any(ch.isalpha() for ch in chars)
    # Letters only: a personalised plate, in capitals, and only after "rego" or "plates"
    # ("registered as NDIS provider" is not a plate).
    is_plate_word = keyword.lower().startswith("rego") or "plate" in keyword.lower()
    return is_plate_word and chars.isupper() and len(chars) >= 3 and not _allowed(chars)


def _find_vehicle_plates(text: str) -> Iterable[_Candidate]:
    reason = REASONS["vehicle_plate"]
    for m in _PLATE_KEYWORD.finditer(text):
        plate = m.group("plate")
        if _is_keyword_plate(plate, m.group("kw")):
            yield _Candidate(
                m.start("plate"), m.end("plate"), "vehicle_plate", _P_PLATE_KEYWORD, reason
            )
    for m in _BARE_PLATES.finditer(text):
        if _plate_letters(m.group()).lower() not in _NOT_PLATE_LETTERS:
            yield _Candidate(m.start(), m.end(), "vehicle_plate", _P_PLATE, reason)


# -------------------------------------------------------------------------------- addresses

_STREET_TYPE = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Av|Crescent|Cres|Cr|Court|Ct|Drive|Dr|Dve|Place|Pl|Lane"
    r"|Ln|Way|Parade|Pde|Highway|Hwy|Terrace|Tce|Boulevard|Boulevarde|Blvd|Close|Cl|Circuit|Cct"
    r"|Grove|Gr|Gve|Square|Sq|Esplanade|Esp|Promenade|Parkway|Pkwy|Rise|Mews|Row|Walk|Track"
    r"|Loop|Link|Gardens|Gdns|Heights|Hts|View|Vista|Retreat|Chase|Glen|Green|Mall|Quay|Bend"
    r"|Ridge|Alley|Arcade|Freeway|Fwy|Motorway|Mwy|Crossing|Outlook|Point|Circle|Cir|Plaza)"
)
_STREET_WORD = r"(?:(?:St\.?|Saint|Mt\.?|Mount)\s+)?[A-Z][A-Za-z'’-]*"
_ADDRESS = re.compile(
    r"(?:\b(?:Unit|Units|Apartment|Apt|Flat|Suite|Shop|Lot|Villa|Townhouse)\.?\s*"
    r"(?:\d{1,5}[A-Za-z]?\s*,\s*)?)?"
    r"(?<![\w/-])\d{1,5}[A-Za-z]?(?:\s*[/-]\s*\d{1,5}[A-Za-z]?)?,?\s+"
    rf"(?P<street>(?:{_STREET_WORD}\s+){{1,3}})(?P<type>{_STREET_TYPE})\b\.?"
)
# Street types that are also ordinary nouns: "3 Family Court hearings" and "2 Practice Point
# meetings" are not addresses, so with these the street name needs a word of its own.
_AMBIGUOUS_STREET_TYPES = _words(
    """Court Ct Way Place Pl Point Close Cl Green View Walk Row Link Loop Chase Bend Rise Track
    Circle Cir Mall Square Sq Plaza Gardens Heights Retreat Crossing Outlook Glen Ridge Vista"""
)
# Without a house number only the spelled-out street types: "St", "Ct" and "Dr" alone are too
# often a saint, a court or a doctor, and "Court", "Way", "Place" too often ordinary words.
_STREET_NAME = re.compile(
    rf"\b(?:{_STREET_WORD}\s+){{1,3}}(?:Street|Road|Avenue|Crescent|Parade|Highway|Terrace"
    r"|Boulevard|Drive|Lane)\b"
)
_PO_BOX = re.compile(r"\b(?:PO|P\.O\.|Post Office|Locked)\s*Box\s+\d{1,6}\b", re.IGNORECASE)
_STATE_POSTCODE = re.compile(
    r"\b(?:[A-Z][a-z]+\s+){1,3}(?:NSW|VIC|Vic|QLD|Qld|SA|WA|TAS|Tas|NT|ACT)\s+\d{4}\b"
)
# Words that open a capitalised run without being part of the name it introduces.
_LEADING_GENERIC = _words(
    """the a an her his their our my your its this that these those to at on in from of by
    near off along past via and or new old local main"""
)


def _strip_generic_lead(text: str, start: int, end: int) -> int:
    """Start of the span after leading words such as 'The' or 'Her' (or end if nothing is left)."""
    for word in re.finditer(r"\S+", text[start:end]):
        if word.group().lower().rstrip(".,") not in _LEADING_GENERIC:
            return start + word.start()
    return end


def _find_addresses(text: str) -> Iterable[_Candidate]:
    reason = REASONS["address"]
    for m in _ADDRESS.finditer(text):
        if m.group("type") in _AMBIGUOUS_STREET_TYPES and all(
            _allowed(w) for w in m.group("street").split()
        ):
            continue
        yield _Candidate(m.start(), m.end(), "address", _P_ADDRESS, reason)
    for m in _STREET_NAME.finditer(text):
        start = _strip_generic_lead(text, m.start(), m.end())
        if len(text[start : m.end()].split()) >= 2:
            yield _Candidate(start, m.end(), "address", _P_ADDRESS - 1, reason)
    for rx in (_PO_BOX, _STATE_POSTCODE):
        for m in rx.finditer(text):
            yield _Candidate(m.start(), m.end(), "address", _P_ADDRESS, reason)


# ---------------------------------------------------------------------------------- schools

_SCHOOL_TYPE = re.compile(
    r"\b(?:(?:Primary|High|Secondary|Public|State|Grammar|Christian|Catholic|Anglican|Lutheran"
    r"|Community|Special|Central|Area|District|Junior|Senior|Girls|Boys|Independent|Islamic"
    r"|Montessori|Steiner|Dance|Sunday|Language|Agricultural|Sports|Performing Arts)\s+"
    r"(?:School|College|High School)"
    r"|Primary|High|College|Academy|Grammar|School|Kindergarten|Kinder|Kindy|Preschool|Pre-?[Ss]chool"
    r"|Public(?![ \t]+[A-Z])"  # "Kurri Creek Public", but not "the Public Trustee"
    r"|(?:Child ?[Cc]are|Early Learning|Early Childhood|Learning|Children's|Childrens) Centre"
    r"|Child ?[Cc]are|Early Learning|(?:Family |Long )?Day ?[Cc]are|OSHC"
    r"|(?:Junior |Youth )?(?:Football|Soccer|Netball|Cricket|Rugby|Rugby League|Basketball"
    r"|Swimming|Swim|Sports|Sporting|Athletics|Tennis|Hockey|Surf Life Saving|Boxing|Gymnastics"
    r"|Footy|AFL|PCYC)"
    r" Club)\b"
    # the same types typed in lowercase, after a capitalised name ("Wattle Grove primary school")
    r"|\b(?:primary school|high school|public school|state school|secondary college|college"
    r"|kindergarten|kinder|kindy|preschool|pre-school|childcare centre|childcare|child care"
    r"|early learning centre|day care|daycare)\b"
)
_SCHOOL_PREFIX = re.compile(
    r"(?<![\w'’-])"
    r"(?:(?:St\.?|Saint|Mt\.?|Mount|[A-Z][A-Za-z'’-]*)\s+(?:(?:of|on|the|de|la)\s+){0,2}){1,5}\Z"
)
# A capitalised run before a school type that says what kind of school it is, not which one.
_SCHOOL_GENERIC = _words(
    """the a an her his their our my your its this that local new primary high secondary public
    state catholic christian anglican lutheran independent private special community junior
    senior girls boys islamic selective aboriginal early learning child childcare care day
    family long children's childrens school schools kids youth sports sporting football
    soccer netball cricket rugby league basketball swimming swim athletics tennis hockey
    central area district grammar college kinder kindergarten preschool at to from in of on
    and or mainstream regional rural remote metro nearby village town city tafe"""
)


def _find_schools(text: str) -> Iterable[_Candidate]:
    reason = REASONS["school"]
    for t in _SCHOOL_TYPE.finditer(text):
        before = _SCHOOL_PREFIX.search(text, max(0, t.start() - 80), t.start())
        if not before:
            continue
        words = list(re.finditer(r"\S+", text[before.start() : t.start()]))
        while words and _base(words[0].group()) in _SCHOOL_GENERIC:
            words.pop(0)
        # At least one word must pick out one place: "Wattle Grove", not "the local Catholic"
        # and not a word that de-identified writing uses anyway ("Mum's kinder").
        if any(_base(w.group()) not in _SCHOOL_GENERIC and not _allowed(w.group()) for w in words):
            yield _Candidate(
                before.start() + words[0].start(), t.end(), "school", _P_SCHOOL, reason
            )


# -------------------------------------------------------------------------------- hospitals
# "St Vincent's Hospital", "Lady Cilento Children's Hospital", "Monash Children's", "the Royal
# Women's": a capitalised run ending in a hospital word. A state or city name counts as picking
# out one hospital ("Perth Children's Hospital"), unlike "the children's hospital" or "the
# local Base Hospital". "Children's", "Women's" and "Mothers'" alone end a hospital name only
# when no capitalised word follows: "Children's Court", "Women's Refuge" are not hospitals.
_HOSPITAL_TYPE = re.compile(
    r"\b(?:(?:Private\s+|Base\s+|District\s+|Memorial\s+|General\s+)?Hospital"
    r"|Infirmary|Medical\s+Centre|Health\s+Service"
    r"|(?:Children|Women|Mother)['’]s(?:\s+Hospital)?|Mothers['’]|Childrens|Womens"
    r"|Private|Memorial)(?![\w'’]|[ \t]+[A-Z])"
)
_HOSPITAL_PREFIX = re.compile(
    r"(?<![\w'’-])(?:(?:St\.?|Saint|Mt\.?|Mount|[A-Z][A-Za-z'’-]*)\s+(?:(?:of|the|and|&)\s+){0,2}){1,5}\Z"
)
# Words in a hospital's name that say what kind of hospital it is, not which one.
_HOSPITAL_GENERIC = _SCHOOL_GENERIC | _words(
    """hospital hospitals private base district memorial general children's childrens women's
    womens mothers' mother's mothers mental health emergency maternity psychiatric specialist
    medical centre service services teaching major regional rural city country day surgery
    and & of the"""
)
# Place words that de-identified writing uses freely, but that pick out one hospital.
_HOSPITAL_PLACES = _words(
    """nsw victoria queensland tasmania western south northern territory capital wales qld vic
    sydney melbourne brisbane perth adelaide hobart darwin canberra royal north east west"""
)


def _find_hospitals(text: str) -> Iterable[_Candidate]:
    for t in _HOSPITAL_TYPE.finditer(text):
        before = _HOSPITAL_PREFIX.search(text, max(0, t.start() - 80), t.start())
        if not before:
            continue
        words = list(re.finditer(r"\S+", text[before.start() : t.start()]))
        while words and _base(words[0].group()) in _LEADING_GENERIC | _HOSPITAL_GENERIC:
            words.pop(0)
        specific = [
            w.group()
            for w in words
            if _base(w.group()) not in _HOSPITAL_GENERIC
            and (not _allowed(w.group()) or _base(w.group()) in _HOSPITAL_PLACES)
        ]
        if specific:
            start = before.start() + words[0].start()
            yield _Candidate(start, t.end(), "name", _P_HOSPITAL, _HOSPITAL_REASON)


# ------------------------------------------------------------------------------------ names
# A capitalised word in the middle of a sentence is treated as a name unless it is on the
# allow-list below: roles, kin words, services, programs, days, months, languages, peoples,
# states and the like, which de-identified writing uses all the time. At the start of a
# sentence every word is capitalised, so there a word counts as a name only with more signals.

_ALLOWED_CAPITALISED = _words(
    """
    i i'm i've i'll i'd
    mum mums mummy mom mommy mother mothers dad dads daddy father fathers nan nana nanna nanny
    gran granny grandma grandmother grandad granddad grandpa grandfather grandparent
    grandparents pop poppy pa aunty auntie aunt uncle cousin sister brother sibling siblings
    baby bub bubba child children kid kids son daughter parent parents carer carers family
    families partner stepmum stepdad stepfather stepmother step elder elders infant toddler
    teenager adolescent youth young person people persons girl boy man woman men women
    caseworker caseworkers case worker workers manager managers leader leaders team teams
    practitioner practitioners practice supervisor supervisors senior principal deputy teacher
    teachers counsellor counselor nurse nurses doctor doctors gp paediatrician pediatrician
    psychologist psychiatrist therapist midwife magistrate magistrates judge judges officer
    officers police constable sergeant detective lawyer lawyers solicitor barrister advocate
    interpreter director coordinator facilitator mentor educator educators aide chaplain
    priest pastor imam minister specialist consultant clinician assistant student students
    trainee executive liaison staff volunteer volunteers president member members
    department dept departments communities community justice services service health mental
    hospital emergency court courts children's childrens tribunal legal aid office offices
    unit units program programs programme support supports intensive home homes care out of
    and the for in on at to with by a an or protection domestic violence housing commission
    commissioner ombudsman guardian public trustee government state federal national council
    agency agencies organisation organization organisations controlled corporation
    association network alliance foundation institute authority authorities board
    aboriginal torres strait islander islanders first nations nation peoples australian
    australians australia stolen generations generation country elders land dreaming sorry
    business reconciliation naidoc week day days month months year years term terms semester
    plan plans planning conference group groups meeting meetings review panel order orders
    act acts principle principles placement placements framework frameworks model models
    tool tools approach approaches signs safety safe together three houses circle security
    tree life story stories reflective reflection reflections cycle theory what so now why
    how easy english plain language languages school schools kinder kindergarten primary high
    college university uni tafe centre centres center clinic ward refuge shelter respite
    foster kinship residential permanent permanency guardianship adoption assessment
    ndis medicare centrelink dcj docs facs dhhs dffh csyw tusla helpline hotline line
    lifeline headspace beyond blue relationships parentline triple zero ambulance ses
    covid coronavirus cop workbook session sessions stage stages step steps part parts
    question questions answer answers goal goals worry worries strength strengths danger
    statement statements harm complicating factors bottom lines next actions action summary
    note notes update dear hi hello thanks thank yes no ok okay please re fyi cc
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri sat sun weekend weekends
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    christmas xmas easter ramadan eid diwali lunar anzac boxing mother's father's
    holidays holiday spring summer autumn winter
    nsw victoria queensland tasmania western south northern territory capital new wales qld
    vic wa sa nt tas sydney melbourne brisbane perth adelaide hobart darwin canberra metro
    regional rural remote north east west inner outer coast bush outback mainland island
    islands city town towns suburb suburbs cbd region area district shire local
    english arabic vietnamese sudanese chinese mandarin cantonese italian greek samoan tongan
    fijian maori māori pacific filipino indian hindi punjabi urdu dari farsi persian hazara
    afghan iraqi syrian lebanese turkish somali ethiopian eritrean congolese burmese karen
    nepali bhutanese tamil sinhalese sri lankan korean japanese thai khmer cambodian
    indonesian malay spanish portuguese french german russian ukrainian polish serbian
    croatian macedonian kriol auslan muslim islam islamic christian catholic anglican
    uniting orthodox hindu buddhist sikh jewish god allah church mosque temple bible quran
    koran european asian african american british zealand zealander anglo celtic
    caucasian white black indigenous non
    gibbs rolfe kolb schön schon bowlby ainsworth bronfenbrenner maslow winnicott vygotsky
    piaget erikson freud driscoll borton brookfield fook kadushin wenger
    facebook instagram snapchat tiktok whatsapp messenger zoom google youtube ipad iphone
    xbox playstation fortnite minecraft roblox netflix uber kmart woolworths coles aldi
    mcdonald's maccas bunnings internet
    adhd autism autistic asperger's down syndrome fasd ptsd ice
    mr mrs ms miss dr
    lead leads social welfare wellbeing safety fairy wizard words pictures mapping network
    scaling genogram ecomap eco-map trauma informed trauma-informed narrative restorative
    motivational interviewing solution focused strengths-based appreciative inquiry
    tuning triple magic bringing great parents under pressure cool little seasons growth rock
    water protective behaviours behaviors caring dads strong playgroup supported brighter
    futures respect steps childstory cris shed sheds
    pension pensions payment payments allowance allowances benefit benefits jobseeker tax
    age disability carer parenting rent assistance crisis newstart austudy abstudy
    intake duty screening response hub access entry desk column columns outreach rapid
    intervention prevention therapeutic multidisciplinary
    education transport corrections attorney-general attorney general premier cabinet human
    seniors multicultural affairs immigration border force ministry minister's
    circuit behaviour behavior change men's conferencing up royal base
    insta discord twitch twitter reddit kik telegram psn gmail hotmail outlook
    holden commodore ford falcon ranger toyota camry corolla hilux prado landcruiser mazda
    hyundai kia nissan navara mitsubishi triton pajero subaru volkswagen vw golf honda
    suzuki isuzu tesla bmw mercedes audi ute
    """
)
# Honorifics: the next capitalised word (or a single initial, "Ms K") is a name.
_HONORIFICS = _words("mr mrs ms miss mx dr prof professor sr")
# Kin and role words used as titles ("Aunty Maree", "Grandma Rose"): part of the name span.
_TITLES = _HONORIFICS | _words(
    """aunty auntie aunt uncle nan nana nanna grandma grandpa grandad granddad pop poppy
    sister brother father mother cousin sergeant constable detective officer judge
    magistrate coach pastor imam reverend rev"""
)
# Common words that start sentences ("Everyone said …", "Today's visit …"): never names.
_COMMON_STARTERS = _words(
    """a about above across after afterwards again against all almost also although always
    am among an and another any anybody anyone anything anyway apparently are around as at
    back because before being below besides between both but by can certainly clearly could
    currently did do does doing during each earlier either else even eventually ever every
    everybody everyone everything finally first following for from further generally given
    had has have having he her here hers herself him himself his hopefully how however i if
    in initially instead is it its itself just last later least less like luckily many maybe
    me meanwhile might more moreover most mostly much must my myself neither never
    nevertheless next no nobody none noone nor not nothing now obviously of often on once one
    only or other others otherwise our ours ourselves out over overall perhaps possibly
    previously probably quite rather really recently reportedly same second secondly several
    she should since so some somebody someone something sometimes soon still such than that
    the their theirs them themselves then there therefore these they this those though three
    through thus to today together tomorrow tonight too two under unfortunately unless until
    up upon us usually very was we were what whatever when whenever where whereas wherever
    whether which while who whoever whom whose why will with within without would yes yet
    yesterday you your yours yourself everyone's someone's nobody's today's yesterday's
    tomorrow's each other's anyone's
    staff teachers carers parents police neighbours neighbors workers caseworkers kids
    children siblings grandparents doctors nurses officers people services agencies families
    relatives friends visitors both members managers leaders supervisors practitioners
    colleagues student students everybody's
    honestly personally thankfully sadly surprisingly interestingly importantly ideally
    admittedly notably unsurprisingly naturally fortunately frankly looking thinking feeling
    reflecting working talking speaking writing reading listening seeing using having being
    going getting making taking asking following despite regarding considering
    names name"""
)
# Verbs that follow a person at the start of a sentence ("Jayden told me …").
_PERSON_VERBS = _words(
    """said says told tells asked asks explained explains disclosed discloses reported reports
    stated states shared shares admitted admits denied denies refused refuses agreed agrees
    cried cries yelled yells screamed screams shouted shouts laughed laughs smiled smiles
    whispered whispers insisted insists wants wanted loves loved hates hated likes liked
    lives lived attends attended drew draws rang rings called calls phoned phones texted texts
    emailed emails messaged messages arrived arrives ran runs hit hits punched kicked slapped
    flinched flinches hugged hugs sobbed sobs giggled mentioned mentions replied replies
    answered answers wrote writes tried tries turned turns became becomes"""
)
# Common Australian first names, one signal among several for a capitalised word at the start
# of a sentence. Names that are also everyday words (Will, May, Grace, Hope, Mark…) are left out.
_FIRST_NAMES = _words(
    """aaliyah aaron abby abigail adam addison aidan aiden alana alannah alex alexander alexis
    ali alice alicia alyssa amanda amber amelia amy andrew angela angus anna annabelle anthony
    archer archie aria ariana arlo ashley ashton aubrey audrey ava bailey beau bella ben
    benjamin bethany billie blake bodhi bonnie braden brayden brendan brian brianna bridget
    brittany brodie brooke brooklyn bryce caitlin caleb callum cameron carla carly caroline
    casey cassandra charli charlie charlotte chelsea chloe chris christopher claire cody
    connor cooper corey courtney craig daniel danielle darcy darren david declan denise dylan
    eddie edward eleanor elijah eliza elizabeth ella ellie emily emma ethan evelyn evie ezra
    fatima finn freya gabriel gemma georgia george gina hamish hannah harper harrison harvey
    hayden heidi henry hudson hugo imogen indi isaac isabella isabelle isla jacinta jackson
    jacob jai jake james jamie jared jarrah jasmine jason jaxon jayden jaylen jemima jenna
    jennifer jeremy jesse jessica jett jordan joseph josh joshua jye kai kaitlyn karen kate
    katie kayla kaylee keira kevin kiara kirra kristy kyle kylie lachlan lara layla leah lenny
    leo levi liam lily lincoln logan lola lucas lucy luka luke lachie madison maddison maddie
    madeleine mackenzie maria mason matilda matthew maya megan melissa mia michael michelle
    milla mitchell mohammed muhammad molly nathan nate nicholas nicole noah olivia oliver
    oscar paige patrick peter phoebe piper priya rachel rebecca reuben riley ruby ryan
    samantha samuel sarah scarlett sebastian shane sharon shannon sienna skye sophia sophie
    stella steve steven tahlia tamara tanya tayla taylor thomas tiana tom tommy tristan troy
    tyler tyson violet william willow xavier zac zach zachary zali zara zoe zoë"""
)
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
# Theorists and model authors: "Kolb's learning cycle" names a model, not a person involved.
_MODEL_WORDS = _words(
    """model models cycle cycles theory framework approach hierarchy stages triangle wheel
    loop method methods tool matrix scale"""
)
# Models named after two authors: "Hatton and Smith level 3" names a model, not two people.
_MODEL_NAMES = re.compile(r"\bHatton\s+(?:and|&)\s+Smith\b")
# Characters skipped when looking back for the start of a sentence: quotes, brackets, bullets.
_OPENERS = "\"'“‘([{*•·–—-> \t"


def _base(word: str) -> str:
    low = word.lower()
    for suffix in ("'s", "’s"):
        if low.endswith(suffix):
            return low[: -len(suffix)]
    return low


def _allowed(word: str) -> bool:
    """True for a capitalised word that de-identified writing uses (roles, months, services…).

    In a hyphenated word only the capitalised parts count: "Medicare-funded", "Child-led".
    """
    parts = [p for p in word.split("-") if p]
    capitals = [_base(p) for p in parts if p[0].isupper()] or [_base(word)]
    return all(
        p in _ALLOWED_CAPITALISED or (p.endswith("s") and p[:-1] in _ALLOWED_CAPITALISED)
        for p in capitals
    )


def _at_sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in ".!?:\n\r…"


def _is_possessive(word: str) -> bool:
    return word.lower().endswith(("'s", "’s"))


@dataclass
class _Token:
    start: int
    end: int
    word: str
    sentence_start: bool
    flagged: bool = False
    unknown: bool = False  # at a sentence start, neither a known word nor (yet) a name


def _followed_by_model_word(tokens: list[re.Match], i: int) -> bool:
    return any(t.group().lower() in _MODEL_WORDS for t in tokens[i + 1 : i + 4])


# "Circle of Security", "Tuning in to Kids": an unknown capitalised word joined by "of" or
# "in to" to a known one is part of a program or service title. ("and", "to", "with" are left
# out on purpose: "Mum and Kayla", "took Kayla to Centrelink".)
_TITLE_LINK = re.compile(r"\s+(?:of|of the|in to|into)\s+([^\W\d_][^\s,.;:!?]*)")
_SURNAME_SHAPE = re.compile(r"(?:Mc|Mac|O['’]|D['’])[A-Z]")
# "Skylah, who is 6, …", "Khalid, aged 9, …": a relative clause or an age after a capitalised
# sentence opener is a strong sign that the opener is a person.
_PERSON_APPOSITION = re.compile(r",\s+(?:who|whose|aged?\s+\d|\d{1,2}\b)")

# Weaker signs that a sentence opener is a person, trusted only when the word does not look
# like an ordinary noun or adverb (below): "Ayesha is worried", "Kobi won't eat", "Jaxxon and
# his brother", "Indiana, the middle child, …".
_SUBJECT_AUXILIARIES = _words(
    """is was has had did does didn't doesn't won't wouldn't can't couldn't isn't wasn't
    hasn't hadn't will would could can should keeps kept seems seemed looks looked hid hides
    threw throws sat sits slept sleeps ate eats walked walks grabbed pushed bit bites swore
    stole lied wet hugs cuddled smashed broke"""
)
_KIN_WORD = (
    r"(?:eldest|youngest|oldest|middle|child|son|daughter|baby|partner|boyfriend|girlfriend"
    r"|husband|wife|ex|brother|sister|mother|father|mum|dad|mom|nan|nana|grandmother|grandma"
    r"|grandfather|grandad|grandpa|aunt|aunty|auntie|uncle|cousin|carer|stepfather|stepmother"
    r"|stepdad|stepmum|twin|sibling|siblings|friend|mate|neighbour|neighbor|kids|children)"
)
_KIN_APPOSITION = re.compile(
    rf",\s+(?:the|her|his|their|my|our|mum's|dad's)\s+(?:[a-z-]+\s+){{0,2}}?{_KIN_WORD}\b"
)
_AND_KIN = re.compile(
    rf"\s+(?:and|&)\s+(?:(?:his|her|their)\s+(?:[a-z-]+\s+)?{_KIN_WORD}\b|{_KIN_WORD}\b)",
    re.IGNORECASE,
)
_DOUBLE_BARRELLED = re.compile(r"[A-Z][a-z]+-[A-Z][a-z]+")  # "Marlee-Rose", "Ruby-Mae"
# Endings of ordinary nouns and adverbs that open sentences ("Attendance is …", "Progress has …",
# "Regrettably, the father …"), and everyday nouns used without an article.
_ORDINARY_ENDINGS = (
    "tion sion ment ness ity ety rty acy ncy ance ence ing ship ism ogy ics ery ory dom hood"
    " ful ure age ss ly ist ise ize"
).split()
_ORDINARY_NOUNS = _words(
    """money food sleep work contact progress housing alcohol rent debt help time life weather
    transport homework bedtime dinner breakfast lunch tea supervision behaviour behavior anger
    fear trust love change respect play art music sport sports school water mould speech
    cannabis meth grief loss shame guilt conflict feedback paperwork technology therapy
    custody funding access stuff everything nothing something anything attendance routine
    routines structure toileting drinking smoking gambling medication culture identity
    visitation contact childcare daycare kinder hygiene nutrition weight height growth
    bullying screen screens gaming phone wifi internet distance travel stability safety
    lockdown covid isolation unemployment poverty homelessness overcrowding noise mess rapport
    rego respite rain heat traffic"""
)
# Given names with those endings, spelt out so the rule above does not hide them.
_NAMES_WITH_ORDINARY_ENDINGS = _words(
    """jess ross tess bess rory avery gregory tory florence lawrence laurence terrence
    clarence constance holly kelly ally shelly kimberly beverley beverly emily lily molly
    sally polly dolly wesley bradley stanley ashley hayley kayley riley kylie ridley paige
    sage page jessica ming sterling"""
)


def _ordinary_word(word: str) -> bool:
    low = _base(word)
    if low in _NAMES_WITH_ORDINARY_ENDINGS or low in _FIRST_NAMES:
        return False
    return low in _ORDINARY_NOUNS or any(
        low.endswith(end) and len(low) > len(end) + 1 for end in _ORDINARY_ENDINGS
    )


# Verbs that agree with one person only ("Ayesha is"): after the others ("will", "kept") a
# plural-looking word is more likely a noun ("Visits will resume").
_SINGULAR_AUXILIARIES = _words(
    """is was has does doesn't isn't wasn't hasn't keeps seems looks hides throws sits sleeps
    eats walks bites hugs"""
)


def _person_cue_after(text: str, end: int, following: str, joined_by_space: bool) -> bool:
    word = text[:end].rsplit(None, 1)[-1].lower()
    plural_looking = word.endswith("s") and not word.endswith(("ss", "us", "is", "as", "'s", "’s"))
    return (
        (
            joined_by_space
            and following in _SUBJECT_AUXILIARIES
            and (following in _SINGULAR_AUXILIARIES or not plural_looking)
        )
        or _KIN_APPOSITION.match(text, end) is not None
        or _AND_KIN.match(text, end) is not None
    )


def _in_title_phrase(text: str, end: int) -> bool:
    link = _TITLE_LINK.match(text, end)
    return bool(link and link.group(1)[0].isupper() and _allowed(link.group(1)))


def _find_names(text: str) -> Iterable[_Candidate]:
    matches = list(_NAME_TOKEN.finditer(text))
    model_spans = [(mm.start(), mm.end()) for mm in _MODEL_NAMES.finditer(text)]
    tokens: list[_Token | None] = []
    for i, m in enumerate(matches):
        word = m.group()
        if not word[0].isupper() or (
            model_spans and any(a <= m.start() < b for a, b in model_spans)
        ):
            tokens.append(None)
            continue
        tok = _Token(m.start(), m.end(), word, _at_sentence_start(text, m.start()))
        tokens.append(tok)
        prev = tokens[i - 1] if i > 0 else None
        after_honorific = (
            prev is not None
            and _base(prev.word) in _HONORIFICS
            and re.fullmatch(r"\.?\s+", text[prev.end : tok.start]) is not None
        )
        stem = word[:-2] if _is_possessive(word) else word
        letters = stem.replace("'", "").replace("’", "").replace("-", "")
        if after_honorific:
            tok.flagged = True  # "Mr Nguyen", "Ms K"
        elif len(letters) == 1 or (len(letters) > 1 and letters.isupper()):
            continue  # "I", "Child A", acronyms such as DCJ or NDIS
        elif _allowed(word):
            continue
        elif _is_possessive(word) and _followed_by_model_word(matches, i):
            continue  # "Kolb's learning cycle"
        elif _in_title_phrase(text, m.end()):
            continue
        elif not tok.sentence_start:
            tok.flagged = True
        elif _base(word) not in _COMMON_STARTERS:
            following = matches[i + 1].group().lower() if i + 1 < len(matches) else ""
            joined_by_space = i + 1 < len(matches) and text[m.end() : matches[i + 1].start()] == " "
            tok.flagged = (
                _base(word) in _FIRST_NAMES
                or (joined_by_space and following in _PERSON_VERBS)
                or _is_possessive(word)
                or _SURNAME_SHAPE.match(word) is not None
                or _PERSON_APPOSITION.match(text, m.end()) is not None
                or (
                    not _ordinary_word(word)
                    and (
                        _DOUBLE_BARRELLED.fullmatch(word) is not None
                        or _person_cue_after(text, m.end(), following, joined_by_space)
                    )
                )
            )
            tok.unknown = not tok.flagged
    # "Khalid and Amira have …": an unknown opener joined by "and" to a name is a name too.
    for i, tok in enumerate(tokens):
        if tok is None or not tok.unknown:
            continue
        for nxt in tokens[i + 1 : i + 3]:
            if nxt and nxt.flagged and re.fullmatch(r"\s+(?:and|&)\s+", text[tok.end : nxt.start]):
                tok.flagged = True
    yield from _merge_name_runs(text, tokens)


def _merge_name_runs(text: str, tokens: list[_Token | None]) -> Iterable[_Candidate]:
    """One finding per run of capitalised words holding a name ("Tayla Morgan", "Mr Nguyen")."""
    reason = REASONS["name"]
    run: list[_Token] = []

    def close() -> Iterable[_Candidate]:
        flagged = [k for k, t in enumerate(run) if t.flagged]
        if flagged:
            first, last = flagged[0], flagged[-1]
            # Extend left over titles and over unknown capitalised words ("Tayla Morgan").
            while first > 0 and (
                _base(run[first - 1].word) in _TITLES
                or not (
                    _allowed(run[first - 1].word) or _base(run[first - 1].word) in _COMMON_STARTERS
                )
            ):
                first -= 1
            yield _Candidate(run[first].start, run[last].end, "name", _P_NAME, reason)

    for tok in tokens:
        if tok is None:
            yield from close()
            run = []
            continue
        if run and not re.fullmatch(r"\.? ", text[run[-1].end : tok.start]):
            yield from close()
            run = []
        run.append(tok)
    yield from close()


# ---------------------------------------------------------------------------- listed names


def _split_names(names_mentioned: Iterable[str] | str) -> list[str]:
    # A single string is read as a list typed into one box ("Kirra, Jayden"), not as letters.
    if isinstance(names_mentioned, str):
        names_mentioned = re.split(r"[,;\n]", names_mentioned)
    names = {" ".join(str(n).split()) for n in names_mentioned if n is not None}
    return sorted((n for n in names if len(n) >= 2), key=len, reverse=True)


def _find_listed_names(text: str, names: list[str]) -> Iterable[_Candidate]:
    if not names:
        return
    alternatives = "|".join(r"\s+".join(map(re.escape, n.split(" "))) for n in names)
    rx = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    for m in rx.finditer(text):
        yield _Candidate(m.start(), m.end(), "listed_name", _P_LISTED, REASONS["listed_name"])


# ------------------------------------------------------------------------------------- API


def _trim_punctuation(text: str, c: _Candidate) -> _Candidate:
    """Drop a full stop or comma the pattern took from the end of the sentence ("21 August.")."""
    end = c.end
    while end > c.start and text[end - 1] in ".,;:":
        end -= 1
    return c if end == c.end else _Candidate(c.start, end, c.kind, c.priority, c.reason)


def find_identifiers(text: str, names_mentioned: Iterable[str] = ()) -> list[Finding]:
    """Likely identifiers, sorted by start, non-overlapping (longest/most specific wins).

    `names_mentioned` are names the app already knows were said (matched case-insensitively,
    as whole words); a single string is split at commas, semicolons and newlines.
    """
    if not text:
        return []
    candidates: list[_Candidate] = []
    for finder in (
        _find_emails_and_handles,
        _find_handles_without_at,
        _find_government_numbers,
        _find_dates,
        _find_case_numbers,
        _find_phones,
        _find_local_phones,
        _find_vehicle_plates,
        _find_addresses,
        _find_schools,
        _find_hospitals,
        _find_names,
    ):
        candidates.extend(finder(text))
    candidates.extend(_find_listed_names(text, _split_names(names_mentioned)))
    candidates = [_trim_punctuation(text, c) for c in candidates]

    taken: list[_Candidate] = []
    occupied = bytearray(len(text))  # 1 where a chosen finding already sits
    for c in sorted(candidates, key=lambda c: (-c.priority, -(c.end - c.start), c.start)):
        if c.end <= c.start or any(occupied[c.start : c.end]):
            continue
        occupied[c.start : c.end] = b"\x01" * (c.end - c.start)
        taken.append(c)
    return [
        Finding(c.start, c.end, c.kind, text[c.start : c.end], c.reason)
        for c in sorted(taken, key=lambda c: c.start)
    ]


def _escape(text: str) -> str:
    escaped = html.escape(text, quote=True)
    return escaped.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>")


def highlight_html(text: str, findings: list[Finding]) -> str:
    """The whole text HTML-escaped, each finding wrapped in <mark class="cop-deid cop-deid-KIND"
    title="REASON">…</mark>; newlines as <br>. Everything escaped (text and reason)."""
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, f.end)):
        if f.start < pos or f.end > len(text) or f.end <= f.start:
            continue  # overlapping or out of range: never drop or repeat any of the text
        kind = re.sub(r"[^a-z_]", "", str(f.kind).lower()) or "other"
        parts.append(_escape(text[pos : f.start]))
        parts.append(
            f'<mark class="cop-deid cop-deid-{kind}" title="{html.escape(f.reason, quote=True)}">'
            f"{_escape(text[f.start : f.end])}</mark>"
        )
        pos = f.end
    parts.append(_escape(text[pos:]))
    return "".join(parts)


_LABELS = {
    "phone": ("a phone number", "phone numbers"),
    "email": ("an email address", "email addresses"),
    "date": ("an exact date", "exact dates"),
    "address": ("an address", "addresses"),
    "school": ("a school or club name", "school or club names"),
    "government_number": ("a government number", "government numbers"),
    "case_number": ("a case or file number", "case or file numbers"),
    "vehicle_plate": ("a number plate", "number plates"),
    "name": ("a name", "names"),
    "listed_name": ("a listed name", "listed names"),
}


def describe(findings: list[Finding]) -> str:
    """One line for a status message, e.g. '3 possible identifiers: a phone number, 2 names'."""
    if not findings:
        return "No likely identifiers found."
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    parts = []
    for kind, n in counts.items():
        one, many = _LABELS.get(kind, (f"a {kind}", kind))
        parts.append(one if n == 1 else f"{n} {many}")
    total = len(findings)
    return f"{total} possible identifier{'' if total == 1 else 's'}: {', '.join(parts)}"

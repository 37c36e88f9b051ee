"""Vehicle registration plates: "rego XTR 482", "1KD 7FW"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import (
    P_PLATE,
    P_PLATE_KEYWORD,
    REASONS,
    Candidate,
    allowed,
    word_set,
)

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
_NOT_PLATE_LETTERS = word_set(
    """nsw vic qld tas act aud nzd usd gbp eur dcj ndis gst abn acn crn tfn usi ihi dva cbd
    pcyc afl nrl sms mms gps ptsd adhd fasd covid sdq asq dass phq gad epds nrt"""
)
_PLATE_KEYWORD_ONLY_WORDS = word_set("number is was as down that read reads it its the a of on")


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
    return is_plate_word and chars.isupper() and len(chars) >= 3 and not allowed(chars)


def find_vehicle_plates(text: str) -> Iterable[Candidate]:
    """Plates after a word such as "rego", and bare plate shapes in capitals."""
    reason = REASONS["vehicle_plate"]
    for m in _PLATE_KEYWORD.finditer(text):
        plate = m.group("plate")
        if _is_keyword_plate(plate, m.group("kw")):
            yield Candidate(
                m.start("plate"), m.end("plate"), "vehicle_plate", P_PLATE_KEYWORD, reason
            )
    for m in _BARE_PLATES.finditer(text):
        if _plate_letters(m.group()).lower() not in _NOT_PLATE_LETTERS:
            yield Candidate(m.start(), m.end(), "vehicle_plate", P_PLATE, reason)

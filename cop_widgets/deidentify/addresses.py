"""Street addresses, street names, PO boxes and suburb-state-postcode runs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import (
    LEADING_GENERIC,
    P_ADDRESS,
    REASONS,
    Candidate,
    allowed,
    word_set,
)

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
_AMBIGUOUS_STREET_TYPES = word_set(
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


def _strip_generic_lead(text: str, start: int, end: int) -> int:
    """Start of the span after leading words such as 'The' or 'Her' (or end if nothing is left)."""
    for word in re.finditer(r"\S+", text[start:end]):
        if word.group().lower().rstrip(".,") not in LEADING_GENERIC:
            return start + word.start()
    return end


def find_addresses(text: str) -> Iterable[Candidate]:
    """Street addresses, street names, PO boxes and "Town NSW 2000"."""
    reason = REASONS["address"]
    for m in _ADDRESS.finditer(text):
        if m.group("type") in _AMBIGUOUS_STREET_TYPES and all(
            allowed(w) for w in m.group("street").split()
        ):
            continue
        yield Candidate(m.start(), m.end(), "address", P_ADDRESS, reason)
    for m in _STREET_NAME.finditer(text):
        start = _strip_generic_lead(text, m.start(), m.end())
        if len(text[start : m.end()].split()) >= 2:
            yield Candidate(start, m.end(), "address", P_ADDRESS - 1, reason)
    for rx in (_PO_BOX, _STATE_POSTCODE):
        for m in rx.finditer(text):
            yield Candidate(m.start(), m.end(), "address", P_ADDRESS, reason)

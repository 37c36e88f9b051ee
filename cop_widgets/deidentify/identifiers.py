"""find_identifiers runs every finder and keeps the best of overlapping candidates; describe
sums up what was found in one line.
"""

from __future__ import annotations

from collections.abc import Iterable

from cop_widgets.deidentify.addresses import find_addresses
from cop_widgets.deidentify.candidates import Candidate, Finding
from cop_widgets.deidentify.case_numbers import find_case_numbers
from cop_widgets.deidentify.dates import find_dates
from cop_widgets.deidentify.government_numbers import find_government_numbers
from cop_widgets.deidentify.names import find_listed_names, find_names, split_names
from cop_widgets.deidentify.online import find_emails_and_handles, find_handles_without_at
from cop_widgets.deidentify.phones import find_local_phones, find_phones
from cop_widgets.deidentify.places import find_hospitals, find_schools
from cop_widgets.deidentify.vehicle_plates import find_vehicle_plates


def _trim_punctuation(text: str, c: Candidate) -> Candidate:
    """Drop a full stop or comma the pattern took from the end of the sentence ("21 August.")."""
    end = c.end
    while end > c.start and text[end - 1] in ".,;:":
        end -= 1
    return c if end == c.end else Candidate(c.start, end, c.kind, c.priority, c.reason)


def find_identifiers(text: str, names_mentioned: Iterable[str] = ()) -> list[Finding]:
    """Likely identifiers, sorted by start, non-overlapping (longest/most specific wins).

    `names_mentioned` are names the app already knows were said (matched case-insensitively,
    as whole words); a single string is split at commas, semicolons and newlines.
    """
    if not text:
        return []
    candidates: list[Candidate] = []
    for finder in (
        find_emails_and_handles,
        find_handles_without_at,
        find_government_numbers,
        find_dates,
        find_case_numbers,
        find_phones,
        find_local_phones,
        find_vehicle_plates,
        find_addresses,
        find_schools,
        find_hospitals,
        find_names,
    ):
        candidates.extend(finder(text))
    candidates.extend(find_listed_names(text, split_names(names_mentioned)))
    candidates = [_trim_punctuation(text, c) for c in candidates]

    taken: list[Candidate] = []
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

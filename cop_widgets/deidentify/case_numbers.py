"""Case, file and reference numbers: "case no. 12345", "CP-2021-1234"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import P_CASE_KEYWORD, P_CASE_PATTERN, REASONS, Candidate

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


def find_case_numbers(text: str) -> Iterable[Candidate]:
    """Ids after a word such as "case" or "ref", and case-number shapes."""
    reason = REASONS["case_number"]
    for m in _CASE_KEYWORD.finditer(text):
        ident = m.group("id")
        # "the 2019 report" is fine; "report 2019" alone is more likely a year than an id,
        # unless a word such as "no." or "#" says it is a number.
        if ident.isdigit() and len(ident) == 4 and 1950 <= int(ident) <= 2099:
            if not _CASE_DESIGNATOR.search(text[m.start() : m.start("id")]):
                continue
        yield Candidate(m.start("id"), m.end("id"), "case_number", P_CASE_KEYWORD, reason)
    for rx in _CASE_PATTERNS:
        for m in rx.finditer(text):
            yield Candidate(m.start(), m.end(), "case_number", P_CASE_PATTERN, reason)

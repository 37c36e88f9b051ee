"""Named schools, childcare centres, clubs and hospitals."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cop_widgets.deidentify.candidates import (
    HOSPITAL_REASON,
    LEADING_GENERIC,
    P_HOSPITAL,
    P_SCHOOL,
    REASONS,
    Candidate,
    allowed,
    base,
    word_set,
)

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
_SCHOOL_GENERIC = word_set(
    """the a an her his their our my your its this that local new primary high secondary public
    state catholic christian anglican lutheran independent private special community junior
    senior girls boys islamic selective aboriginal early learning child childcare care day
    family long children's childrens school schools kids youth sports sporting football
    soccer netball cricket rugby league basketball swimming swim athletics tennis hockey
    central area district grammar college kinder kindergarten preschool at to from in of on
    and or mainstream regional rural remote metro nearby village town city tafe"""
)


def find_schools(text: str) -> Iterable[Candidate]:
    """Named schools, childcare centres and clubs."""
    reason = REASONS["school"]
    for t in _SCHOOL_TYPE.finditer(text):
        before = _SCHOOL_PREFIX.search(text, max(0, t.start() - 80), t.start())
        if not before:
            continue
        words = list(re.finditer(r"\S+", text[before.start() : t.start()]))
        while words and base(words[0].group()) in _SCHOOL_GENERIC:
            words.pop(0)
        # At least one word must pick out one place: "Wattle Grove", not "the local Catholic"
        # and not a word that de-identified writing uses anyway ("Mum's kinder").
        if any(base(w.group()) not in _SCHOOL_GENERIC and not allowed(w.group()) for w in words):
            yield Candidate(before.start() + words[0].start(), t.end(), "school", P_SCHOOL, reason)


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
_HOSPITAL_GENERIC = _SCHOOL_GENERIC | word_set(
    """hospital hospitals private base district memorial general children's childrens women's
    womens mothers' mother's mothers mental health emergency maternity psychiatric specialist
    medical centre service services teaching major regional rural city country day surgery
    and & of the"""
)
# Place words that de-identified writing uses freely, but that pick out one hospital.
_HOSPITAL_PLACES = word_set(
    """nsw victoria queensland tasmania western south northern territory capital wales qld vic
    sydney melbourne brisbane perth adelaide hobart darwin canberra royal north east west"""
)


def find_hospitals(text: str) -> Iterable[Candidate]:
    """Named hospitals (see the comment above)."""
    for t in _HOSPITAL_TYPE.finditer(text):
        before = _HOSPITAL_PREFIX.search(text, max(0, t.start() - 80), t.start())
        if not before:
            continue
        words = list(re.finditer(r"\S+", text[before.start() : t.start()]))
        while words and base(words[0].group()) in LEADING_GENERIC | _HOSPITAL_GENERIC:
            words.pop(0)
        specific = [
            w.group()
            for w in words
            if base(w.group()) not in _HOSPITAL_GENERIC
            and (not allowed(w.group()) or base(w.group()) in _HOSPITAL_PLACES)
        ]
        if specific:
            start = before.start() + words[0].start()
            yield Candidate(start, t.end(), "name", P_HOSPITAL, HOSPITAL_REASON)

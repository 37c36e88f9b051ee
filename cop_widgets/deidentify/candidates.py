"""What every finder shares: the Finding and candidate types, the kinds and their reasons,
the priorities that settle overlaps, and the word lists and helpers several kinds use.
"""

from __future__ import annotations

import re
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
HANDLE_REASON = "looks like a social media handle"
HOSPITAL_REASON = (
    "looks like the name of a hospital (use e.g. 'the hospital', 'a children's hospital')"
)


@dataclass(frozen=True)
class Finding:
    """A likely identifier in a text, with why it was flagged."""

    start: int  # index in the text
    end: int
    kind: str  # one of KINDS
    text: str  # the matched text
    reason: str  # short plain-language explanation shown to a person


@dataclass(frozen=True)
class Candidate:
    """A possible finding, before overlapping candidates are settled by priority."""

    start: int
    end: int
    kind: str
    priority: int  # overlaps go to the higher priority, then to the longer match
    reason: str


# When two candidates overlap, the more specific pattern wins: an email address contains
# name-like words, an address contains a street name, a keyword-led number is surer than a bare one.
P_EMAIL = 100
P_GOV_KEYWORD = 90
P_DATE = 86
P_CASE_KEYWORD = 85
P_PLATE_KEYWORD = 88  # "rego XTR 482": surer than a bare number or a capitalised word
P_PHONE = 80
P_LOCAL_PHONE = 78  # "9876 5432": a full number with its area code wins over its tail
P_ADDRESS = 70
P_SHORT_DATE = 69  # "from 12/3 Marine Parade" is a unit number, not the 12th of March
P_SCHOOL = 68
P_HOSPITAL = 67
P_CASE_PATTERN = 65
P_PLATE = 62
P_GOV_BARE = 60
P_LISTED = 55
P_HANDLE = 45
P_NAME = 40


def word_set(block: str) -> frozenset[str]:
    """The words of a whitespace-separated block, as a set."""
    return frozenset(block.split())


# Splits a clause from the next: a keyword or a phone word counts only within its clause.
CLAUSE_BREAK = re.compile(r"[.;!?](?:\s|$)|\n")

# Words that open a capitalised run without being part of the name it introduces.
LEADING_GENERIC = word_set(
    """the a an her his their our my your its this that these those to at on in from of by
    near off along past via and or new old local main"""
)

# Capitalised words that de-identified writing uses all the time: roles, kin words,
# services, programs, days, months, languages, peoples, states and the like. Such a word is
# not a name, and does not pick out one school, hospital, street or number plate.
_ALLOWED_CAPITALISED = word_set(
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


def base(word: str) -> str:
    """The word in lowercase, without a possessive 's ("Kayla's" -> "kayla")."""
    low = word.lower()
    for suffix in ("'s", "’s"):
        if low.endswith(suffix):
            return low[: -len(suffix)]
    return low


def allowed(word: str) -> bool:
    """True for a capitalised word that de-identified writing uses (roles, months, services…).

    In a hyphenated word only the capitalised parts count: "Medicare-funded", "Child-led".
    """
    parts = [p for p in word.split("-") if p]
    capitals = [base(p) for p in parts if p[0].isupper()] or [base(word)]
    return all(
        p in _ALLOWED_CAPITALISED or (p.endswith("s") and p[:-1] in _ALLOWED_CAPITALISED)
        for p in capitals
    )

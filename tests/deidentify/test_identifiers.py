"""The de-identification guard: measured on a labelled corpus, then kind by kind.

Run with `pytest -s tests/deidentify/test_identifiers.py` (or -rA) to see the recall and
false-alarm figures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from cop_widgets.deidentify import (
    KINDS,
    REASONS,
    Finding,
    describe,
    find_identifiers,
)
from cop_widgets.widgets.deid_check import highlight_html

CORPUS_PATH = Path(__file__).parent / "data" / "deid_corpus.yaml"
DEV_PATH = Path(__file__).parent / "data" / "deid_dev.yaml"
HELDOUT_PATH = Path(__file__).parent / "data" / "deid_heldout.yaml"
MIN_RECALL = 0.9
MAX_FALSE_ALARMS = 0.1
MIN_KIND_RECALL = 0.8
# An expected kind also counts as found when the text was flagged under a neighbouring kind:
# the author still sees it highlighted (a school caught as a name, a Medicare number as a phone).
ACCEPTABLE = {
    "school": {"name"},
    "address": {"name"},
    "name": {"listed_name"},
    "government_number": {"case_number", "phone"},
    "case_number": {"government_number"},
    "phone": {"government_number"},
    "vehicle_plate": {"case_number", "government_number"},
}


def kinds(text: str, names=()) -> list[str]:
    return [f.kind for f in find_identifiers(text, names)]


def texts(text: str, names=()) -> list[str]:
    return [f.text for f in find_identifiers(text, names)]


# ---------------------------------------------------------------------- corpus measurement


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))


def _measure(entries: list[dict]) -> dict:
    positives = [e for e in entries if e["kinds"]]
    clean = [e for e in entries if not e["kinds"]]
    found_any = 0
    per_kind_expected: Counter[str] = Counter()
    per_kind_found: Counter[str] = Counter()
    misses, alarms = [], []
    for e in positives:
        got = {f.kind for f in find_identifiers(e["text"], e.get("names_mentioned", ()))}
        found_any += bool(got)
        for kind in set(e["kinds"]):
            per_kind_expected[kind] += 1
            if kind in got or got & ACCEPTABLE.get(kind, set()):
                per_kind_found[kind] += 1
            else:
                misses.append((kind, e["text"], sorted(got)))
    for e in clean:
        hits = find_identifiers(e["text"], e.get("names_mentioned", ()))
        if hits:
            alarms.append((e["text"], [(f.kind, f.text) for f in hits]))
    return {
        "positives": len(positives),
        "clean": len(clean),
        "found_any": found_any,
        "recall": found_any / len(positives) if positives else 1.0,
        "false_alarm_rate": len(alarms) / len(clean) if clean else 0.0,
        "alarms": alarms,
        "misses": misses,
        "per_kind": {
            k: (per_kind_found[k], per_kind_expected[k]) for k in KINDS if per_kind_expected[k]
        },
    }


def _report(title: str, m: dict) -> str:
    lines = [
        f"{title}: {m['positives'] + m['clean']} sentences "
        f"({m['positives']} with identifiers, {m['clean']} clean)",
        f"  sentence-level recall: {m['found_any']}/{m['positives']} = {m['recall']:.3f}",
        f"  false-alarm rate:      {len(m['alarms'])}/{m['clean']} = {m['false_alarm_rate']:.3f}",
        "  per-kind recall:       "
        + ", ".join(f"{k} {f}/{n} = {f / n:.2f}" for k, (f, n) in m["per_kind"].items()),
    ]
    lines += [f"  missed {kind}: {text!r} (found {got})" for kind, text, got in m["misses"]]
    lines += [f"  false alarm: {text!r} -> {hits}" for text, hits in m["alarms"]]
    return "\n".join(lines)


def test_corpus_is_big_and_varied_enough(corpus):
    positives = [e for e in corpus if e["kinds"]]
    clean = [e for e in corpus if not e["kinds"]]
    assert len(corpus) >= 200 and len(positives) >= 110 and len(clean) >= 100
    used = {k for e in positives for k in e["kinds"]}
    assert used == set(KINDS), f"kinds with no example: {set(KINDS) - used}"
    assert all(set(e) <= {"text", "kinds", "names_mentioned", "batch"} for e in corpus)
    assert len({e["text"] for e in corpus}) == len(corpus), "duplicate sentences"


def test_recall_and_false_alarms_on_the_labelled_corpus(corpus):
    overall = _measure(corpus)
    # Later batches were written after the detector existed; their first-run figures are in
    # the corpus comments. Shown apart so a drop on newer sentences is not hidden by the rest.
    report = "\n".join(
        [_report("de-identification corpus, all", overall)]
        + [
            _report(f"batch {b} only", _measure([e for e in corpus if e.get("batch", 1) == b]))
            for b in sorted({e.get("batch", 1) for e in corpus})
        ]
    )
    print("\n" + report)
    assert overall["recall"] >= MIN_RECALL, report
    assert overall["false_alarm_rate"] <= MAX_FALSE_ALARMS, report
    weak = {k: f / n for k, (f, n) in overall["per_kind"].items() if f / n < MIN_KIND_RECALL}
    assert not weak, f"per-kind recall below {MIN_KIND_RECALL}: {weak}\n{report}"


def test_findings_are_sorted_non_overlapping_and_match_the_text(corpus):
    for e in corpus:
        found = find_identifiers(e["text"], e.get("names_mentioned", ()))
        for f in found:
            assert isinstance(f, Finding) and f.kind in KINDS and f.reason
            assert e["text"][f.start : f.end] == f.text and f.text.strip() == f.text
        for a, b in zip(found, found[1:], strict=False):
            assert a.end <= b.start, (e["text"], a, b)


# ------------------------------------------------ span-level batches: development and held out
# Plates, handles without "@", sentence-initial or uncommon given names, hospitals and phone
# numbers without an area code (issue 11, item 7). Each sentence lists the exact substrings that
# should be flagged. An identifier counts as found when a finding overlaps it (the author sees it
# highlighted, whatever the kind); a false alarm is a clean sentence with any finding, and a
# stray span is a finding that overlaps no listed identifier.
#
# The held-out batch was written before the rules were changed and never tuned on. Measured on
# it, first run of each:
#   detector before the change: 26/70 identifiers found (0.371), 2/52 clean sentences flagged
#                               (0.038), 8 stray spans of 35 findings (0.229: car models, "Insta")
#   detector after the change:  67/70 identifiers found (0.957), 2/52 clean sentences flagged
#                               (0.038), 2 stray spans of 70 findings (0.029)
# (misses after: "Harlow spent …", "the Women's and Children's Hospital", "85501234 as an
# after-hours contact"; alarms: "Tuning in to Teens", "A Level 3 risk"). Left as they are: a
# rule changed for them would make this batch no longer held out. The floors sit below these
# figures, so a real drop fails while a single new miss does not.
HELDOUT_MIN_RECALL = 0.9
HELDOUT_MAX_CLEAN_FLAGGED = 0.10
HELDOUT_MAX_STRAY_SPANS = 0.10  # share of all findings on the batch
DEV_MIN_RECALL = 0.95
DEV_MAX_CLEAN_FLAGGED = 0.05


def _load_span_batch(path: Path) -> list[dict]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    for e in entries:
        assert set(e) <= {"text", "identifiers", "category"}, e
        for ident in e["identifiers"]:
            assert ident in e["text"], (ident, e["text"])
    return entries


def _measure_spans(entries: list[dict]) -> dict:
    present = found = clean = clean_flagged = stray = findings = 0
    per_category: dict[str, list[int]] = {}
    misses, strays = [], []
    for e in entries:
        text, hits = e["text"], find_identifiers(e["text"])
        spans = []
        for ident in e["identifiers"]:
            start = text.index(ident)
            spans.append((start, start + len(ident), ident))
        findings += len(hits)
        counts = per_category.setdefault(e.get("category", "?"), [0, 0])
        for a, b, ident in spans:
            present += 1
            counts[1] += 1
            if any(f.start < b and a < f.end for f in hits):
                found += 1
                counts[0] += 1
            else:
                misses.append((ident, text, [(f.kind, f.text) for f in hits]))
        for f in hits:
            if not any(f.start < b and a < f.end for a, b, _ in spans):
                stray += 1
                strays.append((f.kind, f.text, text))
        if not spans:
            clean += 1
            clean_flagged += bool(hits)
    return {
        "present": present,
        "found": found,
        "recall": found / present if present else 1.0,
        "clean": clean,
        "clean_flagged": clean_flagged,
        "clean_rate": clean_flagged / clean if clean else 0.0,
        "stray": stray,
        "findings": findings,
        "stray_rate": stray / findings if findings else 0.0,
        "per_category": per_category,
        "misses": misses,
        "strays": strays,
    }


def _report_spans(title: str, m: dict) -> str:
    lines = [
        f"{title}: {m['present']} identifiers, {m['clean']} clean sentences",
        f"  recall (identifiers found / present): {m['found']}/{m['present']} = {m['recall']:.3f}",
        f"  clean sentences flagged:              {m['clean_flagged']}/{m['clean']} "
        f"= {m['clean_rate']:.3f}",
        f"  stray spans (not an identifier):      {m['stray']}/{m['findings']} findings "
        f"= {m['stray_rate']:.3f}",
        "  per category: "
        + ", ".join(f"{c} {f}/{n}" for c, (f, n) in m["per_category"].items() if n),
    ]
    lines += [f"  missed: {ident!r} in {text!r} (found {got})" for ident, text, got in m["misses"]]
    lines += [f"  stray {kind}: {span!r} in {text!r}" for kind, span, text in m["strays"]]
    return "\n".join(lines)


def test_development_batch_of_new_kinds():
    m = _measure_spans(_load_span_batch(DEV_PATH))
    report = _report_spans("development batch (tuned on)", m)
    print("\n" + report)
    assert m["present"] >= 50 and m["clean"] >= 40
    assert m["recall"] >= DEV_MIN_RECALL, report
    assert m["clean_rate"] <= DEV_MAX_CLEAN_FLAGGED, report


def test_held_out_batch_of_new_kinds():
    entries = _load_span_batch(HELDOUT_PATH)
    dev_texts = {e["text"] for e in _load_span_batch(DEV_PATH)}
    corpus_texts = {e["text"] for e in yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))}
    assert not {e["text"] for e in entries} & (dev_texts | corpus_texts), "held-out text reused"
    m = _measure_spans(entries)
    report = _report_spans("HELD-OUT batch (never tuned on)", m)
    print("\n" + report)
    assert m["present"] >= 60 and m["clean"] >= 50
    assert m["recall"] >= HELDOUT_MIN_RECALL, report
    assert m["clean_rate"] <= HELDOUT_MAX_CLEAN_FLAGGED, report
    assert m["stray_rate"] <= HELDOUT_MAX_STRAY_SPANS, report


# ------------------------------------------------------------------------------ each kind


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ring her on 0491 570 156 tonight.", "0491 570 156"),
        ("Mobile 0491570156.", "0491570156"),
        ("Landline (02) 5550 1234, after 4.", "(02) 5550 1234"),
        ("Her number is +61 491 570 110", "+61 491 570 110"),
        ("Work: 03 5550 4567", "03 5550 4567"),
        ("He gave 1300 975 707 for his boss.", "1300 975 707"),
    ],
)
def test_phone_numbers_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("phone", expected)]


def test_two_phone_numbers_side_by_side_are_both_found():
    assert texts("Numbers: 0491 570 156 0491 570 157") == ["0491 570 156", "0491 570 157"]


@pytest.mark.parametrize(
    "text",
    [
        "She called 000 when he broke the door.",
        "I gave her Lifeline (13 11 14) and 1800 737 732 for after hours.",
        "The baby weighed 3.2 kg at 2 weeks and the mother is 17.",
        "Scores went from 3 to 7; she attended 3/4 of the sessions.",
        "The mother receives about $450 a fortnight.",
    ],
)
def test_helplines_and_ordinary_numbers_are_not_phone_numbers(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Email dazza.k88@gmail.com please.", "dazza.k88@gmail.com"),
        ("Send to intake+north@familyservices.org.au.", "intake+north@familyservices.org.au"),
        ("(mum@example.com)", "mum@example.com"),
    ],
)
def test_email_addresses_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("email", expected)]


def test_an_at_sign_alone_is_not_an_email_but_a_handle_is_flagged():
    assert kinds("We meet @ the office at 10.") == []
    assert [(f.kind, f.text) for f in find_identifiers("Her TikTok is @kayz_xo.")] == [
        ("name", "@kayz_xo")
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Born on 12/03/2019.", "12/03/2019"),
        ("Seen on 12-3-19 at home.", "12-3-19"),
        ("The removal was on 3 March 2019.", "3 March 2019"),
        ("It happened on March 3rd, after school.", "March 3rd"),
        ("DOB 2019-03-12", "2019-03-12"),
        ("He was born on the 5th of May.", "the 5th of May"),
        ("Court is on 7 Nov.", "7 Nov"),
        ("Contact is on Wednesday the 9th.", "Wednesday the 9th"),
        ("She was born on 4/5 in the car.", "4/5"),
        ("DOB: 01.09.2008", "01.09.2008"),
    ],
)
def test_exact_dates_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("date", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Last winter the family moved.",
        "In March the child started kinder.",
        "We first met in May 2019.",
        "Two weeks ago the father left.",
        "At age 7 she was caring for her siblings.",
        "The Year 3 teacher was worried.",
        "In 2019 the first report was made.",
        "Visits are at 3:30 on Fridays.",
        "She scored 12/20 and we meet again in 2-3 weeks.",
        "You may 3D print the worksheet.",
        "The case was closed in spring after six months.",
    ],
)
def test_vague_times_are_not_dates(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("They live at 14 Wattle Street now.", "14 Wattle Street"),
        ("Dad is at Unit 4/12 Smith St, upstairs.", "Unit 4/12 Smith St"),
        ("Visit 27 Banksia Cres in the morning.", "27 Banksia Cres"),
        ("Police went to 2/45 Princes Hwy.", "2/45 Princes Hwy"),
        ("They rent 15A Harbour View Drive.", "15A Harbour View Drive"),
        ("The family was at Lot 7 Bendigo Road.", "Lot 7 Bendigo Road"),
        ("Mail goes to PO Box 123.", "PO Box 123"),
        ("He sleeps in a car on Jacaranda Street.", "Jacaranda Street"),
    ],
)
def test_street_addresses_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("address", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "It is a 5 minute drive to the school.",
        "The Family Court made orders.",
        "We met at the regional office, a short drive from town.",
        "The mother has 3 children under 5.",
        "Dr Singh's advice came 2 weeks later.",
        "There have been 3 Family Court hearings this year.",
        "After 2 Children's Court mentions the order was made.",
    ],
)
def test_ordinary_sentences_with_numbers_are_not_addresses(text):
    assert "address" not in kinds(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He attends Wattle Grove Primary School.", "Wattle Grove Primary School"),
        ("The principal at Riverside High School rang.", "Riverside High School"),
        ("She goes to Little Gumnuts Childcare Centre.", "Little Gumnuts Childcare Centre"),
        ("Her brother is at Banksia Early Learning Centre.", "Banksia Early Learning Centre"),
        ("The teacher at St Brigid's Primary noticed.", "St Brigid's Primary"),
        ("They moved to Carrington State School.", "Carrington State School"),
        ("He is in Year 9 at Westbrook Secondary College.", "Westbrook Secondary College"),
        ("The twins go to Kurri Creek Public and catch the bus.", "Kurri Creek Public"),
        ("She is enrolled at Wattle Grove primary school.", "Wattle Grove primary school"),
        (
            "He plays for the Redgum Tigers Junior Football Club.",
            "Redgum Tigers Junior Football Club",
        ),
    ],
)
def test_school_and_childcare_names_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("school", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "The school rang about his attendance.",
        "Her kindergarten has been flexible.",
        "The eldest is in Year 7 at the local high school.",
        "She goes to the local Catholic primary school.",
        "The child started at the early learning centre.",
        "Mum's kinder friends have been a support.",
        "The Public Trustee manages the funds.",
    ],
)
def test_generic_schools_are_not_flagged(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Her Medicare number is 2123 45670 1.", "2123 45670 1"),
        ("Medicare card 29501234561 expired.", "29501234561"),
        ("The CRN was 207123456K.", "207123456K"),
        ("Customer reference number 301 234 567A is on the letter.", "301 234 567A"),
        ("He wrote 123 456 782 as his tax file number.", "123 456 782"),
        ("Driver licence number: 12345678.", "12345678"),
        ("Passport PA1234567 is with the Department.", "PA1234567"),
        ("I read out 987654321 on the phone.", "987654321"),
    ],
)
def test_government_numbers_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("government_number", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Medicare-funded sessions ran out after ten visits.",
        "Centrelink cut her payment of $1200 last fortnight.",
        "The NDIS plan is worth about $40,000 a year.",
        "Her licence was suspended for 6 months.",
        "Centrelink paid back 12000 dollars in March.",
    ],
)
def test_money_and_keywords_alone_are_not_government_numbers(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("It is listed as case no. 12345.", "12345"),
        ("Quote file #A-2023-0042 please.", "A-2023-0042"),
        ("The file CP-2021-1234 moved offices.", "CP-2021-1234"),
        ("Police gave ref 88123.", "88123"),
        ("ROSH report number 4471 was screened in.", "4471"),
        ("Court file BR1234/2022 has the orders.", "BR1234/2022"),
        ("Event E123456789 was recorded.", "E123456789"),
        ("The intake reference was INT/2023/5567.", "INT/2023/5567"),
        ("File number 2021 has the old notes.", "2021"),
    ],
)
def test_case_and_file_numbers_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("case_number", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Following the ROSH report, we visited within 24 hours.",
        "The 2019 report was not followed up.",
        "I wrote a case note and updated the file 3 times.",
        "The report in 2021 was screened out.",
        "COVID-19 made home visits harder.",
        "The case was allocated in term 3.",
    ],
)
def test_ordinary_mentions_of_cases_and_reports_are_not_case_numbers(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Jayden told me he was scared.", ["Jayden"]),
        ("I sat with Mum and Kayla.", ["Kayla"]),
        ("Mr Nguyen arrived late.", ["Mr Nguyen"]),
        ("Ms K said no.", ["Ms K"]),
        ("The referral came from Dr. Lim.", ["Dr. Lim"]),
        ("We asked Aunty Maree to help.", ["Aunty Maree"]),
        ("Kylie's partner moved in.", ["Kylie's"]),
        ("Tayla Morgan is the eldest.", ["Tayla Morgan"]),
        ("Skylah, who is 6, told her teacher.", ["Skylah"]),
        ("Khalid and Amira have been in care.", ["Khalid", "Amira"]),
        ("O'Connor family members were hostile.", ["O'Connor"]),
        ("Ngaire rang the office three times.", ["Ngaire"]),
        ("The family moved from Dubbo.", ["Dubbo"]),
        ('She said: "Jayden, are you ok?"', ["Jayden"]),
        ("Dad (Michael) was late.", ["Michael"]),
    ],
)
def test_names_are_found(text, expected):
    found = find_identifiers(text)
    assert [f.text for f in found] == expected and {f.kind for f in found} == {"name"}


@pytest.mark.parametrize(
    "text",
    [
        "Mum said she was scared of losing the kids.",
        "Child A and Child B's mother met the caseworker.",
        "On Monday I met the Year 3 teacher and my team leader.",
        "The Aboriginal Child Placement Principle guided the plan.",
        "Torres Strait Islander kinship practices shaped the placement.",
        "Centrelink, Medicare, the NDIS and DCJ were all involved.",
        "Police and the Magistrate asked for a cultural report.",
        "Signs of Safety and Circle of Security helped the family.",
        "We talked about Tuning in to Kids at the community centre.",
        "I used Gibbs' reflective cycle and Kolb's learning cycle.",
        "Everyone said the visit went well.",
        "Honestly, I was relieved when it ended.",
        "What? The child was hungry. So what? Needs were unmet. Now what? Ask first.",
        "The mother speaks Arabic and English; a Vietnamese interpreter joined in January.",
        "Over Christmas and Ramadan the visits changed.",
        "The Department of Education and the Family Court were involved.",
        "Will the mother cope? May I suggest another approach?",
        "Nan and Grandad have the boys on Saturdays.",
        "I'm worried, and I've said so in supervision.",
        "We met the Intake Team and the Men's Shed coordinator.",
        "She gets the Age Pension and Carer Allowance.",
    ],
)
def test_roles_services_and_ordinary_capitals_are_not_names(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The partner's car, rego YTB 219, was parked outside.", "YTB 219"),
        ("He wrote the number plate down as BJZ-447.", "BJZ-447"),
        ("Dad's ute has custom plates, BIGDAZ, so everyone knows it.", "BIGDAZ"),
        ("A black Ranger, 2HK 4LM, follows the carer home.", "2HK 4LM"),
        ("They got into a grey Camry, 512 KQR, at pick-up.", "512 KQR"),
        ("The car that hit the fence was GH71 XKD.", "GH71 XKD"),
        ("The van was rego'd as KMP304.", "KMP304"),
    ],
)
def test_vehicle_plates_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("vehicle_plate", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "The car's rego had lapsed, so the carer could not drive.",
        "The agency is registered as NDIS provider 4050.",
        "The PHQ-9 and GAD-7 scores were lower; the SDQ was 19.",
        "Rego costs 900 AUD a year in NSW 2000.",
        "He plays on a PS5 and drives a 4WD.",
    ],
)
def test_ordinary_mentions_of_cars_and_scores_are_not_plates(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Her Snapchat is bella.bxx and it is public.", "bella.bxx"),
        ("He games online as xX_Reaper_Xx most nights.", "xX_Reaper_Xx"),
        ("His username on Roblox is DinoKing2014.", "DinoKing2014"),
        ("The stranger messaged her on Discord as ghostboy#1123.", "ghostboy#1123"),
        ("Koa's mum posts as koas.mumma on Instagram.", "koas.mumma"),
    ],
)
def test_handles_without_an_at_sign_are_found(text, expected):
    found = [(f.kind, f.text, f.reason) for f in find_identifiers(text)]
    assert ("name", expected, "looks like a social media handle") in found


@pytest.mark.parametrize(
    "text",
    [
        "He is on TikTok and Snapchat until 2 am, e.g. on school nights.",
        "Her Facebook page was hacked, so she made a new account.",
        "Version 2.1 of the plan mentions her Instagram use.",
    ],
)
def test_platform_words_and_ordinary_tokens_are_not_handles(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Taj has not been to school for two weeks.", "Taj"),
        ("Ayesha is worried about her visa.", "Ayesha"),
        ("Indiana, the middle child, barely spoke.", "Indiana"),
        ("Jaxxon and his brother share a room.", "Jaxxon"),
        ("Kobi won't eat at the carer's house.", "Kobi"),
        ("Marlee-Rose hid her face.", "Marlee-Rose"),
    ],
)
def test_given_names_at_the_start_of_a_sentence_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("name", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Attendance is improving and contact was cancelled.",
        "Progress has been slow. Housing is the main worry. Rent is overdue.",
        "Visits will resume. Rapport has improved. Regrettably, the father left.",
        "Hatton and Smith level 3 reflection is what I aim for.",
    ],
)
def test_ordinary_sentence_openers_are_not_names(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("She was taken to Queensland Children's Hospital.", "Queensland Children's Hospital"),
        ("The birth was at St Vincent's Private.", "St Vincent's Private"),
        ("The baby spent a week at the Royal Children's.", "Royal Children's"),
        ("She was admitted to Mater Mothers' for observation.", "Mater Mothers'"),
    ],
)
def test_named_hospitals_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("name", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "The Children's Court made orders and Mother's Day was hard.",
        "She went to the Women's Refuge, then the children's hospital.",
        "The hospital social worker rang the NSW Children's Guardian.",
    ],
)
def test_generic_hospitals_and_courts_are_not_flagged(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Try the landline on 9712 4480.", "9712 4480"),
        ("Nan's number is 8344-2765 most days.", "8344-2765"),
        ("She left 62587741 as a contact number.", "62587741"),
        ("Mob 412 555 018 is on the form.", "412 555 018"),
        ("Call him on 555 1234 after 6.", "555 1234"),
    ],
)
def test_phone_numbers_without_an_area_code_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == [("phone", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Between 2020 2023 there were 7 reports.",
        "The grant was 5000-6000 dollars over 2 years.",
        "She earned $4500 1200 short of the rent.",
        "Scores went from 12345678 to nothing.",
    ],
)
def test_years_amounts_and_bare_digit_runs_are_not_local_phone_numbers(text):
    assert "phone" not in kinds(text)


# ----------------------------------------------------------------------------- listed names


def test_listed_names_match_whole_words_in_any_case():
    found = find_identifiers("The carer said kirra and KIRRA's sister were fine.", ["Kirra"])
    assert [(f.kind, f.text) for f in found] == [("listed_name", "kirra"), ("listed_name", "KIRRA")]
    assert kinds("They moved to Kirrawee last year.", ["Kirra"]) == ["name"]
    assert kinds("the kirrawee kids", ["Kirra"]) == []


def test_listed_names_win_over_the_general_name_rule_and_handle_several_words():
    found = find_identifiers("We met Jay  Smith and little ruby-lee.", ["jay smith", "Ruby-Lee"])
    assert [(f.kind, f.text) for f in found] == [
        ("listed_name", "Jay  Smith"),
        ("listed_name", "ruby-lee"),
    ]


def test_listed_names_are_escaped_and_empty_entries_ignored():
    # regex characters in a name are literal: "(me)" does not match a plain "me"
    assert kinds("Call me maybe", ["(me)", "", "  ", "x", None]) == []
    assert texts("Call (me) maybe", ["(me)"]) == ["(me)"]
    assert kinds("a+b is here", ["a+b"]) == ["listed_name"]


def test_a_single_string_of_names_is_read_as_a_list_not_letters():
    assert texts("kirra and jayden came", "Kirra, Jayden") == ["kirra", "jayden"]
    assert kinds("a e i o u", "Kirra") == []


# ------------------------------------------------------------------------------ highlighting


def test_highlight_marks_the_right_spans_and_keeps_all_text():
    text = "Call Mum on 0491 570 156.\nJayden was there."
    found = find_identifiers(text)
    out = highlight_html(text, found)
    name_reason = REASONS["name"].replace("'", "&#x27;")
    assert out == (
        'Call Mum on <mark class="cop-deid cop-deid-phone" title="looks like a phone number">'
        "0491 570 156</mark>.<br>"
        f'<mark class="cop-deid cop-deid-name" title="{name_reason}">'
        "Jayden</mark> was there."
    )


def test_highlight_escapes_text_and_reasons():
    text = "<script>alert('x')</script> & \"Jayden\" rang 0491 570 156"
    found = find_identifiers(text)
    evil = Finding(0, 8, "name", "<script>", 'a "reason" <b>&</b>')
    out = highlight_html(text, [evil, *found[1:]] if found[0].start == 0 else [evil, *found])
    assert "<script>" not in out and "</script>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out and "&quot;Jayden&quot;" not in out
    assert 'title="a &quot;reason&quot; &lt;b&gt;&amp;&lt;/b&gt;"' in out
    assert "&#x27;x&#x27;" in out
    assert '<mark class="cop-deid cop-deid-phone"' in out
    assert "<mark" in out and out.count("<mark") == out.count("</mark>")


def test_highlight_with_no_findings_is_the_escaped_text_and_bad_findings_are_skipped():
    text = "a < b\r\nc"
    assert highlight_html(text, []) == "a &lt; b<br>c"
    overlapping = [Finding(0, 3, "name", "a <", "r"), Finding(2, 4, "name", "< ", "r")]
    out = highlight_html(text, overlapping + [Finding(5, 99, "name", "?", "r")])
    assert out.count("<mark") == 1 and out.endswith(" b<br>c")


def test_describe_summarises_for_a_status_line():
    assert describe([]) == "No likely identifiers found."
    found = find_identifiers("Jayden and Kayla rang from 0491 570 156.")
    assert describe(found) == "3 possible identifiers: 2 names, a phone number"


# ------------------------------------------------------------------ speed and robustness


def test_a_long_answer_is_checked_quickly(corpus):
    text = (" ".join(e["text"] for e in corpus) * 20)[:50_000]
    started = time.perf_counter()
    found = find_identifiers(text, ["Tuxie", "Bear"])
    elapsed = time.perf_counter() - started
    print(f"\n50,000 characters checked in {elapsed:.3f} s ({len(found)} findings)")
    assert found and elapsed < 2.0, f"took {elapsed:.2f} s"


@pytest.mark.parametrize(
    "text",
    [
        "1" * 50_000,
        "a." * 20_000,
        "a@" * 20_000,
        "@" * 50_000,
        "1 " * 25_000,
        "1/" * 25_000,
        "Aa " * 16_000,
        "Aa of " * 8_000,
        "Mr " * 16_000,
        "12 Aa Aa Aa " * 4_000,
        "0491 570 156 " * 3_800,
        "x" * 50_000,
        "A" * 50_000,
        ". " * 25_000,
        "ABC 123 " * 6_000,
        "rego " * 10_000,
        "rego a " * 7_000,
        "Instagram a.a.a " * 3_000,
        "a_" * 25_000,
        "x#1234 " * 7_000,
        "9876 5432 " * 5_000,
        "St Vincent's " * 4_000,
        "Children's " * 5_000,
    ],
    ids=lambda t: f"{t[:6]!r}x{len(t)}",
)
def test_no_catastrophic_backtracking_on_adversarial_input(text):
    # this thread's CPU time, not the clock: the slowest takes ~0.5 s alone, and the clock
    # read 3.5-4 s when the other pytest worker's Voilà kernels and Chromium had the cores
    started = time.thread_time()
    find_identifiers(text, ["aa"])
    assert time.thread_time() - started < 2.0


def test_empty_text():
    assert find_identifiers("") == [] and highlight_html("", []) == ""


def test_importing_the_module_does_not_load_phonenumbers():
    code = "import sys, cop_widgets.deidentify; print('phonenumbers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"

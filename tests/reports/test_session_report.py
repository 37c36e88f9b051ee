"""Session report: figures equal what the store holds, minimum N, what never leaves the room.

Seeded through the services (join, check-in/out, follow-ups, a discussion linked to the session),
rendered by the real `cop report` command (papermill kernel), figures read back from the HTML and
computed independently from the store's rows, on SQLite and on PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import re
import statistics
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cop_widgets.cli import main as cop_main
from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.reports import session_data
from cop_widgets.reports.html import SECONDARY_TEXT
from cop_widgets.services import checkins, discussions, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.services.report_access import slug
from tests.conftest import REPO
from tests.reports.test_person_and_community_reports import _rows, _self_contained, _Tables

PROTOCOLS = load_protocols(REPO / "data" / "protocols")
SETS = load_item_sets(REPO / "data" / "session_items")[0]
# (no underscore: "window.__pwned" would be held back as a social-media handle)
XSS = "<script>window.pwnedByText=1</script>"
NEVER_IN_REPORT = (
    "CASE-NOTE-MARKER",  # a note of a phase that is not an insight phase: the case itself
    "CASE-SUMMARY-MARKER",
    "PRIVATE-DEBRIEF-MARKER",
    "COMMITMENT-TEXT-MARKER",
    "FOLLOWUP-TEXT-MARKER",
    "0412 345 678",  # a note with a phone number: withheld by the de-identification check
    "Room Member 07",  # attended, held no role: never named
)


def _words(i: int) -> str:
    return ("hopeful", "tired", "connected")[i % 3]


def seed_room(store, people: int = 8, answer: bool = True, discuss: bool = True) -> dict:
    """A community with a past session (commitments made), today's session (people joined,
    checked in and out, followed up, a linked consultancy discussion) and a future one."""
    now = datetime.now(UTC)
    who = [find_or_add_person(store, f"Room Member {i:02d}") for i in range(people)]
    cop = sessions.create_community(store, who[0], "Family support CoP", "Family support practice")
    past = sessions.plan_session(
        store, who[0], cop.id, now - timedelta(days=7), "Working with fathers"
    )
    today = sessions.plan_session(
        store,
        who[0],
        cop.id,
        now - timedelta(minutes=20),
        f"Neglect {XSS}",
        "What helps a family keep going?",
        "consultancy",
    )
    later = sessions.plan_session(store, who[0], cop.id, now + timedelta(days=14), "Reunification")
    # Everyone but the last two came last week and made a commitment.
    for p in who[:-2]:
        sessions.join(store, p, past.join_code, now - timedelta(days=7))
        checkins.submit_answers(
            store, p, past.id, SETS["checkout"], {"commitment": "COMMITMENT-TEXT-MARKER try"}
        )
    for i, p in enumerate(who):
        sessions.join(store, p, today.join_code, now)
        if not answer:
            continue
        if i < people - 1:  # one person does not check in
            checkins.submit_answers(
                store,
                p,
                today.id,
                SETS["checkin"],
                {"wellbeing": 1 + i % 5, "confidence_reflect_then": 1 + i % 3},
            )
        if i < people - 2:  # two do not check out
            checkins.submit_answers(
                store,
                p,
                today.id,
                SETS["checkout"],
                {
                    "confidence_reflect_now": 3 + i % 3,
                    "useful": 4 + i % 2,
                    "safe": 5,
                    "one_word": _words(i),
                    "resource": f"Practice guide {XSS}" if i % 2 == 0 else "",
                    "commitment": "COMMITMENT-TEXT-MARKER again",
                    "debrief": "PRIVATE-DEBRIEF-MARKER",
                },
            )
        for c in checkins.open_commitments(store, p, today.id):
            checkins.follow_up(
                store, p, c.id, today.id, ("yes", "partly", "no")[i % 3], "FOLLOWUP-TEXT-MARKER"
            )
    sessions.set_session_roles(
        store, who[0], today.id, {"facilitator": who[0].id, "note_taker": who[1].id}
    )
    seeded = {"people": who, "past": past, "today": today, "later": later}
    if not discuss:
        return seeded
    consultancy = PROTOCOLS.get("consultancy")
    run = discussions.start_discussion(
        store,
        who[0],
        consultancy,
        "CASE-SUMMARY-MARKER a de-identified case",
        "includes family violence",
        roles={"note_taker": [who[1].display_name]},
        summary_checked=True,
        session_id=today.id,
    )
    discussions.run_clock(store, who[0], run.id, "start", len(consultancy.phases))
    for phase, text in (
        ("present", "CASE-NOTE-MARKER the family's story"),
        ("respond", f"Start with what the parent wants {XSS}"),
        ("debrief", "Ring the worker on 0412 345 678 tomorrow"),
    ):
        discussions.save_note(store, who[1], str(uuid.uuid4()), run.id, phase, text)
    discussions.add_action(store, who[1], run.id, f"Share the checklist {XSS}", "Facilitator", None)
    return {**seeded, "discussion": run}


@pytest.fixture
def room(store, data_dir, monkeypatch):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COP_DATABASE_URL", store.settings.database_url)
    return seed_room(store)


def _render(code: str, out: Path, *extra: str) -> str:
    assert cop_main(["report", "session", code, "--out", str(out), *extra]) == 0
    (page,) = out.glob("*_session-report.html")
    return page.read_text(encoding="utf-8")


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


def test_session_report_figures_match_the_store(room, store, tmp_path):
    today = room["today"]
    html = _render(today.join_code.lower(), tmp_path / "out")
    _self_contained(html)
    sid = today.id

    attended = _rows(store, "SELECT person_id FROM attendance WHERE session_id = ?", sid)
    assert _figure(html, "attended") == str(len(attended)) == "8"
    members = _rows(
        store,
        "SELECT DISTINCT a.person_id FROM attendance a JOIN cop_session s ON s.id = a.session_id"
        " WHERE s.community_id = (SELECT community_id FROM cop_session WHERE id = ?)",
        sid,
    )
    assert _figure(html, "members") == str(len(members))
    assert _figure(html, "first-time") == "2"
    answered = dict(
        _rows(
            store,
            "SELECT item_set, COUNT(*) FROM session_answered WHERE session_id = ? "
            "GROUP BY item_set",
            sid,
        )
    )
    assert _figure(html, "checked-in") == str(answered["checkin"]) == "7"
    assert _figure(html, "checked-out") == str(answered["checkout"]) == "6"

    tables = _Tables(html).tables

    def values(item_set: str, item: str) -> list[int]:
        return [
            v
            for (v,) in _rows(
                store,
                "SELECT value_int FROM session_response WHERE session_id = ? AND item_set = ? "
                "AND item_id = ?",
                sid,
                item_set,
                item,
            )
        ]

    before = values("checkin", "confidence_reflect_then")
    after = values("checkout", "confidence_reflect_now")
    row = tables["confidence"]["confidence_reflect"]
    assert row["before"] == f"{statistics.mean(before):.1f}" and row["n_before"] == "7"
    assert row["after"] == f"{statistics.mean(after):.1f}" and row["n_after"] == "6"
    # Nobody answered the second pair: it says so rather than showing 0 or a mean.
    assert tables["confidence"]["confidence_discuss"]["n_before"] == "0"
    useful = values("checkout", "useful")
    cells = tables["reaction"]["useful"]
    assert f"mean {statistics.mean(useful):.1f}" in cells["summary"]
    assert f"n = {len(useful)}" in cells["summary"]
    assert [cells[f"v{v}"] for v in range(1, 6)] == [str(useful.count(v)) for v in range(1, 6)]
    assert "wellbeing" not in tables["reaction"] and "How are you arriving" not in html

    words = Counter(
        t
        for (t,) in _rows(
            store,
            "SELECT value_text FROM session_response WHERE session_id = ? AND item_id = ?",
            sid,
            "one_word",
        )
    )
    assert {w: int(c["count"]) for w, c in tables["themes"].items()} == dict(words)

    commitments = _rows(store, "SELECT COUNT(*) FROM commitment WHERE session_id = ?", sid)[0][0]
    assert _figure(html, "commitments") == str(commitments) == "6"
    tried = Counter(
        t
        for (t,) in _rows(store, "SELECT tried FROM commitment WHERE followup_session_id = ?", sid)
    )
    assert sum(tried.values()) == 6
    for answer in ("yes", "partly", "no"):
        assert _figure(html, f"tried-{answer}") == str(tried[answer])

    # What leaves the room: the insight note, the action, the resources, escaped.
    assert "Start with what the parent wants &lt;script&gt;" in html
    assert "Share the checklist &lt;script&gt;" in html
    assert html.count("Practice guide &lt;script&gt;") == 1  # three answers, listed once
    assert "Neglect &lt;script&gt;" in html and XSS not in html
    for marker in NEVER_IN_REPORT:
        assert marker not in html, marker
    assert "Room Member 00" in html and "Room Member 01" in html  # facilitator, note-taker
    # Every text is checked; the insight note with a phone number is held back.
    checked = int(_figure(html, "texts-checked"))
    assert checked == 6 + 3 + 2 + 1  # words, resources, insight-phase notes, the action
    assert _figure(html, "texts-withheld") == "1"
    assert "Reunification" in html  # the next session
    assert "Consultancy protocol" in html and "includes family violence" in html


def test_small_groups_are_suppressed_before_anything_is_drawn(room, store):
    sid = room["today"].id
    report = session_data.session_report(
        store, sid, *session_data.item_sets_and_protocols(store), min_n=7
    )
    by_id = {s.item_id: s for s in report.reaction}
    # 6 answered the check-out: below 7 nothing but the count is kept.
    assert by_id["useful"].n == 6 and by_id["useful"].counts is None
    assert by_id["useful"].mean is None
    pair = report.confidence[0]
    assert pair.before.n == 7 and pair.before.counts is not None
    assert pair.after.n == 6 and pair.after.counts is None
    assert report.themes is None and report.resources is None  # 6 checked out
    assert report.followups is None and report.followups_n == 6
    shown = session_data.session_report(
        store, sid, *session_data.item_sets_and_protocols(store), min_n=6
    )
    assert shown.followups == {"yes": 2, "partly": 2, "no": 2}
    assert {s.item_id: s.n for s in shown.reaction} == {"useful": 6, "safe": 6}


def test_a_session_nobody_answered_gets_a_short_report(store, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    seeded = seed_room(store, people=3, answer=False, discuss=False)
    html = _render(seeded["today"].id, tmp_path / "out")
    assert "Nobody answered the check-in or the check-out of this session" in html
    assert "No case discussion was linked to this session." in html
    for section in ("Key themes", "Resources shared", "commitments were made"):
        assert section not in html
    assert 'data-table="reaction"' not in html and 'data-table="confidence"' not in html
    assert _figure(html, "attended") == "3"
    assert "<img" not in html  # no chart without answers


def test_unknown_session_is_a_message_and_exit_2(room, tmp_path, capsys):
    out = tmp_path / "out"
    assert cop_main(["report", "session", "ZZZZZZ", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No session has the id or join code 'ZZZZZZ'" in err and "Traceback" not in err
    missing = str(uuid.uuid4())
    assert cop_main(["report", "session", missing, "--out", str(out)]) == 2
    assert missing in capsys.readouterr().err
    assert cop_main(["report", "session", room["today"].join_code, "--min-n", "0"]) == 2
    assert "min_n" in capsys.readouterr().err
    assert not out.exists()


def test_all_sessions_renders_each_session_of_the_period_in_one_batch(room, tmp_path, capsys):
    out = tmp_path / "out"
    day = datetime.now(UTC).date()
    first, last = (day - timedelta(days=8)).isoformat(), day.isoformat()
    assert (
        cop_main(["report", "all-sessions", "--from", first, "--to", last, "--out", str(out)]) == 0
    )
    captured = capsys.readouterr()
    written = sorted(p.name for p in out.glob("*.html"))
    expected = sorted(
        f"family-support-cop_{room[k].starts_at.date().isoformat()}_{slug(room[k].topic)}"
        "_session-report.html"
        for k in ("past", "today")
    )
    assert expected[0].count("_working-with-fathers_") + expected[1].count("_neglect-") == 2
    assert written == expected  # the future session is outside the period; no ids in names
    assert captured.out.count("wrote ") == 2
    assert "2/2" in captured.err  # the progress bar, on stderr
    empty = tmp_path / "none"
    assert (
        cop_main(
            [
                "report",
                "all-sessions",
                "--from",
                "2020-01-01",
                "--to",
                "2020-01-31",
                "--out",
                str(empty),
            ]
        )
        == 0
    )
    assert "No session started between 2020-01-01 and 2020-01-31" in capsys.readouterr().out
    assert not empty.exists()


def test_insight_phases_and_compare_keys_are_checked_in_the_data_files(tmp_path):
    from cop_widgets.content.session_items import load_item_set
    from cop_widgets.errors import DataFileError

    bad = tmp_path / "checkout.yaml"
    bad.write_text(
        "schema_version: 1\nid: checkout\nname: Check-out\nitems:\n"
        "  - {id: word, kind: text, prompt: One word, report: words}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"items\[0\]\.report.*anonymous text items"):
        load_item_set(bad)
    bad.write_text(
        "schema_version: 1\nid: checkout\nname: Check-out\nitems:\n"
        "  - {id: w, kind: text, prompt: One word, anonymous: true, compare: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"items\[0\]\.compare.*only scale items"):
        load_item_set(bad)
    insight_phases = {p.id for p in PROTOCOLS.get("consultancy").phases if p.insight}
    assert insight_phases == {"respond", "debrief"}
    assert all(any(ph.insight for ph in p.phases) for p in PROTOCOLS.items)


def test_community_report_shows_sessions_roles_and_confidence_from_the_store(room, store, tmp_path):
    out = tmp_path / "community"
    day = datetime.now(UTC).date()
    first, last = (day - timedelta(days=40)).isoformat(), day.isoformat()
    assert cop_main(["report", "community", "--from", first, "--to", last, "--out", str(out)]) == 0
    html = next(out.glob("*_community-report.html")).read_text(encoding="utf-8")
    tables = _Tables(html).tables
    now = datetime.now(UTC).isoformat()
    held = _rows(
        store,
        "SELECT substr(starts_at, 1, 7), COUNT(*) FROM cop_session WHERE starts_at <= ? GROUP BY 1",
        now,
    )
    assert _figure(html, "sessions") == str(sum(n for _, n in held)) == "2"
    for month, n in held:
        assert tables["sessions-by-month"][month]["sessions"] == str(n)
        attendances, people = _rows(
            store,
            "SELECT COUNT(*), COUNT(DISTINCT a.person_id) FROM attendance a JOIN cop_session s "
            "ON s.id = a.session_id WHERE substr(s.starts_at, 1, 7) = ?",
            month,
        )[0]
        row = tables["sessions-by-month"][month]
        assert row["attendances"] == str(attendances)
        assert row["people"] == (str(people) if people >= 5 else "fewer than 5 — not shown")
    assert tables["session-roles"]["facilitator"] == {"sessions": "1", "people": "1"}
    assert tables["session-roles"]["presenter"] == {"sessions": "0", "people": "0"}
    # Confidence: the mean of the month's answers, computed here from the raw rows.
    month = room["today"].starts_at.strftime("%Y-%m")
    for item_set, item, column in (
        ("checkin", "confidence_reflect_then", "before"),
        ("checkout", "confidence_reflect_now", "after"),
    ):
        values = [
            v
            for (v,) in _rows(
                store,
                "SELECT r.value_int FROM session_response r JOIN cop_session s "
                "ON s.id = r.session_id WHERE r.item_set = ? AND r.item_id = ? "
                "AND substr(s.starts_at, 1, 7) = ?",
                item_set,
                item,
                month,
            )
        ]
        cells = tables["confidence-confidence_reflect"][month]
        assert cells[column] == f"{statistics.mean(values):.1f}"
        assert cells[f"n_{column}"] == str(len(values))
    # A month nobody answered has no row; fewer than 5 answers would read "fewer than 5".
    assert set(tables["confidence-confidence_reflect"]) == {month}
    assert "confidence-confidence_discuss" in tables and XSS not in html


def test_value_stories_are_counted_by_the_cycles_they_reach(store, data_dir, monkeypatch, tmp_path):
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections

    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    story = load_frameworks(data_dir / "frameworks").get("value-creation-story")
    assert [s.id for s in story.stages] == [
        "activity",
        "potential",
        "applied",
        "realized",
        "reframing",
    ]
    people = [find_or_add_person(store, f"Storyteller {i}") for i in range(12)]

    def tell(who, depth: int, visibility: str = "community") -> None:
        answers = {
            s.id: reflections.Answer(f"{s.id} of {who.display_name}")
            if n < depth
            else reflections.Answer("", passed=True)  # not reached yet
            for n, s in enumerate(story.stages)
        }
        reflections.submit(store, who, str(uuid.uuid4()), story, answers, visibility)

    for i, who in enumerate(people):
        tell(who, 4 if i < 6 else 3 if i < 11 else 2)
    tell(people[11], 4, "private")  # the author's own: never counted
    out = tmp_path / "community"
    day = datetime.now(UTC).date().isoformat()
    assert cop_main(["report", "community", "--from", day, "--to", day, "--out", str(out)]) == 0
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    rows = _Tables(html).tables["value-stories"]
    hidden = "fewer than 5 — not shown"
    # each story once, at the furthest cycle it reached; the rows add up to the stories told,
    # so the one hidden below the minimum N takes the smallest other one with it
    assert rows["activity"] == {"stories": "0", "people": "0"}
    assert rows["potential"] == {"stories": hidden, "people": hidden}  # one person
    assert rows["applied"] == {"stories": SECONDARY_TEXT, "people": SECONDARY_TEXT}
    assert rows["realized"] == {"stories": "6", "people": "6"}
    assert rows["reframing"] == {"stories": "0", "people": "0"}
    assert "of Storyteller" not in html  # counts only, never the stories' text


def test_person_record_lists_their_sessions_roles_and_commitments_only(room, tmp_path):
    out = tmp_path / "person"
    day = datetime.now(UTC).date()
    first, last = (day - timedelta(days=30)).isoformat(), day.isoformat()
    assert (
        cop_main(
            ["report", "person", "Room Member 00", "--from", first, "--to", last, "--out", str(out)]
        )
        == 0
    )
    html = next(out.glob("*_cpd-record.html")).read_text(encoding="utf-8")
    tables = _Tables(html).tables
    past, today = room["past"], room["today"]
    assert list(tables["person-sessions"]) == [past.id, today.id]
    assert tables["person-sessions"][today.id]["roles"] == "Facilitator"
    assert tables["person-sessions"][past.id]["roles"] == "participant"
    assert tables["person-sessions"][today.id]["topic"] == f"Neglect {XSS}"
    commitments = list(tables["person-commitments"].values())
    # Theirs only: one made last week (followed up: "yes" for member 0) and one today.
    assert [c["tried"] for c in commitments] == ["Tried it", "not asked yet"]
    assert commitments[0]["happened"] == "FOLLOWUP-TEXT-MARKER"
    assert XSS not in html  # the topic is escaped

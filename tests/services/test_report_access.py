"""Reports from the app: who may make which (services/report_access.py, audited refusals), the
readable file names, and the report panel driven in-process (apps/_reports.py): the button, the
worker thread, the download links with the report inside. A few real renders, on a tiny store.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from cop_widgets.apps._reports import ReportPanel, report_panel
from cop_widgets.apps.community import community_app
from cop_widgets.errors import NotAllowed
from cop_widgets.reports import render
from cop_widgets.services import report_access, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import audit_event, cop_session
from tests.signin import sign_in_as


class Shell:
    """What a panel uses of its page (AppShell): the store and the signed-in person."""

    def __init__(self, store, person):
        self.store, self.person = store, person


@pytest.fixture
def cop(store):
    """Family Support CoP: Cora coordinates, Fay facilitates its session of 27 November 2026
    on safety planning, Mo attended; Gil coordinates globally; Pat is in no community."""
    p = {n: find_or_add_person(store, n) for n in ("Cora", "Fay", "Mo", "Pat", "Gil", "Zoë R")}
    roster.grant_role(store, p["Gil"].id, "coordinator")
    made = sessions.create_community(store, p["Cora"], "Family Support CoP")
    sessions.add_member(store, p["Cora"], made.id, p["Fay"].id, "facilitator")
    session = sessions.plan_session(
        store, p["Cora"], made.id, datetime.now(UTC) + timedelta(minutes=5), "Safety planning"
    )
    sessions.join(store, p["Mo"], session.join_code, datetime.now(UTC))
    sessions.join(store, p["Fay"], session.join_code, datetime.now(UTC))
    sessions.set_session_roles(store, p["Cora"], session.id, {"facilitator": p["Fay"].id})
    with store.write() as conn:  # held on 27 November 2026, 10:00 UTC
        conn.execute(
            cop_session.update()
            .where(cop_session.c.id == session.id)
            .values(starts_at="2026-11-27T10:00:00+00:00")
        )
    return p, made, session


def _refusals(store, actor_id: str) -> list[tuple[str, str]]:
    with store.read() as conn:
        rows = conn.execute(
            select(audit_event.c.action, audit_event.c.target_id).where(
                audit_event.c.actor_id == actor_id, audit_event.c.outcome == "refused"
            )
        ).all()
    return [tuple(r) for r in rows]


# -- the service --------------------------------------------------------------------------------
def test_who_may_make_which_report_and_refusals_are_audited(store, cop):
    p, made, session = cop
    for who in ("Fay", "Cora", "Gil"):
        job = report_access.session_report(store, p[who], session.id)
        assert job.template == "session_report"
        assert job.params == {"session_id": session.id, "min_n": 5}
        assert job.stem == "family-support-cop_2026-11-27_safety-planning_session-report"
    for who in ("Mo", "Pat"):
        with pytest.raises(NotAllowed, match="You may not make the report of a session"):
            report_access.session_report(store, p[who], session.id)
    with pytest.raises(NotAllowed):
        report_access.session_report(store, None, session.id)
    assert _refusals(store, p["Mo"].id) == [("report.session", session.id)]

    job = report_access.community_report(store, p["Cora"], made.id, date(2026, 1, 1), "2026-11-30")
    assert job.params == {
        "community_id": made.id,
        "date_from": "2026-01-01",
        "date_to": "2026-11-30",
        "min_n": 5,
    }
    assert job.stem == "family-support-cop_2026-01-01_2026-11-30_community-report"
    assert job.subject == "Family Support CoP"
    for who in ("Fay", "Mo", "Pat"):  # a facilitator runs sessions; the report is coordinators'
        with pytest.raises(NotAllowed, match="make a community's report"):
            report_access.community_report(store, p[who], made.id, "2026-01-01", "2026-11-30")
    assert ("report.community", made.id) in _refusals(store, p["Fay"].id)

    mine = report_access.person_record(store, p["Zoë R"], p["Zoë R"].id, "2026-01-01", "2026-11-30")
    assert mine.params == {"person_id": p["Zoë R"].id, "date_from": "2026-01-01",
                           "date_to": "2026-11-30"}  # fmt: skip
    assert mine.stem == "zoe-r_2026-01-01_2026-11-30_cpd-record"
    for who in ("Cora", "Gil"):  # not even a coordinator prints someone's CPD record
        with pytest.raises(NotAllowed, match="CPD record"):
            report_access.person_record(store, p[who], p["Zoë R"].id, "2026-01-01", "2026-11-30")
    assert _refusals(store, p["Gil"].id) == [("report.person", p["Zoë R"].id)]


def test_periods_are_checked_with_a_message_naming_the_field(store, cop):
    p, made, _ = cop
    with pytest.raises(report_access.InvalidInput, match="after it ends"):
        report_access.community_report(store, p["Cora"], made.id, "2026-12-01", "2026-11-30")
    with pytest.raises(report_access.InvalidInput, match="Choose the From date"):
        report_access.person_record(store, p["Mo"], p["Mo"].id, None, "2026-11-30")
    assert report_access.last_twelve_months(date(2026, 11, 27)) == (
        date(2025, 11, 28),
        date(2026, 11, 27),
    )
    assert report_access.last_twelve_months(date(2028, 2, 29)) == (
        date(2027, 3, 1),
        date(2028, 2, 29),
    )


def test_file_stems_are_ascii_words_without_ids_or_direction_controls():
    assert report_access.slug("Family Support CoP") == "family-support-cop"
    assert report_access.slug("Zoë  O’Brien") == "zoe-obrien"
    assert report_access.slug("\u202eevil\u202c topic") == "evil-topic"
    assert report_access.slug("家族支援", "community") == "community"
    assert report_access.slug("a" * 300) == "a" * report_access.SLUG_MAX


def test_cli_names_are_readable_and_never_overwrite(store, cop, tmp_path):
    p, made, session = cop
    spec = render.report_spec("session_report")
    params = {"session_id": session.id, "min_n": 5}
    taken: set[str] = set()
    first = render.report_filename(spec, params, store, tmp_path, taken)
    assert first == "family-support-cop_2026-11-27_safety-planning_session-report.html"
    # the same name again in a batch, and a file already in the folder: numbered, not replaced
    assert render.report_filename(spec, params, store, tmp_path, taken) == first.replace(
        ".html", "-2.html"
    )
    (tmp_path / "family-support-cop_2026-11-27_safety-planning_session-report-3.pdf").write_text("")
    assert render.report_filename(spec, params, store, tmp_path, taken).endswith("-4.html")
    person = render.report_spec("person_record")
    name = render.report_filename(
        person, {"person_id": p["Mo"].id, "date_from": "2026-01-01", "date_to": "2026-03-31"}, store
    )
    assert name == "mo_2026-01-01_2026-03-31_cpd-record.html"
    everyone = render.report_spec("community_growth")
    name = render.report_filename(
        everyone, {"date_from": "2026-01-01", "date_to": "2026-03-31"}, store
    )
    assert name == "all-communities_2026-01-01_2026-03-31_community-report.html"
    for got in (first, name):
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", got)


# -- the panel ------------------------------------------------------------------------------------
def _downloads(panel: ReportPanel) -> dict[str, bytes]:
    links = re.findall(
        r'<a download="([^"]+)" href="data:([^;]+);base64,([^"]+)"', panel.links.value
    )
    return {name: base64.b64decode(data) for name, _mime, data in links}


def _panels(app) -> list[ReportPanel]:
    return [w for w in app.community_box.children if isinstance(w, ReportPanel)]


def test_a_coordinator_makes_the_community_report_in_the_community_app(settings, store, cop):
    p, made, _ = cop
    for who in ("Fay", "Mo"):  # its facilitator and a member see no community report
        other = community_app(settings=settings)
        sign_in_as(other, p[who])
        assert other.picker.value == made.id and _panels(other) == []
    app = community_app(settings=settings)
    sign_in_as(app, p["Cora"])
    [panel] = _panels(app)
    app._show_community()  # the page redrawn: the same panel (a report being made stays)
    assert _panels(app) == [panel]
    assert panel.button.description == "Make the report"
    assert (panel.date_from.value, panel.date_to.value) == report_access.last_twelve_months()
    panel.date_from.value = date(2026, 1, 1)
    panel.button.click()
    assert panel.button.disabled and "Making the report… (about 10 s)" in panel.progress.value
    panel.wait(120)
    assert not panel.busy and not panel.button.disabled and panel.progress.value == ""
    files = _downloads(panel)
    stem = f"family-support-cop_2026-01-01_{panel.date_to.value.isoformat()}_community-report"
    assert set(files) == {f"{stem}.html", f"{stem}.pdf"}, panel.message.value
    page = files[f"{stem}.html"].decode("utf-8")
    assert "<title>Community growth: Family Support CoP · 2026-01-01 to " in page
    assert "Community growth: <bdi>Family Support CoP</bdi>" in page
    assert files[f"{stem}.pdf"].startswith(b"%PDF")
    assert "The report is ready" in panel.message.value


def test_the_run_sheet_s_session_report_and_a_refused_person(store, cop, tmp_path, monkeypatch):
    p, _, session = cop
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(render.tempfile, "tempdir", str(scratch))  # where it would be left
    panel = report_panel(
        Shell(store, p["Fay"]), "session", session.id, label="Close and make the report"
    )
    assert panel.date_from is None and panel.button.description == "Close and make the report"
    panel.button.click()
    panel.wait(120)
    files = _downloads(panel)
    html = files["family-support-cop_2026-11-27_safety-planning_session-report.html"].decode()
    assert "Session report: <bdi>Safety planning</bdi>" in html
    assert list(scratch.iterdir()) == []  # rendered in a temporary folder, deleted

    # Mo attended but neither facilitates nor coordinates; Pat asks for Mo's CPD record.
    for who, kind, target in (("Mo", "session", session.id), ("Pat", "person", p["Mo"].id)):
        refused = report_panel(Shell(store, p[who]), kind, target, period=kind == "person")
        refused.button.click()
        assert refused._thread is None and refused.links.value == ""
        assert "You may not" in refused.message.value and "Traceback" not in refused.message.value
        assert not refused.button.disabled


def test_a_failed_render_is_a_message_and_the_button_works_again(store, cop, monkeypatch):
    import cop_widgets.apps._reports as panel_module

    p, _, session = cop

    def broken(template, params, pdf=True, env=None):
        raise render.ReportFailed(template, params, "cell 2 failed with OperationalError")

    monkeypatch.setattr(panel_module, "render_in_memory", broken)
    panel = report_panel(Shell(store, p["Fay"]), "session", session.id)
    panel.button.click()
    panel.wait(30)
    assert "The report could not be made" in panel.message.value
    assert "OperationalError" in panel.message.value and panel.links.value == ""
    assert not panel.button.disabled and panel.progress.value == ""


def test_a_community_report_counts_only_that_community(store, cop, rolfe):
    """What a coordinator downloads covers their community: its sessions, the reflections
    shared with it (or, naming none, by its members), never another community's."""
    import uuid

    from cop_widgets.reports import community_data
    from cop_widgets.reports.params import parse_period
    from cop_widgets.services import reflections

    p, made, _ = cop
    other = sessions.create_community(store, p["Pat"], "Other CoP")
    sessions.plan_session(
        store, p["Pat"], other.id, datetime.now(UTC) - timedelta(hours=2), "Elsewhere"
    )
    answers = {s.id: reflections.Answer("Text.") for s in rolfe.stages}
    for who in ("Mo", "Pat", "Pat"):  # Mo is a member of Family Support; Pat of Other only
        reflections.submit(store, p[who], str(uuid.uuid4()), rolfe, answers, "community")
    period = parse_period("2026-01-01", datetime.now(UTC).date().isoformat())
    mine = community_data.community_growth(store, period, 1, made.id)
    theirs = community_data.community_growth(store, period, 1, other.id)
    everyone = community_data.community_growth(store, period, 1)
    assert (mine.totals["reflections"], theirs.totals["reflections"]) == (1, 2)
    assert everyone.totals["reflections"] == 3
    items = community_data.session_item_sets(store)
    assert community_data.session_growth(store, period, items, 1, made.id).totals["sessions"] == 1
    assert community_data.session_growth(store, period, items, 1, other.id).totals["sessions"] == 1
    assert community_data.session_growth(store, period, items, 1).totals["sessions"] == 2
    assert community_data.community_name(store, made.id) == "Family Support CoP"

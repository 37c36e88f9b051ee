"""The home page: cards by role, the next sessions of my communities (policy-filtered), the join
box, and people's text shown as text."""

import datetime as dt
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from cop_widgets.apps.home import home_app, review_url
from cop_widgets.services import feedback, review, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from tests.signin import sign_in_as


def _home(settings, who, request=None):
    """The home page `who` opens; `request`: more request details the server hands the kernel
    (SERVER_NAME, the host the page was opened on)."""
    app = home_app(settings=settings)
    sign_in_as(app, who)
    if request:
        app.environ = {**app.environ, **request}
        app.guard(app._identify_until_done, app.query)
    return app


def _cards(app) -> dict[str, str]:
    """card key -> its href, as the page shows them."""
    return dict(re.findall(r'class="cop-card cop-card-(\w+)" href="([^"]*)"', app.cards_view.value))


def _titles(app) -> list[str]:
    return re.findall(r'<span class="cop-card-title"[^>]*>([^<]*)</span>', app.cards_view.value)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.forms: list[dict] = []
        self.inputs: list[dict] = []
        self.labels: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            self.forms.append(dict(attrs))
        elif tag == "input":
            self.inputs.append(dict(attrs))
        elif tag == "label":
            self.labels.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def _parse(value: str) -> _Links:
    parser = _Links()
    parser.feed(value)
    return parser


def test_a_practitioner_sees_the_everyday_cards_and_no_role_cards(store, settings):
    app = _home(settings, "Ana Practitioner")
    cards = _cards(app)
    assert cards == {
        "mine": "my_page.ipynb",
        "reflections": "reflection.ipynb",
        "discussions": "case_discussion.ipynb",
        "community": "community.ipynb",
        "communities": "communities.ipynb",
        "library": "library.ipynb",
        "questions": "questions.ipynb",
        "directory": "directory.ipynb",
    }
    assert _titles(app) == [
        "Join a session", "My page", "My reflections", "Case discussions", "My community",
        "Communities", "Practice library", "Questions between sessions", "Member directory",
    ]  # fmt: skip
    # no file name is shown as text, anywhere on the page
    shown = "".join(_parse(app.cards_view.value + app.upcoming_view.value).text)
    assert ".ipynb" not in shown
    assert "cop-home-link" not in app.header.value  # home has no "Home" link to itself
    assert "Sign out" in app.header.value


def test_supervisors_and_coordinators_get_their_cards(store, settings):
    sue = find_or_add_person(store, "Sue Supervisor")
    roster.grant_role(store, sue.id, "supervisor")
    sue_cards = _cards(_home(settings, sue, {"SERVER_NAME": "cop.example.org"}))
    assert sue_cards["review"] == (
        "http://cop.example.org:8867/voila/render/supervisor_review.ipynb"
    )
    assert "people" not in sue_cards
    cora = find_or_add_person(store, "Cora Coordinator")
    roster.grant_role(store, cora.id, "coordinator")
    cora_app = _home(settings, cora)
    assert _cards(cora_app)["people"] == "community.ipynb?panel=people"
    assert "review" not in _cards(cora_app)
    assert "People and sign-in links" in _titles(cora_app)


def test_under_the_hub_a_coordinator_gets_no_sign_in_links(store, settings):
    """`cop serve --hub`: the Hub signs people in, so a sign-in link would lead nowhere."""
    from cop_widgets.apps.community import community_app
    from cop_widgets.serving import voila_environment
    from cop_widgets.settings import load_settings

    hub_env = voila_environment({"COP_DATA_DIR": str(settings.data_dir)}, hub=True)
    hub_settings = load_settings(hub_env)
    assert hub_settings.hub and not settings.hub
    assert not load_settings(voila_environment(hub_env)).hub  # a standalone server drops it
    cora = find_or_add_person(store, "Cora Coordinator")
    roster.grant_role(store, cora.id, "coordinator")
    assert "people" not in _cards(_home(replace(settings, hub=True), cora))
    for hub, panel_shown in ((False, True), (True, False)):
        app = community_app(settings=replace(settings, hub=hub))
        sign_in_as(app, cora)
        assert hasattr(app, "link_out") is panel_shown  # the panel that makes sign-in links


def test_those_who_run_a_community_plan_sessions(store, settings):
    host = find_or_add_person(store, "Hana Host")
    sessions.create_community(store, host, "Northside CoP")
    assert "Plan sessions" in _titles(_home(settings, host))
    assert "My community" not in _titles(_home(settings, host))


def test_review_address_setting(settings):
    assert review_url(settings, {}) == "http://127.0.0.1:8867/voila/render/supervisor_review.ipynb"
    assert review_url(settings, {"SERVER_NAME": "::1"}).startswith("http://[::1]:8867/")
    assert review_url(settings, {"SERVER_NAME": "evil.org/x?"}).startswith("http://127.0.0.1:")
    given = replace(settings, review_url="https://review.example.org/r")
    assert review_url(given, {}) == "https://review.example.org/r"
    hub = replace(settings, review_url="/services/cop-review/voila/render/supervisor_review.ipynb")
    assert review_url(hub, {}) == hub.review_url
    assert review_url(replace(settings, review_url="javascript:alert(1)"), {}) == ""


def test_the_join_box_opens_the_join_page_with_the_code(store, settings):
    app = _home(settings, "Ana Practitioner")
    parsed = _parse(app.cards_view.value)
    [form] = parsed.forms
    # a plain GET form: Join (or Enter) opens session.ipynb?code=<what was typed>, the join
    # link's own address, relative to this page (also under a Hub prefix)
    assert form["action"] == "session.ipynb" and form["method"] == "get"
    [box] = parsed.inputs
    assert box["name"] == "code" and box["type"] == "text"
    assert [label["for"] for label in parsed.labels] == [box["id"]]  # the box has a label
    assert '<button type="submit" class="cop-home-join">Join</button>' in app.cards_view.value


def test_upcoming_sessions_are_those_of_my_communities_only(store, settings):
    now = dt.datetime.now(dt.UTC)
    host = find_or_add_person(store, "Hana Host")
    mine = sessions.create_community(store, host, "Northside CoP")
    other = sessions.create_community(store, host, "Secret Southside CoP")
    soon = sessions.plan_session(
        store, host, mine.id, now + dt.timedelta(hours=20), "Fathers' voices"
    )
    sessions.plan_session(store, host, mine.id, now - dt.timedelta(days=3), "Long past topic")
    sessions.plan_session(
        store, host, other.id, now + dt.timedelta(hours=2), "Southside only topic"
    )
    ana = find_or_add_person(store, "Ana Practitioner")
    sessions.join(store, ana, soon.join_code, now)  # joining a session makes Ana a member
    shown = _home(settings, ana).upcoming_view.value
    assert "Fathers&#x27; voices" in shown and "Northside CoP" in shown
    assert "Southside" not in shown and "Long past topic" not in shown
    assert soon.join_code not in shown  # codes are for those who run the community
    # the host runs both: sees both, soonest first, with the join codes
    hosted = _home(settings, host).upcoming_view.value
    assert hosted.index("Southside only topic") < hosted.index("Fathers&#x27; voices")
    assert f"session.ipynb?code={soon.join_code}" in hosted
    # someone in no community is told how to get in
    assert "not in a community yet" in _home(settings, "Sam Stranger").upcoming_view.value


def test_community_names_and_topics_are_shown_as_text_and_isolated(store, settings):
    now = dt.datetime.now(dt.UTC)
    host = find_or_add_person(store, "Hana Host")
    cop = sessions.create_community(store, host, "<script>alert(1)</script> \u202eCoP")
    sessions.plan_session(
        store, host, cop.id, now + dt.timedelta(days=1), '<img src=x onerror="y()">'
    )
    shown = _home(settings, host).upcoming_view.value
    assert "<script>" not in shown and "<img" not in shown
    assert "&lt;script&gt;" in shown and "&lt;img src=x onerror=&quot;y()&quot;&gt;" in shown
    assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt; \u202eCoP</bdi>" in shown
    assert "<bdi>&lt;img" in shown


def test_new_feedback_shows_on_the_reflections_card(store, settings, rolfe):
    import uuid

    from cop_widgets.services import reflections

    sue, ana = find_or_add_person(store, "Sue Supervisor"), find_or_add_person(store, "Ana")
    roster.grant_role(store, sue.id, "supervisor")
    roster.assign_supervisee(store, sue.id, ana.id)
    rid = str(uuid.uuid4())
    answers = {s.id: reflections.Answer("what happened") for s in rolfe.stages}
    reflections.submit(store, ana, rid, rolfe, answers, visibility="supervisor")
    assert "New feedback" not in _home(settings, ana).cards_view.value
    review.open_for_review(store, sue, rid)
    review.add_feedback(store, sue, rid, "strength", "Clear account.")
    review.release(store, sue, rid)
    assert "New feedback on 1 reflection" in _home(settings, ana).cards_view.value
    feedback.mark_feedback_seen(store, ana, rid)
    assert "New feedback" not in _home(settings, ana).cards_view.value


def test_the_questions_card_counts_new_answers_else_questions_waiting(store, settings):
    import uuid

    from cop_widgets.services import questions

    ana, ben = find_or_add_person(store, "Ana"), find_or_add_person(store, "Ben")
    cop = sessions.create_community(store, ana, "Northside CoP")
    sessions.add_member(store, ana, cop.id, ben.id, "member")
    asked = questions.ask(store, ana, str(uuid.uuid4()), cop.id, "Fathers", "What works?")

    def badge(who) -> str:
        card = re.search(r'cop-card-questions".*?</a>', _home(settings, who).cards_view.value)
        assert card is not None
        found = re.search(r'class="cop-badge">([^<]*)<', card.group(0))
        return found.group(1) if found else ""

    assert badge(ana) == "" and badge(ben) == "1 question waiting for an answer"
    for text in ("Text him.", "Ask him."):
        questions.answer(store, ben, str(uuid.uuid4()), asked.id, text)
    assert badge(ana) == "2 new answers to your questions" and badge(ben) == ""
    questions.thread(store, ana, asked.id)  # she read them
    assert badge(ana) == ""


@pytest.mark.parametrize(
    "app_name", ["reflection", "directory", "session", "community", "questions"]
)
def test_every_app_header_leads_home(settings, app_name):
    import importlib

    factory = getattr(importlib.import_module(f"cop_widgets.apps.{app_name}"), f"{app_name}_app")
    app = factory(settings=settings)
    sign_in_as(app, "Ana Practitioner")
    # every app is /voila/render/<app>.ipynb: its sibling home.ipynb is the home page
    assert '<a href="home.ipynb" class="cop-home-link">Home</a>' in app.header.value
    assert app.header.value.index("Home</a>") < app.header.value.index("Sign out")

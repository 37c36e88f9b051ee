"""The home page (the served root): what this person can do, in plain words, and the next
sessions of their communities.

Every card is a plain link (or, for joining, a plain form) to a sibling page of
/voila/render/home.ipynb, so it works with the keyboard, without the kernel, and under a Hub
service's prefix. Which cards show follows the person's roles and communities (policy, through
the services); no file name is shown as text.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.apps._startup import open_for_app
from cop_widgets.services import feedback, questions, roster, sessions
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store

REVIEW_PORT = 8867
PARTICIPANTS_PORT = 8866
REVIEW_PAGE = "/voila/render/supervisor_review.ipynb"
UPCOMING_SHOWN = 8
RUN_TODAY_SHOWN = 3

HOME_STYLE = """
<style>
.cop-home .cop-cards { list-style: none; margin: 0.6em 0; padding: 0; display: grid;
  grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.8em; }
.cop-home .cop-cards > li { margin: 0; min-width: 0; }
.cop-home .cop-card { display: block; box-sizing: border-box; height: 100%; padding: 0.8em 1em;
  border: 1px solid #9ca3af; border-radius: 8px; background: #fff; color: #1b1b1b;
  text-decoration: none; overflow-wrap: anywhere; }
.cop-home a.cop-card:hover { border-color: #1d4ed8; background: #f5f8ff; }
.cop-home a.cop-card:focus-visible, .cop-home .cop-card input:focus-visible,
.cop-home .cop-card button:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.cop-home .cop-card-title { display: block; font-size: 1.15em; font-weight: 600;
  color: #1d4ed8; text-decoration: underline; margin: 0 0 0.3em; }
.cop-home .cop-card-text { display: block; color: #374151; }
.cop-home .cop-badge { display: inline-block; margin-top: 0.4em; padding: 0 0.5em;
  border-radius: 1em; background: #0b4d1f; color: #fff; font-weight: 600; }
.cop-home .cop-join-card label { display: block; margin: 0.4em 0 0.2em; }
.cop-home .cop-join-card .cop-join-row { display: flex; flex-wrap: wrap; gap: 0.4em; }
.cop-home .cop-join-card input { font: inherit; font-size: 1.1em; letter-spacing: 0.08em;
  text-transform: uppercase; width: 8em; min-width: 0; padding: 0.2em 0.4em;
  border: 1px solid #6b7280; border-radius: 4px; }
.cop-home .cop-join-card input::placeholder { text-transform: none; letter-spacing: normal;
  color: #4b5563; }
.cop-home .cop-join-card button { font: inherit; padding: 0.25em 1.2em; border-radius: 4px;
  border: 1px solid #1d4ed8; background: #1d4ed8; color: #fff; cursor: pointer; }
.cop-home .cop-upcoming { padding-left: 1.2em; }
.cop-home .cop-upcoming li { margin: 0.3em 0; overflow-wrap: anywhere; }
</style>
"""


@dataclass(frozen=True)
class Card:
    key: str  # a class name (cop-card-<key>): tests and styles find a card by it
    title: str
    text: str
    href: str
    badge: str = ""


def _linkable(configured: str) -> str:
    """Only an http(s) address or a path on this site is linked."""
    parts = urlsplit(configured)
    if parts.scheme in ("http", "https") and parts.netloc:
        return configured
    if configured.startswith("/") and not configured.startswith("//") and not parts.scheme:
        return configured
    return ""


def _on_this_host(port: int, path: str, environ=None) -> str:
    env = os.environ if environ is None else environ
    host = (env.get("SERVER_NAME") or "127.0.0.1").strip("[]")
    if not host or any(ch in host for ch in "/?#@ \\"):
        host = "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def review_url(settings: Settings, environ=None) -> str:
    """The review server's page: COP_REVIEW_URL, or the same host as this page on port 8867."""
    if settings.review_url:
        return _linkable(settings.review_url)
    return _on_this_host(REVIEW_PORT, REVIEW_PAGE, environ)


def home_url(settings: Settings, environ=None) -> str:
    """The participants' home page, for the review server's header: COP_HOME_URL, else the
    room's address (COP_PUBLIC_URL), else the same host as this page on port 8866."""
    if settings.home_url:
        return _linkable(settings.home_url)
    if settings.public_url:
        return settings.public_url + "/"
    return _on_this_host(PARTICIPANTS_PORT, "/", environ)


def cards_for(
    roles: set[str],
    runs_a_community: bool,
    in_a_community: bool,
    review: str,
    new_feedback: int,
    waiting: questions.Waiting | None = None,
    hub: bool = False,
) -> list[Card]:
    """The link cards a person sees (the join card is a form of its own, shown to everyone).
    Under JupyterHub (`hub`) the Hub signs people in, so there are no sign-in links to give."""
    feedback_badge = (
        f"New feedback on {new_feedback} reflection{'s' if new_feedback != 1 else ''}"
        if new_feedback
        else ""
    )
    cards = [
        Card(
            "mine",
            "My page",
            "Your next sessions, your commitments, drafts and new feedback, your CPD record "
            "and your data.",
            "my_page.ipynb",
        ),
        Card(
            "reflections",
            "My reflections",
            "Write a reflection step by step, continue a draft, and read the feedback you "
            "were given.",
            "reflection.ipynb",
            feedback_badge,
        ),
        Card(
            "discussions",
            "Case discussions",
            "Take part in a structured case discussion, or start one with a protocol.",
            "case_discussion.ipynb",
        ),
    ]
    if runs_a_community:
        cards.append(
            Card(
                "community",
                "Plan sessions",
                "Your community: plan its sessions, share their join codes, and choose who "
                "facilitates, presents, keeps time and takes notes.",
                "community.ipynb",
            )
        )
    else:
        cards.append(
            Card(
                "community",
                "My community",
                "Your community's sessions and members."
                if in_a_community
                else "See your community's sessions, or start a community of your own.",
                "community.ipynb",
            )
        )
    cards += [
        Card(
            "communities",
            "Communities",
            "Find communities of practice, join one, or ask to join.",
            "communities.ipynb",
        ),
        Card(
            "library",
            "Practice library",
            "Stories, tools and approaches your communities found useful: search them, "
            "endorse them, add your own.",
            "library.ipynb",
        ),
        Card(
            "questions",
            "Questions between sessions",
            "Ask your community a practice question, answer others' questions, and keep what "
            "helped.",
            "questions.ipynb",
            questions_badge(waiting),
        ),
    ]
    cards.append(
        Card(
            "directory",
            "Member directory",
            "Find who can offer what, and list yourself if you choose.",
            "directory.ipynb",
        )
    )
    if "supervisor" in roles and review:
        cards.append(
            Card(
                "review",
                "Review reflections",
                "Read what your supervisees shared with you and give them feedback.",
                review,
            )
        )
    if "coordinator" in roles and not hub:
        cards.append(
            Card(
                "people",
                "People and sign-in links",
                "Add people and give each their personal sign-in link.",
                "community.ipynb?panel=people",
            )
        )
    return cards


def questions_badge(waiting: questions.Waiting | None) -> str:
    """The questions card's badge: new answers to the person's questions, else the questions
    of their communities waiting for an answer ("" when neither)."""
    if waiting is None:
        return ""
    if waiting.new_answers:
        n = waiting.new_answers
        return f"{n} new answer{'s' if n != 1 else ''} to your questions"
    if waiting.unanswered:
        n = waiting.unanswered
        return f"{n} question{'s' if n != 1 else ''} waiting for an answer"
    return ""


def run_today_cards(
    store: Store, person: Person, settings: Settings, known: list, now: datetime | None = None
) -> list[Card]:
    """The "Run today's session" cards: the run sheet (apps/run_sheet.py) of each session of
    today (in the settings' time zone), not yet over, that this person runs; soonest first."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(settings.timezone)
    day = now.astimezone(zone).date()
    today = []
    for c in known:
        upcoming, _past = sessions.sessions_of(store, person, c.id, now)
        today += [s for s in upcoming if s.starts_at.astimezone(zone).date() == day]
    today.sort(key=lambda s: s.starts_at)
    mine = [s for s in today if sessions.runs_session(store, person, s.id)][:RUN_TODAY_SHOWN]
    return [
        Card(
            "run-today",
            "Run today's session",
            f"Today at {s.starts_at.astimezone(zone):%H:%M}: the join address, who has joined, "
            "roles, the board, check-out and the report, on one page.",
            f"run_sheet.ipynb?session={quote(s.id)}",
        )
        for s in mine
    ]


def card_html(card: Card) -> str:
    badge = f'<span class="cop-badge">{html.escape(card.badge)}</span>' if card.badge else ""
    return (
        f'<li><a class="cop-card cop-card-{card.key}" href="{html.escape(card.href)}">'
        f'<span class="cop-card-title">{html.escape(card.title)}</span>'
        f'<span class="cop-card-text">{html.escape(card.text)}</span>{badge}</a></li>'
    )


# A plain form: the browser opens session.ipynb?code=… (the join page, which checks the code
# and records attendance), with the keyboard too (Enter in the box, or the button).
JOIN_CARD = """
<li><form class="cop-card cop-join-card" action="session.ipynb" method="get"
  aria-labelledby="cop-join-title">
<span class="cop-card-title" id="cop-join-title">Join a session</span>
<span class="cop-card-text">Type the code your facilitator gives you.</span>
<label for="cop-home-code">Join code</label>
<span class="cop-join-row"><input id="cop-home-code" name="code" type="text" required
  maxlength="12" autocomplete="off" autocapitalize="characters" spellcheck="false"
  placeholder="e.g. K7M2QX"><button type="submit" class="cop-home-join">Join</button></span>
</form></li>
"""


class HomeApp(AppShell):
    home_href = None  # this is home

    def __init__(
        self, store: Store | None, settings: Settings, environ=None, startup_error: str = ""
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.person: Person | None = None
        self.cards: list[Card] = []
        self.cards_view = W.HTML()
        self.cards_view.add_class("cop-home-cards")
        self.upcoming_view = W.HTML()
        self.upcoming_view.add_class("cop-home-upcoming")
        super().__init__(HOME_STYLE + "<h1>CoP Workbook</h1>")
        self.add_class("cop-home")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        store = self.opened_store()
        roles = roster.roles_of(store, person.id)
        known = sessions.communities(store, person)
        runs = any(sessions.runs_community(store, person, c.id) for c in known)
        self.cards = run_today_cards(store, person, self.settings, known) + cards_for(
            roles,
            runs,
            bool(known),
            review_url(self.settings, self.environ) if "supervisor" in roles else "",
            len(feedback.new_feedback(store, person)),
            questions.waiting(store, person),
            hub=self.settings.hub,
        )
        self.cards_view.value = (
            '<nav aria-label="What you can do"><ul class="cop-cards">'
            + JOIN_CARD
            + "".join(card_html(c) for c in self.cards)
            + "</ul></nav>"
        )
        self.upcoming_view.value = self._upcoming_html(known)
        self.body.children = [self.cards_view, self.upcoming_view]

    def _upcoming_html(self, known: list[sessions.Community]) -> str:
        store, person = self.signed_in()
        return upcoming_html(store, person, self.settings, known)


def upcoming_sessions(
    store: Store, person: Person, known: list[sessions.Community], now: datetime
) -> list[tuple[sessions.Session, sessions.Community]]:
    """The next sessions of `known` (this person's communities) that policy lets them see,
    soonest first (join codes only for those who run the community)."""
    found = []
    for c in known:
        upcoming, _past = sessions.sessions_of(store, person, c.id, now)
        found += [(s, c) for s in upcoming]
    found.sort(key=lambda pair: pair[0].starts_at)
    return found


def on_now(session: sessions.Session, now: datetime) -> bool:
    """The session is on (or the group is gathering: from an hour before it starts)."""
    return session.status != "closed" and (
        session.starts_at - sessions.LINK_MARGIN <= now <= session.ends_at
    )


def upcoming_html(
    store: Store,
    person: Person,
    settings: Settings,
    known: list[sessions.Community],
    now: datetime | None = None,
    *,
    join_links: str = "always",
) -> str:
    """ "Upcoming sessions": the next sessions of this person's communities (the home page and
    My page). join_links "always": the join code and link wherever the person sees the code
    (those who run the community); "open_now": sessions on now are marked so, and the link is
    given only for those."""
    if not known:
        return (
            "<h2>Upcoming sessions</h2><p class='cop-meta'>You are not in a community yet: "
            "join a session with the code your facilitator gives you.</p>"
        )
    now = now or datetime.now(UTC)
    zone = ZoneInfo(settings.timezone)
    found = upcoming_sessions(store, person, known, now)
    if not found:
        return (
            "<h2>Upcoming sessions</h2><p class='cop-meta'>No sessions planned in your "
            "communities yet.</p>"
        )
    items = []
    for s, c in found[:UPCOMING_SHOWN]:
        when = f"{s.starts_at.astimezone(zone):%a %d %b %Y, %H:%M} ({settings.timezone})"
        live = join_links == "open_now" and on_now(s, now)
        code = (
            f" · join code <code>{html.escape(s.join_code)}</code> · "
            f'<a href="session.ipynb?code={quote(s.join_code)}">join it</a>'
            # given only to those who run the community
            if s.join_code and (join_links == "always" or live)
            else ""
        )
        mark = '<strong class="cop-on-now">On now</strong> · ' if live else ""
        items.append(
            f"<li>{mark}<strong><bdi>{html.escape(s.topic)}</bdi></strong> · "
            f"<bdi>{html.escape(c.name)}</bdi> · {html.escape(when)}{code}</li>"
        )
    more = (
        f"<p class='cop-meta'>And {len(found) - UPCOMING_SHOWN} more: see "
        "<a href='community.ipynb'>your community</a>.</p>"
        if len(found) > UPCOMING_SHOWN
        else ""
    )
    return f"<h2>Upcoming sessions</h2><ul class='cop-upcoming'>{''.join(items)}</ul>{more}"


def home_app(settings: Settings | None = None, environ=None) -> HomeApp:
    opened = open_for_app(settings, environ, "The workbook")
    return HomeApp(opened.store, opened.settings, environ, startup_error=opened.error)

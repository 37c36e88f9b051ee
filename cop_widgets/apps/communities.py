"""The Communities page (the hub): every community, how to join it, and one's own memberships.

Everyone signed in sees each community's name, domain, purpose, whether it is internal or
cross-agency, the date of its next session and how many members it has; members also see the
next session's topic and links to its sessions and library. Open communities are joined with
one press; those by request are asked to join, and their coordinators approve or decline the
requests here and choose how people join. What may be done is the services' (policy) call:
the page only offers it.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.apps._startup import open_for_app
from cop_widgets.services import membership
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store

LABEL = {"description_width": "initial"}
ROLE_WORDS = {"member": "member", "facilitator": "facilitator", "coordinator": "coordinator"}

HUB_STYLE = """
<style>
.cop-hub .cop-hub-card { border: 1px solid #9ca3af; border-radius: 8px; padding: 0.6em 0.9em;
  margin: 0.6em 0; overflow-wrap: anywhere; }
.cop-hub .cop-hub-card h2 { margin-top: 0.1em; }
.cop-hub .cop-pill { display: inline-block; padding: 0 0.5em; margin: 0 0.3em 0.2em 0;
  border-radius: 1em; border: 1px solid #6b7280; color: #1b1b1b; background: #f3f4f6; }
.cop-hub .cop-pill-mine { background: #0b4d1f; border-color: #0b4d1f; color: #fff; }
.cop-hub .cop-hub-text { white-space: pre-wrap; margin: 0.2em 0; }
.cop-hub .cop-hub-card a { color: #1d4ed8; text-decoration: underline; }
</style>
"""


class CommunitiesApp(AppShell):
    def __init__(
        self, store: Store | None, settings: Settings, environ=None, startup_error: str = ""
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.zone = ZoneInfo(settings.timezone)
        self.person: Person | None = None
        self.listed: list[membership.Listed] = []
        self.cards: dict[str, W.VBox] = {}
        self.confirming_leave: str | None = None
        super().__init__(HUB_STYLE + "<h1>Communities</h1>")
        self.add_class("cop-hub")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.show()

    # -- the list ------------------------------------------------------------------------------
    def show(self) -> None:
        store, person = self.signed_in()
        self.listed = membership.communities(store, person, datetime.now(UTC))
        mine = [c for c in self.listed if c.member]
        others = [c for c in self.listed if not c.member]
        intro = W.HTML(
            "<p>Communities of practice meet to learn from each other's work. Join an open "
            "one, or ask to join one that is by request: its coordinators decide. What a "
            "community discusses, and who its members are, is seen by its members only.</p>"
        )
        self.cards = {c.id: self._card(c) for c in self.listed}
        children: list[W.Widget] = [intro, W.HTML("<h2>My communities</h2>")]
        children += [self.cards[c.id] for c in mine] or [
            W.HTML("<p class='cop-meta'>You are not in a community yet.</p>")
        ]
        children.append(W.HTML("<h2>Other communities</h2>"))
        children += [self.cards[c.id] for c in others] or [
            W.HTML("<p class='cop-meta'>No other communities yet.</p>")
        ]
        self.body.children = children

    def _when(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.zone):%a %d %b %Y}"

    def _summary_html(self, c: membership.Listed) -> str:
        pills = [
            "Open to join" if c.join_policy == "open" else "Join by request",
            "Cross-agency" if c.cross_agency else "Internal",
            f"{c.members} member{'s' if c.members != 1 else ''}",
        ]
        if c.member:
            roles = ", ".join(ROLE_WORDS.get(r, r) for r in c.my_roles if r != "member")
            pills.append("You are a member" + (f" ({roles})" if roles else ""))
        elif c.requested:
            pills.append("You asked to join: waiting for its coordinators")
        shown = "".join(
            f"<span class='cop-pill{' cop-pill-mine' if i >= 3 else ''}'>{html.escape(p)}</span>"
            for i, p in enumerate(pills)
        )
        if c.next_session_at is None:
            nxt = "No session planned yet."
        elif c.next_topic:
            nxt = (
                f"Next session: {html.escape(self._when(c.next_session_at))}, "
                f"“<bdi>{html.escape(c.next_topic)}</bdi>”."
            )
        else:
            nxt = f"Next session: {html.escape(self._when(c.next_session_at))}."
        parts = [
            f"<h2><bdi>{html.escape(c.name)}</bdi></h2>",
            f"<p>{shown}</p>",
        ]
        if c.domain:
            parts.append(
                "<p class='cop-hub-text'><strong>Domain:</strong> "
                f"<bdi>{html.escape(c.domain)}</bdi></p>"
            )
        if c.purpose:
            parts.append(
                "<p class='cop-hub-text'><strong>Purpose:</strong> "
                f"<bdi>{html.escape(c.purpose)}</bdi></p>"
            )
        parts.append(f"<p class='cop-meta'>{nxt}</p>")
        if c.member:
            parts.append(
                f"<p><a href='library.ipynb?community={quote(c.id)}'>Its practice library</a>"
                " · <a href='community.ipynb'>Its sessions and members</a></p>"
            )
        return "".join(parts)

    def _card(self, c: membership.Listed) -> W.VBox:
        card = W.VBox([W.HTML(self._summary_html(c))])
        card.add_class("cop-hub-card")
        card.add_class(f"cop-hub-{c.id}")
        actions: list[W.Widget] = []
        if c.member:
            if self.confirming_leave == c.id:
                sure = W.Button(description=f"Yes, leave {c.name[:40]}", button_style="danger")
                stay = W.Button(description="Stay")
                sure.add_class("cop-hub-leave-confirm")
                sure.on_click(lambda _, cid=c.id: self.guard(self._leave, cid))
                stay.on_click(lambda _: self.guard(self._stay))
                actions += [
                    W.HTML("<p>Leave this community? You keep what you wrote.</p>"),
                    W.HBox([sure, stay]),
                ]
            else:
                leave = W.Button(description="Leave…")
                leave.add_class("cop-hub-leave")
                leave.on_click(lambda _, cid=c.id: self.guard(self._ask_leave, cid))
                actions.append(leave)
        elif c.join_policy == "open":
            join = W.Button(description="Join", button_style="primary")
            join.add_class("cop-hub-join")
            join.on_click(lambda _, cid=c.id: self.guard(self._join, cid))
            actions.append(join)
        elif c.requested:
            back = W.Button(description="Withdraw my request")
            back.add_class("cop-hub-withdraw")
            back.on_click(lambda _, cid=c.id: self.guard(self._withdraw, cid))
            actions.append(back)
        else:
            ask = W.Button(description="Ask to join", button_style="primary")
            ask.add_class("cop-hub-ask")
            ask.on_click(lambda _, cid=c.id: self.guard(self._ask, cid))
            actions.append(ask)
        if c.approves:
            actions += self._coordinator_part(c)
        card.children = [*card.children, *actions]
        return card

    def _coordinator_part(self, c: membership.Listed) -> list[W.Widget]:
        """Requests waiting, and how people join: for those who approve them."""
        out: list[W.Widget] = [W.HTML("<h3>For its coordinators</h3>")]
        store, person = self.signed_in()
        waiting = membership.pending_requests(store, person, c.id) if c.pending else []
        if not waiting:
            out.append(W.HTML("<p class='cop-meta'>Nobody is waiting to join.</p>"))
        for r in waiting:
            yes = W.Button(description="Approve", button_style="primary")
            no = W.Button(description="Decline")
            yes.add_class("cop-hub-approve")
            no.add_class("cop-hub-decline")
            yes.on_click(
                lambda _, pid=r.person_id, cid=c.id: self.guard(self._decide, cid, pid, True)
            )
            no.on_click(
                lambda _, pid=r.person_id, cid=c.id: self.guard(self._decide, cid, pid, False)
            )
            row = W.VBox(
                [
                    W.HTML(
                        f"<p><strong><bdi>{html.escape(r.name)}</bdi></strong> asked to join "
                        f"on {html.escape(r.requested_at[:10])}.</p>"
                    ),
                    W.HBox([yes, no]),
                ]
            )
            row.add_class("cop-hub-request")
            out.append(row)
        policy_pick = W.Dropdown(
            options=[(label, key) for key, label in membership.JOIN_POLICY_LABELS.items()],
            value=c.join_policy,
            description="How people join",
            style=LABEL,
        )
        cross = W.Checkbox(
            value=c.cross_agency,
            indent=False,
            description="Cross-agency (members come from more than one organisation)",
        )
        save = W.Button(description="Save how people join")
        policy_pick.add_class("cop-hub-policy")
        cross.add_class("cop-hub-cross-agency")
        save.add_class("cop-hub-policy-save")
        save.on_click(
            lambda _, cid=c.id: self.guard(self._set_policy, cid, policy_pick.value, cross.value)
        )
        return [*out, policy_pick, cross, save]

    # -- actions -------------------------------------------------------------------------------
    def _name(self, community_id: str) -> str:
        return next((c.name for c in self.listed if c.id == community_id), "the community")

    def _join(self, community_id: str) -> None:
        store, person = self.signed_in()
        membership.join(store, person, community_id)
        self.show()
        self.status.show(f"You joined “{self._name(community_id)}”.", "ok")

    def _ask(self, community_id: str) -> None:
        store, person = self.signed_in()
        membership.request_to_join(store, person, community_id)
        self.show()
        self.status.show(
            f"You asked to join “{self._name(community_id)}”: its coordinators will decide.",
            "ok",
        )

    def _withdraw(self, community_id: str) -> None:
        store, person = self.signed_in()
        membership.withdraw_request(store, person, community_id)
        self.show()
        self.status.show("Your request is withdrawn.", "ok")

    def _ask_leave(self, community_id: str) -> None:
        self.confirming_leave = community_id
        self.show()

    def _stay(self) -> None:
        self.confirming_leave = None
        self.show()

    def _leave(self, community_id: str) -> None:
        self.confirming_leave = None
        name = self._name(community_id)
        store, person = self.signed_in()
        try:
            membership.leave(store, person, community_id)
        finally:
            self.show()
        self.status.show(f"You left “{name}”.", "ok")

    def _decide(self, community_id: str, person_id: str, approve: bool) -> None:
        store, person = self.signed_in()
        done = membership.decide(store, person, community_id, person_id, approve)
        self.show()
        if not done:
            self.status.show("That request was already decided or withdrawn.", "warning")
        else:
            self.status.show("Approved: they are a member now." if approve else "Declined.", "ok")

    def _set_policy(self, community_id: str, join_policy: str, cross_agency: bool) -> None:
        store, person = self.signed_in()
        membership.set_join_policy(store, person, community_id, join_policy, cross_agency)
        self.show()
        self.status.show("Saved how people join.", "ok")


def communities_app(settings: Settings | None = None, environ=None) -> CommunitiesApp:
    opened = open_for_app(settings, environ, "The Communities page")
    return CommunitiesApp(opened.store, opened.settings, environ, startup_error=opened.error)

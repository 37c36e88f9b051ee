"""The community app (coordinators and facilitators): a CoP, its series of sessions, the
events page with join codes and attendance, a calendar file, and role rotation."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime, time
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._startup import open_for_app
from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.roles import SESSION_ROLES
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import InvalidInput
from cop_widgets.services import accounts, report_access, sessions
from cop_widgets.services.identity import Person, page_site
from cop_widgets.services.roster import roles_of
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.store.schema import ROLES

LABEL = {"description_width": "initial"}
# The join page below the server's base path: for full addresses (the run sheet's, with the
# base path in front); links on a page are relative instead.
JOIN_PATH = "/voila/render/session.ipynb"


class CommunityApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        protocols: Catalogue,
        settings: Settings,
        environ=None,
        startup_error: str = "",
    ):
        self.store, self.protocols, self.settings, self.environ = (
            store,
            protocols,
            settings,
            environ,
        )
        self.zone = ZoneInfo(settings.timezone)
        self.person: Person | None = None
        super().__init__("<h1>Community and sessions</h1>")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.show_home()

    def _local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.zone):%a %d %b %Y, %H:%M} ({self.settings.timezone})"

    # -- choosing or creating a community ------------------------------------------------------
    def show_home(self, selected: str | None = None) -> None:
        store, person = self.signed_in()
        known = sessions.communities(store, person)
        self.picker = W.Dropdown(
            options=[(c.name, c.id) for c in known],
            value=selected or (known[0].id if known else None),
            description="Community",
            style=LABEL,
            layout=W.Layout(width="30rem"),
        )
        self.picker.add_class("cop-community")
        self.picker.observe(lambda _: self.guard(self._show_community), "value")
        if not hasattr(self, "create_button"):  # built once: what is typed there stays
            self._create_form()
        create = self.create_button
        self.community_box = W.VBox()
        people = self._people_panel()
        # the home page's "People and sign-in links" opens this page with ?panel=people
        people_first = (parse_qs(self.query).get("panel") or [""])[0] == "people"
        self.body.children = [
            *(people if people_first else []),
            self.picker if known else W.HTML("<p>No community yet: create the first below.</p>"),
            self.community_box,
            W.HTML("<h2>New community</h2>"),
            self.new_name,
            self.new_domain,
            self.new_purpose,
            create,
            *([] if people_first else people),
        ]
        self._show_community()

    def _create_form(self) -> None:
        self.new_name = W.Text(description="Name", style=LABEL, layout=W.Layout(width="30rem"))
        self.new_domain = W.Textarea(
            description="Domain (the shared concern)", style=LABEL, layout=W.Layout(width="40rem")
        )
        self.new_purpose = W.Textarea(
            description="Purpose", style=LABEL, layout=W.Layout(width="40rem")
        )
        self.create_button = W.Button(description="Create community")
        for name, w in (
            ("new-name", self.new_name),
            ("new-domain", self.new_domain),
            ("new-purpose", self.new_purpose),
            ("create", self.create_button),
        ):
            w.add_class(f"cop-{name}")
        # Read at the click (each field sends its value ahead of it), cleared only once stored
        # and only where unchanged; a refused create stays unsaved and is retried.
        self.create_fields = TakenText(self.new_name, self.new_domain, self.new_purpose)
        self.create_saver = self.saver(self.new_name, self.new_domain, self.new_purpose)
        # after_pending_edits: the name typed just before the click is in first
        self.create_button.on_click(lambda _: self.after_pending_edits(self._create))

    # -- people and their sign-in links (coordinators) -------------------------------------------
    def _people_panel(self) -> list[W.Widget]:
        store, person = self.signed_in()
        if "coordinator" not in roles_of(store, person.id) or self.settings.hub:
            return []  # under JupyterHub the Hub signs people in: no links to hand out
        self.person_name = W.Text(description="Name", style=LABEL, layout=W.Layout(width="24rem"))
        self.person_role = W.Dropdown(
            options=[(r.capitalize(), r) for r in ROLES], description="Role", style=LABEL
        )
        add = W.Button(description="Add and make a sign-in link")
        self.relink_picker = W.Dropdown(
            options=[(p.display_name, p.id) for p in accounts.all_people(store)],
            description="Person",
            style=LABEL,
            layout=W.Layout(width="24rem"),
        )
        relink = W.Button(description="Make a new sign-in link")
        self.link_out = W.Text(
            description="Sign-in link (shown once: copy it now)",
            disabled=False,
            style=LABEL,
            layout=W.Layout(width="100%"),
        )
        self.link_out.layout.display = "none"
        for name, w in (
            ("people-name", self.person_name),
            ("people-role", self.person_role),
            ("people-add", add),
            ("people-relink-person", self.relink_picker),
            ("people-relink", relink),
            ("people-link", self.link_out),
        ):
            w.add_class(f"cop-{name}")
        add.on_click(lambda _: self.after_pending_edits(self._add_person))
        relink.on_click(lambda _: self.guard(self._relink))
        return [
            W.HTML(
                "<h2>People</h2><p class='cop-meta'>Add a person and give them their personal "
                "sign-in link (it works once, for 7 days; they then choose a passphrase). A new "
                "link replaces the old one.</p>"
            ),
            W.HBox([self.person_name, self.person_role, add]),
            W.HBox([self.relink_picker, relink]),
            self.link_out,
        ]

    def _site(self) -> str:
        """The address people open, from the page's own address (works from the room)."""
        return page_site(self.environ, default=accounts.DEFAULT_URL)

    def _show_link(self, who: Person, token: str) -> None:
        self.link_out.value = accounts.sign_in_url(self._site(), token)
        self.link_out.layout.display = None
        self.status.show(
            f"Sign-in link for {who.display_name} made: copy it from the box and give it to "
            "them (it is not shown again).",
            "ok",
        )

    def _add_person(self) -> None:
        store, person = self.signed_in()
        added, token = accounts.coordinator_adds_person(
            store, person, self.person_name.value, self.person_role.value
        )
        self.person_name.value = ""
        self.relink_picker.options = [(p.display_name, p.id) for p in accounts.all_people(store)]
        self._show_link(added, token)

    def _relink(self) -> None:
        chosen = self.relink_picker.value
        if chosen is None:
            raise InvalidInput("person", "Choose the person who needs a new link.")
        store, person = self.signed_in()
        token = accounts.coordinator_reissues_link(store, person, chosen)
        who = next(p for p in accounts.all_people(store) if p.id == chosen)
        self._show_link(who, token)

    def _create(self) -> None:
        taken = self.create_fields.take()
        self.create_saver.run(lambda: self._store_community(taken))

    def _store_community(self, taken: tuple[str, ...]) -> None:
        store, person = self.signed_in()
        made = sessions.create_community(store, person, *taken)
        self.create_fields.stored(taken)
        self.status.show(f"Community “{made.name}” created.", "ok")
        self.show_home(made.id)

    @property
    def community(self) -> sessions.Community | None:
        store, person = self.signed_in()
        known = sessions.communities(store, person)
        return next((c for c in known if c.id == self.picker.value), None)

    # -- the events page ----------------------------------------------------------------------
    def _show_community(self) -> None:
        chosen = self.community
        if chosen is None:
            self.community_box.children = []
            return
        now = datetime.now(UTC)
        store, person = self.signed_in()
        upcoming, past = sessions.sessions_of(store, person, chosen.id, now)
        counts = sessions.attendance_counts(store, person, chosen.id)
        runs = sessions.runs_community(store, person, chosen.id)

        def rows(items, label):
            out = [W.HTML(f"<h3>{label}</h3>")]
            if not items:
                out.append(W.HTML("<p class='cop-meta'>None.</p>"))
            for s in items:
                sheet = runs or sessions.runs_session(store, person, s.id)
                line = W.HTML(self._session_html(s, counts.get(s.id, 0), sheet))
                if not runs:  # members see the series; codes, roles and closing are the hosts'
                    out.append(line)
                    continue
                roles = W.Button(description="Roles", tooltip=f"Roles for {s.topic}")
                roles.add_class("cop-session-roles")
                roles.on_click(lambda _, sid=s.id: self.guard(self.show_roles, sid))
                out.append(W.HBox([roles, line], layout=W.Layout(align_items="center")))
            return out

        ics = sessions.calendar_ics(chosen, upcoming + past)
        link = (
            f'<a download="{html.escape(chosen.name)}.ics" class="cop-ics" '
            f'href="data:text/calendar;base64,{base64.b64encode(ics.encode()).decode()}">'
            "Download the series as a calendar file (.ics)</a>"
        )
        self.roles_box = W.VBox()
        self.community_box.children = [
            W.HTML(
                f"<h2>{html.escape(chosen.name)}</h2>"
                f"<p><strong>Domain:</strong> {html.escape(chosen.domain)}<br>"
                f"<strong>Purpose:</strong> {html.escape(chosen.purpose)}</p><p>{link}</p>"
            ),
            *rows(upcoming, "Upcoming sessions"),
            *rows(past, "Past sessions"),
            self.roles_box,
            *(self._members_panel(chosen) if runs else []),
            *(
                [self._plan_box if hasattr(self, "_plan_box") else self._plan_form()]
                if runs
                else []
            ),
            *self._report_panel(chosen),
        ]

    def _report_panel(self, chosen: sessions.Community) -> list[W.Widget]:
        """The community report, for its coordinators (kept per community: a report being
        made survives the page being redrawn)."""
        store, person = self.signed_in()
        if not report_access.may_make(store, person, "community", chosen.id):
            return []
        from cop_widgets.apps._reports import (
            report_panel,  # only for coordinators: others never load it
        )

        panels = self.__dict__.setdefault("_report_panels", {})
        if chosen.id not in panels:
            panels[chosen.id] = report_panel(self, "community", chosen.id, period=True)
        return [W.HTML("<h3>Community report</h3>"), panels[chosen.id]]

    # -- the community's members (its facilitators and coordinators) ------------------------------
    def _members_panel(self, chosen: sessions.Community) -> list[W.Widget]:
        store, person = self.signed_in()
        listed = "".join(
            f"<li><bdi>{html.escape(name)}</bdi> <span class='cop-meta'>({html.escape(roles)})"
            "</span></li>"
            for _, name, roles in sessions.member_roles(store, person, chosen.id)
        )
        self.member_pick = W.Dropdown(
            options=[(p.display_name, p.id) for p in accounts.all_people(store)],
            value=None,
            description="Person",
            style=LABEL,
            layout=W.Layout(width="22rem"),
        )
        self.member_role = W.Dropdown(
            options=[("Member", "member"), ("Facilitator", "facilitator"),
                     ("Coordinator", "coordinator")],
            description="Role in this community",
            style=LABEL,
        )  # fmt: skip
        add = W.Button(description="Add to the community")
        for name, w in (
            ("member-person", self.member_pick),
            ("member-role", self.member_role),
            ("member-add", add),
        ):
            w.add_class(f"cop-{name}")  # fmt: skip
        add.on_click(lambda _: self.guard(self._add_member, chosen.id))
        return [
            W.HTML(
                f"<h3>Members</h3><ul class='cop-members'>{listed or '<li>None yet.</li>'}</ul>"
            ),
            W.HBox([self.member_pick, self.member_role, add]),
        ]

    def _add_member(self, community_id: str) -> None:
        if self.member_pick.value is None:
            raise InvalidInput("person", "Choose the person to add.")
        store, person = self.signed_in()
        sessions.add_member(
            store, person, community_id, self.member_pick.value, self.member_role.value
        )
        self.status.show(f"{self.member_pick.label} added to the community.", "ok")
        self._show_community()

    def _session_html(self, s: sessions.Session, joined: int, run_sheet: bool = False) -> str:
        protocol = self.protocols.get(s.protocol_id) if s.protocol_id else None
        parts = [
            f"<strong>{html.escape(s.topic)}</strong>",
            html.escape(self._local(s.starts_at)),
            f"{s.duration_minutes} min",
            *([html.escape(protocol.name)] if protocol else []),
        ]
        focus = f"<br><em>{html.escape(s.focus_question)}</em>" if s.focus_question else ""
        closed = " · closed" if s.status == "closed" else ""
        code = (
            f"Join code <code class='cop-join-code'>{s.join_code}</code> · "
            # a sibling of this page (relative: also under a Hub prefix, /services/cop/…)
            f"<a href='session.ipynb?code={quote(s.join_code)}'>join link</a> · "
            if s.join_code  # only those who run the community are given codes
            else ""
        )
        # the whole session on one page, for whoever runs it (apps/run_sheet.py)
        sheet = (
            f"<a href='run_sheet.ipynb?session={quote(s.id)}' class='cop-run-sheet-link'>"
            "Run sheet</a> · "
            if run_sheet
            else ""
        )
        return (
            f"<div class='cop-session'>{' · '.join(parts)}<br>{sheet}{code}{joined} joined"
            f"{closed}{focus}</div>"
        )

    def _plan_form(self) -> W.Widget:
        self.p_date = W.DatePicker(description="Date", style=LABEL)
        self.p_time = W.Text(
            value="14:00",
            description=f"Start ({self.settings.timezone})",
            style=LABEL,
            layout=W.Layout(width="16rem"),
        )
        self.p_minutes = W.BoundedIntText(
            value=90,
            min=15,
            max=480,
            description="Minutes",
            style=LABEL,
            layout=W.Layout(width="12rem"),
        )
        self.p_topic = W.Text(description="Topic", style=LABEL, layout=W.Layout(width="30rem"))
        self.p_focus = W.Textarea(
            description="Focus question", style=LABEL, layout=W.Layout(width="40rem")
        )
        self.p_protocol = W.Dropdown(
            options=[("(none)", "")] + [(p.name, p.id) for p in self.protocols.items],
            description="Protocol",
            style=LABEL,
        )
        plan = W.Button(description="Plan session", button_style="primary")
        for name, w in (
            ("date", self.p_date),
            ("time", self.p_time),
            ("topic", self.p_topic),
            ("focus", self.p_focus),
            ("protocol", self.p_protocol),
            ("plan", plan),
        ):
            w.add_class(f"cop-plan-{name}")
        # Read at the click, stored for the community chosen then, topic and focus cleared only
        # once stored (and only if unchanged); a refused plan stays unsaved and is retried.
        self.plan_fields = TakenText(self.p_topic, self.p_focus)
        self.p_time.continuous_update = False
        self.plan_saver = self.saver(self.p_topic, self.p_focus)
        # after_pending_edits: a topic typed just before the click is in first (a busy
        # kernel's page holds back the typed value and sends the click; seen in CI as "Enter the
        # topic." with the topic typed)
        plan.on_click(lambda _: self.after_pending_edits(self._plan))
        self._plan_box = W.VBox(
            [
                W.HTML("<h3>Plan a session</h3>"),
                W.HBox([self.p_date, self.p_time, self.p_minutes]),
                self.p_topic,
                self.p_focus,
                self.p_protocol,
                plan,
            ]
        )
        return self._plan_box

    def _plan(self) -> None:
        if self.p_date.value is None:
            raise InvalidInput("date", "Pick the session's date.")
        try:
            clock = time.fromisoformat(self.p_time.value.strip())
        except ValueError:
            raise InvalidInput("time", "Write the start time as HH:MM, e.g. 14:00.") from None
        starts = datetime.combine(self.p_date.value, clock, tzinfo=self.zone)
        taken = self.plan_fields.take()
        community_id, protocol_id = self.picker.value, self.p_protocol.value or None
        minutes = self.p_minutes.value
        self.plan_saver.run(
            lambda: self._store_plan(community_id, starts, taken, protocol_id, minutes)
        )

    def _store_plan(self, community_id, starts, taken, protocol_id, minutes) -> None:
        topic, focus = taken
        store, person = self.signed_in()
        made = sessions.plan_session(
            store, person, community_id, starts, topic, focus, protocol_id, minutes
        )
        self.plan_fields.stored(taken)
        self.status.show(f"Planned “{made.topic}”: join code {made.join_code}.", "ok")
        if self.picker.value == community_id:
            self._show_community()

    # -- rotation ----------------------------------------------------------------------------------
    def show_roles(self, session_id: str) -> None:
        store, person = self.signed_in()
        session = sessions.get_session(store, person, session_id)
        cid = session.community_id
        people = {pid: name for pid, name in sessions.members(store, person, cid)}
        people.update(dict(sessions.attendees(store, person, session_id)))
        history = sessions.role_history(store, person, cid)
        current = sessions.session_roles(store, person, session_id)
        pool = sessions.attendees(store, person, session_id) or list(people.items())
        suggested = sessions.suggest_roles(pool, history)
        options = [("(nobody)", "")] + sorted(
            ((n, p) for p, n in people.items()), key=lambda o: o[0].casefold()
        )
        pickers = {}
        for role_id, label in SESSION_ROLES:
            pickers[role_id] = W.Dropdown(
                options=options,
                value=current.get(role_id, suggested.get(role_id, "")),
                description=label,
                style=LABEL,
            )
            pickers[role_id].add_class(f"cop-role-pick-{role_id}")
        save = W.Button(description="Save roles", button_style="primary")
        save.add_class("cop-save-roles")
        save.on_click(
            lambda _: self.guard(
                self._save_roles, session_id, {r: w.value for r, w in pickers.items()}
            )
        )
        close_box = self._close_box(session)
        table = "".join(
            f"<tr><th scope='row'><bdi>{html.escape(people.get(pid, pid))}</bdi></th>"
            + "".join(f"<td>{counts[r]}</td>" for r, _ in SESSION_ROLES)
            + "</tr>"
            for pid, counts in sorted(history.items(), key=lambda i: people.get(i[0], ""))
        )
        heads = "".join(f"<th scope='col'>{label}</th>" for _, label in SESSION_ROLES)
        self.roles_box.children = [
            W.HTML(
                f"<h3>Roles for “{html.escape(session.topic)}”</h3><p class='cop-meta'>"
                "Suggested: whoever has held each role least. Change any of them.</p>"
            ),
            *pickers.values(),
            save,
            W.HTML(
                f"<h4>Role history</h4><table class='cop-history'><thead><tr><th>Member</th>"
                f"{heads}</tr></thead><tbody>{table}</tbody></table>"
                if table
                else "<p class='cop-meta'>No roles held yet in this community.</p>"
            ),
            close_box,
        ]

    def _close_box(self, session: sessions.Session) -> W.Widget:
        """Closing a session, apart from the roles (below their history, under a heading of
        its own) and asked twice: it cannot be undone here."""
        return close_session_box(self, session, lambda: self._close_session(session.id))

    def _close_session(self, session_id: str) -> None:
        store, person = self.signed_in()
        sessions.close_session(store, person, session_id)
        self.status.show("Session closed: its code no longer works.", "ok")
        self._show_community()

    def _save_roles(self, session_id: str, roles: dict[str, str]) -> None:
        store, person = self.signed_in()
        sessions.set_session_roles(store, person, session_id, roles)
        self.status.show("Roles saved.", "ok")
        self.show_roles(session_id)


def close_session_box(
    shell: AppShell,
    session: sessions.Session,
    close,
    heading: str = "<h4>Close the session</h4>",
    intro: str = "When it is over: the join code stops working.",
) -> W.Widget:
    """A session's "Close…", set apart (a rule above it) and asked twice, as it cannot be
    undone here: `close()` runs (guarded) only after "Yes, close it". Used by the community
    app and the run sheet."""
    close_button = W.Button(
        description="Close this session…",
        tooltip="After closing, the join code stops working and answers are no longer taken",
        disabled=session.status == "closed",
    )
    close_button.add_class("cop-close-session")
    sure = W.Button(description="Yes, close it", button_style="danger")
    sure.add_class("cop-close-session-confirm")
    keep = W.Button(description="No, keep it open")
    keep.add_class("cop-close-session-cancel")
    question = W.HTML(
        f"<p role='alert'><strong>Close “<bdi>{html.escape(session.topic)}</bdi>”?</strong> "
        "Its join code stops working and no more check-ins or check-outs are taken.</p>"
    )
    confirm = W.VBox([question, W.HBox([sure, keep], layout=W.Layout(flex_flow="row wrap"))])
    confirm.layout.display = "none"
    confirm.add_class("cop-close-confirm")

    def ask(_=None) -> None:
        confirm.layout.display = None
        close_button.layout.display = "none"

    def cancel(_=None) -> None:
        confirm.layout.display = "none"
        close_button.layout.display = None
        shell.status.show("The session stays open.", "info")

    close_button.on_click(ask)
    keep.on_click(cancel)
    sure.on_click(lambda _: shell.guard(close))
    box = W.VBox(
        [W.HTML(f"{heading}<p class='cop-meta'>{intro}</p>"), close_button, confirm],
        layout=W.Layout(margin="1.5em 0 0 0", border_top="1px solid #9ca3af"),
    )
    box.add_class("cop-close-area")
    return box


def community_app(settings: Settings | None = None, environ=None) -> CommunityApp:
    opened = open_for_app(
        settings, environ, "The workbook", lambda s: load_protocols(s.protocols_dir)
    )
    protocols = opened.loaded or Catalogue((), ())
    return CommunityApp(
        opened.store, protocols, opened.settings, environ, startup_error=opened.error
    )

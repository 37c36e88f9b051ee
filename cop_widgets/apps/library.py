"""The practice library app: a community's shared repertoire, to browse, search, read, endorse,
comment on, add to and revise (services/library.py holds the rules; policy decides who).

Nothing typed is lost: the entry form and the comment box are stored with AppShell.saver (a
refused save stays on the page, marked unsaved, and is retried until the store takes it) and
cleared only once stored (TakenText). Entry and comment ids are made when their form opens,
so a retried save never adds a second copy. Every text passes the de-identification check
before it is saved.
"""

from __future__ import annotations

import base64
import html
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._page_connected import when_page_connected
from cop_widgets.apps._startup import open_for_app
from cop_widgets.content.library_topics import EMPTY, TOPICS_FILE, TopicList, load_topics
from cop_widgets.errors import DataFileError, InvalidInput
from cop_widgets.services import library, report_access, sessions
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.store.page_cache import keep_page_cache_small
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.shared_look import SharedLook

EXCERPT_CHARS = 240
ALL = ""  # the "all my communities" choice
NO_ENTRY_OPEN = "No entry is open on this page: open it from the list again."
ACCEPTED_FILES = ",".join(library.ATTACHMENT_TYPES)

LIBRARY_STYLE = """
<style>
.cop-library .cop-lib-row { border-top: 1px solid #d1d5db; padding: 0.4em 0; }
.cop-library .cop-lib-row .widget-button { text-align: left; font-weight: 600; }
.cop-library .cop-lib-open { text-align: left; font-weight: 600; margin-top: 0.4em; }
.cop-library .cop-lib-found { border-bottom: 1px solid #d1d5db; padding-bottom: 0.4em; }
.cop-library .cop-pill { display: inline-block; padding: 0 0.5em; margin: 0 0.3em 0.2em 0;
  border-radius: 1em; border: 1px solid #6b7280; background: #f3f4f6; color: #1b1b1b; }
.cop-library .cop-pill-marked { background: #0b4d1f; border-color: #0b4d1f; color: #fff; }
.cop-library .cop-lib-body, .cop-library .cop-lib-excerpt, .cop-library .cop-lib-comment {
  white-space: pre-wrap; overflow-wrap: anywhere; }
.cop-library .cop-lib-version { border-left: 3px solid #9ca3af; padding-left: 0.6em;
  margin: 0.5em 0; }
.cop-library .cop-lib-topics .widget-checkbox { margin-right: 1em; }
.cop-library .cop-lib-entry a, .cop-library .cop-meta a, .cop-library .cop-lib-intro a {
  color: #1d4ed8; text-decoration: underline; }
</style>
"""


def _pills(items: list[str], marked: str = "") -> str:
    shown = "".join(f"<span class='cop-pill'><bdi>{html.escape(i)}</bdi></span>" for i in items)
    if marked:
        shown = f"<span class='cop-pill cop-pill-marked'>{html.escape(marked)}</span>" + shown
    return f"<p>{shown}</p>" if shown else ""


def _day(stamp: str) -> str:
    return stamp[:10]


def _form_changed(form: EntryForm, entry: library.Entry) -> bool:
    """Whether the entry's form holds anything not saved to the entry yet."""
    free = ", ".join(t for t, topic in entry.tags if not topic)
    topics = {t for t, topic in entry.tags if topic}
    return bool(form.upload.value) or (
        form.kind.value, form.title.value, form.body.value, form.url.value, form.free_tags.value,
        set(form.topic_ids()),
    ) != (entry.kind, entry.title, entry.body, entry.url, free, topics)  # fmt: skip


class EntryForm(W.VBox):
    """The fields of an entry, to contribute one or to revise one's own."""

    def __init__(
        self,
        topics: TopicList,
        button: str,
        communities=None,
        entry=None,
        look: SharedLook | None = None,
    ):
        """`look`: the page's shared layout and style models (the form's own by default)."""
        look = look or SharedLook()
        wide = look.layout(width="40rem")
        self.topics = topics
        self.entry_id = entry.id if entry else str(uuid.uuid4())
        self.expected_revision = entry.revision if entry else 0
        self.community = W.Dropdown(
            options=communities or [],
            description="Community",
            style=look.labelled(W.Dropdown),
            layout=wide,
        )
        self.kind = W.Dropdown(
            options=[(label, key) for key, label in library.KIND_LABELS.items()],
            value=entry.kind if entry else "story",
            description="Kind",
            style=look.labelled(W.Dropdown),
            layout=wide,
        )
        self.title = W.Text(
            value=entry.title if entry else "",
            description="Title",
            style=look.labelled(W.Text),
            layout=wide,
        )
        self.body = W.Textarea(
            value=entry.body if entry else "",
            description="Text",
            placeholder="What happened, what you tried or found, what others can take from it "
            "(no names or places: roles and age bands)",
            style=look.labelled(W.Textarea),
            layout=look.layout(width="40rem", height="12em"),
        )
        self.url = W.Text(
            value=entry.url if entry else "",
            description="Link (https://…, for a link or a source)",
            style=look.labelled(W.Text),
            layout=wide,
        )
        chosen = {t for t, topic in entry.tags if topic} if entry else set()
        # one layout and one style for all the topic boxes (none changes its own): a form is
        # then 2 models for them instead of 3 per topic, which a page fetches and draws
        box_layout, box_style = look.layout(width="auto"), look.style_of(W.Checkbox)
        self.topic_boxes = {
            t.id: W.Checkbox(
                value=t.id in chosen,
                description=t.label,
                indent=False,
                layout=box_layout,
                style=box_style,
            )
            for t in topics.topics
        }
        self.free_tags = W.Text(
            value=", ".join(t for t, topic in entry.tags if not topic) if entry else "",
            description="Other tags (separated by commas)",
            style=look.labelled(W.Text),
            layout=wide,
        )
        self.session = W.Dropdown(
            options=[("None", "")],
            description="Came from a session",
            style=look.labelled(W.Dropdown),
            layout=wide,
        )
        self.upload = W.FileUpload(
            accept=ACCEPTED_FILES,
            multiple=True,
            description="Attach files (PDF, DOCX, PNG, JPEG; up to 2 MB each)",
            layout=look.layout(width="auto", max_width="100%"),
            style=look.style_of(W.FileUpload),
        )
        self.deid = DeidCheck()
        self.save = W.Button(
            description=button,
            button_style="primary",
            layout=look.layout(),
            style=look.style_of(W.Button),
        )
        for name, w in (
            ("community", self.community),
            ("kind", self.kind),
            ("title", self.title),
            ("body", self.body),
            ("url", self.url),
            ("tags", self.free_tags),
            ("session", self.session),
            ("upload", self.upload),
            ("save", self.save),
        ):
            w.add_class(f"cop-lib-form-{name}")
        topics_box = W.HBox(list(self.topic_boxes.values()), layout=look.layout())
        topics_box.add_class("cop-lib-topics")
        rows: list[W.Widget] = [self.community] if communities is not None else []
        rows += [self.kind, self.title, self.body, self.url]
        if self.topic_boxes:
            rows += [look.html("<p><strong>Topics</strong></p>"), topics_box]
        rows += [self.free_tags]
        if communities is not None:
            rows.append(self.session)
        rows += [self.upload, self.deid, self.save]
        super().__init__(rows, layout=look.layout())
        self.add_class("cop-lib-form")
        self.fields = TakenText(self.title, self.body, self.url, self.free_tags)

    def topic_ids(self) -> list[str]:
        return [tid for tid, box in self.topic_boxes.items() if box.value]

    def files(self) -> list[tuple[str, bytes]]:
        return [(f["name"], bytes(f["content"])) for f in self.upload.value]

    def reset(self) -> None:
        """After a store: a new entry id, no topics or files chosen (the text fields were
        cleared by TakenText, only where unchanged)."""
        self.entry_id = str(uuid.uuid4())
        for box in self.topic_boxes.values():
            box.value = False
        self.upload.value = ()
        self.session.value = ""
        self.deid.review({})


class LibraryApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        topics: TopicList,
        environ=None,
        startup_error: str = "",
    ):
        self.store, self.settings, self.topics, self.environ = store, settings, topics, environ
        self.zone = ZoneInfo(settings.timezone)
        self.person: Person | None = None
        self.entry: library.Entry | None = None
        self.shown = 0
        self.revise_form: EntryForm | None = None
        self.revise_saver: Autosave | None = None
        self.comment_saver: Autosave | None = None
        super().__init__(LIBRARY_STYLE + "<h1>Practice library</h1>")
        self.add_class("cop-library")
        self.begin(startup_error, environ)

    # -- signing in: what this person reads and where they contribute -------------------------
    def _sign_in(self, person: Person) -> None:
        self.person = person
        asked = parse_qs(self.query)
        store = self.opened_store()
        keep_page_cache_small(store)  # its counts would hold 2 MiB of pages (page_cache.py)
        readable = sessions.communities(store, person)
        # where the entry form may add: asked of policy for these few (membership.communities,
        # the hub's listing of every community with its counts and sessions, kept 0.1 MiB more
        # of compiled SQL in the kernel, measured)
        may_add = set(library.contributable(store, person, [c.id for c in readable]))
        self.mine = [(c.name, c.id) for c in readable if c.id in may_add]
        if not readable:
            self.body.children = [
                self.look.html(
                    "<p class='cop-lib-intro'>The practice library is each community's shared "
                    "repertoire: stories, tools, approaches and readings its members found "
                    "useful. Join a community to read and add to its library: see "
                    "<a href='communities.ipynb'>Communities</a>.</p>"
                )
            ]
            return
        wanted = (asked.get("community") or [ALL])[0]
        choices = [("All my communities", ALL)] + [(c.name, c.id) for c in readable]
        look = self.look
        self.picker = W.Dropdown(
            options=choices,
            value=wanted if wanted in {v for _, v in choices} else ALL,
            description="Community",
            style=look.labelled(W.Dropdown),
            layout=look.layout(width="40rem"),
        )
        self.search = W.Text(
            description="Search",
            placeholder="words in the title, text or tags",
            continuous_update=False,
            style=look.labelled(W.Text),
            layout=look.layout(width="30rem"),
        )
        self.search_button = W.Button(
            description="Search", layout=look.layout(), style=look.style_of(W.Button)
        )
        # "Any tag" from the start: the tags in use fill in after the first page (below), and
        # keeping "" selected then changes no value, so no second search runs
        self.tag = W.Dropdown(
            options=[("Any tag", "")],
            description="Tag",
            style=look.labelled(W.Dropdown),
            layout=look.layout(width="24rem"),
        )
        self.sort = W.Dropdown(
            options=[("Newest first", "newest"), ("Most endorsed first", "endorsed")],
            value="newest",
            description="Sort",
            style=look.labelled(W.Dropdown),
            layout=look.layout(),
        )
        self.marked_only = W.Checkbox(
            description="Only the community's endorsed practice",
            indent=False,
            layout=look.layout(),
            style=look.style_of(W.Checkbox),
        )
        for name, w in (
            ("community", self.picker),
            ("search", self.search),
            ("search-button", self.search_button),
            ("tag", self.tag),
            ("sort", self.sort),
            ("marked-only", self.marked_only),
        ):
            w.add_class(f"cop-lib-{name}")
        self.results = W.VBox(layout=look.layout())
        self.results.add_class("cop-lib-results")
        self.more = W.Button(description="Show more")
        self.more.add_class("cop-lib-more")
        self.more.on_click(lambda _: self.guard(self._show_more))
        self.detail = W.VBox(layout=look.layout())
        self.detail.add_class("cop-lib-entry")
        self.drafts_box = W.VBox(layout=look.layout())
        self.drafts_box.add_class("cop-lib-drafts")
        self.handbook_box = W.VBox(layout=look.layout())
        self.handbook_box.add_class("cop-lib-handbook")
        self.picker.observe(lambda _: self.guard(self._community_changed), "value")
        for w in (self.search, self.tag, self.sort, self.marked_only):
            w.observe(lambda _: self.guard(self.refresh), "value")
        self.search_button.on_click(lambda _: self.after_pending_edits(self.refresh))
        self.browse_box = W.VBox(
            [
                self.drafts_box,
                self.picker,
                W.HBox([self.search, self.search_button], layout=look.layout()),
                W.HBox([self.tag, self.sort], layout=look.layout()),
                self.marked_only,
                self.results,
                self.more,
                self.handbook_box,
            ]
        )
        # The first page of entries first, what the person came for. The rest of the page
        # (the Tag menu's counts, the entry form, drafts, the handbook: ~0.15 s of the kernel
        # and ~60 widgets at 20,000 entries, benchmarks/bench_library.py) follows once the
        # page has connected: it then stays out of the page's load and its first render.
        self._below_the_list_built = False
        self.body.children = [self.browse_box, self.detail]
        self.refresh()
        opened = (asked.get("entry") or [""])[0]
        if opened:
            self.open_entry(opened)
        else:
            when_page_connected(lambda: self.guard(self._build_below_the_list))

    def _build_below_the_list(self) -> None:
        """The Tag menu's counts, the entry form, the person's drafts and the handbook: once
        (an action that needs them builds them first if the page has not connected yet)."""
        if self._below_the_list_built:
            return
        self._below_the_list_built = True
        self._refresh_tags()
        self._build_contribute()
        self.body.children = [self.browse_box, self.detail, self.contribute_box]
        self._show_drafts()
        self._show_handbook()

    # -- browsing ---------------------------------------------------------------------------------
    def _community(self) -> str | None:
        return self.picker.value or None

    def _community_changed(self) -> None:
        self._build_below_the_list()
        self._refresh_tags()
        self._show_handbook()
        if self.picker.value and self.picker.value in {v for _, v in self.mine}:
            self.form.community.value = self.picker.value
        self.refresh()

    def _show_handbook(self) -> None:
        """The practice handbook of the community chosen (report.library: its members), its
        panel kept per community so that a handbook being made survives a change of choice."""
        store, person = self.signed_in()
        chosen = self._community()
        if chosen is None or not report_access.may_make(store, person, "library", chosen):
            hint = "Choose one community above to make its practice handbook." if not chosen else ""
            self.handbook_box.children = (
                [self.look.html(f"<p class='cop-meta'>{hint}</p>")] if hint else []
            )
            return
        from cop_widgets.apps._reports import report_panel  # nbconvert loads when pressed

        panels = self.__dict__.setdefault("_handbook_panels", {})
        if chosen not in panels:
            panels[chosen] = report_panel(self, "library", chosen, label="Make the handbook")
        self.handbook_box.children = [
            self.look.html(
                "<h2>Practice handbook</h2><p class='cop-meta'>The community's endorsed practice "
                "and its most-endorsed entries, by topic, in full: one web page (and a PDF) to "
                "keep, print or share with the community. Drafts are never in it.</p>"
            ),
            panels[chosen],
        ]

    def _refresh_tags(self) -> None:
        store, person = self.signed_in()
        used = library.tags_in_use(store, person, self._community())
        options = [("Any tag", "")] + [
            (f"{self.topics.label(t) if topic else t} ({n})", t) for t, topic, n in used
        ]
        keep = self.tag.value if self.tag.value in {v for _, v in options} else ""
        self.tag.options = options
        self.tag.value = keep

    def _page(self, offset: int) -> library.Page:
        store, person = self.signed_in()
        return library.browse(
            store,
            person,
            community_id=self._community(),
            tag=self.tag.value or None,
            query=self.search.value,
            sort=self.sort.value,
            marked_only=self.marked_only.value,
            offset=offset,
        )

    def refresh(self) -> None:
        """The first page of what matches the choices now."""
        page = self._page(0)
        self.total = page.total
        words = library.search_words(self.search.value)
        if page.total:
            found = f"{page.total} entr{'y' if page.total == 1 else 'ies'}"
            if words:
                found += " match “" + html.escape(" ".join(words)) + "”"
            head = f"<p class='cop-meta' role='status'>{found}.</p>"
        elif words or self.tag.value or self.marked_only.value:
            head = (
                "<p class='cop-meta' role='status'>Nothing matches: try fewer words or "
                "another tag.</p>"
            )
        else:
            head = (
                "<p class='cop-meta' role='status'>Nothing here yet: add the first entry below.</p>"
            )
        self.results.children = [self.look.html(head), *self._rows(page.entries)]
        self.shown = len(page.entries)
        self.more.layout.display = None if self.shown < page.total else "none"

    def _show_more(self) -> None:
        page = self._page(self.shown)
        self.results.children = [*self.results.children, *self._rows(page.entries)]
        self.shown += len(page.entries)
        self.more.layout.display = None if self.shown < page.total else "none"

    def _tag_words(self, entry: library.Entry) -> list[str]:
        return [self.topics.label(t) if topic else f"#{t}" for t, topic in entry.tags]

    def _rows(self, entries: list[library.Entry]) -> list[W.Widget]:
        """Each entry's title (the button that opens it), then what it is, one after the other
        in the results box: two widgets an entry, not three (no box around each), since every
        widget is a model the page fetches and draws before the list shows."""
        return [w for e in entries for w in self._row(e)]

    def _row(self, entry: library.Entry) -> tuple[W.Button, W.HTML]:
        title = entry.title if len(entry.title) <= 120 else entry.title[:119] + "…"
        open_it = W.Button(
            description=title,
            tooltip="Read this entry",
            layout=self.look.layout(),
            style=self.look.style_of(W.Button),
        )
        open_it.add_class("cop-lib-open")
        open_it.on_click(lambda _, eid=entry.id: self.guard(self.open_entry, eid))
        excerpt = entry.body if len(entry.body) <= EXCERPT_CHARS else (
            entry.body[:EXCERPT_CHARS].rstrip() + "…")  # fmt: skip
        helped = f" · {entry.endorsements} found it helped" if entry.endorsements else ""
        meta = (
            f"<p class='cop-meta'>{html.escape(library.KIND_LABELS[entry.kind])} · "
            f"<bdi>{html.escape(entry.author_name)}</bdi> · {_day(entry.created_at)} · "
            f"<bdi>{html.escape(entry.community_name)}</bdi>{helped}</p>"
        )
        marked = "Endorsed practice" if entry.marked else ""
        found = W.HTML(
            meta
            + _pills(self._tag_words(entry), marked)
            + f"<div class='cop-lib-excerpt'><bdi>{html.escape(excerpt)}</bdi></div>",
            layout=self.look.layout(),
            style=self.look.style_of(W.HTML),
        )
        found.add_class("cop-lib-found")
        return open_it, found

    # -- one entry --------------------------------------------------------------------------------
    def open_entry(self, entry_id: str) -> None:
        store, person = self.signed_in()
        self.entry = library.get(store, person, entry_id)
        self._build_below_the_list()
        self.drop_saver(self.comment_saver)
        self.drop_saver(self.revise_saver)
        self.revise_form = self.revise_saver = None
        self.confirming_withdraw = False
        self.history_shown = False
        if self.entry.draft:
            self._open_revise()  # a draft opens for editing
        else:
            self._show_entry()
        self.browse_box.layout.display = "none"
        self.contribute_box.layout.display = "none"

    def back_to_list(self) -> None:
        self.drop_saver(self.comment_saver)
        self.drop_saver(self.revise_saver)
        self.comment_saver = self.revise_saver = self.revise_form = None
        self.entry = None
        self.detail.children = []
        self.browse_box.layout.display = None
        self.contribute_box.layout.display = None
        self._show_drafts()
        self._refresh_tags()
        self.refresh()

    def _entry_html(self, e: library.Entry) -> str:
        when = f"added {_day(e.created_at)}"
        if e.revision > 1:
            when += f", revised {_day(e.updated_at)} (version {e.revision})"
        meta = [
            library.KIND_LABELS[e.kind],
            f"by {e.author_name}",
            when,
            e.community_name,
        ]
        source = (
            f"<p>From the session “<bdi>{html.escape(e.session_topic)}</bdi>”.</p>"
            if e.session_topic
            else ""
        )
        link = (
            f"<p>Link: <a href='{html.escape(e.url, quote=True)}' target='_blank' "
            f"rel='noopener noreferrer'><bdi>{html.escape(e.url)}</bdi></a></p>"
            if e.url
            else ""
        )
        helped = (
            f"<p class='cop-meta'>{e.endorsements} member"
            f"{'s' if e.endorsements != 1 else ''} found this helped their practice.</p>"
        )
        marked = f"Endorsed practice of {e.community_name}" if e.marked else ""
        draft = ""
        if e.draft:
            helped = ""
            draft = (
                "<p class='cop-lib-draft-note' role='note'><strong>Draft:</strong> only you see "
                "it. Edit it, then publish it to the library of "
                f"<bdi>{html.escape(e.community_name)}</bdi>.</p>"
            )
        return (
            draft
            + f"<h2><bdi>{html.escape(e.title)}</bdi></h2>"
            + _pills(meta, marked)
            + (f"<p><strong>Tags:</strong></p>{_pills(self._tag_words(e))}" if e.tags else "")
            + source
            + f"<div class='cop-lib-body'><bdi>{html.escape(e.body)}</bdi></div>"
            + link
            + helped
        )

    def _button(self, label: str, key: str, action, *args, style: str = "") -> W.Button:
        button = W.Button(
            description=label,
            button_style=style,
            layout=self.look.layout(),
            style=self.look.style_of(W.Button),
        )
        button.add_class(f"cop-lib-{key}")
        button.on_click(lambda _: self.guard(action, *args))
        return button

    @property
    def _shown_entry(self) -> library.Entry:
        """The entry open on the page; none once it went back to the list (a stale button's
        message)."""
        if self.entry is None:
            raise InvalidInput("entry", NO_ENTRY_OPEN)
        return self.entry

    def _show_entry(self) -> None:
        e = self._shown_entry
        store, person = self.signed_in()
        can = library.allowed_actions(store, person, e.id)
        back = self._button("Back to the list", "back", self.back_to_list)
        actions: list[W.Widget] = []
        if "library.endorse" in can:
            actions.append(
                self._button("Take back “this helped my practice”", "unendorse", self._endorse,
                             False)
                if e.endorsed_by_me
                else self._button("This helped my practice", "endorse", self._endorse, True,
                                  style="success")
            )  # fmt: skip
        if "library.mark" in can:
            actions.append(
                self._button("Remove the endorsed-practice mark", "unmark", self._mark, False)
                if e.marked
                else self._button("Mark as the community's endorsed practice", "mark",
                                  self._mark, True)
            )  # fmt: skip
        if "library.publish" in can:
            actions.append(self._button("Publish", "publish", self._publish_shown,
                                        style="primary"))  # fmt: skip
        if "library.revise" in can:
            actions.append(self._button("Edit the draft" if e.draft else "Revise", "revise",
                                        self._open_revise))  # fmt: skip
            actions.append(self._button("Discard the draft…" if e.draft else "Withdraw…",
                                        "withdraw", self._ask_withdraw))  # fmt: skip
        parts: list[W.Widget] = [back, self.look.html(self._entry_html(e))]
        parts += self._attachments_part(e)
        parts.append(W.HBox(actions, layout=self.look.layout()))
        if getattr(self, "confirming_withdraw", False):
            parts += [
                self.look.html(
                    "<p role='alert'>Discard this draft? It is deleted with its versions, and "
                    "cannot be brought back.</p>"
                    if e.draft
                    else "<p role='alert'>Withdraw this entry? It leaves the library with all "
                    "its versions, endorsements and comments, and cannot be brought back.</p>"
                ),
                W.HBox(
                    [
                        self._button(
                            "Yes, withdraw it", "withdraw-confirm", self._withdraw, style="danger"
                        ),
                        self._button("Keep it", "withdraw-cancel", self._keep),
                    ],
                    layout=self.look.layout(),
                ),  # fmt: skip
            ]
        if self.revise_form is not None:
            heading = "Edit the draft" if e.draft else "Revise this entry"
            parts += [self.look.html(f"<h3>{heading}</h3>"), self.revise_form]
        versions = f"History ({e.revision} version{'s' if e.revision != 1 else ''})"
        label = "Hide the history" if self.history_shown else versions
        history = self._button(label, "history", self._toggle_history)
        parts.append(history)
        if self.history_shown:
            parts.append(self._history_part(e))
        if not e.draft:  # a draft has no readers yet: nobody to comment
            parts += self._comments_part(e, "library.comment" in can)
        self.detail.children = parts

    def _attachments_part(self, e: library.Entry) -> list[W.Widget]:
        if not e.attachments:
            return []
        out: list[W.Widget] = [self.look.html("<h3>Attachments</h3>")]
        self.download_link = self.look.html()
        store, person = self.signed_in()
        for a in library.attachments(store, person, e.id):
            size = (
                f"{a.size / 1024:.0f} KB" if a.size < 1024 * 1024 else f"{a.size / 1048576:.1f} MB"
            )
            get = self._button(f"Download {a.file_name[:60]} ({size})", "download",
                               self._download, a.id)  # fmt: skip
            out.append(get)
        out.append(self.download_link)
        return out

    def _download(self, attachment_id: str) -> None:
        store, person = self.signed_in()
        meta, data = library.attachment_bytes(store, person, attachment_id)
        encoded = base64.b64encode(data).decode("ascii")
        self.download_link.value = (
            f"<p><a download='{html.escape(meta.file_name, quote=True)}' "
            f"href='data:{html.escape(meta.media_type)};base64,{encoded}'>Save "
            f"<bdi>{html.escape(meta.file_name)}</bdi></a></p>"
        )

    def _history_part(self, e: library.Entry) -> W.HTML:
        store, person = self.signed_in()
        versions = library.history(store, person, e.id)
        items = []
        for v in versions:
            tags = ", ".join(v.tags.splitlines())
            items.append(
                f"<div class='cop-lib-version'><h4>Version {v.revision} · "
                f"{_day(v.created_at)}{' (now)' if v.revision == e.revision else ''}</h4>"
                f"<p><strong><bdi>{html.escape(v.title)}</bdi></strong> · "
                f"{html.escape(library.KIND_LABELS.get(v.kind, v.kind))}</p>"
                + (f"<p class='cop-meta'>Tags: <bdi>{html.escape(tags)}</bdi></p>" if tags else "")
                + f"<div class='cop-lib-body'><bdi>{html.escape(v.body)}</bdi></div>"
                + (
                    f"<p class='cop-meta'>Link: <bdi>{html.escape(v.url)}</bdi></p>"
                    if v.url
                    else ""
                )
                + "</div>"
            )
        box = self.look.html("<h3>History</h3>" + "".join(items))
        box.add_class("cop-lib-versions")
        return box

    def _comments_part(self, e: library.Entry, may_comment: bool) -> list[W.Widget]:
        store, person = self.signed_in()
        said = library.comments(store, person, e.id)
        listed = "".join(
            f"<li><p class='cop-meta'><bdi>{html.escape(c.author_name)}</bdi> · "
            f"{_day(c.created_at)}</p><div class='cop-lib-comment'>"
            f"<bdi>{html.escape(c.body)}</bdi></div></li>"
            for c in said
        )
        out: list[W.Widget] = [
            self.look.html(
                "<h3>Comments</h3>"
                + (
                    f"<ul class='cop-lib-comments'>{listed}</ul>"
                    if listed
                    else "<p class='cop-meta'>No comments yet.</p>"
                )
            )  # fmt: skip
        ]
        if not may_comment:
            return out
        if self.comment_saver is None or not self.comment_saver.retrying:
            # a comment box of this entry's (what a refused save holds stays as it is)
            self.comment_box = W.Textarea(
                description="Your comment",
                style=self.look.labelled(W.Textarea),
                layout=self.look.layout(width="40rem"),
            )
            self.comment_box.add_class("cop-lib-comment-text")
            self.comment_deid = DeidCheck()
            self.comment_fields = TakenText(self.comment_box)
            self.comment_saver = self.saver(self.comment_box)
            self.comment_id = str(uuid.uuid4())
            self.comment_for = e.id
        send = self._button("Add comment", "comment-add", self._comment)
        return [*out, self.comment_box, self.comment_deid, send]

    # -- actions on an entry ----------------------------------------------------------------------
    def _endorse(self, yes: bool) -> None:
        store, person = self.signed_in()
        entry_id = self._shown_entry.id
        if yes:
            library.endorse(store, person, entry_id)
        else:
            library.take_back_endorsement(store, person, entry_id)
        self.entry = library.get(store, person, entry_id)
        self._show_entry()
        self.status.show(
            "Thank you: the author and the community will see it helped." if yes else "Taken back.",
            "ok",
        )

    def _mark(self, yes: bool) -> None:
        store, person = self.signed_in()
        entry_id = self._shown_entry.id
        library.mark(store, person, entry_id, yes)
        self.entry = library.get(store, person, entry_id)
        self._show_entry()
        self.status.show(
            "Marked as the community's endorsed practice." if yes else "The mark is removed.",
            "ok",
        )

    def _toggle_history(self) -> None:
        self.history_shown = not self.history_shown
        self._show_entry()

    def _ask_withdraw(self) -> None:
        self.confirming_withdraw = True
        self._show_entry()

    def _keep(self) -> None:
        self.confirming_withdraw = False
        self._show_entry()

    def _withdraw(self) -> None:
        store, person = self.signed_in()
        shown = self._shown_entry
        library.withdraw(store, person, shown.id)
        self.back_to_list()
        withdrawn = "The entry is withdrawn from the library."
        self.status.show("The draft is discarded." if shown.draft else withdrawn, "ok")

    def _comment(self) -> None:
        taken = self.comment_fields.take()
        if not taken[0].strip():
            raise InvalidInput("comment", "Write the comment first.")
        if not self.comment_deid.review({"Comment": taken[0]}):
            self.status.show(
                "Check the highlighted words in your comment: rephrase them, or tick the box "
                "if they do not identify anyone, then press Add comment again.",
                "warning",
            )
            return
        saver = self.comment_saver
        if saver is None:  # a stale button: the comment box went with its entry
            raise InvalidInput("entry", NO_ENTRY_OPEN)
        entry_id, comment_id = self.comment_for, self.comment_id
        saver.run(lambda: self._store_comment(taken, entry_id, comment_id))

    def _store_comment(self, taken: tuple[str, ...], entry_id: str, comment_id: str) -> None:
        store, person = self.signed_in()
        library.add_comment(store, person, comment_id, entry_id, taken[0], confirmed=True)
        self.comment_fields.stored(taken)
        self.comment_id = str(uuid.uuid4())
        self.comment_deid.review({})
        self.status.show("Your comment is added.", "ok")
        if self.entry is not None and self.entry.id == entry_id:
            self.entry = library.get(store, person, entry_id)
            self._show_entry()

    def _open_revise(self) -> None:
        if self.revise_form is None:
            draft = self.entry is not None and self.entry.draft
            label = "Save the draft" if draft else "Save the new version"
            self.revise_form = EntryForm(self.topics, label, entry=self.entry, look=self.look)
            f = self.revise_form
            self.revise_saver = self.saver(f.title, f.body, f.url, f.free_tags)
            f.save.on_click(lambda _: self.guard(self._revise))
        self._show_entry()

    def _revise(self) -> None:
        f, saver = self.revise_form, self.revise_saver
        if f is None or saver is None:  # a stale button: the form went with its entry
            raise InvalidInput("entry", NO_ENTRY_OPEN)
        taken = f.fields.take()
        title, body, url, free = taken
        tags = library.tags_from(f.topic_ids(), free, self.topics)
        if not f.deid.review(library.texts_to_check(title, body, tags)):
            self.status.show(
                "Check the highlighted words: rephrase them, or tick the box if they do not "
                "identify anyone, then save again.",
                "warning",
            )
            return
        files = f.files()
        for name, data in files:
            library.check_attachment(name, data)
        ids = [str(uuid.uuid4()) for _ in files]
        kind, topic_ids, entry_id, revision = f.kind.value, f.topic_ids(), f.entry_id, (
            f.expected_revision)  # fmt: skip
        store, person = self.signed_in()

        def store_it() -> None:
            library.revise(
                store, person, entry_id, kind, title, body,
                expected_revision=revision, topic_ids=topic_ids, free_tags=free, url=url,
                confirmed=True, topics=self.topics,
            )  # fmt: skip
            for attachment_id, (name, data) in zip(ids, files, strict=True):
                library.attach(store, person, attachment_id, entry_id, name, data)
            saver.cancel()
            self.revise_form = self.revise_saver = None
            self.entry = library.get(store, person, entry_id)
            self._show_entry()
            if self.entry.draft:
                self.status.show(
                    f"Draft saved (version {self.entry.revision}): publish it when it is ready.",
                    "ok",
                )
            else:
                self.status.show(f"Saved as version {self.entry.revision}.", "ok")

        saver.run(store_it)

    # -- my drafts (made from a session's insights and resources), and publishing them ------------
    def _show_drafts(self) -> None:
        """ "My drafts": the person's own drafts, each to open for editing or to publish."""
        store, person = self.signed_in()
        drafts = library.my_drafts(store, person)
        if not drafts:
            self.drafts_box.children = []
            return
        rows: list[W.Widget] = [
            self.look.html(
                f"<h2>My drafts ({len(drafts)})</h2><p class='cop-meta'>Made from your "
                "sessions' practice insights and shared resources, and from questions' "
                "threads. Only you see them until you publish them.</p>"
            )
        ]
        for d in drafts:
            title = d.title if len(d.title) <= 120 else d.title[:119] + "…"
            open_it = self._button(title, "draft-open", self.open_entry, d.id)
            open_it.tooltip = "Open this draft to edit it"
            publish = self._button("Publish", "draft-publish", self._publish, d.id, style="primary")
            publish.tooltip = f"Publish “{title}” to the library"
            source = (
                f" · from the session “<bdi>{html.escape(d.session_topic)}</bdi>”"
                if d.session_topic
                else ""
            )
            row = W.VBox(
                [
                    open_it,
                    self.look.html(
                        f"<p class='cop-meta'>{html.escape(library.KIND_LABELS[d.kind])}{source}"
                        f" · <bdi>{html.escape(d.community_name)}</bdi> · saved "
                        f"{_day(d.updated_at)}</p>"
                    ),
                    publish,
                ],
                layout=self.look.layout(),
            )
            row.add_class("cop-lib-row")
            row.add_class("cop-lib-draft")
            rows.append(row)
        self.drafts_box.children = rows

    def _publish_shown(self) -> None:
        """Publish the draft open on the page, once what is typed in its form is saved."""
        e, f = self._shown_entry, self.revise_form
        if f is not None and _form_changed(f, e):
            raise InvalidInput(
                "draft", "Save your changes first (Save the draft), then press Publish."
            )
        self._publish(e.id)

    def _publish(self, entry_id: str) -> None:
        store, person = self.signed_in()
        published = library.publish(store, person, entry_id)
        if self.entry is not None and self.entry.id == entry_id:
            self.drop_saver(self.revise_saver)
            self.revise_form = self.revise_saver = None
            self.entry = published
            self._show_entry()
        else:
            self.refresh()
        self._show_drafts()
        self._refresh_tags()
        twins = library.same_title(
            store, person, published.community_id, published.title, published.id
        )
        if twins:
            self.status.show(
                f"Published. Another entry of this community has the same title ({twins}): "
                "consider revising yours so that people can tell them apart.",
                "warning",
            )
        else:
            self.status.show("Published: the community's members now find it in the library.", "ok")

    # -- contributing -----------------------------------------------------------------------------
    def _build_contribute(self) -> None:
        self.form = EntryForm(
            self.topics, "Add to the library", communities=self.mine, look=self.look
        )
        self.form_saver = self.saver(
            self.form.title, self.form.body, self.form.url, self.form.free_tags
        )
        self.form.save.on_click(lambda _: self.guard(self._contribute))
        self.form.community.observe(lambda _: self.guard(self._sessions_for_form), "value")
        if self.picker.value in {v for _, v in self.mine}:
            self.form.community.value = self.picker.value
        self._sessions_for_form()
        if self.mine:
            self.contribute_box = W.VBox(
                [
                    self.look.html(
                        "<h2>Add to the library</h2><p class='cop-meta'>A story from your "
                        "practice, a tool or template, an approach to a problem that keeps "
                        "coming back, a summary of something you read, or a link. Keep it "
                        "de-identified: roles and age bands, no names or places.</p>"
                    ),
                    self.form,
                ]
            )
        else:
            self.contribute_box = W.VBox(
                [
                    self.look.html(
                        "<h2>Add to the library</h2><p class='cop-meta'>Members of a "
                        "community add to its library: <a href='communities.ipynb'>join "
                        "one</a>.</p>"
                    )
                ]
            )

    def _sessions_for_form(self) -> None:
        cid = self.form.community.value
        options = [("None", "")]
        store, person = self.signed_in()
        if cid:
            now = datetime.now(UTC)
            upcoming, past = sessions.sessions_of(store, person, cid, now)
            held = [s for s in upcoming if s.starts_at <= now + timedelta(hours=1)] + past
            options += [
                (f"{s.starts_at.astimezone(self.zone):%d %b %Y} · {s.topic[:80]}", s.id)
                for s in held
            ]
        self.form.session.options = options
        self.form.session.value = ""

    def _contribute(self) -> None:
        f = self.form
        taken = f.fields.take()
        title, body, url, free = taken
        if not f.community.value:
            raise InvalidInput("community", "Choose the community this entry belongs to.")
        tags = library.tags_from(f.topic_ids(), free, self.topics)
        if not f.deid.review(library.texts_to_check(title, body, tags)):
            self.status.show(
                "Check the highlighted words: rephrase them, or tick the box if they do not "
                "identify anyone, then press Add to the library again.",
                "warning",
            )
            return
        files = f.files()
        for name, data in files:
            library.check_attachment(name, data)  # refused before anything is stored
        ids = [str(uuid.uuid4()) for _ in files]
        entry_id, community_id, kind = f.entry_id, f.community.value, f.kind.value
        topic_ids, session_id = f.topic_ids(), f.session.value or None
        self.form_saver.run(
            lambda: self._store_entry(taken, entry_id, community_id, kind, topic_ids,
                                      session_id, list(zip(ids, files, strict=True)))
        )  # fmt: skip

    def _store_entry(
        self, taken, entry_id, community_id, kind, topic_ids, session_id, files
    ) -> None:
        title, body, url, free = taken
        store, person = self.signed_in()
        made = library.contribute(
            store, person, entry_id, community_id, kind, title, body,
            topic_ids=topic_ids, free_tags=free, url=url, session_id=session_id,
            confirmed=True, topics=self.topics,
        )  # fmt: skip
        for attachment_id, (name, data) in files:
            library.attach(store, person, attachment_id, made.id, name, data)
        self.form.fields.stored(taken)
        self.form.reset()
        twins = library.same_title(store, person, community_id, made.title, made.id)
        self.open_entry(made.id)
        if twins:
            self.status.show(
                f"Added to the library. Another entry of this community has the same title "
                f"({twins}): consider revising yours so that people can tell them apart.",
                "warning",
            )
        else:
            self.status.show("Added to the library.", "ok")


def library_app(settings: Settings | None = None, environ=None) -> LibraryApp:
    problem = ""

    def topics_of(s: Settings):
        nonlocal problem
        try:
            return load_topics(s.data_dir / TOPICS_FILE)
        except DataFileError as exc:  # the library still works, with free tags only
            problem = f"The topic list could not be loaded ({exc}); free tags still work."
            return EMPTY

    opened = open_for_app(settings, environ, "The library", topics_of)
    app = LibraryApp(
        opened.store, opened.settings, opened.loaded or EMPTY, environ, startup_error=opened.error
    )
    if problem and opened.store is not None:
        app.status.show(problem, "warning")
    return app

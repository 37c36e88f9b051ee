"""Reports from the app: a panel that makes a report on demand and offers it to download.

    report_panel(shell, kind, target_id, *, label="Make the report", period=False) -> Widget

- ``shell``: the page's AppShell (the panel uses ``shell.store`` and ``shell.person``, the
  signed-in person, at the moment the button is pressed).
- ``kind``: "session" (the session report: its facilitator, its community's coordinators),
  "community" (a community's report: its coordinators), "person" (a CPD record: that person
  only) or "library" (a community's practice handbook: its members); ``target_id`` is the
  session's, community's or person's id.
- ``label``: the button's words, e.g. "Close and make the report" on the run sheet.
- ``period=True`` shows From and To date pickers, the last 12 months by default (community
  report, CPD record).

Pressing the button asks services/report_access.py (which asks the policy: a refusal is a plain
message here, audited there, and nothing is rendered), then renders in a worker thread so that
the page's kernel keeps answering (it takes seconds: kernel, papermill, Chromium for the PDF),
showing a progress line meanwhile. The result is offered as two links, HTML and PDF, with
readable file names (``<a download="name.html" href="data:text/html;base64,...">``): the report
is rendered into a private temporary folder that is deleted at once, so no file stays on the
server. A failure is a message next to the button, and the button works again.

The panel object keeps ``button``, ``date_from``, ``date_to``, ``message``, ``links`` and
``wait()`` (tests and callers wait for the worker with it).
"""

from __future__ import annotations

import base64
import html
import logging
import threading
from collections.abc import Callable
from datetime import date

import ipywidgets as W

from cop_widgets.apps._autosave import running_loop
from cop_widgets.errors import CopWidgetsError, NotAllowed
from cop_widgets.services import report_access

log = logging.getLogger("cop_widgets.apps")

ABOUT_SECONDS = 10
WORKING = f"Making the report… (about {ABOUT_SECONDS} s)"
LABEL = {"description_width": "initial"}


def render_in_memory(template: str, params: dict, pdf: bool = True, env=None):
    """reports.render.render_in_memory, imported when first needed: nbconvert and papermill
    stay out of a page's start-up."""
    from cop_widgets.reports.render import render_in_memory as render

    return render(template, params, pdf=pdf, env=env)


def _kernel_env(settings) -> dict[str, str]:
    from cop_widgets.reports.render import kernel_env

    return kernel_env(settings)


def _message_html(text: str, kind: str = "info") -> str:
    colour = {"error": "#8a1111", "ok": "#0b4d1f"}.get(kind, "#1b1b1b")
    return (
        f'<p role="status" aria-live="polite" class="cop-report-message cop-report-{kind}" '
        f'style="color:{colour};margin:0.3em 0">{html.escape(text)}</p>'
        if text
        else '<p role="status" aria-live="polite" class="cop-report-message"></p>'
    )


def _link(payload: bytes, mime: str, filename: str, words: str) -> str:
    data = base64.b64encode(payload).decode("ascii")
    return (
        f'<li><a download="{html.escape(filename)}" href="data:{mime};base64,{data}" '
        f'class="cop-report-download">{html.escape(words)}</a> '
        f'<span class="cop-meta">({html.escape(filename)}, {max(1, len(payload) // 1024)} KB)'
        "</span></li>"
    )


class ReportPanel(W.VBox):
    def __init__(self, shell, kind: str, target_id: str, *, label: str, period: bool):
        if kind not in report_access.KINDS:
            raise ValueError(f"kind must be one of {report_access.KINDS}, not {kind!r}")
        self.shell, self.kind, self.target_id = shell, kind, target_id
        self.button = W.Button(description=label, tooltip=label)
        self.button.add_class("cop-report-make")
        self.button.on_click(lambda _: self.make())
        self.date_from = self.date_to = None
        controls: list[W.Widget] = []
        if period:
            lo, hi = report_access.last_twelve_months()
            self.date_from = W.DatePicker(value=lo, description="From", style=LABEL)
            self.date_to = W.DatePicker(value=hi, description="To", style=LABEL)
            self.date_from.add_class("cop-report-from")
            self.date_to.add_class("cop-report-to")
            controls.append(
                W.HBox([self.date_from, self.date_to], layout=W.Layout(flex_flow="row wrap"))
            )
        self.progress = W.HTML("")
        self.message = W.HTML(_message_html(""))
        self.links = W.HTML("")
        self.links.add_class("cop-report-links")
        self._thread: threading.Thread | None = None
        super().__init__(children=[*controls, self.button, self.progress, self.message, self.links])
        self.add_class("cop-report-panel")

    # -- the button ---------------------------------------------------------------------------
    def make(self) -> None:
        if self.busy:
            return
        try:
            job = report_access.report_job(
                self.shell.store,
                self.shell.person,
                self.kind,
                self.target_id,
                self._day(self.date_from),
                self._day(self.date_to),
            )
        except NotAllowed as exc:
            self._say(str(exc), "error")
            return
        except CopWidgetsError as exc:
            self._say(str(exc), "error")
            return
        except Exception:  # noqa: BLE001 - a plain message; the operator has the log
            log.exception("report %s %s could not be prepared", self.kind, self.target_id)
            self._say("The report could not be made: something went wrong. Try again.", "error")
            return
        self.button.disabled = True
        self.links.value = ""
        self._say("")
        self.progress.value = (
            f'<p class="cop-report-progress"><progress aria-label="{html.escape(WORKING)}">'
            f"</progress> {html.escape(WORKING)}</p>"
        )
        env = _kernel_env(self.shell.store.settings)
        loop = running_loop()

        def work() -> None:
            try:
                result: object = render_in_memory(job.template, job.params, env=env)
            except Exception as exc:  # noqa: BLE001 - shown by _finish
                result = exc
            self._on_main(loop, lambda: self._finish(job, result))

        self._thread = threading.Thread(target=work, name="cop-report", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the worker (if any) has finished and shown its result."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the result ---------------------------------------------------------------------------
    @staticmethod
    def _on_main(loop, fn: Callable[[], None]) -> None:
        # Widget changes go out from the kernel's own loop when there is one (a served page);
        # in-process (tests) there is none, and the worker shows the result itself.
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(fn)
        else:
            fn()

    def _finish(self, job: report_access.ReportJob, result) -> None:
        self.progress.value = ""
        self.button.disabled = False
        if isinstance(result, CopWidgetsError):
            self._say(f"The report could not be made: {result} Try again.", "error")
            return
        if isinstance(result, Exception):
            log.error("report %s failed: %r", job.template, result)
            self._say(
                "The report could not be made: something went wrong. Try again, and tell your "
                "coordinator if it keeps happening.",
                "error",
            )
            return
        items = [_link(result.html, "text/html", f"{job.stem}.html", "Download as a web page")]
        if result.pdf is not None:
            items.append(_link(result.pdf, "application/pdf", f"{job.stem}.pdf", "Download as PDF"))
        self.links.value = (
            f"<p>Ready: <bdi>{html.escape(job.subject)}</bdi></p>"
            f'<ul class="cop-report-files">{"".join(items)}</ul>'
        )
        if result.pdf is None and result.pdf_problem:
            self._say(
                f"The web page is ready; the PDF could not be made ({result.pdf_problem}). "
                "Print the web page from your browser instead.",
                "error",
            )
        else:
            self._say(f"The report is ready ({result.seconds:.0f} s).", "ok")

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.value = _message_html(text, kind)

    @staticmethod
    def _day(picker) -> date | None:
        return None if picker is None else picker.value


def report_panel(
    shell, kind: str, target_id: str, *, label: str = "Make the report", period: bool = False
) -> W.Widget:
    """A report panel for the page `shell` (see the module's docstring)."""
    return ReportPanel(shell, kind, target_id, label=label, period=period)

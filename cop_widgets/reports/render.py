"""Render a report template (reports/notebooks/<name>.ipynb, package data) to one self-contained
HTML file. The templates live in the package, outside the folder Voilà serves: no browser can
reach them.

    render_report("person_record", {"person_id": ..., "date_from": ..., "date_to": ...}, out)
    render_reports([(template, params, out), ...])     # a batch in one kernel

- Parameters are ids, ISO dates and whole numbers only, checked against the kinds a template
  declares in its metadata (``cop_report.parameters``); free text never reaches papermill.
- Rendering is in-process: papermill's parameter cell, then nbclient in a kernel we own
  (``ReportKernel``). ``render_reports`` runs a batch in one kernel, clearing its namespace
  between reports, so imports and kernel start are paid once; a caller may start the kernel
  first and look up its records while it boots. nbconvert loads its templates in a thread
  meanwhile.
- nbconvert's lab page through our template (templates/cop_report): inputs and prompts
  hidden, images embedded, no script or stylesheet from the internet, a print stylesheet, the
  title given by the report itself.
- Files are written atomically (a temporary file in the same folder, then ``os.replace``),
  mode 0640: a failed render leaves nothing behind. A failing cell raises ReportFailed naming
  the report, its parameters and the cell.
- ``pdf=True`` prints the HTML with headless Debian Chromium through Playwright, JavaScript
  off and every network request refused (never ``playwright install``).
- ``report_filename`` names a file readably (community, date, topic; a person's name and the
  period; never an id), with a numeric suffix where it would meet a file already there or one
  named earlier in the same batch: a report never silently replaces another.
- ``render_in_memory`` (the apps' way) renders into a private temporary folder, reads the
  HTML and PDF back and deletes the folder: nothing is left on the server.

A new report is one template here (with its ``cop_report`` metadata) and one CLI command.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path
from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.reports import params as report_params

if TYPE_CHECKING:  # the annotation only: jupyter_client is imported where a kernel starts
    from jupyter_client.asynchronous.client import AsyncKernelClient

# package data, never under the served workbooks/ folder
REPORTS_DIR = Path(__file__).resolve().parent / "notebooks"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "cop_report"
TITLE_KEY = "cop_report"
KERNEL = "python3"
FILE_MODE = 0o640
DIR_MODE = 0o750
CELL_TIMEOUT_S = 300
# The kernel's own log (TCP warning, the interrupt jupyter_client sends before every shutdown)
# is noise on a report's terminal; a failing cell or a dead kernel is reported by us.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]
MAX_INT_PARAM = 1_000_000
PARAM_KINDS = ("id", "date", "int")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|embed|object|source)\b[^>]*\b(?:src|href|data)\s*=\s*"
    r"[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)
_REMOTE_CSS = re.compile(r"@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


class ReportFailed(CopWidgetsError):
    """A report could not be built; nothing was written."""

    def __init__(self, report: str, params: Mapping[str, object], why: str, cell: str = ""):
        self.report, self.params, self.cell = report, dict(params), cell
        shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "no parameters"
        super().__init__(f"Report {report!r} ({shown}) was not written: {why}")


@dataclass(frozen=True)
class ReportSpec:
    name: str
    path: Path
    title: str
    parameters: dict[str, str]  # name -> kind ("id", "date", "int")
    required: tuple[str, ...]
    params_cell: int  # index of the cell tagged "parameters"
    cells: tuple[tuple[str, str], ...]  # (cell id, first line) of every template cell


@dataclass(frozen=True)
class Rendered:
    html: Path
    pdf: Path | None
    seconds: float


# -- templates and parameters -------------------------------------------------------------------
def available_reports() -> list[str]:
    return sorted(p.stem for p in REPORTS_DIR.glob("*.ipynb"))


def report_spec(template: str) -> ReportSpec:
    if not isinstance(template, str) or not _NAME.match(template):
        raise InvalidInput("report", f"{template!r} is not a report name.")
    path = REPORTS_DIR / f"{template}.ipynb"
    if not path.is_file():
        raise InvalidInput(
            "report",
            f"No report template {template!r}; there are: {', '.join(available_reports())}.",
        )
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get(TITLE_KEY, {})
    kinds = dict(meta.get("parameters", {}))
    bad = {k: v for k, v in kinds.items() if v not in PARAM_KINDS}
    if bad:
        raise InvalidInput("report", f"{path.name}: unknown parameter kinds {bad}.")
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    cells = tuple(
        (c.get("id", str(i)), (c.source.strip().splitlines() or [""])[0][:80])
        for i, c in enumerate(nb.cells)
    )
    return ReportSpec(
        name=template,
        path=path,
        title=str(meta.get("title", template)),
        parameters=kinds,
        required=tuple(meta.get("required", ())),
        params_cell=tagged[0] if tagged else -1,
        cells=cells,
    )


def check_params(spec: ReportSpec, params: Mapping[str, object]) -> dict[str, object]:
    """The parameters as papermill gets them: ids, ISO dates and whole numbers, nothing else."""
    unknown = sorted(set(params) - set(spec.parameters))
    if unknown:
        raise InvalidInput(
            "parameters",
            f"Report {spec.name!r} takes {', '.join(spec.parameters)}; not {', '.join(unknown)}.",
        )
    missing = [k for k in spec.required if k not in params]
    if missing:
        raise InvalidInput("parameters", f"Report {spec.name!r} needs {', '.join(missing)}.")
    clean: dict[str, object] = {}
    for name, value in params.items():
        kind = spec.parameters[name]
        if kind == "id":
            clean[name] = report_params.check_id(value, name)
        elif kind == "date":
            clean[name] = report_params.check_date(value, name).isoformat()
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(name, f"{name} must be a whole number.")
            if not 0 <= value <= MAX_INT_PARAM:
                raise InvalidInput(name, f"{name} must be from 0 to {MAX_INT_PARAM}.")
            clean[name] = value
    if "date_from" in clean and "date_to" in clean:
        report_params.parse_period(clean["date_from"], clean["date_to"])
    if "min_n" in clean:
        report_params.check_min_n(clean["min_n"])
    return clean


def report_filename(
    spec: ReportSpec,
    params: Mapping[str, object],
    store=None,
    folder: Path | str | None = None,
    taken: set[str] | None = None,
) -> str:
    """A readable name, e.g. family-support-cop_2026-11-27_safety-planning_session-report.html
    or ana-r_2026-01-01_2026-03-31_cpd-record.html: names and dates from the store, no ids.
    When that name (or its .pdf) is in `folder` already, or in `taken` (names given earlier in
    a batch, which this adds to), '-2', '-3' ... is added before the extension."""
    from cop_widgets.services.report_access import report_stem, slug

    if store is not None:
        stem = report_stem(store, spec.name, dict(params))
    else:  # no store to name it from: what it is and its dates
        dates = [str(params[k]) for k in ("date_from", "date_to") if params.get(k)]
        stem = "_".join([*dates, slug(spec.name)])
    taken = taken if taken is not None else set()
    where = Path(folder) if folder is not None else None
    for n in range(1, 10_000):
        name = stem if n == 1 else f"{stem}-{n}"
        clash = name in taken or (
            where is not None
            and any((where / f"{name}{ext}").exists() for ext in (".html", ".pdf"))
        )
        if not clash:
            taken.add(name)
            return f"{name}.html"
    raise InvalidInput("out", f"Too many reports named {stem} in {where}: choose another --out.")


def kernel_env(settings) -> dict[str, str]:
    """What a report kernel needs to open the same store as the caller (the kernel is a
    process of its own and reads COP_DATA_DIR / COP_DATABASE_URL)."""
    return {"COP_DATA_DIR": str(settings.data_dir), "COP_DATABASE_URL": settings.database_url}


# -- execution ----------------------------------------------------------------------------------
def _failed_cell(spec: ReportSpec, params, out_index: int, ename: str, evalue: str):
    """ReportFailed naming the template cell behind cell out_index of the executed notebook
    (papermill injects its parameters cell right after the tagged one)."""
    injected = bool(params) and spec.params_cell >= 0
    if injected and out_index == spec.params_cell + 1:
        cell = "the injected parameters"
    else:
        index = out_index - 1 if injected and out_index > spec.params_cell else out_index
        if 0 <= index < len(spec.cells):
            cell_id, first = spec.cells[index]
            cell = f"cell {index + 1} '{cell_id}' ({first})"
        else:
            cell = f"cell {out_index + 1}"
    why = f"{cell} failed with {ename}: {evalue}".rstrip(": ")
    return ReportFailed(spec.name, params, why, cell)


class ReportKernel:
    """One kernel for one report or a batch: nbclient over a kernel manager we own, papermill's
    parameter cell, namespace reset between notebooks (modules stay imported: that is the
    saving). Creating one launches the kernel process and returns at once, so a caller can
    start it first and look up its records while the kernel boots."""

    # Forget the last report's variables (modules stay imported); lighter than %reset -f,
    # which also clears IPython's caches and collects garbage (0.1 s a report).
    RESET = (
        "[get_ipython().user_ns.pop(name) for name in list(get_ipython().user_ns) "
        "if not name.startswith('_') and name not in get_ipython().user_ns_hidden]"
    )

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        from cop_widgets.kernel_launcher import KERNEL_SPECS

        self._run_sync = run_sync
        # the served kernels' spec: ipykernel without its debugger (kernel_launcher.py)
        specs = KernelSpecManager(kernel_dirs=[KERNEL_SPECS])
        self.km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
        extra = {"env": {**os.environ, **env}} if env else {}
        run_sync(self.km.start_kernel)(
            cwd=str(REPORTS_DIR), extra_arguments=list(KERNEL_ARGS), **extra
        )
        self.used = self.closed = False
        self.kc: AsyncKernelClient | None = None

    def _client(self, nb):
        from nbclient import NotebookClient

        if self.kc is None:
            # One client for the kernel's life: a new one per notebook costs ~0.2 s (channels,
            # kernel_info), as much as rendering a report.
            self.kc = self.km.client()
            self.kc.start_channels()
            self._run_sync(self.kc.wait_for_ready)(timeout=60)
            self.kc.allow_stdin = False
        client = NotebookClient(nb, km=self.km, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S)
        client.kc = self.kc  # set after __init__, which resets it
        return client

    def execute(self, spec: ReportSpec, params: dict[str, object]):
        from nbclient.exceptions import CellExecutionError
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        if self.used:
            self._run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(self.RESET)]))
        self.used = True
        nb = parameterize_notebook(load_notebook_node(str(spec.path)), params, kernel_name=KERNEL)
        try:
            self._run(nb)
        except CellExecutionError as exc:
            index = next(
                (
                    i
                    for i, c in enumerate(nb.cells)
                    if any(o.get("output_type") == "error" for o in c.get("outputs", []))
                ),
                -1,
            )
            raise _failed_cell(spec, params, index, exc.ename, exc.evalue) from None
        except CopWidgetsError:
            raise
        except Exception as exc:
            raise ReportFailed(spec.name, params, f"{type(exc).__name__}: {exc}") from None
        return nb

    def _run(self, nb) -> None:
        self._client(nb).execute()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.kc is not None:
            with suppress(Exception):
                self.kc.stop_channels()
        with suppress(Exception):
            self._run_sync(self.km.shutdown_kernel)(now=True)


# -- HTML and PDF -------------------------------------------------------------------------------
_exporter = None
_exporter_lock = threading.Lock()


def _html_exporter():
    global _exporter
    with _exporter_lock:
        if _exporter is None:
            _exporter = _new_exporter()
    return _exporter


def _prepare_exporter_in_background() -> threading.Thread:
    """Import nbconvert and load its templates (about a second) while the kernel works."""
    thread = threading.Thread(target=_html_exporter, name="cop-html-exporter", daemon=True)
    thread.start()
    return thread


def _new_exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    # The first page renders the Jinja templates and loads the lab CSS: do it now, once.
    exporter.from_notebook_node(nbformat.v4.new_notebook())
    return exporter


def report_title(nb, default: str) -> str:
    """The title a report gave itself (output metadata cop_report.title), else default."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            title = out.get("metadata", {}).get(TITLE_KEY, {}).get("title")
            if title:
                return str(title)
    return default


def to_html(spec: ReportSpec, nb, params: Mapping[str, object] | None = None) -> str:
    """The executed notebook as one self-contained page (no code, no stderr, no empty cells)."""
    nb = nbformat.from_dict(nb)
    title = report_title(nb, spec.title)
    kept = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
            if not cell.outputs:
                continue
        kept.append(cell)
    nb.cells = kept
    nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)
    html, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    if _EXTERNAL.search(html) or _REMOTE_CSS.search(html):
        raise ReportFailed(
            spec.name, params or {}, "the page would load something from the internet"
        )
    return html


def _pdf_error(what: str, exc: Exception) -> CopWidgetsError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return CopWidgetsError(f"{what}: {first}")


class PdfPrinter:
    """Headless Chromium in a thread of its own: Playwright's sync API keeps an event loop,
    which must not be the caller's (a notebook, pytest, the kernel client's)."""

    FOOTER = (
        '<div style="font-size:8px;width:100%;text-align:center;color:#333">'
        'Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>'
    )

    def __enter__(self) -> PdfPrinter:
        executable = chromium_path()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cop-pdf")
        try:
            self._pool.submit(self._start, executable).result()
        except Exception as exc:
            self._pool.shutdown()
            raise _pdf_error("Chromium did not start", exc) from None
        return self

    def __exit__(self, *exc) -> None:
        with suppress(Exception):
            self._pool.submit(self._stop).result(timeout=60)
        self._pool.shutdown()

    def print(self, html: str) -> bytes:
        try:
            return self._pool.submit(self._print, html).result()
        except Exception as exc:
            raise _pdf_error("the PDF could not be printed", exc) from None

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except BaseException:
            self._pw.stop()
            raise

    def _stop(self) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()

    def _print(self, html: str) -> bytes:
        context = self._browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            page.route("**/*", lambda route: route.abort())  # the page is self-contained
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            return page.pdf(
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template="<div></div>",
                footer_template=self.FOOTER,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
            )
        finally:
            context.close()


def _write_all(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: each goes to a temporary file beside it, then replaces it."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, payload in files.items():
            path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, FILE_MODE)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def _outputs(out_html: Path | str, pdf: bool) -> tuple[Path, Path | None]:
    out = Path(out_html)
    if out.suffix.lower() != ".html":
        raise InvalidInput("out", f"The report file must end in .html, not {out.name!r}.")
    return out, (out.with_suffix(".pdf") if pdf else None)


# -- entry points -------------------------------------------------------------------------------
def render_report(
    template: str,
    params: Mapping[str, object],
    out_html: Path | str,
    pdf: bool = False,
    kernel: ReportKernel | None = None,
    env: Mapping[str, str] | None = None,
) -> Rendered:
    """Run one template, write its HTML (and PDF) atomically. `env`: variables for a kernel
    started here (``kernel_env(store.settings)``)."""
    return render_reports([(template, params, out_html)], pdf=pdf, kernel=kernel, env=env)[0]


@dataclass(frozen=True)
class InMemory:
    html: bytes
    pdf: bytes | None
    pdf_problem: str  # why there is no PDF ("" when there is one, or none was asked for)
    seconds: float


def render_in_memory(
    template: str,
    params: Mapping[str, object],
    pdf: bool = True,
    env: Mapping[str, str] | None = None,
) -> InMemory:
    """Render into a private temporary folder (mode 0700), read the files back, delete the
    folder. A PDF that cannot be printed (no Chromium) still gives the HTML, with the reason."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cop-report-") as folder:
        out = Path(folder) / "report.html"
        render_report(template, params, out, env=env)
        html = out.read_bytes()
    printed, problem = None, ""
    if pdf:
        try:
            with PdfPrinter() as printer:
                printed = printer.print(html.decode("utf-8"))
        except CopWidgetsError as exc:
            problem = str(exc)
    return InMemory(html, printed, problem, time.perf_counter() - started)


def render_reports(
    jobs: Sequence[tuple[str, Mapping[str, object], Path | str]],
    pdf: bool = False,
    on_done: Callable[[Rendered], None] | None = None,
    kernel: ReportKernel | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Rendered]:
    """Reports in one kernel (and one Chromium for PDFs). Every job is checked before any
    runs; a failing job raises ReportFailed, and the reports written before it stay. on_done
    is called after each report is written (a progress bar). A kernel given (started early by
    the caller) is used and shut down like one started here."""
    done: list[Rendered] = []
    try:
        checked = []
        for template, params, out in jobs:
            spec = report_spec(template)
            checked.append((spec, check_params(spec, params), *_outputs(out, pdf)))
        if not checked:
            return done
        if pdf:
            chromium_path()
    except BaseException:
        if kernel is not None:
            kernel.close()
        raise
    warming = _prepare_exporter_in_background()
    kernel = kernel or ReportKernel(env)
    try:
        printer = PdfPrinter().__enter__() if pdf else None
        try:
            for spec, clean, html_path, pdf_path in checked:
                started = time.perf_counter()
                executed = kernel.execute(spec, clean)
                warming.join()
                html = to_html(spec, executed, clean)
                files = {html_path: html.encode("utf-8")}
                if printer is not None and pdf_path is not None:
                    try:
                        files[pdf_path] = printer.print(html)
                    except CopWidgetsError as exc:
                        raise ReportFailed(spec.name, clean, str(exc)) from None
                _write_all(files)
                done.append(Rendered(html_path, pdf_path, time.perf_counter() - started))
                if on_done is not None:
                    on_done(done[-1])
        finally:
            if printer is not None:
                printer.__exit__(None, None, None)
    finally:
        kernel.close()
    return done

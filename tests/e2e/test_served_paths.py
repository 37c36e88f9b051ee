"""Served paths: a crawler over a real `cop serve` tries every served URL, and every spelling of
the paths to what must never leave the server, under every route Voilà 0.5 registers (and the
Jupyter routes it does not): the report templates (old and new location), the review app, the
data folder, the store and its WAL, project files. Requests go out byte for byte as written
(http.client: a browser or Playwright would fold `%2e`, `./` and `../` away first), with the
cookie of a person signed in through the real sign-in page, and without it. Every path is
tried under every route, but in every spelling only one or two of each kind (a report template,
two served notebooks, the review app, the store's file, a project file, a source file, a folder,
the way up): the others of a kind take the same code path and are tried as written
(COP_LONG_TESTS=1: every spelling of every one). Requests go out over a few kept-alive
connections at once.

Nothing may come back as a report, a notebook's source (JSON with "cells", or a line of any
notebook's code) or the database ("SQLite format 3"); only the served notebooks render, and the
tree lists them and nothing else. Every URL tried and its status is printed as a table."""

from __future__ import annotations

import http.client
import json
import os
import posixpath
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import nbformat
import pytest

from cop_widgets.reports.render import REPORTS_DIR
from cop_widgets.serving import REVIEW_DIR, WORKBOOKS_DIR
from cop_widgets.serving.paths import served_notebooks
from tests.e2e.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVED = served_notebooks(WORKBOOKS_DIR)
# signed in, the served root and the tree lead to the home page (serving/launch.py)
HOME_PAGE = "/voila/render/home.ipynb"
HOME_REDIRECTS = ("/", "/voila/tree", "/voila/tree/")
TEMPLATES = sorted(p.name for p in REPORTS_DIR.glob("*.ipynb"))
# What is tried in every spelling, by its last segment: one report template, two served
# notebooks, the review app, the store's file (in the data folder, above it and at its real
# place), a project file, a source file, a folder, the way up. The others of a kind take the
# same code path, so they are tried as written; COP_LONG_TESTS=1 tries every one in every
# spelling (9,244 URLs a person instead of 4,172).
EVERY_PATH_SPELLED = os.environ.get("COP_LONG_TESTS", "0") not in ("", "0")
FULLY_SPELLED = {
    "session_report.ipynb", "directory.ipynb", "session.ipynb", "supervisor_review.ipynb",
    "cop.sqlite", "pyproject.toml", "auth.py", "reports", "..",
}  # fmt: skip
# requests in flight at once, each over a kept-alive connection of its own: two keep the
# server busy while this side reads an answer (more only queue on its one process)
CONNECTIONS = 2
REDIRECTS = (301, 302, 303, 307, 308)

# Every route of Voilà 0.5.13's app (voila/app.py init_handlers, tree mode) and of ours that takes
# a path, and the Jupyter Server routes a notebook's source or a file is usually fetched from.
VOILA_ROUTES = (
    "/voila/render/",
    "/voila/tree/",
    "/voila/files/",
    "/voila/api/contents/",
    "/voila/static/",
    "/voila/templates/cop/static/",
    "/voila/templates/lab/static/",
    "/voila/labextensions/",
    "/voila/api/themes/",
    "/voila/cop-bundle/",  # ours: the page bundle, by its digest only (serving/page_bundle.py)
)
JUPYTER_ROUTES = (
    "/",
    "/files/",
    "/api/contents/",
    "/notebooks/",
    "/tree/",
    "/view/",
    "/edit/",
    "/nbconvert/html/",
    "/static/",
)


def _relative(path) -> str:
    return os.path.relpath(path, WORKBOOKS_DIR).replace(os.sep, "/")


def targets(store_dir) -> list[str]:
    """What must never be served, as paths relative to the served folder."""
    new_home = _relative(REPORTS_DIR)  # ../cop_widgets/reports/notebooks
    found = ["reports", "reports/", f"{new_home}/", "cop_widgets/reports/notebooks/"]
    for name in TEMPLATES:
        found += [f"reports/{name}", f"{new_home}/{name}", f"cop_widgets/reports/notebooks/{name}"]
    review = _relative(REVIEW_DIR)
    found += [
        "supervisor_review.ipynb",
        "review/supervisor_review.ipynb",
        f"{review}/supervisor_review.ipynb",
        "data/",
        "../data/",
        "data/cop.sqlite",
        "../data/cop.sqlite",
        "../data/cop.sqlite-wal",
        f"{_relative(store_dir)}/",
        f"{_relative(store_dir / 'cop.sqlite')}",
        f"{_relative(store_dir / 'cop.sqlite-wal')}",
        f"{_relative(store_dir / 'cop.sqlite-shm')}",
        "pyproject.toml",
        "../pyproject.toml",
        "../cop_widgets/serving/launch.py",
        "../cop_widgets/__init__.py",
        "cop_widgets/serving/auth.py",
        "../workbooks/session.ipynb",
        "..",
        "../",
    ]
    return found


def spellings(path: str) -> list[str]:
    """The path as written, and as a crawler would disguise it."""
    segments = path.split("/")
    capitalised = "/".join(s[:1].upper() + s[1:] for s in segments)
    out = [
        path,
        "./" + path,
        "%2e/" + path,
        "%2E/" + path,
        ".%2f" + path,
        "%252e/" + path,
        "x/../" + path,
        "x/..%2f" + path,
        "//" + path,
        path.replace("/", "//"),
        path.replace("/", "%2f"),
        path.replace("/", "%2F"),
        path.replace("/", "%5c"),
        path.upper(),
        capitalised,
    ]
    if path.startswith("../"):
        rest = path[3:]
        out += [
            "%2E%2E/" + rest,
            "%2e%2e/" + rest,
            ".%2e/" + rest,
            "..%2f" + rest,
            "..%2F" + rest,
            "%2e%2e%2f" + rest,
            "..%5c" + rest,
            "%252e%252e/" + rest,
            "%252e%252e%252f" + rest,
        ]
    return list(dict.fromkeys(p for p in out if p))


def tried(path: str, route: str) -> list[str]:
    """The spellings of `path` tried under `route`: all of them under Voilà's routes, three under
    the routes it does not register (which answer 404 whatever follows); a path whose last
    segment is not in FULLY_SPELLED as written only."""
    every = spellings(path)
    name = posixpath.basename(path.rstrip("/"))
    if name not in FULLY_SPELLED and not EVERY_PATH_SPELLED:
        return every[:1]
    return every if route in VOILA_ROUTES else every[:3]


def source_markers() -> list[str]:
    """A line of code from every notebook in the project: none may appear in any answer."""
    markers = set()
    for folder in (WORKBOOKS_DIR, REVIEW_DIR, REPORTS_DIR):
        for path in folder.glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
                code = [line for line in lines if len(line) >= 24 and not line.startswith("#")]
                if cell.cell_type == "code" and code:
                    markers.add(code[0])
    assert markers
    return sorted(markers)


@dataclass
class Answer:
    who: str
    url: str
    status: int
    location: str
    body: bytes


class Client:
    """Raw HTTP/1.1 over one kept-alive connection: the path is sent exactly as given."""

    def __init__(self, base: str, cookie: str = ""):
        self.host = urlsplit(base).netloc
        self.cookie = cookie
        self.conn = http.client.HTTPConnection(self.host, timeout=120)

    def get(self, path: str) -> tuple[int, str, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.getheader("Location") or "", response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def crawl(base: str, cookie: str, urls: list[str], follow_slash: bool) -> list[Answer]:
    """GET every URL, CONNECTIONS at a time, each thread over a kept-alive connection of its
    own; with follow_slash, a redirect to the URL with a slash added (a static folder's) is
    followed. The answers come back in the order of `urls`, a followed one after its redirect."""
    local, clients = threading.local(), []

    def fetch(url: str) -> list[Answer]:
        if not hasattr(local, "client"):
            local.client = Client(base, cookie)
            clients.append(local.client)
        answers = []
        while True:
            status, location, body = local.client.get(url)
            answers.append(Answer("", url, status, location, body))
            if not (follow_slash and status in REDIRECTS and location == url + "/"):
                return answers
            url = location

    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            return [answer for answers in pool.map(fetch, urls) for answer in answers]
    finally:
        for client in clients:
            client.close()


def leaks(body: bytes, markers: list[str]) -> list[str]:
    """What an answer gives away: the database, a notebook's source, or a line of code."""
    found = []
    if body.startswith(b"SQLite format 3") or b"SQLite format 3\x00" in body:
        found.append("database")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if parsed is not None and re.search(r'"cells"\s*:', json.dumps(parsed)):
        found.append("notebook JSON")
    text = body.decode("utf-8", "replace")
    found += [f"code: {m[:40]}" for m in markers if m in text]
    return found


@pytest.fixture(scope="module")
def signed_in_cookie(browser, voila_server) -> str:
    """The cookie of a participant signed in through the real sign-in page."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        voila_server.sign_in(page, "Cass Crawler", app="directory.ipynb")
        cookies = {c["name"]: c["value"] for c in context.cookies()}
    finally:
        context.close()
    assert "cop_session" in cookies
    return f"cop_session={cookies['cop_session']}"


def print_table(answers: list[Answer]) -> None:
    width = max(len(a.url) for a in answers)
    print(f"\n{'who':<10} {'status':>6}  {'url':<{width}}  redirect")
    for a in answers:
        where = urlsplit(a.location).path if a.location else ""
        print(f"{a.who:<10} {a.status:>6}  {a.url:<{width}}  {where}")
    counts: dict[tuple[str, int], int] = {}
    for a in answers:
        counts[(a.who, a.status)] = counts.get((a.who, a.status), 0) + 1
    print("summary:", ", ".join(f"{w} {s}: {n}" for (w, s), n in sorted(counts.items())))


def test_nothing_but_the_served_notebooks_is_served(voila_server, signed_in_cookie):
    markers = source_markers()
    store = voila_server.data_dir
    assert (store / "cop.sqlite").is_file()
    # the paths that must never be served, under every route and spelling
    # (routes Voilà does not register answer 404 whatever follows: three spellings there)
    never = [
        route + spelled
        for route in VOILA_ROUTES + JUPYTER_ROUTES
        for target in targets(store)
        for spelled in tried(target, route)
    ]
    # the served notebooks under every route but the page's own (which runs it: once each,
    # below), and their sources under every spelling
    for route in VOILA_ROUTES[1:] + JUPYTER_ROUTES:
        never += [route + spelled for name in SERVED for spelled in tried(name, route)]
    absolute = str(store / "cop.sqlite")
    never += [route + absolute.lstrip("/") for route in ("/voila/files/", "/voila/static/")]
    never += [route + "/" + absolute.lstrip("/") for route in ("/voila/files/", "/voila/render/")]
    never = list(dict.fromkeys(never))
    pages = [f"/voila/render/{name}" for name in SERVED]
    # spellings of one served page: normalised to that page, or refused; never anything else
    respelled = [f"/voila/render/{p}" for p in spellings("directory.ipynb")[1:]]
    trees = ["/", "/voila/tree", "/voila/tree/", "/voila/api/contents", "/voila/api/contents/"]

    answers: list[Answer] = []
    problems: list[str] = []
    for who, cookie in (("signed-in", signed_in_cookie), ("signed-out", "")):
        # a static folder gets its slash: followed
        for answer in crawl(voila_server.base, cookie, never, follow_slash=True):
            answer.who, url, status, location = who, answer.url, answer.status, answer.location
            answers.append(answer)
            if 200 <= status < 300:
                problems.append(f"{who} {url}: {status}, served")
            elif status in REDIRECTS:
                if location != url + "/" and urlsplit(location).path != "/login":
                    problems.append(f"{who} {url}: {status} to {location}")
            elif status >= 500:
                problems.append(f"{who} {url}: {status}, a server error")
        client = Client(voila_server.base, cookie)
        try:
            for url in pages + trees:
                status, location, body = client.get(url)
                answers.append(Answer(who, url, status, location, body))
                if who == "signed-out" and url.startswith("/voila/api/"):
                    if status != 403:  # an API answers "forbidden", it sends no one anywhere
                        problems.append(f"signed-out {url}: {status}, not forbidden")
                elif who == "signed-out":
                    if status != 302 or urlsplit(location).path != "/login":
                        problems.append(f"signed-out {url}: {status} {location}, not the sign-in")
                elif url in HOME_REDIRECTS:  # signed in, the served root leads to the home page
                    if status != 302 or urlsplit(location).path != HOME_PAGE:
                        problems.append(f"signed-in {url}: {status} {location}, not home")
                elif status != 200:
                    problems.append(f"signed-in {url}: {status}, expected the page")
        finally:
            client.close()
    # each one that renders starts a kernel of its own: a few at once
    for answer in crawl(voila_server.base, signed_in_cookie, respelled, follow_slash=False):
        answer.who = "signed-in"
        answers.append(answer)
        if answer.status not in (200, 404):
            problems.append(f"signed-in {answer.url}: {answer.status}")

    for a in answers:
        problems += [f"{a.who} {a.url}: {a.status} gives away {w}" for w in leaks(a.body, markers)]
    print_table(answers)

    # the tree and the contents API list the served notebooks and nothing else
    by_url = {(a.who, a.url): a for a in answers}
    listing = json.loads(by_url[("signed-in", "/voila/api/contents")].body)
    assert sorted(item["name"] for item in listing["content"]) == SERVED
    assert all(item["type"] == "notebook" for item in listing["content"])
    for url in HOME_REDIRECTS:  # no file list: the home page instead
        assert by_url[("signed-in", url)].location == HOME_PAGE, url
        page = by_url[("signed-in", url)].body.decode()
        assert set(re.findall(r"[\w.%-]+\.ipynb", page)) <= set(SERVED), url
        for hidden in ("reports", "supervisor_review", "cop.sqlite"):
            assert hidden not in page, (url, hidden)
    # a served page renders as a page: Voilà's HTML, not the notebook
    for name in SERVED:
        body = by_url[("signed-in", f"/voila/render/{name}")].body
        assert body.lstrip().lower().startswith(b"<!doctype html"), name

    assert problems == [], "\n".join(problems[:80])
    assert "../cop_widgets/reports/notebooks/" in "".join(never)  # the templates' new home
    assert REPORTS_DIR.resolve().is_relative_to(REPO.resolve())

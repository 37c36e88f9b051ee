"""A page's scripts in one file: the chunks of Voilà's front end and of the widget managers that
every page loads, sent as one script ahead of Voilà's own.

A page of Voilà 0.5 fetches its front end as about 80 separate scripts, in waves: Voilà's
`voila.js` asks for some chunks, those for more, then the widget managers' chunks. Each is a
request the server answers while a room is opening, and a script the browser fetches, parses
and runs on its own. Here the server joins the chunks a page needs (recorded in
page_chunks.json) into one script, gzipped once, which the page template loads before
`voila.js`. Each chunk only registers its modules with webpack's runtime (nothing runs until
the page asks for a module), so the runtime finds them there and fetches none of them. A
page then fetches 9 files instead of 91 (the same 4.7 MB decoded; 3.9 MB since pages load no
MathJax, templates/cop/static/no-math.js). Measured on 2026-11-28,
3 real pages and 27 plain GETs of one notebook at once (benchmarks/bench_room.py's room): median
time to interactive 3.58 s -> 2.36 s, the browser's CPU 6.5 -> 4.6 s, the server's 0.50 ->
0.22 s.

The list is recorded, not worked out: which chunks a page loads is decided by Voilà's build
(its module federation). tests/e2e/test_every_page.py opens every served page and fails when
one of them fetched a chunk on its own; after an upgrade of Voilà or ipywidgets, record the list
again with

    COP_RECORD_PAGE_CHUNKS=1 .venv/bin/python -m pytest tests/e2e/test_every_page.py

When the list does not match what is installed (another Voilà version, a chunk file missing),
the server says so once and pages load the chunks one by one, as plain Voilà does: slower in a
room, never broken. A chunk in the list that a page does not need costs only its download and
parse; a chunk missing from it is fetched by the page as before. COP_PAGE_BUNDLE=0 turns the
bundle off (recording the list, comparing).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado.web import HTTPError, RequestHandler

from cop_widgets.serving.compress import GZIP_LEVEL

CHUNKS_FILE = Path(__file__).with_name("page_chunks.json")
BUNDLE_ENV = "COP_PAGE_BUNDLE"  # "0": no bundle
RECORD_ENV = "COP_RECORD_PAGE_CHUNKS"  # "1": the every-page test writes CHUNKS_FILE
ROUTE = "voila/cop-bundle/"  # under the server's base URL: <ROUTE><digest>.js
PAGE_CONFIG_KEY = "copPageBundle"  # the bundle's URL in the page config, for the template


@dataclass(frozen=True)
class PageBundle:
    digest: str  # of the joined script: its URL changes whenever its content does
    script: bytes
    gzipped: bytes
    chunks: int

    @property
    def name(self) -> str:
        return f"{self.digest}.js"


def bundle_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(BUNDLE_ENV, "").strip() != "0"


def read_recorded(path: Path = CHUNKS_FILE) -> dict[str, Any]:
    """The recorded list: {"voila": version, "core": [file, ...], "labextensions":
    {extension: [path under the extension's folder, ...]}}."""
    with open(path, encoding="utf-8") as handle:
        recorded = json.load(handle)
    if not isinstance(recorded.get("core"), list) or not isinstance(
        recorded.get("labextensions"), dict
    ):
        raise ValueError(f"{path}: expected the keys 'core' (a list) and 'labextensions'")
    return recorded


def build(
    static_paths: Iterable[str | Path],
    labextension_paths: Iterable[str | Path],
    allowed_extensions: Iterable[str] | None,
    voila_version: str,
    recorded: dict[str, Any],
) -> tuple[PageBundle | None, str]:
    """The bundle of the recorded chunks, read from the folders this server serves them from
    (the first folder holding each, as its static handlers look them up), and "" - or None and
    the reason it cannot be made for what is installed. `allowed_extensions`: the lab extensions
    pages get (VoilaConfiguration.extension_allowlist); None for all."""
    if recorded.get("voila") != voila_version:
        return None, (
            f"{CHUNKS_FILE.name} was recorded for Voilà {recorded.get('voila')}; "
            f"{voila_version} is installed"
        )
    static_paths, labextension_paths = list(static_paths), list(labextension_paths)
    extensions = recorded["labextensions"]
    allowed = set(extensions if allowed_extensions is None else allowed_extensions)
    files: list[Path] = []
    for name in recorded["core"]:
        found = _first_existing(Path(folder) / name for folder in static_paths)
        if found is None:
            return None, f"Voilà's chunk {name} was not found"
        files.append(found)
    for extension, names in extensions.items():
        if extension not in allowed:
            continue  # not served to pages (VoilaConfiguration.extension_allowlist)
        for name in names:
            found = _first_existing(
                Path(folder) / extension / name for folder in labextension_paths
            )
            if found is None:
                return None, f"the chunk {name} of {extension} was not found"
            files.append(found)
    if not files:
        return None, f"{CHUNKS_FILE.name} lists no chunk"
    # each chunk file ends its statement; a newline keeps a last line comment from running on
    script = b"".join(path.read_bytes().rstrip() + b"\n" for path in files)
    digest = hashlib.sha256(script).hexdigest()[:20]
    # mtime=0: the same bytes on every start (an unchanged bundle keeps its ETag)
    gzipped = gzip.compress(script, GZIP_LEVEL, mtime=0)
    return PageBundle(digest, script, gzipped, len(files)), ""


def _first_existing(candidates: Iterable[Path]) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def page_config_hook(bundle: PageBundle, chained: Any = None) -> Any:
    """A Voilà page_config_hook putting the bundle's URL in each page's config (the template
    adds the script when it is there); `chained` is a hook configured before it."""

    def hook(page_config: dict, base_url: str = "/", **kwargs: Any) -> dict:
        if chained is not None:
            page_config = chained(page_config, base_url=base_url, **kwargs)
        page_config = dict(page_config)
        page_config[PAGE_CONFIG_KEY] = base_url.rstrip("/") + "/" + ROUTE + bundle.name
        return page_config

    return hook


class PageBundleHandler(RequestHandler):
    """GET/HEAD <base>/voila/cop-bundle/<digest>.js: the bundle, gzipped when the browser takes
    it, cached for good (its URL changes with its content). Any other name: 404. Like Voilà's
    static files, it needs no sign-in: it is Voilà's and ipywidgets' published code."""

    def initialize(self, bundle: PageBundle) -> None:
        self.bundle = bundle

    def compute_etag(self) -> str | None:
        return None  # set in get(): one per encoding

    def head(self, name: str) -> None:
        self._answer(name, include_body=False)

    def get(self, name: str) -> None:
        self._answer(name, include_body=True)

    def _answer(self, name: str, include_body: bool) -> None:
        if name != self.bundle.name:
            raise HTTPError(404)
        gzipped = "gzip" in self.request.headers.get("Accept-Encoding", "")
        body = self.bundle.gzipped if gzipped else self.bundle.script
        self.set_header("Content-Type", "application/javascript; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        self.set_header("Vary", "Accept-Encoding")
        self.set_header("Etag", f'"{self.bundle.digest}{"-gz" if gzipped else ""}"')
        if gzipped:
            self.set_header("Content-Encoding", "gzip")
        if self.check_etag_header():
            self.set_status(304)
            return
        self.set_header("Content-Length", str(len(body)))
        if include_body:
            self.write(body)

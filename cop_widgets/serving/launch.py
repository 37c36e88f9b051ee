"""Runs Voilà's server with one correction to its pool of preheated kernels.

Voilà 0.5 refills the pool by queueing tasks that sleep `fill_delay` seconds before starting a
kernel, and counts those sleeping tasks as pool members. With the long fill_delay a room needs
(so the refill does not starve people still joining), the first visitor after the pool is used
up waits the whole delay (10 minutes) for a kernel. Here a pool entry counts only once its
delay has passed; a visitor who finds no such entry gets a kernel started at once, as without
preheating. It hands each page's kernel the signed identity of the person the server
authenticated (see hand_identity_to_kernel), and wakes a room's kernels once their pages are
written (KernelWakes). A page's front-end chunks go out as one script
(serving/page_bundle.py). It serves only the notebooks directly in its
folder (serving/paths.py), under any spelling of their path: the page renderer, the tree, the
contents API and the pool of preheated kernels see nothing else (no subfolder, no other file;
the report templates are package data, run by `cop report`, never by a browser). Signed in,
`/` and `/voila/tree` lead to the folder's home page (home.ipynb) rather than a file list.
Run it as `python -m cop_widgets.serving.launch <voila arguments>`.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import posixpath
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from cop_widgets.fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before Voilà imports jsonschema (through nbformat, jupyter_events)

import voila.app as voila_app  # noqa: E402
import voila.handler as voila_handler  # noqa: E402
from jupyter_core.utils import ensure_async  # noqa: E402
from jupyter_server.services.kernels.handlers import KernelHandler  # noqa: E402
from jupyter_server.utils import url_path_join  # noqa: E402
from tornado.ioloop import IOLoop  # noqa: E402
from tornado.web import HTTPError  # noqa: E402
from traitlets import Unicode  # noqa: E402
from voila.request_info_handler import RequestInfoSocketHandler  # noqa: E402
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler  # noqa: E402
from voila.static_file_handler import TemplateStaticFileHandler  # noqa: E402
from voila.tornado.contentshandler import VoilaContentsHandler  # noqa: E402
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler  # noqa: E402
from voila.tornado.treehandler import TornadoVoilaTreeHandler  # noqa: E402

from cop_widgets.services.identity import (  # noqa: E402
    IDENTITY_ENV,
    IDENTITY_HEADER,
    SITE_HEADER,
    make_assertion,
    read_assertion,
)
from cop_widgets.serving.compress import (  # noqa: E402
    GzipCache,
    compress_ahead,
    static_files,
    static_gzip,
)
from cop_widgets.serving.page_bundle import (  # noqa: E402
    BUNDLE_ENV,
    RECORD_ENV,
    ROUTE,
    PageBundle,
    PageBundleHandler,
    build,
    bundle_enabled,
    page_config_hook,
    read_recorded,
)
from cop_widgets.serving.paths import is_root, served_notebook, served_notebooks  # noqa: E402

_voila_factory = voila_app.voila_kernel_manager_factory


# kernel id -> when the culler first found no page connected to it (_clock())
UNCONNECTED_SINCE: dict[str, float] = {}
# Kernels a page has been seen connected to. A kernel handed to a page whose browser has not
# connected yet (its scripts still loading on a slow phone or a busy server) gets longer:
# culling it would leave that person a page that never starts.
SEEN_CONNECTED: set[str] = set()
NEVER_CONNECTED_GRACE_S = 180
_clock = time.monotonic

# COP_CULL_AFTER_S: how many seconds a kernel may have no page connected before it is shut down,
# in place of `cop serve`'s 40 (ServeOptions.cull_idle_timeout), checked every quarter of that
# (at most every cull_interval, 5 s). Unset in production; tests/e2e/test_closed_tab.py starts
# its server with 4 so that it need not wait a minute for a killed tab's kernel to go.
CULL_AFTER_ENV = "COP_CULL_AFTER_S"


def cull_after_override(environ=None) -> int | None:
    """The culling delay COP_CULL_AFTER_S asks for (whole seconds, at least 1), or None when
    it is unset and the server's own settings hold."""
    raw = (os.environ if environ is None else environ).get(CULL_AFTER_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CULL_AFTER_ENV} must be a whole number of seconds (1 or more): {raw!r}")
    return int(raw)


def _kernel_manager_factory(base_class, preheat_kernel, default_pool_size, page_config_hook=None):
    # a class Voilà makes at run time (its factory is untyped): subclassed as it is
    voila_class: Any = _voila_factory(
        base_class, preheat_kernel, default_pool_size, page_config_hook
    )

    class KernelsKnowTheirPerson(voila_class):
        async def start_kernel(self, *args, **kwargs):
            kernel_id = await super().start_kernel(*args, **kwargs)
            # a kernel started for a page carries the page's identity in its environment
            _claim(kernel_id, (kwargs.get("env") or {}).get(IDENTITY_ENV))
            return kernel_id

        async def shutdown_kernel(self, kernel_id, *args, **kwargs):
            RequestInfoSocketHandler._cache.pop(kernel_id, None)  # its page's details
            return await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))

    class ClosedTabsLetGo(KernelsKnowTheirPerson):
        """A page's kernel is shut down once no browser has been connected to it for
        cull_idle_timeout seconds (checked every cull_interval), whatever it is doing: a tab
        closed without Voilà's unload beacon (the browser killed, a phone's battery out) frees
        its kernel within a minute. Jupyter Server's own culler counts idleness from the
        kernel's last message, so a kernel that keeps sending (the discussion clock, the live
        board) would outlive its closed tab. Kernels waiting in a pool, starting or running a
        notebook are left alone; an open tab, however idle, stays connected."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            cull_after = cull_after_override()
            if cull_after is not None:  # before the first kernel starts the culler
                self.cull_idle_timeout = cull_after
                self.cull_interval: int = min(self.cull_interval, max(1, cull_after // 4))

        async def cull_kernel_if_idle(self, kernel_id):
            waiting = UNCONNECTED_SINCE
            if len(waiting) > len(self._kernels):  # kernels shut down since (a tab's beacon)
                for gone in [k for k in waiting if k not in self._kernels]:
                    del waiting[gone]
            SEEN_CONNECTED.intersection_update(self._kernels)
            kernel = self._kernels.get(kernel_id)
            connected = self._kernel_connections.get(kernel_id, 0)
            if connected:
                SEEN_CONNECTED.add(kernel_id)
            limit = (
                self.cull_idle_timeout if kernel_id in SEEN_CONNECTED else NEVER_CONNECTED_GRACE_S
            )
            if (
                kernel is None
                or connected
                or self._in_pool(kernel_id)
                or getattr(kernel, "execution_state", "") in ("starting", "busy", "restarting")
            ):
                waiting.pop(kernel_id, None)
            else:
                now = _clock()
                if now - waiting.setdefault(kernel_id, now) >= limit:
                    waiting.pop(kernel_id, None)
                    self.log.warning(
                        "Culling kernel %s: no page connected for %d s (its tab was closed).",
                        kernel_id,
                        limit,
                    )
                    await ensure_async(self.shutdown_kernel(kernel_id))
                    return
            if kernel_id not in SEEN_CONNECTED and not self._in_pool(kernel_id):
                # Jupyter Server's culler would shut down this idle, unconnected kernel after
                # cull_idle_timeout and break the grace its page is still loading in.
                return None
            return await super().cull_kernel_if_idle(kernel_id)

        def _in_pool(self, kernel_id) -> bool:
            for pool in getattr(self, "_pools", {}).values():
                for task in pool:
                    if task.done() and not task.cancelled() and task.exception() is None:
                        if task.result().get("kernel_id") == kernel_id:
                            return True
            return False

    if not preheat_kernel:
        return ClosedTabsLetGo

    class PoolCountsStartedKernels(ClosedTabsLetGo):
        def fill_if_needed(self, delay=None, notebook_name=None, **kwargs):
            before = {id(t) for t in self._pools.get(notebook_name, [])}
            super().fill_if_needed(delay=delay, notebook_name=notebook_name, **kwargs)
            wait = self.fill_delay if delay is None else delay
            starts_at = asyncio.get_event_loop().time() + wait
            for task in self._pools.get(notebook_name, []):
                if id(task) not in before:
                    task.cop_starts_at = starts_at

        def _notebook_filter(self, nb_path) -> bool:
            # kernels are preheated (the notebook run ahead) for served notebooks only. Voilà
            # passes the path as found under root_dir (absolute when root_dir is), before it
            # makes it relative: compare the name relative to the folder.
            relative = str(nb_path)
            if os.path.isabs(relative) == os.path.isabs(self.root_dir):
                relative = os.path.relpath(relative, self.root_dir)
            served = served_notebook(self.root_dir, relative) is not None
            return served and super()._notebook_filter(nb_path)

        def get_pool_size(self, notebook_name: str) -> int:
            now = asyncio.get_event_loop().time()
            return sum(
                1
                for task in self._pools.get(notebook_name, [])
                if getattr(task, "cop_starts_at", 0) <= now
            )

    return PoolCountsStartedKernels


voila_app.voila_kernel_manager_factory = _kernel_manager_factory

# -- each kernel serves one person --------------------------------------------------------------
# kernel id -> the person id its page was opened by. Only that person's browser may connect
# to the kernel's websocket: a kernel id seen by someone else opens nothing.
KERNEL_OWNERS: dict[str, str] = {}


def _claim(kernel_id: str, assertion: str | None) -> None:
    claimed = read_assertion(_kernel_identity_key(), assertion or "", time.time())
    if claimed is not None:
        if len(KERNEL_OWNERS) > 10_000:
            KERNEL_OWNERS.clear()  # only pages opened in the last moments need their claim
        KERNEL_OWNERS[kernel_id] = claimed[0]


_voila_send_updates = RequestInfoSocketHandler.send_updates.__func__


# While a page is being written: the request details its kernel is to get once it is out.
_held_for_page: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar(
    "cop_held_for_page", default=None
)


def _send_updates(cls, msg):
    # a preheated kernel is handed to a page here, with the page's request details
    _claim(msg["kernel_id"], (msg.get("payload") or {}).get(IDENTITY_ENV))
    # Kept until the kernel shuts down, also when sent at once: a kernel whose socket drops
    # just then connects again (serving/request.py) and gets them on opening.
    cls._cache[msg["kernel_id"]] = msg["payload"]
    held = _held_for_page.get()
    if held is not None:  # sent once the page is written (_get_generator)
        held.append(msg)
        return None
    return _voila_send_updates(cls, msg)


RequestInfoSocketHandler.send_updates = classmethod(_send_updates)


def _forget_own_waiter(self) -> None:
    # Voilà's on_close deletes the last waiter it looked at when this connection is no longer
    # the kernel's (the kernel connected again): another kernel's, which would then never get
    # its page's details. Only this connection's own entry goes.
    waiters = RequestInfoSocketHandler._waiters
    for kernel_id in [k for k, waiter in waiters.items() if waiter is self]:
        del waiters[kernel_id]


RequestInfoSocketHandler.on_close = _forget_own_waiter

_voila_pre_get = VoilaKernelWebsocketHandler.pre_get


async def _pre_get(self):
    user = self.current_user
    if user is None or KERNEL_OWNERS.get(self.kernel_id) != user.username:
        raise HTTPError(403)
    return await _voila_pre_get(self)


VoilaKernelWebsocketHandler.pre_get = _pre_get


def _owner_only(method):
    """Kernel API calls (model, delete, the page's shutdown beacon) on a kernel that is not the
    caller's answer as if there were no such kernel."""

    async def guarded(self, kernel_id, *args, **kwargs):
        user = self.current_user
        if user is None or KERNEL_OWNERS.get(kernel_id) != user.username:
            raise HTTPError(404)
        return await method(self, kernel_id, *args, **kwargs)

    return guarded


VoilaShutdownKernelHandler.post = _owner_only(VoilaShutdownKernelHandler.post)
# Jupyter Server's own handler, patched in place as Voilà's above: mypy does not model that
KernelHandler.get = _owner_only(KernelHandler.get)  # type: ignore[method-assign]
KernelHandler.delete = _owner_only(KernelHandler.delete)  # type: ignore[method-assign]

_voila_get_generator = voila_handler.VoilaHandler.get_generator


_kernel_key: bytes | None = None


def _kernel_identity_key() -> bytes:
    """The key kernels check the server's identity assertion with (from the store's secret)."""
    global _kernel_key
    if _kernel_key is None:
        from cop_widgets.services.secret import server_secret_key
        from cop_widgets.settings import load_settings
        from cop_widgets.store import open_store

        store = open_store(load_settings())
        _kernel_key = server_secret_key(store, "kernel-identity")
        store.dispose()
    return _kernel_key


def hand_identity_to_kernel(handler) -> None:
    """Replace whatever the browser sent as the identity header with the server's own signed
    assertion for the authenticated person; Voilà forwards it to the page's kernel (also to a
    preheated one) as HTTP_X_COP_IDENTITY."""
    if IDENTITY_HEADER in handler.request.headers:
        del handler.request.headers[IDENTITY_HEADER]
    user = handler.current_user
    if user is None:  # Voilà's page handler requires a sign-in; kept as a second lock
        raise HTTPError(403)
    handler.request.headers[IDENTITY_HEADER] = make_assertion(
        _kernel_identity_key(), user.username, getattr(handler, "_cop_session_id", None),
        time.time(),
    )  # fmt: skip
    # the address the browser used (behind a proxy: what it forwarded), for links apps make
    scheme = handler.request.headers.get("X-Forwarded-Proto", handler.request.protocol)
    scheme = scheme if scheme in ("http", "https") else "http"
    handler.request.headers[SITE_HEADER] = f"{scheme}://{handler.request.host}"


async def _get_generator(self, path=None):
    if not self.notebook_path:  # a folder is served: only the notebooks directly in it
        path = served_notebook(self.contents_manager.root_dir, path)
        if path is None:
            raise HTTPError(404)
    hand_identity_to_kernel(self)
    # Voilà wakes the page's preheated kernel before it writes the page. In a room that opens
    # the page at once, each woken kernel's sign-in and join (10-20 ms of CPU) then competed
    # with the server still writing the other pages (two cores): the kernel is woken once the
    # server has no page left to write (KERNEL_WAKES), as the browsers start on the pages'
    # scripts (a second or more).
    held: list[dict] = []
    token = _held_for_page.set(held)
    KERNEL_WAKES.writing += 1
    try:
        async for chunk in _voila_get_generator(self, path):
            yield chunk
    finally:
        KERNEL_WAKES.writing -= 1
        with suppress(ValueError):  # closed from another context: nothing of ours is set there
            _held_for_page.reset(token)
        KERNEL_WAKES.add(held)


class KernelWakes:
    """Kernels whose pages are written, woken together once no page has been in writing for
    QUIET_S, and at most AT_MOST_S after the first of them was held: a kernel woken at once
    takes a core from the server while it writes the room's next pages (measured: 30 signed-in
    requests of the join page at once, each kernel woken as its page was done, were answered
    after 0.18-0.20 s median, 0.39-0.46 s the last, against 0.09-0.11 s for bare Voilà's
    idle kernels; the server then spent most of that time in the wakes' socket writes, the
    woken kernel running in its place)."""

    QUIET_S = 0.05
    AT_MOST_S = 0.5

    def __init__(self) -> None:
        self.writing = 0  # pages being written now
        self.pending: list[dict] = []
        self.first_held_at = 0.0
        self.timer: object | None = None

    def add(self, messages: list[dict]) -> None:
        if not messages:
            return
        if not self.pending:
            self.first_held_at = IOLoop.current().time()
        self.pending.extend(messages)
        self._check_later()

    def _check_later(self) -> None:
        loop = IOLoop.current()
        if self.timer is not None:
            loop.remove_timeout(self.timer)
        self.timer = loop.call_later(self.QUIET_S, self._check)

    def _check(self) -> None:
        self.timer = None
        waited = IOLoop.current().time() - self.first_held_at
        if self.writing > 0 and waited < self.AT_MOST_S:
            self._check_later()  # pages still going out: wake their kernels after them
            return
        self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for msg in pending:
            _voila_send_updates(RequestInfoSocketHandler, msg)


KERNEL_WAKES = KernelWakes()


voila_handler.VoilaHandler.get_generator = _get_generator


# -- only the served notebooks exist ------------------------------------------------------------
class ServedNotebooksOnly(voila_app.LargeFileManager):
    """Voilà's contents manager, seeing the served folder and the notebooks directly in it, and
    nothing else (serving/paths.py): the tree page, /voila/api/contents and the page renderer
    find no subfolder and no other file under any spelling. Nothing is written."""

    def get(self, path, content=True, type=None, format=None, **kwargs):  # noqa: A002
        if is_root(path):
            model = super().get("", content=content, type=type, format=format, **kwargs)
            if model.get("type") == "directory" and isinstance(model.get("content"), list):
                names = set(served_notebooks(self.root_dir))
                model["content"] = [m for m in model["content"] if m.get("name") in names]
            return model
        name = served_notebook(self.root_dir, path)
        if name is None:
            raise HTTPError(404, "No such page")
        return super().get(name, content=content, type=type, format=format, **kwargs)

    def dir_exists(self, path=""):
        return is_root(path)

    def file_exists(self, path=""):
        return served_notebook(self.root_dir, path) is not None

    def exists(self, path):
        return self.dir_exists(path) or self.file_exists(path)

    def _read_only(self, *args, **kwargs):
        raise HTTPError(403, "The served notebooks are read-only")

    save = delete_file = rename_file = delete = rename = new = new_untitled = copy = _read_only


voila_app.LargeFileManager = ServedNotebooksOnly

_voila_tree_get = TornadoVoilaTreeHandler.get


# The served folder's home page: `/` and `/voila/tree` lead a signed-in person to it instead of
# Voilà's file list; a folder with a single notebook (the review server's) leads to it.
HOME_NOTEBOOK = "home.ipynb"


async def _tree_get(self, path=""):
    # signed out: the sign-in page (as Voilà's own get does); signed in: the home page, or
    # the served folder only
    if self.current_user is None:
        return await _voila_tree_get(self, "")
    if not is_root(path):
        raise HTTPError(404)
    root = self.contents_manager.root_dir
    landing = (
        HOME_NOTEBOOK
        if served_notebook(root, HOME_NOTEBOOK) == HOME_NOTEBOOK
        else next(iter(served_notebooks(root)), None)
        if len(served_notebooks(root)) == 1  # the review server: its one app, not a list
        else None
    )
    if landing is not None:
        # base_url carries a Hub service's prefix (/services/cop/)
        return self.redirect(url_path_join(self.base_url, "voila/render", landing))
    return await _voila_tree_get(self, "")


TornadoVoilaTreeHandler.get = _tree_get

_voila_contents_get = VoilaContentsHandler.get


async def _contents_get(self, path=""):
    # the tree's listing of the served folder; no model of a single file
    if self.current_user is not None and not is_root(path):
        raise HTTPError(404)
    return await _voila_contents_get(self, "")


VoilaContentsHandler.get = _contents_get

_voila_template_static_get = TemplateStaticFileHandler.get


async def _template_static_get(self, path, include_body=True):
    # <template>/static/<file> of a page template, or 404: Voilà answers a path that leaves
    # it (or names no template) with a server error
    normal = posixpath.normpath(path.replace("\\", "/"))
    parts = normal.split("/", 2)
    if len(parts) < 3 or parts[1] != "static" or parts[0] in ("", ".", ".."):
        raise HTTPError(404)
    try:
        return await _voila_template_static_get(self, normal, include_body)
    except (ValueError, AssertionError):
        raise HTTPError(404) from None


TemplateStaticFileHandler.get = _template_static_get


# -- the server --------------------------------------------------------------------------------
class CopVoila(voila_app.Voila):
    """Voilà, sending a page's scripts as one (serving/page_bundle.py) and gzipped
    (serving/compress.py), and able to serve HTTPS (`cop serve --certfile/--keyfile`): its own
    server speaks plain HTTP only (Voilà 0.5 leaves certfile as a TODO), so the certificate is
    handed to Tornado's server here. Cookies are then marked Secure (serving/auth.py)."""

    certfile = Unicode("", config=True, help="PEM certificate (chain): serve HTTPS")
    keyfile = Unicode("", config=True, help="PEM private key of certfile ('' if it holds it)")
    page_bundle: PageBundle | None = None

    def init_settings(self):
        # before Voilà's settings: its pool renders pages ahead with the page config hook
        self.page_bundle = self._make_page_bundle()
        if self.page_bundle is not None:
            self.voila_configuration.page_config_hook = page_config_hook(
                self.page_bundle, self.voila_configuration.page_config_hook
            )
        return super().init_settings()

    def init_handlers(self):
        handlers = super().init_handlers()
        if self.page_bundle is not None:
            # first: Voilà's last route takes every path
            route = url_path_join(self.server_url, "/" + ROUTE + "(.*)")
            handlers.insert(0, (route, PageBundleHandler, {"bundle": self.page_bundle}))
        return handlers

    def _make_page_bundle(self) -> PageBundle | None:
        if not bundle_enabled():
            self.log.info(
                "%s=0: pages load Voilà's scripts one by one (no page bundle).", BUNDLE_ENV
            )
            return None
        try:
            recorded = read_recorded()
        except (OSError, ValueError) as exc:
            bundle, why = None, f"its list could not be read ({exc})"
        else:
            bundle, why = build(
                self.static_paths,
                self.labextensions_path,
                self.voila_configuration.extension_allowlist or None,
                voila_app.__version__,
                recorded,
            )
        if bundle is None:
            self.log.warning(
                "No page bundle: %s. Pages load Voilà's scripts one by one, which is slower "
                "when a room opens them at once. Record the list again: %s=1 .venv/bin/python "
                "-m pytest tests/e2e/test_every_page.py",
                why,
                RECORD_ENV,
            )
        else:
            self.log.info(
                "Page bundle: %d chunks in one script, %.1f MiB (%.1f MiB gzipped).",
                bundle.chunks,
                len(bundle.script) / 2**20,
                len(bundle.gzipped) / 2**20,
            )
        return bundle

    def listen(self):
        # the page's scripts and styles gzipped, each file once (serving/compress.py)
        self.gzip_cache = GzipCache()
        self.app.add_transform(
            static_gzip(
                tuple(
                    url_path_join(self.server_url, folder)
                    for folder in ("/voila/static/", "/voila/templates/", "/voila/labextensions/")
                ),
                self.gzip_cache,
            )
        )
        IOLoop.current().add_callback(self._compress_ahead)  # runs once the server listens
        if self.certfile:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certfile, self.keyfile or None)
            plain = self.app.listen
            self.app.listen = lambda port, address="", **kw: plain(
                port, address, ssl_options=context, **kw
            )
        return super().listen()

    async def _compress_ahead(self) -> None:
        paths = self._static_paths()
        host = self.ip if self.ip not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.certfile else "http"
        # this request only reaches this server, whose room certificate is often self-signed
        done = await compress_ahead(f"{scheme}://{host}:{self.port}", paths, validate_cert=False)
        self.log.info(
            "Compressed %d of %d static files ahead: %.1f MiB kept",
            done,
            len(paths),
            self.gzip_cache.size / 2**20,
        )

    def _static_paths(self) -> list[str]:
        """Every compressible static file a page may ask for: Voilà's and the template's
        static folders, and the allowed lab extensions' files."""
        paths: dict[str, None] = {}
        for root in self.static_paths:
            for name in static_files(Path(root)):
                paths[url_path_join(self.server_url, "/voila/static/", name)] = None
        allowed = self.voila_configuration.extension_allowlist or []
        for folder in self.labextensions_path:
            for extension in allowed:
                for name in static_files(Path(folder) / extension):
                    paths[
                        url_path_join(self.server_url, "/voila/labextensions/", extension, name)
                    ] = None
        return list(paths)

    def _url(self, ip):
        url = super()._url(ip)
        return "https" + url.removeprefix("http") if self.certfile else url


if __name__ == "__main__":
    from cop_widgets.store.maintenance import watch_configured_store

    watch_configured_store()  # quick_check now and every 10 minutes; damage stops all saves
    CopVoila.launch_instance()

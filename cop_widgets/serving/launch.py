"""Runs Voilà's server with one correction to its pool of preheated kernels.

Voilà 0.5 refills the pool by queueing tasks that sleep `fill_delay` seconds before starting a
kernel, and counts those sleeping tasks as pool members. With the long fill_delay a room needs
(so the refill does not starve people still joining), the first visitor after the pool is used
up waits the whole delay (10 minutes) for a kernel. Here a pool entry counts only once its
delay has passed; a visitor who finds no such entry gets a kernel started at once, as without
preheating. It hands each page's kernel the signed identity of the person the server
authenticated (see hand_identity_to_kernel). It also refuses to render report templates (workbooks/reports/): they read the
whole store and are run by `cop report`, never by a participant's browser.
Run it as `python -m cop_widgets.serving.launch <voila arguments>`.
"""

from __future__ import annotations

import asyncio
import time

from ..fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before Voilà imports jsonschema (through nbformat, jupyter_events)

import voila.app as voila_app  # noqa: E402
import voila.handler as voila_handler  # noqa: E402
from tornado.web import HTTPError  # noqa: E402

from voila.request_info_handler import RequestInfoSocketHandler  # noqa: E402
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler  # noqa: E402

from ..services.identity import (  # noqa: E402
    IDENTITY_ENV,
    IDENTITY_HEADER,
    make_assertion,
    read_assertion,
)

# Folders under the served tree that no browser may render.
NOT_SERVED = ("reports/",)

_voila_factory = voila_app.voila_kernel_manager_factory


def _kernel_manager_factory(base_class, preheat_kernel, default_pool_size, page_config_hook=None):
    voila_class = _voila_factory(base_class, preheat_kernel, default_pool_size, page_config_hook)

    class KernelsKnowTheirPerson(voila_class):
        async def start_kernel(self, *args, **kwargs):
            kernel_id = await super().start_kernel(*args, **kwargs)
            # a kernel started for a page carries the page's identity in its environment
            _claim(kernel_id, (kwargs.get("env") or {}).get(IDENTITY_ENV))
            return kernel_id

    if not preheat_kernel:
        return KernelsKnowTheirPerson
    manager_class = KernelsKnowTheirPerson

    class PoolCountsStartedKernels(manager_class):
        def fill_if_needed(self, delay=None, notebook_name=None, **kwargs):
            before = {id(t) for t in self._pools.get(notebook_name, [])}
            super().fill_if_needed(delay=delay, notebook_name=notebook_name, **kwargs)
            wait = self.fill_delay if delay is None else delay
            starts_at = asyncio.get_event_loop().time() + wait
            for task in self._pools.get(notebook_name, []):
                if id(task) not in before:
                    task.cop_starts_at = starts_at

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


@classmethod
def _send_updates(cls, msg):
    # a preheated kernel is handed to a page here, with the page's request details
    _claim(msg["kernel_id"], (msg.get("payload") or {}).get(IDENTITY_ENV))
    return _voila_send_updates(cls, msg)


RequestInfoSocketHandler.send_updates = _send_updates

_voila_pre_get = VoilaKernelWebsocketHandler.pre_get


async def _pre_get(self):
    user = self.current_user
    if user is None or KERNEL_OWNERS.get(self.kernel_id) != user.username:
        raise HTTPError(403)
    return await _voila_pre_get(self)


VoilaKernelWebsocketHandler.pre_get = _pre_get

_voila_get_generator = voila_handler.VoilaHandler.get_generator


_kernel_key: bytes | None = None


def _kernel_identity_key() -> bytes:
    """The key kernels check the server's identity assertion with (from the store's secret)."""
    global _kernel_key
    if _kernel_key is None:
        from ..services.secret import server_secret_key
        from ..settings import load_settings
        from ..store import open_store

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


async def _get_generator(self, path=None):
    if path and path.lstrip("/").startswith(NOT_SERVED):
        raise HTTPError(404)
    hand_identity_to_kernel(self)
    async for chunk in _voila_get_generator(self, path):
        yield chunk


voila_handler.VoilaHandler.get_generator = _get_generator

if __name__ == "__main__":
    voila_app.main()

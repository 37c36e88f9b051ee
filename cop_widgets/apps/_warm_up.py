"""A preheated kernel rehearses its page's first request before anyone opens the page.

A room of 30 opens the session page within a second or two, and 30 kernels then share two
cores. A kernel's first join cost about twice its second (measured in a kernel: ~34 ms
against ~16 ms of CPU), most of the difference SQLAlchemy compiling each statement the first
time. So while the kernel waits in Voilà's pool, the page's reads and its join run once on a
scratch twin of the store (store.db.scratch_twin: an empty in-memory SQLite store with the
store's schema), for a stand-in person, after the twin took over the real store's dialect and
compiled-statement cache (share_compiled_statements): the real join then finds its statements
compiled. The same functions run as for the real page (the app's `identify`, with a web
session as the server's sign-in opens one, and its read function); no widget is made. The
stand-in's own statements (a community, a session, two people, a sign-in link used) are
compiled before the sharing and go with the twin. Of the real store only the
server secret is read (every page's identity check needs it; no person's material), and
nothing is written. PostgreSQL stores have no twin (its SQL is not SQLite's): there the first
join compiles as before, and only the secret is read ahead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cop_widgets.services.accounts import issue_link, use_link
from cop_widgets.services.identity import IDENTITY_ENV, Person, make_assertion
from cop_widgets.services.secret import read_secret_ahead, server_secret_key
from cop_widgets.store import Store
from cop_widgets.store.db import scratch_twin, share_compiled_statements

log = logging.getLogger("cop_widgets.apps")

# Times the first request is rehearsed (the second and third: the same person's second and
# third join, attendance already recorded). Code run a few times runs faster (Python specialises
# it; some of SQLAlchemy's caches fill on a statement's second run): a fresh process's join
# (identify, join, the page's reads) after one rehearsal took 3.6 ms of CPU, after three 3.1 ms,
# after eight 2.9 ms (medians of 8 processes, the CPU caches flushed before the join). In a
# room's kernels the difference was within the spread of 5 bursts each way (benchmarks/README).
REHEARSALS = 3


def rehearse_first_request(
    store: Store,
    stand_in: Callable[[Store], tuple[Person, str]],
    first_request: Callable[[Store, dict[str, str], str], object],
) -> bool:
    """On a scratch twin of `store`: stand_in(twin) adds what the page needs and returns a
    person and the page's query string; first_request(twin, environ, query) then does what the
    page does once requested by that person (environ: the server's signed assertion). True when
    it ran; a failure is logged for the operator and changes nothing for the real page."""
    _read_the_secret_ahead(store)
    try:
        twin = scratch_twin(store)
    except Exception:  # noqa: BLE001 - a rehearsal only
        log.exception("making the store's scratch twin failed")
        return False
    if twin is None:
        return False
    try:
        person, query = stand_in(twin)
        # signed in with a web session, as the server's pages are: its check is compiled too
        web_session = use_link(twin, issue_link(twin, person.id), "rehearsal", hours=1)
        key = server_secret_key(twin, "kernel-identity")
        environ = {
            IDENTITY_ENV: make_assertion(key, person.id, web_session.session_id, time.time())
        }
        share_compiled_statements(twin, store)
        for _ in range(REHEARSALS):
            first_request(twin, environ, query)
        return True
    except Exception:  # noqa: BLE001 - a rehearsal only: the real page is unaffected
        log.exception("rehearsing the page's first request failed")
        return False
    finally:
        twin.dispose()


def _read_the_secret_ahead(store: Store) -> None:
    """Read the real store's server secret now, if the server has made it (kept per open
    store; never made here), so the page's identity check does not: in a kernel the first
    request's identify took 3.5-4.1 ms of CPU with the read and 2.7-2.9 ms without (thread
    time, medians of 8 pages in two runs each way)."""
    try:
        read_secret_ahead(store)
    except Exception:  # noqa: BLE001 - ahead of time only: the page reads it when requested
        log.exception("reading the store's secret ahead of the page failed")

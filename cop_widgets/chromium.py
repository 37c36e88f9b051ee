"""Debian's headless Chromium: where it is and how every part of the project starts it.

Used by PDF printing (reports.render), the browser tests and the benchmarks, through
Playwright with ``executable_path`` (``playwright install`` cannot work here).
"""

from __future__ import annotations

import os
import shutil

from cop_widgets.errors import CopWidgetsError

# Headless, and nothing fetched in the background (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The chromium executable (CHROMIUM_PATH, else `chromium` on PATH)."""
    path = shutil.which(os.environ.get("CHROMIUM_PATH") or "chromium")
    if not path:
        raise CopWidgetsError(
            "Debian's chromium is needed (for PDFs, browser tests and benchmarks): run "
            "`bash scripts/ensure-chromium` or set CHROMIUM_PATH."
        )
    return path

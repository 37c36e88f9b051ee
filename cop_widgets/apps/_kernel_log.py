"""Where a kernel's log goes: the server's log, for the operator, never the participant's page.

In an ipykernel, sys.stderr is a stream to the page (iopub), and Python's last-resort log
handler writes there: an app's logged failure would be lost to the operator and sent towards
the browser. ipykernel keeps the process's real standard error (the server's log, which the
kernel inherits) as sys.stderr.fileno(); the `cop_widgets` loggers write there instead.
"""

from __future__ import annotations

import logging
import os
import sys

KERNEL_LOG_FORMAT = "[cop kernel %(process)d] %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "cop-kernel-to-server-log"


def send_logs_to_server(stream=None) -> bool:
    """In a kernel (sys.stderr is ipykernel's stream to the page), give the `cop_widgets`
    loggers a handler on the server's standard error; once. True when one is in place."""
    stream = sys.stderr if stream is None else stream
    logger = logging.getLogger("cop_widgets")
    if any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        return True
    fd = getattr(stream, "_original_stdstream_copy", None)  # ipykernel's copy of fd 2
    if not isinstance(fd, int):
        return False  # not a kernel: the host's own logging applies
    handler = logging.StreamHandler(os.fdopen(fd, "w", buffering=1, closefd=False))
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(KERNEL_LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # not also to the last-resort handler, which writes to the page
    return True

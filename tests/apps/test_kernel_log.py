"""A kernel's log goes to the server's log (ipykernel's copy of the real standard error), not
to the page: apps/_kernel_log.py."""

import logging
import os

from cop_widgets.apps._kernel_log import send_logs_to_server


class KernelStderr:
    """What ipykernel puts in sys.stderr: a stream to the page, keeping the real fd 2's copy."""

    def __init__(self, fd: int) -> None:
        self._original_stdstream_copy = fd
        self.to_the_page: list[str] = []

    def write(self, text: str) -> None:
        self.to_the_page.append(text)


def test_a_kernels_warning_reaches_the_server_log_and_not_the_page():
    read_end, write_end = os.pipe()
    logger = logging.getLogger("cop_widgets")
    before = (list(logger.handlers), logger.propagate, logger.level)
    stderr = KernelStderr(write_end)
    try:
        assert send_logs_to_server(stderr)
        assert send_logs_to_server(stderr)  # once: no second handler
        assert len(logger.handlers) == len(before[0]) + 1
        logging.getLogger("cop_widgets.apps").warning("a join waits on the store (StoreBusy)")
        logging.getLogger("cop_widgets.apps").info("not for the operator")
        for handler in logger.handlers:
            handler.flush()
        os.close(write_end)
        written = os.read(read_end, 10_000).decode()
        assert "WARNING cop_widgets.apps: a join waits on the store (StoreBusy)" in written
        assert "[cop kernel " in written and "not for the operator" not in written
        assert stderr.to_the_page == []
    finally:
        for handler in logger.handlers[len(before[0]) :]:
            logger.removeHandler(handler)
        logger.propagate, logger.level = before[1], before[2]
        os.close(read_end)


def test_outside_a_kernel_nothing_changes():
    logger = logging.getLogger("cop_widgets")
    handlers = list(logger.handlers)
    assert not send_logs_to_server(KernelStderr.__new__(object))
    assert logger.handlers == handlers and logger.propagate

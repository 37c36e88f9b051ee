"""A page's kernel runs at a lower CPU priority than the server (apps/_kernel_priority.py).
Niceness cannot be raised back, so each check runs in a fresh Python process."""

import os
import subprocess
import sys

import pytest

from cop_widgets.apps._kernel_priority import DEFAULT_KERNEL_NICE, kernel_nice

pytestmark = pytest.mark.skipif(not hasattr(os, "nice"), reason="niceness is a Unix notion")

PROBE = """
import os, logging
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from cop_widgets.apps._kernel_priority import give_way_to_the_server
before = os.nice(0)
first, again = give_way_to_the_server(), give_way_to_the_server()
print(first, again, os.nice(0) - before)
"""


def _lowered_by(**env: str) -> tuple[str, str]:
    """(what the probe printed, its log) in a process with `env` added (VOILA_KERNEL_ID
    removed unless given)."""
    base = {k: v for k, v in os.environ.items() if k not in ("VOILA_KERNEL_ID", "COP_KERNEL_NICE")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**base, **env},
    )
    return done.stdout.strip(), done.stderr


def test_a_page_kernel_runs_ten_lower_once():
    assert _lowered_by(VOILA_KERNEL_ID="k1") == ("True True 10", "")


def test_the_step_is_configurable_and_zero_leaves_the_kernel_as_it_is():
    assert _lowered_by(VOILA_KERNEL_ID="k1", COP_KERNEL_NICE="3")[0] == "True True 3"
    assert _lowered_by(VOILA_KERNEL_ID="k1", COP_KERNEL_NICE="0")[0] == "False False 0"


def test_outside_a_page_kernel_nothing_changes():
    """A test run, a script or `cop` itself importing the apps keeps its priority."""
    assert _lowered_by()[0] == "False False 0"


@pytest.mark.parametrize("value", ["25", "-5", "high", "1.5"])
def test_a_value_out_of_range_is_logged_and_the_default_used(value):
    printed, logged = _lowered_by(VOILA_KERNEL_ID="k1", COP_KERNEL_NICE=value)
    assert printed == f"True True {DEFAULT_KERNEL_NICE}"
    assert "COP_KERNEL_NICE" in logged and repr(value) in logged and "0 to 19" in logged


def test_kernel_nice_reads_the_setting():
    assert kernel_nice({}) == DEFAULT_KERNEL_NICE == 10
    assert kernel_nice({"COP_KERNEL_NICE": " 19 "}) == 19

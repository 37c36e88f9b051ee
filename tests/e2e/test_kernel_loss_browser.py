"""A kernel that dies or a tab that closes loses at most the last few seconds of typing: the
draft is back when the person opens the reflection app again."""

import re
import time
from contextlib import closing

import psutil
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _write(server, page, name: str, words: str) -> None:
    page.on("dialog", lambda d: d.accept())
    server.sign_in(page, name)
    page.locator(".cop-new").click()
    page.locator(".cop-answer textarea").first.fill(words)


def _kernel_process(server, page) -> psutil.Process:
    kernel_id = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        if any(kernel_id in arg for arg in proc.cmdline()):
            return proc
    raise AssertionError(f"no process for kernel {kernel_id}")


def _draft_is_back(server, browser, name: str, words: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    server.sign_in(page, name)
    expect(page.locator(".cop-app")).to_contain_text(words[:40], timeout=30_000)
    page.locator(".cop-open").first.click()  # reopens at the first unanswered stage, the 2nd
    page.locator(".cop-back").click()
    expect(page.locator(".cop-answer textarea").first).to_have_value(words)
    context.close()


def test_a_killed_kernel_keeps_the_autosaved_draft(voila_server, browser):
    context = browser.new_context()
    page = context.new_page()
    words = "Written just before the kernel was killed: the visit ran short."
    _write(voila_server, page, "Kai Killed", words)
    expect(page.locator(".cop-status")).to_contain_text("Draft saved automatically", timeout=20_000)
    _kernel_process(voila_server, page).kill()  # kill -9: no goodbye, no last save
    context.close()
    _draft_is_back(voila_server, browser, "Kai Killed", words)


def test_a_closed_tab_keeps_what_was_typed(voila_server, browser):
    context = browser.new_context()
    page = context.new_page()
    words = "Typed, then the tab was closed at once, before any save was confirmed."
    _write(voila_server, page, "Tess Tab", words)
    page.wait_for_timeout(300)  # the last keystrokes reach the kernel
    page.close(run_before_unload=False)  # as a phone's browser drops a tab
    context.close()
    # the kernel's own autosave (3 s after the last keystroke) still runs with no page attached
    assert _saved_by_the_kernel(voila_server, "Tess Tab", words, within=15)
    _draft_is_back(voila_server, browser, "Tess Tab", words)


def _saved_by_the_kernel(server, name: str, words: str, within: float) -> bool:
    """Whether `name`'s draft holds `words` in the store within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        with closing(server.db()) as db:
            texts = [
                row[0]
                for row in db.execute(
                    "SELECT a.text FROM reflection_answer a "
                    "JOIN reflection r ON r.id = a.reflection_id "
                    "JOIN person p ON p.id = r.person_id WHERE p.display_name = ?",
                    (name,),
                )
            ]
        if words in texts or time.monotonic() > deadline:
            return words in texts
        time.sleep(0.2)

"""A kernel that dies or a tab that closes loses at most the last few seconds of typing: the
draft is back when the person opens the reflection app again. A page whose app cannot be shown
opens again by itself."""

import re
import time
from contextlib import closing
from urllib.parse import urlsplit

import psutil
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PageReopenedItself, report_browser_errors

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


# Run in every page of the test's browser before its own scripts: while sessionStorage's
# "cop-test-break-pages" counts above 0, an app page's output gets a widget id no kernel has
# (rewritten in the page, before Voila reads it: the page itself still comes from the server).
BREAK_THE_WIDGET_ID = """
(() => {
  const KEY = "cop-test-break-pages";
  const TYPE = 'script[type="application/vnd.voila.cell-output+json"]';
  const seen = new WeakSet();
  new MutationObserver(() => {
    document.querySelectorAll(TYPE).forEach((node) => {
      if (seen.has(node)) return;
      let output;
      try { output = JSON.parse(node.textContent); } catch (e) { return; }  // not all in yet
      seen.add(node);
      const left = Number(sessionStorage.getItem(KEY) || 0);
      const view = (output.data || {})["application/vnd.jupyter.widget-view+json"];
      if (left <= 0 || !view) return;
      sessionStorage.setItem(KEY, String(left - 1));
      view.model_id = "0".repeat(32);
      node.textContent = JSON.stringify(output);
    });
  }).observe(document, { childList: true, subtree: true, characterData: true });
})();
"""


def test_a_page_whose_app_cannot_be_shown_opens_again_by_itself(voila_server, browser):
    """Under a starved CI the widget manager once finished fetching the kernel's widgets
    without the page's own (Voila showed "Error displaying widget: model not found", and the
    page stayed dead). Here the first page's widget id is made unknown before Voila reads it:
    the page reopens once, by itself, and the second one shows the app; a page that fails
    again within a minute says what to do instead of reopening without end."""
    context = browser.new_context()
    try:
        page = context.new_page()
        report_browser_errors(page)
        page.add_init_script(BREAK_THE_WIDGET_ID)
        opened: list[str] = []
        page.on("load", lambda p: opened.append(p.url))
        link = voila_server.sign_in_link("Rhea Reopened")
        page.goto(link + "&next=/voila/render/reflection.ipynb")
        page.evaluate("sessionStorage.setItem('cop-test-break-pages', '1')")
        page.get_by_role("button", name="Sign in as Rhea Reopened").click()
        with pytest.warns(PageReopenedItself, match="reopening"):  # a CI log lists each one
            page.get_by_role("link", name="Not now: continue").click()
            page.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)
        app_pages = [url for url in opened if urlsplit(url).path.startswith("/voila/render/")]
        assert len(app_pages) == 2, opened  # the broken one, then the one it reopened
        expect(page.locator(".cop-new")).to_be_visible()

        page.evaluate("sessionStorage.setItem('cop-test-break-pages', '2')")
        page.reload()  # within the minute: this one and any it reopened would fail
        expect(page.get_by_role("alert")).to_contain_text(
            "This page could not be opened. Reload it in a minute", timeout=60_000
        )
        left = page.evaluate("sessionStorage.getItem('cop-test-break-pages')")
        assert left == "1"  # the failed page did not reopen
        expect(page.locator(".cop-whoami")).to_have_count(0)
    finally:
        context.close()  # also when an expectation above fails

"""Checks every browser test can make of a page: axe's serious findings, whether the page fits
a screen (no sideways scrolling, no control beyond the edge), and whether its kernel has the
text just typed."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO

SHOTS = REPO / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Controls whose box reaches past the window's sides. Only a box the app marks as scrolling
# sideways on purpose (class cop-scroll-x, e.g. a wide table) excuses a control in it: widget
# boxes scroll by default (overflow: auto), which on a phone hides the end of a control.
_OUTSIDE = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    const box = el.closest('.cop-scroll-x');
    return !!box && box.scrollWidth > box.clientWidth;
  };
  return [...document.querySelectorAll(
      '.cop-app button, .cop-app input, .cop-app select, .cop-app textarea, .cop-app a[href]')]
    .filter((el) => el.getClientRects().length)
    .filter((el) => { const r = el.getBoundingClientRect(); return r.width && r.height
      && (r.left < -1 || r.right > width + 1) && !scrolls(el); })
    .map((el) => (el.getAttribute('aria-label') || el.innerText || el.value || el.name
                  || el.outerHTML).slice(0, 60) + ` (${el.tagName.toLowerCase()})`);
}"""

# The widest box that scrolls the page sideways: the document, or any box around the app that
# lets its content scroll (Voilà's #rendered_cells).
_PAGE_WIDTH = """() => {
  let widest = document.documentElement.scrollWidth;
  const app = document.querySelector('.cop-app');
  for (let p = app && app.parentElement; p; p = p.parentElement) {
    const x = getComputedStyle(p).overflowX;
    if (x !== 'hidden' && x !== 'clip' && p.scrollWidth > p.clientWidth)
      widest = Math.max(
        widest, p.scrollWidth - p.clientWidth + document.documentElement.clientWidth);
  }
  return widest;
}"""


def serious_violations(page: Page, where: str) -> list[str]:
    """axe's critical and serious findings, one line each, naming the page."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [
        f"{where}: {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}"
        for v in result.response["violations"]
        if v["impact"] in ("critical", "serious")
    ]


def fit_problems(page: Page, where: str) -> list[str]:
    """Sideways scrolling, and controls beyond the window's edge, at the current size."""
    width = page.viewport_size["width"]
    problems = []
    scroll = page.evaluate(_PAGE_WIDTH)
    if scroll > width:
        problems.append(f"{where}: the page is {scroll} px wide in a {width} px window")
    problems += [f"{where}: control outside the window: {c!r}" for c in page.evaluate(_OUTSIDE)]
    return problems


def screenshot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def settle(page: Page) -> None:
    """Two animation frames: the page has laid itself out again after a resize (resize
    observers and the widgets' layout messages run before the next frame is drawn)."""
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def check_both_sizes(page: Page, name: str) -> list[str]:
    """axe and the fit checks at 1280×800 and at a phone's 390×844, a screenshot of each; the
    window is left at 1280×800."""
    found = serious_violations(page, f"{name}, 1280 px") + fit_problems(page, f"{name}, 1280 px")
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    settle(page)
    found += serious_violations(page, f"{name}, 390 px") + fit_problems(page, f"{name}, 390 px")
    screenshot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)
    return found


UNSAVED = re.compile(r"\bcop-unsaved\b")


def leave_the_field_until_the_kernel_has_it(page, field) -> None:
    """Leave a form field just typed into (Tab: the app's text fields send their text when the
    person leaves them) and wait until the app has it (it marks its root unsaved), as a
    person's pause before the next click gives it. Clicking a button straight after `fill`
    once ran the button's action first on a busy CI host, even after after_pending_edits'
    settle time: the app said "Enter the topic." with the topic typed (twice in CI, at the
    community app's plan step)."""
    field.press("Tab")
    expect(page.locator(".cop-app")).to_have_class(UNSAVED, timeout=15_000)

"""The review app in real Chromium: token required, 50+ script payloads shown as plain text."""

import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import Page, expect

from cop_widgets.protocols import load_protocols  # noqa: F401 - keeps imports uniform
from cop_widgets.services import reflections as R
from cop_widgets.services import supervision as S
from cop_widgets.services.identity import sign_in
from cop_widgets.settings import Settings
from cop_widgets.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEMPLATES = [
    '<img src=x onerror="window.__xss{n}=1">',
    '<svg onload="window.__xss{n}=1">',
    "</textarea><script>window.__xss{n}=1</script>",
    "<script>window.__xss{n}=1</script>",
    '<a href="javascript:window.__xss{n}=1">click</a>',
    '<iframe srcdoc="<script>parent.__xss{n}=1</script>"></iframe>',
    '<style>@import "javascript:window.__xss{n}=1";</style>',
    '<body onload="window.__xss{n}=1">',
    '"><img src=x onerror=window.__xss{n}=1>',
    "'><svg/onload=window.__xss{n}=1>",
    "{{{{7*7}}}} ${{window.__xss{n}=1}} $x^2$ #{n}",
    '<details open ontoggle="window.__xss{n}=1">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss{n}=1>",
    "&lt;img src=x onerror=window.__xss{n}=1&gt; &amp; &#60;b&#62;",
    '<input autofocus onfocus="window.__xss{n}=1">',
    '<video><source onerror="window.__xss{n}=1"></video>',
    '<object data="javascript:window.__xss{n}=1"></object>',
]
PAYLOADS = [TEMPLATES[i % len(TEMPLATES)].format(n=i) for i in range(54)]
NAMES = [p for p in PAYLOADS if len(p) <= 80][:6]


@pytest.fixture(scope="module")
def seeded(review_server):
    store = open_store(
        Settings(review_server.data_dir, f"sqlite:///{review_server.data_dir / 'cop.sqlite'}", 5000)
    )
    from cop_widgets.content import load_frameworks

    rolfe = load_frameworks(review_server.data_dir / "frameworks").get("rolfe-2001")
    sup = sign_in(store, "Xena Supervisor")
    saved = {}
    chunks = [PAYLOADS[i : i + 5] for i in range(0, len(PAYLOADS), 5)]
    for n, chunk in enumerate(chunks):
        author = sign_in(store, NAMES[n % len(NAMES)] + f" {n}")
        S.assign_supervisee(store, sup.id, author.id)
        rid = str(uuid.uuid4())
        texts = (chunk + [""] * 5)[:5]
        answers = {"what": texts[0], "so_what": texts[1] or "x", "now_what": texts[2] or "y"}
        R.submit(
            store,
            author,
            rid,
            rolfe,
            {k: R.Answer(v) for k, v in answers.items()},
            visibility="supervisor",
        )
        for text in texts[3:]:
            if text:
                S.add_feedback(store, sup, rid, "strength", text)
        saved[rid] = (author.display_name, answers, [t for t in texts[3:] if t])
    store.dispose()
    return saved


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_review_app_needs_the_token(review_server):
    opener = urllib.request.build_opener(_NoRedirect)
    for path in ("/voila/render/supervisor_review.ipynb", "/voila/api/kernels", "/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(review_server.base + path, timeout=10)
        assert refused.value.code in (302, 401, 403, 404), path
        body = refused.value.read().decode("utf-8", "replace")
        assert "jupyter-config-data" not in body and "review_app" not in body


def test_payloads_are_shown_as_text_and_never_run(page: Page, review_server, seeded):
    page.goto(review_server.url("supervisor_review.ipynb"), wait_until="commit")
    page.locator(".cop-name input").wait_for(state="visible", timeout=60_000)
    page.locator(".cop-name input").fill("Xena Supervisor")
    page.locator(".cop-start").click()
    expect(page.locator(".cop-status")).to_contain_text("Signed in as Xena Supervisor")
    expect(page.locator(".cop-app")).to_contain_text(f"{len(seeded)} reflection(s)")
    seen_names = page.locator(".cop-app").inner_text()
    checked = 0
    for index in range(len(seeded)):
        if index and index % 20 == 0:
            page.locator(".cop-next-page").click()
            expect(page.locator(".cop-app")).to_contain_text(f"Page {index // 20 + 1} of")
        page.locator(".cop-open-review").nth(index % 20).click()
        expect(page.locator(".cop-back-queue")).to_be_visible()
        heading = page.locator(".cop-app h2").first.inner_text()
        rid = next(r for r, (name, _, _) in seeded.items() if name in heading)
        name, answers, feedback = seeded[rid]
        shown = page.locator(".cop-answer-text").all_text_contents()
        assert shown == [answers["what"], answers["so_what"], answers["now_what"]]
        given = page.locator(".cop-feedback li").all_text_contents()
        assert [g.removeprefix("Strength: ") for g in given] == feedback
        checked += 3 + len(feedback)
        page.locator(".cop-back-queue").click()
        expect(page.locator(".cop-open-review").first).to_be_visible()
    flags = page.evaluate("Object.keys(window).filter(k => k.startsWith('__xss'))")
    assert flags == []
    assert checked >= 50
    assert any(n[:20] in seen_names for n in NAMES)

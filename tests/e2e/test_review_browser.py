"""The review app in real Chromium: sign-in required, supervisors only, 50+ script payloads shown
as plain text; the page fits a phone and axe finds nothing serious."""

import uuid

import pytest
from playwright.sync_api import Page, expect

from cop_widgets.content.protocols import load_protocols  # noqa: F401 - keeps imports uniform
from cop_widgets.services import reflections, review, roster
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import open_store
from tests.e2e.pagecheck import DESKTOP, check_both_sizes

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
    from cop_widgets.content.frameworks import load_frameworks

    rolfe = load_frameworks(review_server.data_dir / "frameworks").get("rolfe-2001")
    sup = find_or_add_person(store, "Xena Supervisor")
    saved = {}
    chunks = [PAYLOADS[i : i + 5] for i in range(0, len(PAYLOADS), 5)]
    for n, chunk in enumerate(chunks):
        author = find_or_add_person(store, NAMES[n % len(NAMES)] + f" {n}")
        roster.assign_supervisee(store, sup.id, author.id)
        rid = str(uuid.uuid4())
        texts = (chunk + [""] * 5)[:5]
        answers = {"what": texts[0], "so_what": texts[1] or "x", "now_what": texts[2] or "y"}
        reflections.submit(
            store,
            author,
            rid,
            rolfe,
            {k: reflections.Answer(v) for k, v in answers.items()},
            visibility="supervisor",
        )
        for text in texts[3:]:
            if text:
                review.add_feedback(store, sup, rid, "strength", text)
        saved[rid] = (author.display_name, answers, [t for t in texts[3:] if t])
    store.dispose()
    return saved


def test_review_app_needs_a_supervisor_signed_in(browser, review_server, seeded):
    app = review_server.url("supervisor_review.ipynb")
    context = browser.new_context()
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        # signed out: the app and the server's pages lead to the sign-in page; its API refuses
        for path in ("/voila/render/supervisor_review.ipynb", "/"):
            page.goto(review_server.base + path)
            assert page.url.startswith(review_server.base + "/login"), path
            assert "review_app" not in page.content(), path
            expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        channels = "/api/kernels/6f1c2d3e-0000-4000-8000-000000000000/channels"
        for path in (channels, "/voila/files/x"):
            assert page.request.get(review_server.base + path, max_redirects=0).status == 403, path
        # signed in, but not a supervisor: the app says no and shows nobody's reflection
        author = next(name for name, _, _ in seeded.values())
        review_server.sign_in(page, author, app="supervisor_review.ipynb")
        expect(page.locator(".cop-whoami")).to_contain_text("(practitioner)")
        expect(page.locator(".cop-status")).to_contain_text(
            "Not authorised: the review app is for supervisors"
        )
        assert page.locator(".cop-open-review").count() == 0
        assert "reflection(s)" not in page.locator(".cop-app").inner_text()
        # a supervisor (same server, same sign-in) sees their queue
        page.context.clear_cookies()
        review_server.sign_in(page, "Xena Supervisor", "supervisor", app="supervisor_review.ipynb")
        assert page.url == app
        expect(page.locator(".cop-whoami")).to_contain_text("Xena Supervisor (supervisor)")
        expect(page.locator(".cop-app")).to_contain_text(f"{len(seeded)} reflection(s)")
    finally:
        context.close()
    with review_server.db() as db:
        refused = db.execute(
            "SELECT count(*) FROM audit_event a JOIN person p ON p.id = a.actor_id "
            "WHERE p.display_name = ? AND a.action = 'review_app_open' "
            "AND a.outcome = 'authz_fail'",
            (author,),
        ).fetchone()[0]
    assert refused == 1  # the refusal is on record


def test_payloads_are_shown_as_text_and_never_run(page: Page, review_server, seeded):
    review_server.sign_in(page, "Xena Supervisor", "supervisor", app="supervisor_review.ipynb")
    expect(page.locator(".cop-whoami")).to_contain_text("Signed in as Xena Supervisor")
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


def test_the_review_servers_address_opens_the_review_app(page: Page, review_server, seeded):
    """`cop review` prints an address; its root leads a signed-in supervisor to the app, not to
    Voilà's file list (which loads a stylesheet from the internet: the fixture fails on that)."""
    review_server.sign_in(page, "Xena Supervisor", "supervisor", app="supervisor_review.ipynb")
    page.goto(review_server.base + "/")
    page.wait_for_url("**/voila/render/supervisor_review.ipynb")
    page.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)


def test_the_review_page_fits_a_phone_and_passes_axe(page: Page, review_server):
    """As tests/e2e/test_every_page.py checks the participants' pages."""
    page.set_viewport_size(DESKTOP)
    review_server.sign_in(page, "Suki Supervisor", "supervisor", app="supervisor_review.ipynb")
    page.wait_for_load_state("load")
    found = check_both_sizes(page, "supervisor_review")
    assert found == [], "\n".join(found)

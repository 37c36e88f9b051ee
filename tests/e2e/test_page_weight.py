"""What a first visit costs a participant's phone: its scripts and styles come gzipped from the
real server (serving/compress.py), Voilà's chunks in one script (serving/page_bundle.py), and
the page, decoded by Chromium, works (uncompressed they were about 4.9 MB per person, 91 files,
on the room's Wi-Fi); while it opens, the page shows a still notice a screen reader announces,
not an animation that turns until the page is shown."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser]

STATIC = ("/voila/static/", "/voila/templates/", "/voila/labextensions/", "/voila/cop-bundle/")
COMPRESSIBLE = ("javascript", "text/css")
# gzipped, Voilà's scripts and styles are about 28 % of their size (measured: 1.38 of 4.93 MB)
AT_MOST_OF_THE_SIZE = 0.40


def test_a_first_visit_downloads_its_scripts_and_styles_gzipped(page, voila_server):
    sent = []
    page.on("response", lambda response: sent.append(response))
    voila_server.sign_in(page, "Gia Gzip", app="reflection.ipynb")
    page.locator(".cop-whoami", has_text="Gia Gzip").wait_for()  # decoded, ran, connected
    static = [
        r
        for r in sent
        if any(folder in r.url for folder in STATIC)
        and r.status == 200
        and any(kind in r.headers.get("content-type", "") for kind in COMPRESSIBLE)
    ]
    # the page bundle (Voilà's and the widget managers' chunks), voila.js, the extensions'
    # entries, the styles: a handful of files, not the 91 Voilà sends one by one
    bundle = [r for r in static if "/voila/cop-bundle/" in r.url]
    assert len(bundle) == 1 and len(bundle[0].body()) > 2**20, [r.url for r in static]
    assert 4 <= len(static) <= 12, [r.url for r in static]
    plain = [r.url for r in static if r.headers.get("content-encoding") != "gzip"]
    # files under 1 KiB are not worth a gzip header: the rest must be gzipped
    plain_large = [url for url in plain if len(_body(static, url)) >= 1024]
    assert plain_large == [], plain_large
    on_the_wire = sum(r.request.sizes()["responseBodySize"] for r in static)
    decoded = sum(len(r.body()) for r in static)
    print(f"scripts and styles: {on_the_wire / 2**20:.2f} MiB sent for {decoded / 2**20:.2f} MiB")
    assert on_the_wire <= AT_MOST_OF_THE_SIZE * decoded, (on_the_wire, decoded)
    # compressed when the server started, before this first page (serving/launch.py)
    ahead = re.findall(r"Compressed (\d+) of (\d+) static files ahead", _log(voila_server))
    assert ahead and ahead[0][0] == ahead[0][1] and int(ahead[0][1]) > 100, ahead


def test_an_opening_page_shows_a_still_notice(page, voila_server):
    voila_server.sign_in(page, "Sol Still", app="directory.ipynb")
    # once shown (the app names the person), the page has no notice left
    assert page.locator("#loading").count() == 0
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        voila_server.url("directory.ipynb"), headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - localhost
        html = answer.read().decode()
    notice = re.search(r'<div id="loading"[^>]*>(.*?)</div>', html, re.S)
    assert notice and 'role="status"' in notice.group(0), html[:2000]
    assert "Opening the page" in notice.group(1)
    assert "@keyframes" not in html and "animation:" not in html  # nothing turns meanwhile
    assert "Executing" not in notice.group(1)  # Voilà's words for its cells are not shown


def _log(server) -> str:
    server.log.flush()
    return Path(server.log.name).read_text(errors="replace")


def _body(responses, url: str) -> bytes:
    return next(r for r in responses if r.url == url).body()

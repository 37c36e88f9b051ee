"""Text on a page reads as it was typed: dollar signs are money, not LaTeX.

Voilà's front end typesets TeX between dollar signs wherever widgets and outputs show text (a
label, a box's description, an HTML output); "Rent is $300 and food $120 a week" came out as a
formula. Our page template makes Voilà load templates/cop/static/no-math.js as its MathJax,
which typesets nothing. Served here: a notebook showing that sentence in each of those places,
through the project's own Voilà command (`cop serve`'s flags and template) over a scratch
folder and store, opened by a signed-in person in real Chromium."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from cop_widgets.room.load import RoomServer
from cop_widgets.serving import voila_environment
from tests.e2e.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TYPED = "Rent is $300 and food $120 a week"
NOTEBOOK = "money.ipynb"
SOURCE = f"""
import ipywidgets as W
from IPython.display import HTML, display

display(W.Label({TYPED!r}).add_class("typed-label"))
display(W.Checkbox(description={TYPED!r}, indent=False).add_class("typed-box"))
display(HTML('<p class="typed-output">' + {TYPED!r} + '</p>'))
display(W.Button(description="Done"))
"""


@pytest.fixture
def money_server(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("*.sqlite*"))
    folder = tmp_path / "workbooks"
    folder.mkdir()
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(SOURCE)], metadata={"kernelspec": kernelspec}
    )
    nbformat.write(notebook, folder / NOTEBOOK)
    env = voila_environment()
    env["COP_DATA_DIR"] = str(data)
    server = RoomServer("money", env, tmp_path, workbooks=folder, pool_size=1)
    try:
        server.wait_answering(path="login")
        yield server, data
    finally:
        server.stop()


def _sign_in_link(data, name: str) -> str:
    from cop_widgets.services import accounts
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    store = open_store(load_settings({"COP_DATA_DIR": str(data)}))
    try:
        who = accounts.add_person(store, name, "practitioner")
        return accounts.issue_link(store, who.id)
    finally:
        store.dispose()


def test_dollar_signs_stay_as_typed_in_labels_descriptions_and_outputs(page, money_server):
    server, data = money_server
    name = "Maya Money"
    answers: dict[str, int] = {}
    page.on("response", lambda r: answers.setdefault(r.url.split("?")[0], r.status))
    link = _sign_in_link(data, name)
    page.goto(server.url(f"login?link={link}&next=/voila/render/{NOTEBOOK}"))
    page.get_by_role("button", name=f"Sign in as {name}").click()
    page.get_by_role("link", name="Not now: continue").click()
    page.get_by_role("button", name="Done").wait_for(timeout=60_000)
    # typesetting runs after the widgets show, once its script is in: wait for the network
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)

    assert page.locator(".typed-label").inner_text() == TYPED
    assert page.locator(".typed-box").inner_text().strip() == TYPED
    assert page.locator(".typed-output").inner_text() == TYPED
    assert page.locator("mjx-container, .MathJax").count() == 0
    no_math = [url for url in answers if url.endswith("/templates/cop/static/no-math.js")]
    assert no_math and answers[no_math[0]] == 200, f"no-math.js not served: {answers}"

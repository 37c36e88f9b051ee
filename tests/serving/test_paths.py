"""The served-path rule (serving/paths.py): only `<name>.ipynb` files directly in the served
folder, under any spelling; everything else is not served. The live server is crawled in
tests/e2e/test_served_paths.py."""

import os

import pytest

from cop_widgets.reports.render import REPORTS_DIR, available_reports
from cop_widgets.serving import REVIEW_DIR, WORKBOOKS_DIR
from cop_widgets.serving.paths import is_root, served_notebook, served_notebooks


@pytest.fixture
def folder(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "session.ipynb").write_text("{}")
    (served / "board.ipynb").write_text("{}")
    (served / ".hidden.ipynb").write_text("{}")
    (served / "notes.txt").write_text("x")
    (served / "reports").mkdir()
    (served / "reports" / "session_report.ipynb").write_text("{}")
    (served / "folder.ipynb").mkdir()
    (tmp_path / "outside.ipynb").write_text("{}")
    os.symlink(tmp_path / "outside.ipynb", served / "linked.ipynb")
    return served


def test_only_the_notebooks_directly_in_the_folder_are_served(folder):
    assert served_notebooks(folder) == ["board.ipynb", "session.ipynb"]


@pytest.mark.parametrize(
    "path",
    [
        "session.ipynb",
        "/session.ipynb",
        "./session.ipynb",
        "%2e/session.ipynb",
        "%2E/session.ipynb",
        "%252e/session.ipynb",
        "//session.ipynb",
        "reports/../session.ipynb",
        "reports%2f..%2fsession.ipynb",
        "Session.IPYNB",
        "SESSION.ipynb",
        "session.ipynb/",
    ],
)
def test_spellings_of_a_served_notebook_are_that_notebook(folder, path):
    assert served_notebook(folder, path) == "session.ipynb"


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "/",
        "./",
        "reports",
        "reports/",
        "reports/session_report.ipynb",
        "./reports/session_report.ipynb",
        "%2e/reports/session_report.ipynb",
        "%2E%2E/served/session.ipynb",
        "..%2fserved%2fsession.ipynb",
        "../outside.ipynb",
        "..%2foutside.ipynb",
        "%252e%252e/outside.ipynb",
        "..\\outside.ipynb",
        "reports//session_report.ipynb",
        "Reports/Session_Report.ipynb",
        "REPORTS%2fsession_report.ipynb",
        ".hidden.ipynb",
        "notes.txt",
        "folder.ipynb",
        "linked.ipynb",
        "missing.ipynb",
        "session.ipynb%00",
        "session.ipynb/..",
        "\u017fession.ipynb",
        "%ff.ipynb",
        "%25252525252e/session.ipynb",
    ],
)
def test_anything_else_is_not_served(folder, path):
    assert served_notebook(folder, path) is None


@pytest.mark.parametrize("path", ["", "/", "./", "//", "%2e", "%2E/", "a/..", "a/b/../.."])
def test_spellings_of_the_folder_itself(path):
    assert is_root(path)


@pytest.mark.parametrize("path", ["..", "%2e%2e", "reports", "../workbooks", "a/../.."])
def test_not_the_folder(path):
    assert not is_root(path)


def test_report_templates_live_in_the_package_not_in_a_served_folder():
    assert available_reports() == [
        "community_growth",
        "library_handbook",
        "person_record",
        "session_report",
    ]
    for served in (WORKBOOKS_DIR, REVIEW_DIR):
        assert not REPORTS_DIR.resolve().is_relative_to(served.resolve())
        assert not any(served.rglob("*report*.ipynb"))
    assert "supervisor_review.ipynb" not in served_notebooks(WORKBOOKS_DIR)
    assert served_notebooks(WORKBOOKS_DIR) == sorted(p.name for p in WORKBOOKS_DIR.glob("*.ipynb"))

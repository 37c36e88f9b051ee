import shutil
from pathlib import Path

import pytest

from cop_widgets.content import load_frameworks
from cop_widgets.settings import Settings
from cop_widgets.store import open_store

REPO = Path(__file__).resolve().parent.parent
FRAMEWORKS = REPO / "data" / "frameworks"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder of our own: the real framework files, an empty store."""
    shutil.copytree(FRAMEWORKS, tmp_path / "frameworks")
    return tmp_path


@pytest.fixture
def settings(data_dir) -> Settings:
    return Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000)


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def catalogue():
    cat = load_frameworks(FRAMEWORKS)
    assert not cat.problems, cat.problems
    return cat


@pytest.fixture
def rolfe(catalogue):
    return catalogue.get("rolfe-2001")


def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's sync API leaves an event loop in the main thread."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)

"""Keeps every test (and every workbook run by nbval) off the real data/cop.sqlite.

The scratch store holds the demo content (as `cop serve` adds it), so that nbval runs every
workbook and report template against real records: a session with answers, a discussion, a
reflection with feedback."""

import os
import shutil
import tempfile
from pathlib import Path

_REPO_DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    if os.environ.get("COP_TEST_KEEP_ENV"):
        return
    scratch = Path(tempfile.mkdtemp(prefix="cop-test-data-")) / "data"
    shutil.copytree(_REPO_DATA, scratch, ignore=shutil.ignore_patterns("*.sqlite*"))
    os.environ["COP_DATA_DIR"] = str(scratch)
    os.environ.pop("COP_DATABASE_URL", None)
    os.environ.pop("JUPYTERHUB_USER", None)
    config._cop_scratch = scratch
    _seed_demo()


def _seed_demo() -> None:
    from cop_widgets.cli.demo import seed_demo, seed_demo_community
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    settings = load_settings()
    store = open_store(settings)
    try:
        seed_demo(store, load_frameworks(settings.frameworks_dir))
        seed_demo_community(store, settings)
    finally:
        store.dispose()


def pytest_unconfigure(config):
    scratch = getattr(config, "_cop_scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch.parent, ignore_errors=True)

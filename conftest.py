"""Keeps every test (and every workbook run by nbval) off the real data/cop.sqlite."""

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


def pytest_unconfigure(config):
    scratch = getattr(config, "_cop_scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch.parent, ignore_errors=True)

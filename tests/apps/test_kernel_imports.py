"""A participant's kernel loads only what its page needs: every module imported at start-up is
memory in each of the room's kernels (30 at once on one laptop) and CPU while they start.

Each check runs in a fresh Python process, so that modules other tests imported do not count.
"""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cop_widgets.services import accounts, library, roster, sessions
from tests.signin import assertion_environ

REPO = Path(__file__).resolve().parents[2]
# Used by reports, the command line, benchmarks or staff pages, never by a participant's page
# on opening it; the identifier finder loads when someone's text is first checked.
NOT_AT_START = (
    "cop_widgets.deidentify",
    "cop_widgets.reports",
    "cop_widgets.cli",
    "cop_widgets.room",
    "phonenumbers",
    "sqlalchemy.orm",
    "pandas",
    "matplotlib",
    "papermill",
    "nbformat",
    "segno",
    "psutil",
    "jupyter_server",
    "voila",
    # PostgreSQL's dialect: a SQLite store's kernels never use it (~2.3 MiB in each; the
    # join's INSERT … ON CONFLICT imports each dialect's module when first used)
    "sqlalchemy.dialects.postgresql",
)
# Parsing YAML: a kernel reads the content files from the server's parsed copy instead
# (content/parsed_copy.py), 0.9 MiB less in each kernel.
YAML = ("yaml", "cop_widgets.content._yaml_parse")
PARTICIPANT_APPS = {
    "session": "from cop_widgets.apps.session import session_app as make_app",
    "reflection": "from cop_widgets.apps.reflection import reflection_app as make_app",
    "library": "from cop_widgets.apps.library import library_app as make_app",
}
# The models of sessions: the library services make drafts from a session with them (the run
# sheet does), the library page never; 0.1 MiB in its kernel (measured).
LIBRARY_NOT_AT_START = ("cop_widgets.content.protocols", "cop_widgets.content.session_items")


def _loaded_in_fresh_process(
    code: str, env: dict[str, str] | None = None, watched: tuple[str, ...] = NOT_AT_START
) -> list[str]:
    """Which of `watched` a new Python process holds after running `code`."""
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("app", sorted(PARTICIPANT_APPS))
def test_importing_a_participant_app_loads_none_of_the_heavy_modules(app):
    assert _loaded_in_fresh_process(PARTICIPANT_APPS[app], watched=NOT_AT_START + YAML) == []


def _signed_in_page(app: str, settings, store) -> tuple[str, dict[str, str]]:
    """The page as a kernel runs it: settings from the environment, the person the server
    signed in, and for the join page the join link's code (attendance recorded)."""
    coordinator = accounts.add_person(store, "Cora Coordinator")
    roster.grant_role(store, coordinator.id, "coordinator")
    community = sessions.create_community(store, coordinator, "Kinship carers CoP")
    ana = accounts.add_person(store, "Ana")
    sessions.add_member(store, coordinator, community.id, ana.id, "member")
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    session = sessions.plan_session(store, coordinator, community.id, starts, "Grief")
    if app == "library":  # a list with an entry in it
        library.contribute(store, ana, str(uuid.uuid4()), community.id, "story", "Texting fathers",
                           "Texts before a visit helped.", confirmed=True)  # fmt: skip
    env = {
        **os.environ,
        "COP_DATA_DIR": str(settings.data_dir),
        "COP_DATABASE_URL": settings.database_url,
        "QUERY_STRING": f"code={session.join_code}",
        **assertion_environ(store, ana),
    }
    env.pop("VOILA_PREHEAT", None)  # not preheated: the app reads its request at once
    code = (
        f"{PARTICIPANT_APPS[app]}\n"
        "page = make_app()\n"
        "assert page.person is not None, page.status.message\n"
        "assert getattr(page, 'joined', True), page.status.message\n"
        "assert getattr(page, 'shown', 1) == 1, 'the library lists its entry'"
    )
    return code, env


@pytest.mark.parametrize("app", sorted(PARTICIPANT_APPS))
def test_a_signed_in_participant_page_starts_without_them(app, settings, store):
    code, env = _signed_in_page(app, settings, store)
    assert _loaded_in_fresh_process(code, env) == []


def test_the_signed_in_library_page_starts_without_the_session_models(settings, store):
    code, env = _signed_in_page("library", settings, store)
    assert _loaded_in_fresh_process(code, env, watched=LIBRARY_NOT_AT_START) == []


@pytest.mark.parametrize("app", sorted(PARTICIPANT_APPS))
def test_with_the_servers_parsed_copy_a_page_reads_its_content_without_yaml(app, settings, store):
    """As `cop serve` starts its kernels: the content files parsed once, by the server."""
    from cop_widgets.content.parsed_copy import ENV_VAR
    from cop_widgets.serving import with_parsed_content

    code, env = _signed_in_page(app, settings, store)
    env = with_parsed_content(env)
    assert env[ENV_VAR] == str(settings.data_dir / ".cache" / "parsed-content.json")
    assert _loaded_in_fresh_process(code, env, watched=NOT_AT_START + YAML) == []
    # the same page without the copy parses its files itself
    env.pop(ENV_VAR)
    assert _loaded_in_fresh_process(code, env, watched=YAML) == list(YAML)

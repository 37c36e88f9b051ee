"""A real PostgreSQL server for the tests, and the store tests run on it as well as on SQLite.

`postgres_server` (session-scoped) runs Debian's PostgreSQL (initdb, pg_ctl from
/usr/lib/postgresql/<version>/bin, or COP_PG_BIN) in a temporary folder on a free localhost
port, as an unprivileged user (initdb refuses root: under root it runs as `postgres`, or
`nobody`), with password authentication, and stops it at the end. Without the binaries the
PostgreSQL tests are skipped with the reason (`.ci/run` and `make test` install Debian's
`postgresql` when it is missing); COP_TEST_POSTGRES=0 skips them on purpose.

In the modules of BOTH_BACKENDS (and of COP_PG_MODULES, a comma-separated list of module
names, for a try) every test that uses the `settings` fixture (and so `store`) runs twice,
`[sqlite]` and `[postgresql]`, except those marked `sqlite_only` or named in
SQLITE_ONLY (they look at the SQLite file itself: its locks, pages, PRAGMAs, damage). Each
PostgreSQL test gets a database of its own, created for it and dropped after it.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cop_widgets.settings import Settings

BOTH_BACKENDS = frozenset(
    {
        "test_db",
        "test_library_handbook",
        "test_reflections",
        "test_policy",
        "test_sessions",
        "test_discussions",
        "test_checkins",
        "test_review",
        "test_people",
        "test_person_export",
        "test_erasure",
        "test_retention",
        "test_backup",
        "test_data_commands",
        "test_person_tables",
        "test_faults",
        "test_transfer",
        "test_questions",
        # the reports' data (tests/reports/): read on each backend, the same figures
        "test_person_and_community_reports",
        "test_session_report",
        "test_value_stories_report",
    }
)
# Tests of those modules about SQLite itself (module name, test function name).
SQLITE_ONLY = frozenset(
    {
        ("test_db", "test_migrations_from_empty_create_every_table"),  # sqlite_master
        # the app's handbook button renders a PDF: once is enough (its data runs on both)
        ("test_library_handbook", "test_a_member_makes_the_handbook_in_the_library_app"),
        ("test_db", "test_twenty_processes_saving_at_once_lose_nothing"),  # see
        # tests/store/test_postgres.py for the PostgreSQL run of the many writers
        ("test_db", "test_store_locked_past_the_busy_timeout_says_not_saved_yet"),
        ("test_db", "test_a_writer_kept_at_the_gate_past_the_timeout_says_not_saved_yet"),
        ("test_db", "test_time_queued_at_the_gate_counts_against_the_busy_timeout"),
        ("test_db", "test_connection_settings_are_the_measured_ones"),  # PRAGMAs
        ("test_db", "test_a_new_store_has_the_discussion_session_link_once"),  # PRAGMAs;
        # tests/store/test_postgres.py looks at the same on PostgreSQL
        ("test_db", "test_store_file_is_private_to_its_owner_and_deletes_are_overwritten"),
        # the bytes of the file and its free pages (on PostgreSQL: tests/store/test_postgres.py)
        ("test_erasure", "test_erasure_leaves_no_row_and_no_byte_of_x"),
        ("test_erasure", "test_without_vacuum_an_older_version_can_survive"),
        ("test_retention", "test_retention_covers_every_class_of_personal_data"),  # triggers
        # expects SQLite's scrub keys (vacuumed, wal_truncated); retention on PostgreSQL:
        # tests/store/test_postgres.py
        ("test_retention", "test_retention_deletes_every_expired_row_and_no_other"),
        # `cop data backup` is SQLite's online backup (PostgreSQL: pg_dump)
        ("test_backup", "test_backup_is_a_checked_private_single_file_copy"),
        ("test_backup", "test_backup_while_another_process_writes_passes_integrity_check"),
        # `cop data ...` in a child process on the store in COP_DATA_DIR
        ("test_data_commands", "test_cli_export_writes_into_the_data_folder"),
        ("test_data_commands", "test_cli_erase_without_yes_changes_nothing"),
        ("test_data_commands", "test_cli_erase_with_yes_erases_and_removes_the_export"),
        ("test_data_commands", "test_cli_retain_reads_the_environment"),
        # SQLite's own crash, lock and full-disk behaviour (PostgreSQL's server going away:
        # tests/store/test_postgres.py)
        ("test_faults", "test_kill_9_of_writers_loses_no_confirmed_save"),
        ("test_faults", "test_full_disk_is_store_full_and_keeps_every_confirmed_save"),
        ("test_faults", "test_locked_store_is_store_busy_then_saves"),
        # Rendering itself (papermill, nbconvert, the PDF, the batch kernel), the same whatever
        # the store: on SQLite only. Each report's figures are rendered and checked against the
        # store on both (the other render tests of these modules), and its data on both.
        (
            "test_person_and_community_reports",
            "test_person_record_holds_only_their_entries_and_released_feedback",
        ),
        (
            "test_person_and_community_reports",
            "test_failed_render_names_the_cell_and_leaves_no_file",
        ),
        (
            "test_person_and_community_reports",
            "test_a_batch_runs_in_one_kernel_and_keeps_people_apart",
        ),
        ("test_session_report", "test_a_session_nobody_answered_gets_a_short_report"),
        ("test_session_report", "test_value_stories_are_counted_by_the_cycles_they_reach"),
    }
)

USER = "cop"
_names = itertools.count(1)


def postgres_bin() -> Path | None:
    """The folder with initdb and pg_ctl: COP_PG_BIN, else the newest of Debian's."""
    wanted = os.environ.get("COP_PG_BIN")
    found = [Path(wanted)] if wanted else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )  # fmt: skip
    for folder in found:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> list[str]:
    """The command prefix that drops root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            import pwd

            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run as")


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, on 127.0.0.1:<port>.

    For the tests (durable=False): in memory where there is /dev/shm, with fsync, synchronous
    commit and full-page writes off. The benchmarks (benchmarks/bench_backends.py) start it
    with durable=True: on disk in the system's temporary folder (as their SQLite file is), with
    PostgreSQL's own settings for those, as a deployment runs it."""

    def __init__(self, bindir: Path, durable: bool = False):
        self.bindir = bindir
        # in memory where there is /dev/shm: CREATE DATABASE then takes 35 ms instead of 400
        shm = Path("/dev/shm")
        memory = shm if not durable and shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="cop-pg-", dir=memory))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.prefix = _run_as()
        self._template: str | None = None
        if self.prefix:
            user = self.prefix[2]
            os.chmod(self.root, 0o755)  # noqa: S103 - the server's user must enter it
            shutil.chown(self.root, user)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.prefix:
            shutil.chown(pwfile, self.prefix[2])
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        # Sort text as SQLite does (C: by bytes); fast, throw-away settings for tests only.
        fast = ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self.options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=300",
                *([] if durable else fast),
            ]
        )
        self.start()

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        cmd = [*self.prefix, str(self.bindir / program), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{log}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self):
        """An autocommit psycopg connection to the `postgres` database (CREATE/DROP DATABASE)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, password=self.password,
            dbname="postgres", autocommit=True,
        )  # fmt: skip

    def create_database(self, migrated: bool = False) -> str:
        """A new, empty database; with migrated=True one at the newest schema version (a copy
        of a template migrated once per session: 35 ms instead of 400)."""
        name = f"cop_test_{os.getpid()}_{next(_names)}"
        template = f' TEMPLATE "{self._migrated_template()}"' if migrated else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return name

    def _migrated_template(self) -> str:
        if self._template is None:
            from cop_widgets.store import open_store

            name = self.create_database()
            open_store(Settings(Path(tempfile.gettempdir()), self.url(name), 5000)).dispose()
            self._template = name
        return self._template

    def drop_database(self, name: str) -> None:
        try:
            with self.admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:  # noqa: BLE001, S110 - the whole cluster goes at the session's end
            pass

    def close(self) -> None:
        try:
            self.stop("immediate")
        except Exception:  # noqa: BLE001, S110 - the folder is removed all the same
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _why_not() -> str | None:
    if os.environ.get("COP_TEST_POSTGRES", "1") == "0":
        return "COP_TEST_POSTGRES=0: the PostgreSQL runs are switched off"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]' (make test does)"
    if postgres_bin() is None:
        return (
            "PostgreSQL's initdb and pg_ctl were not found in /usr/lib/postgresql/*/bin (or "
            "COP_PG_BIN): install Debian's postgresql package (.ci/run and make test do)"
        )
    return None


@pytest.fixture(scope="session")
def postgres_server():
    """The test session's PostgreSQL server (skips the test when there is none)."""
    why = _why_not()
    if why:
        pytest.skip(why)
    server = PostgresServer(postgres_bin())
    yield server
    server.close()


@pytest.fixture
def pg_settings(postgres_server, data_dir, request) -> Settings:
    """Settings on a fresh PostgreSQL database of this test's own (dropped after it). A test
    that uses `store` gets it migrated already (open_store finds nothing to do); one that opens
    the store itself gets it empty (it may be about the migrations)."""
    name = postgres_server.create_database(migrated="store" in request.fixturenames)
    request.addfinalizer(lambda: postgres_server.drop_database(name))
    return Settings(data_dir, postgres_server.url(name), 5000)


def backend_settings(request, data_dir: Path) -> Settings:
    """The `settings` fixture's value for its backend parameter (default: SQLite)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("pg_settings")
    return Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000)


def parametrize_backends(metafunc) -> None:
    """Run a test of BOTH_BACKENDS that uses `settings` on SQLite and on PostgreSQL."""
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    more = {m.strip() for m in os.environ.get("COP_PG_MODULES", "").split(",") if m.strip()}
    if module not in BOTH_BACKENDS | more or "settings" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    if (module, metafunc.function.__name__) in SQLITE_ONLY:
        return
    metafunc.parametrize("settings", ["sqlite", "postgresql"], indirect=True)


def wait_for(predicate, timeout: float = 10.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()

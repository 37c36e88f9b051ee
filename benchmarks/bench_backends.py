"""Which store a benchmark runs on (shared by bench_saves.py and bench_review_queue.py):
`--backend sqlite|postgresql|both`, and a throw-away PostgreSQL cluster for the run.

The cluster is the tests' own (tests/pg.py, PostgresServer: Debian's initdb and pg_ctl from
/usr/lib/postgresql/<version>/bin or COP_PG_BIN, a free localhost port, password
authentication, dropped at the end), started with durable=True: on disk in the system's
temporary folder, as the SQLite file of the same run is, with PostgreSQL's own fsync and
commit settings, as a deployment runs it (the tests turn those off to be fast, and so does a
--smoke run, which only checks that the benchmark works).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BACKENDS = ("sqlite", "postgresql")
# Whether a smoke run (make bench-smoke) covers PostgreSQL as well when --backend is not given:
# only while that adds less than 15 s to the smoke runs of bench_saves and bench_review_queue.
SMOKE_ON_POSTGRES = True


def why_no_postgres() -> str | None:
    """Why PostgreSQL cannot be benchmarked here (None: it can)."""
    from tests.pg import postgres_bin

    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if postgres_bin() is None:
        return (
            "PostgreSQL's initdb and pg_ctl were not found in /usr/lib/postgresql/*/bin (or "
            "COP_PG_BIN): install Debian's postgresql package"
        )
    return None


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default=None,
        help="the store to run on (default: both when PostgreSQL's binaries are installed, "
        "else sqlite)",
    )


def chosen_backends(backend: str | None, smoke: bool = False) -> list[str]:
    """The stores to run on, in order. Without --backend: both when PostgreSQL can be
    started here (in a smoke run too while SMOKE_ON_POSTGRES), else SQLite with a printed
    note. Asking for PostgreSQL where it cannot start is an error (SystemExit with the
    reason)."""
    why = why_no_postgres()
    if backend is None:
        if smoke and not SMOKE_ON_POSTGRES:
            print("note: a smoke run is on SQLite only (--backend both adds PostgreSQL)")
            return ["sqlite"]
        if why:
            print(f"note: SQLite only, {why}")
            return ["sqlite"]
        return list(BACKENDS)
    wanted = list(BACKENDS) if backend == "both" else [backend]
    if "postgresql" in wanted and why:
        raise SystemExit(f"--backend {backend}: {why}")
    return wanted


@contextmanager
def postgres_cluster(backends: list[str], smoke: bool = False) -> Iterator[object | None]:
    """The run's PostgreSQL cluster (a tests.pg.PostgresServer) when it runs on PostgreSQL,
    else None; stopped and removed at the end, also on error. A smoke run, which only checks
    that the benchmark works, gets the tests' fast cluster (in memory, no fsync)."""
    if "postgresql" not in backends:
        yield None
        return
    from tests.pg import PostgresServer, postgres_bin

    bindir = postgres_bin()
    assert bindir is not None  # chosen_backends checked
    server = PostgresServer(bindir, durable=not smoke)
    try:
        yield server
    finally:
        server.close()


def database_url(backend: str, data_dir: Path, cluster) -> str:
    """A new, empty store for one run: a SQLite file in data_dir, or a new database in the
    cluster (dropped with it)."""
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'cop.sqlite'}"
    return cluster.url(cluster.create_database())

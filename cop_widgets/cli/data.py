"""`cop data ...`: export, erase, retention and backups of the shared store.

    cop data export --person X [--out DIR]     everything of one person's, JSON + one CSV per table
    cop data erase  --person X --yes           delete one person's data (without --yes: show counts)
    cop data retain [--now ISO] [--dry-run]    apply the COP_RETAIN_* periods (README, Data rights)
    cop data backup [--out DIR]                online backup of a SQLite store, integrity-checked
    cop data backup --every 1h --keep 48       ... on a schedule, keeping the newest 48 (until
                                               Ctrl-C or SIGTERM)
    cop data restore FILE [--force]            put a backup in place of the store (refused while
                                               a server uses it); the old files are moved aside
    cop data migrate --to URL [--force]        copy the whole store to another database (SQLite
                                               to PostgreSQL and back); a target that is not
                                               empty is refused, or with --force emptied first

X is a person id, a display name (any case) or hub:<user>. Output names people by id only.
Default folders are exports/ and backups/ inside COP_DATA_DIR. Errors are CopWidgetsError, which
`cop` turns into a message and exit status 2.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cop_widgets.errors import InvalidInput

# What an erasure or retention run on PostgreSQL leaves to the operator (README, PostgreSQL).
POSTGRES_SCRUB_NOTE = (
    "note: on PostgreSQL the deleted rows' bytes stay in the database's files until VACUUM FULL "
    "rewrites them (run `vacuumdb --full` on the store's database when it is quiet), and in its "
    "write-ahead log, replicas and backups until those expire."
)


def add_data_commands(subparsers) -> None:
    """Add `data` and its sub-commands to the `cop` parser's subparsers."""
    data = subparsers.add_parser(
        "data", help="export, erase, retention and backups of personal data"
    )
    dsub = data.add_subparsers(dest="data_command", required=True)

    export = dsub.add_parser("export", help="write everything of one person's as JSON and CSV")
    export.add_argument("--person", required=True, help="person id, display name or hub:<user>")
    export.add_argument("--out", type=Path, help="folder for exports (default: <data>/exports)")
    export.set_defaults(func=cmd_export)

    erase = dsub.add_parser("erase", help="delete one person's data from the store")
    erase.add_argument("--person", required=True, help="person id, display name or hub:<user>")
    erase.add_argument("--yes", action="store_true", help="really erase (without it: show counts)")
    erase.add_argument(
        "--exports", type=Path, help="export folder to clear of theirs (default: <data>/exports)"
    )
    erase.add_argument(
        "--reports", type=Path, help="folder of generated reports to check for them "
        "(default: the `cop report` folder)"
    )  # fmt: skip
    erase.add_argument(
        "--delete-reports", action="store_true", help="remove the reports that name them"
    )
    erase.set_defaults(func=cmd_erase)

    retain = dsub.add_parser(
        "retain", help="delete what is older than the COP_RETAIN_* settings (see README)"
    )
    retain.add_argument("--now", help="take this ISO 8601 time as now (tests, previews)")
    retain.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    retain.set_defaults(func=cmd_retain)

    bak = dsub.add_parser("backup", help="online backup of the SQLite store, integrity-checked")
    bak.add_argument("--out", type=Path, help="folder for backups (default: <data>/backups)")
    bak.add_argument(
        "--every", help="back up on a schedule, e.g. 1h, 30m, 1d (until Ctrl-C or SIGTERM)"
    )
    bak.add_argument(
        "--keep", type=int, help="with --every: keep the newest N backups in the folder"
    )
    bak.set_defaults(func=cmd_backup)

    res = dsub.add_parser(
        "restore", help="replace the store with a backup (the current files are moved aside)"
    )
    res.add_argument("file", type=Path, help="the backup file (e.g. data/backups/cop-....sqlite)")
    res.add_argument(
        "--force", action="store_true", help="restore even though a server seems to use the store"
    )
    res.set_defaults(func=cmd_restore)

    mig = dsub.add_parser(
        "migrate", help="copy the whole store to another database (SQLite <-> PostgreSQL)"
    )
    mig.add_argument(
        "--to", required=True, metavar="URL",
        help="the new store, e.g. postgresql://cop@db.example/cop or sqlite:////srv/cop/cop.sqlite",
    )  # fmt: skip
    mig.add_argument(
        "--force", action="store_true",
        help="the new store is not empty: delete everything in it first (in the same transaction)",
    )  # fmt: skip
    mig.set_defaults(func=cmd_migrate)


def _open():
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    return open_store(load_settings())


def _counts(counts: Mapping[str, int]) -> str:
    shown = [f"{name} {n}" for name, n in counts.items() if n]
    return ", ".join(shown) or "nothing"


def cmd_export(args) -> int:
    from cop_widgets.services import people, person_export

    store = _open()
    try:
        who = people.find_person(store, args.person)
        export = person_export.export_person(store, who.id)
        out = args.out or store.settings.data_dir / "exports"
        files = person_export.write_export(export, out)
    finally:
        store.dispose()
    rows = sum(len(r) for r in export["tables"].values())
    print(f"exported person {who.id}: {rows} rows in {len(files)} files to {files[0].parent}")
    return 0


def _erase_summary(counts: Mapping[str, int]) -> str:
    from cop_widgets.services.erasure import DISCUSSION_KEPT, OWNER_REPLACED

    rows = {
        k: v
        for k, v in counts.items()
        if k not in (DISCUSSION_KEPT, OWNER_REPLACED, "vacuumed", "wal_truncated")
    }
    text = _counts(rows)
    kept = counts.get(DISCUSSION_KEPT, 0)
    if kept:
        text += f"; {kept} discussion(s) others took part in kept, summary blanked"
    if counts.get(OWNER_REPLACED):
        text += f"; their name replaced as owner of {counts[OWNER_REPLACED]} action(s)"
    return text


def cmd_erase(args) -> int:
    from cop_widgets.services import erasure, people, person_export

    store = _open()
    try:
        who = people.find_person(store, args.person)
        if not args.yes:
            preview = erasure.erasure_preview(store, who.id)
            print(
                f"not erased: person {who.id} has {_erase_summary(preview)}. "
                "Nothing was changed; run again with --yes to erase.",
                file=sys.stderr,
            )
            return 1
        counts = erasure.erase_person(store, who.id)
        exports = args.exports or store.settings.data_dir / "exports"
        on_postgres = store.is_postgres
    finally:
        store.dispose()
    folder = person_export.export_folder(exports, who.id)
    removed = folder.is_dir()
    if removed:
        shutil.rmtree(folder)
    print(
        f"erased person {who.id}: {_erase_summary(counts)}"
        + (f"; removed {folder}" if removed else "")
    )
    reports = erasure.files_naming(args.reports or _default_reports(), who.id, who.display_name)
    for path in reports:
        if args.delete_reports:
            path.unlink()
        print(("removed report " if args.delete_reports else "report naming them: ") + str(path))
    if reports and not args.delete_reports:
        print(
            f"warning: {len(reports)} generated report(s) above still name this person; run "
            "again with --delete-reports to remove them, or remove them by hand.",
            file=sys.stderr,
        )
    if counts.get("vacuumed", 1) == 0 or counts.get("wal_truncated", 1) == 0:
        print(
            "warning: the store was busy, so deleted text may remain in its free pages or -wal "
            "file until the next erase or retention run; run `cop data retain` when it is quiet.",
            file=sys.stderr,
        )
    if on_postgres:
        print(POSTGRES_SCRUB_NOTE, file=sys.stderr)
    print("note: backups made before now still hold this person's data until they expire.")
    return 0


def _default_reports() -> Path:
    from cop_widgets.cli.report import DEFAULT_OUT

    return DEFAULT_OUT


def retention_days(env: Mapping[str, str] | None = None) -> dict[str, int | None]:
    """Retention class -> period from the environment (data_rights.RETENTION_CLASSES); unset
    means keep."""
    from cop_widgets.services.retention import RETENTION_CLASSES

    env = os.environ if env is None else env
    return {c.name: _days(env, c.env) for c in RETENTION_CLASSES}


def _days(env: Mapping[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        raise InvalidInput(
            name,
            f"{name} is {raw!r}; set it to a whole number of days (at least 1), or leave it "
            "unset to keep everything.",
        ) from None
    if days < 1:
        raise InvalidInput(
            name,
            f"{name} is {days}; it must be at least 1 day. Leave it unset to keep everything.",
        )
    return days


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "now", f"--now {text!r} is not an ISO 8601 time (e.g. 2026-05-01T09:00:00+00:00)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_retain(args) -> int:
    from cop_widgets.services import retention

    periods = retention_days()
    now = _parse_now(args.now)
    if all(days is None for days in periods.values()):
        names = ", ".join(c.env for c in retention.RETENTION_CLASSES)
        print(f"retention: none of {names} is set; everything is kept")
        return 0
    store = _open()
    try:
        counts = retention.apply_retention(store, periods, now, dry_run=args.dry_run)
        on_postgres = store.is_postgres
    finally:
        store.dispose()
    rows = {k: v for k, v in counts.items() if k not in ("vacuumed", "wal_truncated")}
    verb = "would change" if args.dry_run else "changed"
    kept = [retention.RETENTION[n].what for n, days in periods.items() if days is None]
    print(
        f"retention at {now.isoformat()}: {verb} {_counts(rows)}"
        + (f" (kept for ever: {'; '.join(kept)})" if kept else "")
    )
    if on_postgres and not args.dry_run and any(rows.values()):
        print(POSTGRES_SCRUB_NOTE, file=sys.stderr)
    return 0


def cmd_backup(args) -> int:
    if args.every is None:
        if args.keep is not None:
            raise InvalidInput("keep", "--keep works with --every (e.g. --every 1h --keep 48).")
        _backup_once(args.out)
        return 0
    return _backup_on_schedule(args.out, parse_every(args.every), args.keep)


def _backup_once(out: Path | None) -> Path:
    from cop_widgets.store import maintenance

    store = _open()
    try:
        path = maintenance.backup(store, out or store.settings.data_dir / "backups")
    finally:
        store.dispose()
    print(
        f"backup written and integrity-checked: {path} ({path.stat().st_size:,} bytes)", flush=True
    )
    return path


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """Seconds from '90s', '30m', '1h', '1d' (at least 1 second)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not found or float(found.group(1)) * _UNITS[found.group(2)] < 1:
        raise InvalidInput(
            "every", f"--every {text!r} is not a period; write e.g. 30m, 1h or 1d (s, m, h, d)."
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (cop-*.sqlite) in folder; return those deleted."""
    found = sorted(
        (p for p in folder.glob("cop-*.sqlite") if p.is_file()),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    old = found[: max(len(found) - keep, 0)]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _backup_on_schedule(out: Path | None, every: float, keep: int | None) -> int:
    """Back up now and then every `every` seconds; Ctrl-C or SIGTERM stops it between backups
    (a backup under way is finished first). A failed round is reported and the next one runs."""
    from cop_widgets.errors import CopWidgetsError
    from cop_widgets.settings import load_settings

    if keep is not None and keep < 1:
        raise InvalidInput("keep", f"--keep {keep}: keep at least 1 backup.")
    folder = out or load_settings().data_dir / "backups"
    stop = threading.Event()

    def ask_to_stop(signum, _frame):
        stop.set()

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"backing up every {every:g} s to {folder}"
        + (f", keeping the newest {keep}" if keep else "")
        + "; Ctrl-C or SIGTERM stops",
        flush=True,
    )
    failures = 0
    try:
        while not stop.is_set():
            try:
                _backup_once(folder)
                if keep:
                    for gone in prune_backups(folder, keep):
                        print(f"removed old backup {gone}", flush=True)
            except CopWidgetsError as exc:
                failures += 1
                print(f"cop: backup failed, trying again in {every:g} s: {exc}", file=sys.stderr,
                      flush=True)  # fmt: skip
            stop.wait(every)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"backups stopped ({failures} failed)", flush=True)
    return 0


def cmd_restore(args) -> int:
    from sqlalchemy.engine import make_url

    from cop_widgets.settings import load_settings
    from cop_widgets.store.maintenance import restore

    url = make_url(load_settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise InvalidInput(
            "store", "cop data restore restores SQLite stores only; use the database's own tools."
        )
    done = restore(url.database, args.file, force=args.force)
    for aside in done.moved_aside:
        print(f"moved aside: {aside}")
    print(
        f"restored {done.backup} (schema version {done.schema_version}) to {done.store}; "
        "integrity checked. Start the servers again."
    )
    return 0


def cmd_migrate(args) -> int:
    """Copy the configured store to --to (store/transfer.py), with a progress bar on stderr."""
    from dataclasses import replace

    from tqdm import tqdm

    from cop_widgets.errors import StoreUnavailable
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store, transfer

    settings = load_settings()
    source_url, target_url = settings.database_url, args.to
    for name, url in (("COP_DATABASE_URL", source_url), ("--to", target_url)):
        if not transfer.usable_url(url):
            raise InvalidInput(
                "to" if name == "--to" else "store",
                f"{name} is not a database URL; write e.g. postgresql://user:password@host/cop "
                "or sqlite:////srv/cop/cop.sqlite. Nothing was changed.",
            )
    if transfer.same_store(source_url, target_url):
        raise InvalidInput(
            "to",
            f"--to names the store itself ({transfer.describe(target_url)}); "
            "give another database.",
        )
    for what, url in (("store", source_url), ("target", target_url)):
        busy = transfer.in_use(url)
        if busy:
            raise StoreUnavailable(
                f"Not copied: the {what} {transfer.describe(url)} is in use ({busy}). "
                "Stop `cop serve` and `cop review` (and any other program using it) first. "
                "Nothing was changed."
            )
    source = open_store(settings)
    try:
        target = open_store(replace(settings, database_url=target_url))
        try:
            tables = transfer.check_target(source, target, replace=args.force)
            total = sum(transfer.row_counts(source, tables).values())
            with tqdm(total=total, unit=" rows", file=sys.stderr, desc="copying") as bar:

                def step(table: str, rows: int) -> None:
                    bar.set_postfix_str(table, refresh=False)
                    bar.update(rows)

                done = transfer.copy_store(source, target, replace=args.force, progress=step)
        finally:
            target.dispose()
    finally:
        source.dispose()
    print(
        f"copied {done.total:,} rows of {len(done.rows)} tables from {source.url} to "
        f"{target.url} (schema version {done.schema_version}). Set COP_DATABASE_URL to the new "
        "store, then start the servers again."
    )
    return 0

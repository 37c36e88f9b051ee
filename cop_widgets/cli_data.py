"""`cop data ...`: export, erase, retention and backups of the shared store.

    cop data export --person X [--out DIR]     everything of one person's, JSON + one CSV per table
    cop data erase  --person X --yes           delete one person's data (without --yes: show counts)
    cop data retain [--now ISO] [--dry-run]    apply COP_RETAIN_REFLECTIONS_DAYS and
                                               COP_RETAIN_DISCUSSION_NOTES_DAYS
    cop data backup [--out DIR]                online backup of a SQLite store, integrity-checked

X is a person id, a display name (any case) or hub:<user>. Output names people by id only.
Default folders are exports/ and backups/ inside COP_DATA_DIR. Errors are CopWidgetsError, which
`cop` turns into a message and exit status 2.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from .errors import InvalidInput

RETAIN_REFLECTIONS_ENV = "COP_RETAIN_REFLECTIONS_DAYS"
RETAIN_NOTES_ENV = "COP_RETAIN_DISCUSSION_NOTES_DAYS"


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
    erase.set_defaults(func=cmd_erase)

    retain = dsub.add_parser(
        "retain", help=f"delete what is older than {RETAIN_REFLECTIONS_ENV} / {RETAIN_NOTES_ENV}"
    )
    retain.add_argument("--now", help="take this ISO 8601 time as now (tests, previews)")
    retain.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    retain.set_defaults(func=cmd_retain)

    bak = dsub.add_parser("backup", help="online backup of the SQLite store, integrity-checked")
    bak.add_argument("--out", type=Path, help="folder for backups (default: <data>/backups)")
    bak.set_defaults(func=cmd_backup)


def _open():
    from .settings import load_settings
    from .store import open_store

    return open_store(load_settings())


def _counts(counts: Mapping[str, int]) -> str:
    shown = [f"{name} {n}" for name, n in counts.items() if n]
    return ", ".join(shown) or "nothing"


def cmd_export(args) -> int:
    from .services import data_rights as DR

    store = _open()
    try:
        who = DR.find_person(store, args.person)
        export = DR.export_person(store, who.id)
        out = args.out or store.settings.data_dir / "exports"
        files = DR.write_export(export, out)
    finally:
        store.dispose()
    rows = sum(len(r) for r in export["tables"].values())
    print(f"exported person {who.id}: {rows} rows in {len(files)} files to {files[0].parent}")
    return 0


def _erase_summary(counts: Mapping[str, int]) -> str:
    from .services.data_rights import DISCUSSION_KEPT

    rows = {
        k: v for k, v in counts.items() if k not in (DISCUSSION_KEPT, "vacuumed", "wal_truncated")
    }
    text = _counts(rows)
    kept = counts.get(DISCUSSION_KEPT, 0)
    if kept:
        text += f"; {kept} discussion(s) others took part in kept, summary blanked"
    return text


def cmd_erase(args) -> int:
    from .services import data_rights as DR

    store = _open()
    try:
        who = DR.find_person(store, args.person)
        if not args.yes:
            preview = DR.erasure_preview(store, who.id)
            print(
                f"not erased: person {who.id} has {_erase_summary(preview)}. "
                "Nothing was changed; run again with --yes to erase.",
                file=sys.stderr,
            )
            return 1
        counts = DR.erase_person(store, who.id)
        exports = args.exports or store.settings.data_dir / "exports"
    finally:
        store.dispose()
    folder = DR.export_folder(exports, who.id)
    removed = folder.is_dir()
    if removed:
        shutil.rmtree(folder)
    print(
        f"erased person {who.id}: {_erase_summary(counts)}"
        + (f"; removed {folder}" if removed else "")
    )
    if counts.get("vacuumed", 1) == 0 or counts.get("wal_truncated", 1) == 0:
        print(
            "warning: the store was busy, so deleted text may remain in its free pages or -wal "
            "file until the next erase or retention run; run `cop data retain` when it is quiet.",
            file=sys.stderr,
        )
    print("note: backups made before now still hold this person's data until they expire.")
    return 0


def retention_days(env: Mapping[str, str] | None = None) -> tuple[int | None, int | None]:
    """(reflection days, discussion note days) from the environment; unset means keep."""
    env = os.environ if env is None else env
    return _days(env, RETAIN_REFLECTIONS_ENV), _days(env, RETAIN_NOTES_ENV)


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
    from .services import data_rights as DR

    reflections_days, notes_days = retention_days()
    now = _parse_now(args.now)
    if reflections_days is None and notes_days is None:
        print(
            f"retention: neither {RETAIN_REFLECTIONS_ENV} nor {RETAIN_NOTES_ENV} is set; "
            "everything is kept"
        )
        return 0
    store = _open()
    try:
        counts = DR.apply_retention(store, reflections_days, notes_days, now, dry_run=args.dry_run)
    finally:
        store.dispose()
    rows = {k: v for k, v in counts.items() if k in DR.RETENTION_TABLES}
    verb = "would delete" if args.dry_run else "deleted"
    periods = ", ".join(
        f"{what} {f'{days} days' if days else 'kept'}"
        for what, days in (("reflections", reflections_days), ("discussion notes", notes_days))
    )
    print(f"retention at {now.isoformat()} ({periods}): {verb} {_counts(rows)}")
    return 0


def cmd_backup(args) -> int:
    from .services import data_rights as DR

    store = _open()
    try:
        out = args.out or store.settings.data_dir / "backups"
        path = DR.backup(store, out)
    finally:
        store.dispose()
    print(f"backup written and integrity-checked: {path} ({path.stat().st_size:,} bytes)")
    return 0

"""A person's data, exported: every row of their own and nothing written by anyone else
(other people appear only as ids), as JSON and CSV files or one ZIP from their own page
(RELIABILITY.md §4). CSV cells that a spreadsheet would run as a formula are neutralised."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    select,
)

from cop_widgets.errors import InvalidInput, NotAllowed
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.services.person_tables import (
    PERSON_TABLES,
    ownership,
    person_row,
    table_named,
)
from cop_widgets.store import Store, migrations, schema
from cop_widgets.store.db import utc_now

EXPORT_FORMAT = "cop-workbook-export"


EXPORT_FORMAT_VERSION = 1


EXPORT_JSON = "export.json"


_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# Secrets' hashes are not the person's data to take away: exports show that they exist only.
_NOT_EXPORTED = {"token_hash", "hash"}


def _exported(value: Any) -> Any:
    # an attachment's bytes: base64 text, so that export.json and the CSV files hold them
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(value).decode("ascii")
    return value


def export_person(store: Store, person_id: str, actor_id: str | None = None) -> dict[str, Any]:
    """Everything of this person's, as plain JSON-ready values: ``{"tables": {name: [row]}}``.

    The export is audited ("person_exported", by `actor_id`: None for the operator's command);
    the audit rows in it are those where the person is the actor, read before that event is
    written.
    """
    with store.read() as conn:
        row = person_row(conn, person_id)
        where = ownership(conn, row)
        tables: dict[str, list[dict[str, Any]]] = {}
        for name in PERSON_TABLES:
            table = table_named(name)
            rows = conn.execute(
                select(table).where(where[name]).order_by(*table.primary_key.columns)
            ).all()
            tables[name] = [
                {k: _exported(v) for k, v in r._mapping.items() if k not in _NOT_EXPORTED}
                for r in rows
            ]
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=actor_id,
            action="person_exported",
            target_kind="person",
            target_id=person_id,
        )
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "schema_version": migrations.LATEST,
        "person_id": person_id,
        "exported_at": utc_now(),
        "tables": tables,
    }


def export_columns(name: str, rows: list[dict[str, Any]]) -> list[str]:
    """CSV header for one table of an export: the schema's column order."""
    if name in schema.metadata.tables:
        return [c.name for c in table_named(name).columns if c.name not in _NOT_EXPORTED]
    return sorted({k for r in rows for k in r})


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), replacing any earlier one atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell a spreadsheet shows as text: a leading apostrophe before text
    that would start a formula (OWASP). export.json keeps every value exactly."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_bytes(header: list[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_cell(v) for k, v in r.items()})
    return buf.getvalue().encode("utf-8")


def export_folder(out_dir: Path | str, person_id: str) -> Path:
    """The folder in `out_dir` for a person's export (named by their id, which is checked
    to be a safe folder name)."""
    if not _SAFE_FOLDER.match(person_id or ""):
        raise InvalidInput("person", f"{person_id!r} cannot be used as a folder name.")
    return Path(out_dir) / person_id


def export_files(export: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of an export: ``export.json``, then one ``<table>.csv`` per table.

    UTF-8 without escaping, keys sorted. export.json keeps every value byte for byte; in the
    CSV files a text that a spreadsheet would run as a formula (starting with = + - @, a tab or
    a carriage return) gets a leading apostrophe.
    """
    body = json.dumps(export, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    files = [(EXPORT_JSON, body.encode("utf-8"))]
    for name, rows in sorted(export["tables"].items()):
        files.append((f"{name}.csv", _csv_bytes(export_columns(name, rows), rows)))
    return files


def write_export(export: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """Write ``<out_dir>/<person id>/`` with export_files(export): files mode 0600 in a folder
    mode 0700."""
    folder = export_folder(out_dir, export["person_id"])
    Path(out_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    written: list[Path] = []
    for name, data in export_files(export):
        path = folder / name
        _write_private(path, data)
        written.append(path)
    return written


def export_my_data(store: Store, who: Person | None, person_id: str | None = None) -> bytes:
    """A zip (in memory, nothing written to disk) of everything of `who`'s own: the same
    files as `cop data export`. Policy "person.export": a person's own data only (person_id
    defaults to theirs; anyone else's is refused and audited)."""
    target = person_id if person_id is not None else (who.id if who else None)
    policy.require(store, who, "person.export", target)
    if who is None or target is None:  # never: require() has refused both, and audited it
        raise NotAllowed(policy.RULES["person.export"].action)
    export = export_person(store, target, actor_id=who.id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in export_files(export):
            archive.writestr(name, data)
    return buffer.getvalue()

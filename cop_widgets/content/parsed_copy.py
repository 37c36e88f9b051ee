"""The content files already parsed, written by the server for its kernels: a participant's
kernel then reads the frameworks, protocols, session items and library topics without importing
yaml (0.9 MiB in each kernel, 30 kernels in a room).

The server writes the copy when it starts (`write_for_settings`, to
<data_dir>/.cache/parsed-content.json) and names it in COP_PARSED_CONTENT for the kernels it
starts. content.yaml_files.read_yaml takes a file's data from it (`lookup`) only while the file
has the modification time and size it had when the copy read it: an edited file is parsed
again, never stale. A file whose data JSON cannot carry exactly (a date, a number as a key) or
that does not parse is left out, and read as before. A copy that is missing, unreadable or
broken is ignored.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from cop_widgets.errors import DataFileError
from cop_widgets.settings import Settings

ENV_VAR = "COP_PARSED_CONTENT"
CACHE_DIR = ".cache"
COPY_NAME = "parsed-content.json"
COPY_FORMAT = 1
# like the other files the server writes in the data folder: its owner and group read them
FILE_MODE = 0o640
DIR_MODE = 0o750
# lookup's answer when the copy does not hold a file as it is now
MISSING = object()


def content_sources(settings: Settings) -> tuple[Path, ...]:
    """What the apps read from the data folder: the frameworks, protocols and check-in and
    check-out item folders, and the library's topic list."""
    from cop_widgets.content.library_topics import TOPICS_FILE

    data = settings.data_dir
    return (
        settings.frameworks_dir,
        settings.protocols_dir,
        data / "session_items",
        data / TOPICS_FILE,
    )


def copy_path(settings: Settings) -> Path:
    return settings.data_dir / CACHE_DIR / COPY_NAME


def write_for_settings(settings: Settings) -> Path:
    """Write the copy of every content file the apps read; returns where it is."""
    return write_parsed_copy(content_sources(settings), copy_path(settings))


def write_parsed_copy(sources: Iterable[Path], dest: Path) -> Path:
    """Parse every *.yaml in `sources` (folders; a file stands for itself) and write their data
    to `dest` in one step (a temporary file beside it, then renamed). Returns `dest`."""
    from cop_widgets.content.yaml_files import read_yaml  # it reads this module first

    files: dict[str, dict[str, object]] = {}
    for path in _yaml_files(sources):
        try:
            before = path.stat()
            data = read_yaml(path)
            after = path.stat()
        except (OSError, DataFileError):
            continue  # a kernel reads it itself, and says what is wrong with it
        if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
            continue  # changed while it was read
        text = _as_json(data)
        if text is not None:
            key = str(path.resolve())
            files[key] = {"mtime_ns": before.st_mtime_ns, "size": before.st_size, "json": text}
    payload = json.dumps({"format": COPY_FORMAT, "files": files}, ensure_ascii=False)
    _write_atomically(dest, payload.encode("utf-8"))
    return dest


def lookup(path: Path, stat: os.stat_result) -> object:
    """The data of the file at `path` (whose stat is `stat`) from the copy COP_PARSED_CONTENT
    names, as new objects; MISSING when there is no copy, it does not hold the file, or the
    file changed since the copy read it."""
    named = os.environ.get(ENV_VAR)
    if not named:
        return MISSING
    try:
        entry = _read_copy(named).get(str(path.resolve()))
        if (
            isinstance(entry, dict)
            and entry.get("mtime_ns") == stat.st_mtime_ns
            and entry.get("size") == stat.st_size
            and isinstance(entry.get("json"), str)
        ):
            return json.loads(entry["json"])
    except Exception:  # noqa: BLE001 - any problem with the copy: parse the file instead
        return MISSING
    return MISSING


@functools.lru_cache(maxsize=4)
def _read_copy(named: str) -> dict:
    """The copy's entries by file, read once per process (the entries say when they are stale);
    {} when it is missing or broken."""
    try:
        with open(named, encoding="utf-8") as fh:
            copy = json.load(fh)
    except Exception:  # noqa: BLE001 - unreadable, not JSON, nested too deep: no copy
        return {}
    if not isinstance(copy, dict) or copy.get("format") != COPY_FORMAT:
        return {}
    files = copy.get("files")
    return files if isinstance(files, dict) else {}


def _yaml_files(sources: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found += sorted(source.glob("*.yaml"))
        elif source.is_file():
            found.append(source)
    return found


def _as_json(data: object) -> str | None:
    """The data as JSON text, or None when JSON would not give back exactly the same (a date,
    a key that is a number or true/false)."""
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        same = json.loads(text) == data
    except (TypeError, ValueError, RecursionError):
        return None
    return text if same else None


def _write_atomically(dest: Path, payload: bytes) -> None:
    import tempfile  # the server's, not a kernel's

    dest.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

"""Reading content files safely, shared by every kind of content in data/.

YAML is read with a safe loader that also refuses duplicate keys and deep nesting
(content/_yaml_parse.py, imported only when a file must be parsed: a kernel takes an unchanged
file from the server's parsed copy, content/parsed_copy.py); every broken rule is reported with
the file, the field path and the rule (``FieldChecker``); a folder of files yields the good ones
and one error per bad file (``load_folder``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from cop_widgets.content import parsed_copy
from cop_widgets.errors import DataFileError, SchemaVersionError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
STAGE_ID_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAX_FILE_BYTES = 256 * 1024
MAX_NESTING = 64


class _Named(Protocol):
    """What every content file loads into: an id (unique in its folder) and a name to sort by."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


# What a folder holds: frameworks, protocols (each with an id and a name)
Loaded = TypeVar("Loaded", bound=_Named)


def read_yaml(path: Path) -> object:
    """Parse one YAML file safely; any failure is a DataFileError naming the file and line.
    An unchanged file that the server's parsed copy holds is taken from it instead, without
    importing yaml (content/parsed_copy.py)."""
    try:
        stat = path.stat()
        if stat.st_size > MAX_FILE_BYTES:
            raise DataFileError(path, "(file)", f"is larger than {MAX_FILE_BYTES // 1024} KiB")
        parsed = parsed_copy.lookup(path, stat)
        if parsed is not parsed_copy.MISSING:
            return parsed
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, "(file)", f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataFileError(path, "(file)", f"cannot be read: {exc.strerror}") from None
    from cop_widgets.content._yaml_parse import parse  # yaml: only when a file is parsed here

    return parse(text, path)


class FieldChecker:
    """Reads fields from a parsed mapping, raising DataFileError with the field path."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, rule: str) -> DataFileError:
        return DataFileError(self.path, field, rule)

    def mapping(self, value: object, field: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(field, f"must be a mapping (key: value), found {_kind(value)}")
        return value

    def top_level(self, value: object, schema_version: int) -> dict:
        """The file's top level: a mapping that names this `schema_version` (a file without
        one is refused as incomplete, one naming another with SchemaVersionError)."""
        data = self.mapping(value, "(top level)")
        if "schema_version" not in data:
            raise self.fail("schema_version", "is required")
        if data["schema_version"] != schema_version:
            raise SchemaVersionError(self.path, data["schema_version"], schema_version)
        return data

    def known_keys(self, data: dict, field: str, required: set[str], optional: set[str]):
        for key in required:
            if key not in data:
                raise self.fail(f"{field}{key}", "is required")
        for key in data:
            if key not in required | optional:
                raise self.fail(
                    f"{field}{key}",
                    f"is not a known field (known: {', '.join(sorted(required | optional))})",
                )

    def text(self, value: object, field: str, max_len: int = 2000) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, f"must be non-empty text, found {_kind(value)}")
        if len(value) > max_len:
            raise self.fail(field, f"must be at most {max_len} characters")
        return value.strip()

    def whole(self, value: object, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be a whole number, found {_kind(value)}")
        if not low <= value <= high:
            raise self.fail(field, f"must be between {low} and {high}, found {value}")
        return value

    def ident(self, value: object, field: str, pattern: re.Pattern) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise self.fail(field, f"must match {pattern.pattern}, found {value!r}")
        return value


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


@dataclass(frozen=True)
class Catalogue(Generic[Loaded]):
    """What a folder of content files yielded: the good ones, sorted by name, and one error per
    bad file. The same for frameworks and protocols."""

    items: tuple[Loaded, ...]
    problems: tuple[DataFileError, ...]

    def get(self, item_id: str) -> Loaded | None:
        return next((i for i in self.items if i.id == item_id), None)

    def name_of(self, item_id: str) -> str:
        """The item's name, or its id when its file is not loaded (removed, or broken)."""
        found = self.get(item_id)
        return found.name if found is not None else item_id


def load_catalogue(folder: Path | str, load_one: Callable[[Path], Loaded], kind: str) -> Catalogue:
    """load_folder, as a Catalogue."""
    good, problems = load_folder(folder, load_one, kind)
    return Catalogue(tuple(good), tuple(problems))


def load_folder(folder: Path | str, load_one, kind: str) -> tuple[list, list[DataFileError]]:
    """Load every *.yaml in folder with load_one; a bad file or a repeated id is reported,
    never fatal for the others. Returns (loaded, sorted by name; problems)."""
    folder = Path(folder)
    good: list = []
    problems: list[DataFileError] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            loaded = load_one(path)
        except DataFileError as exc:
            problems.append(exc)
            continue
        if any(g.id == loaded.id for g in good):
            problems.append(
                DataFileError(path, "id", f"{loaded.id!r} is already used by another file")
            )
            continue
        good.append(loaded)
    if not good and not problems:
        problems.append(DataFileError(folder, "(folder)", f"holds no {kind} files (*.yaml)"))
    return sorted(good, key=lambda g: g.name.lower()), problems

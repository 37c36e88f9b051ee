"""Reading content files safely, shared by every kind of content in data/.

YAML is read with a safe loader that also refuses duplicate keys and deep nesting; every broken
rule is reported with the file, the field path and the rule (``FieldChecker``); a folder of
files yields the good ones and one error per bad file (``load_folder``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import yaml

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


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool | type(None)):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain word or number", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)

_OPENS = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken, yaml.BlockMappingStartToken,
          yaml.BlockSequenceStartToken)  # fmt: skip
_CLOSES = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)


def _check_nesting(text: str, path: Path) -> None:
    """Refuse nesting deeper than MAX_NESTING from the token stream (no recursion), before the
    recursive parser spends seconds on a file like "[[[[...]]]]" (measured: 2-3 s at 20,000)."""
    depth = 0
    for token in yaml.scan(text, Loader=_StrictSafeLoader):
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_NESTING:
                mark = token.start_mark
                raise DataFileError(
                    path,
                    "(yaml)",
                    f"is nested more than {MAX_NESTING} levels deep at line {mark.line + 1}, "
                    f"column {mark.column + 1}",
                )
        elif isinstance(token, _CLOSES):
            depth -= 1


def read_yaml(path: Path) -> object:
    """Parse one YAML file safely; any failure is a DataFileError naming the file and line."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DataFileError(path, "(file)", f"is larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, "(file)", f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataFileError(path, "(file)", f"cannot be read: {exc.strerror}") from None
    try:
        _check_nesting(text, path)
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - strict *safe* loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise DataFileError(path, "(yaml)", f"{exc.problem or exc.context} at {where}") from None
    except yaml.YAMLError as exc:
        raise DataFileError(path, "(yaml)", str(exc)) from None
    except RecursionError:
        raise DataFileError(path, "(yaml)", "is nested too deeply") from None


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

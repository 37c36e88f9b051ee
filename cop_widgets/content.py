"""Loads and validates content files in data/ (reflective frameworks) into typed objects.

Adding a framework is adding a YAML file; nothing here names one. Files are read with a safe
loader that also refuses duplicate keys, and every rule broken is reported with the file,
the field path and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from cop_widgets.errors import DataFileError, SchemaVersionError

FRAMEWORK_SCHEMA_VERSION = 1
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
STAGE_ID_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    minutes: int
    prompts: tuple[str, ...]
    hint: str = ""


@dataclass(frozen=True)
class Framework:
    id: str
    version: int
    name: str
    summary: str
    source: str
    suggested_total_minutes: int
    stages: tuple[Stage, ...]
    path: str

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)


@dataclass(frozen=True)
class Catalogue:
    """What a folder of framework files yielded: the good ones and one error per bad file."""

    frameworks: tuple[Framework, ...]
    problems: tuple[DataFileError, ...]

    def get(self, framework_id: str) -> Framework | None:
        return next((f for f in self.frameworks if f.id == framework_id), None)


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


MAX_NESTING = 64
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


def parse_framework(data: object, path: Path) -> Framework:
    """Validate parsed YAML as a framework; raise DataFileError at the first broken rule."""
    check = FieldChecker(path)
    data = check.mapping(data, "(top level)")
    if "schema_version" not in data:
        raise check.fail("schema_version", "is required")
    if data["schema_version"] != FRAMEWORK_SCHEMA_VERSION:
        raise SchemaVersionError(path, data["schema_version"], FRAMEWORK_SCHEMA_VERSION)
    check.known_keys(
        data,
        "",
        {"schema_version", "id", "version", "name", "source", "steps"},
        {"summary", "suggested_total_minutes"},
    )
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise check.fail("steps", "must be a non-empty list of stages")
    if len(steps) > 20:
        raise check.fail("steps", "must have at most 20 stages")
    stages: list[Stage] = []
    for i, raw in enumerate(steps):
        where = f"steps[{i}]."
        step = check.mapping(raw, f"steps[{i}]")
        check.known_keys(step, where, {"id", "label", "minutes", "prompts"}, {"hint"})
        stage_id = check.ident(step["id"], where + "id", STAGE_ID_PATTERN)
        if any(s.id == stage_id for s in stages):
            raise check.fail(where + "id", f"duplicates stage id {stage_id!r}; ids must be unique")
        prompts = step["prompts"]
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= 6:
            raise check.fail(where + "prompts", "must be a list of 1 to 6 prompts")
        stages.append(
            Stage(
                id=stage_id,
                label=check.text(step["label"], where + "label", 80),
                minutes=check.whole(step["minutes"], where + "minutes", 1, 120),
                prompts=tuple(
                    check.text(p, f"{where}prompts[{j}]", 500) for j, p in enumerate(prompts)
                ),
                hint=check.text(step["hint"], where + "hint", 500) if "hint" in step else "",
            )
        )
    total = sum(s.minutes for s in stages)
    return Framework(
        id=check.ident(data["id"], "id", ID_PATTERN),
        version=check.whole(data["version"], "version", 1, 10_000),
        name=check.text(data["name"], "name", 120),
        summary=check.text(data["summary"], "summary") if "summary" in data else "",
        source=check.text(data["source"], "source"),
        suggested_total_minutes=(
            check.whole(data["suggested_total_minutes"], "suggested_total_minutes", 1, 600)
            if "suggested_total_minutes" in data
            else total
        ),
        stages=tuple(stages),
        path=str(path),
    )


def load_framework(path: Path | str) -> Framework:
    path = Path(path)
    return parse_framework(read_yaml(path), path)


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


def load_frameworks(folder: Path | str) -> Catalogue:
    good, problems = load_folder(folder, load_framework, "framework")
    return Catalogue(tuple(good), tuple(problems))

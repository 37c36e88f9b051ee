"""The YAML parse behind content.yaml_files.read_yaml: a safe loader that also refuses duplicate
keys and deep nesting, its failures as DataFileError naming the file and the line.

Imported only when a file must be parsed: a participant's kernel that finds the file in the
server's parsed copy (content/parsed_copy.py) never imports yaml (0.9 MiB in each kernel).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cop_widgets.content.yaml_files import MAX_NESTING
from cop_widgets.errors import DataFileError


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


def parse(text: str, path: Path) -> object:
    """Parse one file's text (already read and decoded); any failure is a DataFileError."""
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

"""Loads and validates content files in data/ (reflective frameworks) into typed objects.

Adding a framework is adding a YAML file; nothing here names one. Files are read with a safe
loader that also refuses duplicate keys, and every rule broken is reported with the file,
the field path and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cop_widgets.content.yaml_files import (
    ID_PATTERN,
    STAGE_ID_PATTERN,
    Catalogue,
    FieldChecker,
    load_catalogue,
    read_yaml,
)

FRAMEWORK_SCHEMA_VERSION = 1


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


def parse_framework(data: object, path: Path) -> Framework:
    """Validate parsed YAML as a framework; raise DataFileError at the first broken rule."""
    check = FieldChecker(path)
    data = check.top_level(data, FRAMEWORK_SCHEMA_VERSION)
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


def load_frameworks(folder: Path | str) -> Catalogue[Framework]:
    """Every framework file in folder: the good ones, and one error per bad file."""
    return load_catalogue(folder, load_framework, "framework")

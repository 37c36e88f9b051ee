"""Loads and validates group case-discussion protocols (data/protocols/*.yaml) into typed objects.

A protocol is a timed sequence of phases run by people in named roles (presenter, facilitator,
note-taker ...). Adding a protocol is adding a YAML file; nothing here names one. Files are read
with the same strict safe loader as the reflective frameworks (content.read_yaml) and every rule
broken is reported with the file, the field path (e.g. ``phases[2].minutes``) and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cop_widgets.content.yaml_files import (
    ID_PATTERN,
    Catalogue,
    FieldChecker,
    load_catalogue,
    read_yaml,
)
from cop_widgets.content.yaml_files import STAGE_ID_PATTERN as KEY_PATTERN

PROTOCOL_SCHEMA_VERSION = 1

#: Phase speakers that are not role ids: everyone, or everyone except the presenter.
SPEAKER_ALL = "all"
SPEAKER_GROUP = "group"
RESERVED_SPEAKERS = frozenset({SPEAKER_ALL, SPEAKER_GROUP})

MAX_ROLES = 12
MAX_PHASES = 40
MAX_GROUND_RULES = 12
MAX_SOURCES = 12
MAX_COLUMNS = 6
MAX_PROMPTS = 6
SCALE_LIMITS = (0, 100)


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    instructions: str


@dataclass(frozen=True)
class Scale:
    """A rating each participant gives during a phase (e.g. a 0-10 safety scale)."""

    min: int
    max: int
    question: str
    low_label: str = ""
    high_label: str = ""


@dataclass(frozen=True)
class Column:
    """A named column the notes of a phase are sorted into (e.g. worries / working well)."""

    id: str
    label: str


@dataclass(frozen=True)
class Phase:
    id: str
    label: str
    minutes: int
    speaker: str  # a role id of the protocol, SPEAKER_ALL or SPEAKER_GROUP
    prompts: tuple[str, ...]
    notes: bool = True
    # The notes of an insight phase are the group's agreed learning: the only discussion notes
    # a session report carries out of the room (the case itself stays in it).
    insight: bool = False
    scale: Scale | None = None
    columns: tuple[Column, ...] = ()

    @property
    def presenter_silent(self) -> bool:
        """True when the group talks among itself and the presenter only listens."""
        return self.speaker == SPEAKER_GROUP


@dataclass(frozen=True)
class Protocol:
    id: str
    version: int
    name: str
    summary: str
    roles: tuple[Role, ...]
    ground_rules: tuple[str, ...]
    phases: tuple[Phase, ...]
    sources: tuple[str, ...]
    path: str
    group_size: tuple[int, int] | None = None  # (min, max) people, when the file gives one

    @property
    def total_minutes(self) -> int:
        return sum(p.minutes for p in self.phases)

    def phase(self, phase_id: str) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(phase_id)

    def role(self, role_id: str) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(role_id)


def _items(check: FieldChecker, value: object, field: str, low: int, high: int, what: str) -> list:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise check.fail(field, f"must be a list of {low} to {high} {what}")
    return value


def _texts(check: FieldChecker, value: object, field: str, high: int, what: str, max_len: int):
    items = _items(check, value, field, 1, high, what)
    return tuple(check.text(v, f"{field}[{i}]", max_len) for i, v in enumerate(items))


def _group_size(check: FieldChecker, value: object) -> tuple[int, int]:
    data = check.mapping(value, "group_size")
    check.known_keys(data, "group_size.", {"min", "max"}, set())
    low = check.whole(data["min"], "group_size.min", 1, 200)
    high = check.whole(data["max"], "group_size.max", 1, 200)
    if low > high:
        raise check.fail("group_size.max", f"must not be less than min ({low}), found {high}")
    return low, high


def _roles(check: FieldChecker, value: object) -> tuple[Role, ...]:
    roles: list[Role] = []
    for i, raw in enumerate(_items(check, value, "roles", 1, MAX_ROLES, "roles")):
        where = f"roles[{i}]."
        data = check.mapping(raw, f"roles[{i}]")
        check.known_keys(data, where, {"id", "name", "instructions"}, set())
        role_id = check.ident(data["id"], where + "id", KEY_PATTERN)
        if role_id in RESERVED_SPEAKERS:
            raise check.fail(
                where + "id", f"{role_id!r} is reserved for phase speakers; choose another id"
            )
        if any(r.id == role_id for r in roles):
            raise check.fail(where + "id", f"duplicates role id {role_id!r}; ids must be unique")
        roles.append(
            Role(
                id=role_id,
                name=check.text(data["name"], where + "name", 80),
                instructions=check.text(data["instructions"], where + "instructions", 1000),
            )
        )
    return tuple(roles)


def _scale(check: FieldChecker, value: object, field: str) -> Scale:
    data = check.mapping(value, field)
    check.known_keys(data, field + ".", {"min", "max", "question"}, {"low_label", "high_label"})
    low = check.whole(data["min"], field + ".min", *SCALE_LIMITS)
    high = check.whole(data["max"], field + ".max", *SCALE_LIMITS)
    if low >= high:
        raise check.fail(field + ".max", f"must be greater than min ({low}), found {high}")
    return Scale(
        min=low,
        max=high,
        question=check.text(data["question"], field + ".question", 300),
        low_label=check.text(data["low_label"], field + ".low_label", 300)
        if "low_label" in data
        else "",
        high_label=check.text(data["high_label"], field + ".high_label", 300)
        if "high_label" in data
        else "",
    )


def _columns(check: FieldChecker, value: object, field: str) -> tuple[Column, ...]:
    columns: list[Column] = []
    for i, raw in enumerate(_items(check, value, field, 1, MAX_COLUMNS, "columns")):
        where = f"{field}[{i}]."
        data = check.mapping(raw, f"{field}[{i}]")
        check.known_keys(data, where, {"id", "label"}, set())
        column_id = check.ident(data["id"], where + "id", KEY_PATTERN)
        if any(c.id == column_id for c in columns):
            raise check.fail(
                where + "id", f"duplicates column id {column_id!r}; ids must be unique"
            )
        columns.append(Column(id=column_id, label=check.text(data["label"], where + "label", 120)))
    return tuple(columns)


def _phases(check: FieldChecker, value: object, roles: tuple[Role, ...]) -> tuple[Phase, ...]:
    role_ids = [r.id for r in roles]
    phases: list[Phase] = []
    for i, raw in enumerate(_items(check, value, "phases", 1, MAX_PHASES, "phases")):
        where = f"phases[{i}]."
        data = check.mapping(raw, f"phases[{i}]")
        check.known_keys(
            data,
            where,
            {"id", "label", "minutes", "speaker", "prompts"},
            {"notes", "scale", "columns", "insight"},
        )
        phase_id = check.ident(data["id"], where + "id", KEY_PATTERN)
        if any(p.id == phase_id for p in phases):
            raise check.fail(where + "id", f"duplicates phase id {phase_id!r}; ids must be unique")
        speaker = data["speaker"]
        if not isinstance(speaker, str) or (
            speaker not in role_ids and speaker not in RESERVED_SPEAKERS
        ):
            raise check.fail(
                where + "speaker",
                f"names {speaker!r}, which is not a role declared in roles "
                f"(declared: {', '.join(role_ids)}) nor 'all' or 'group'",
            )
        notes = data.get("notes", True)
        if not isinstance(notes, bool):
            raise check.fail(where + "notes", f"must be true or false, found {notes!r}")
        insight = data.get("insight", False)
        if not isinstance(insight, bool):
            raise check.fail(where + "insight", f"must be true or false, found {insight!r}")
        if insight and not notes:
            raise check.fail(where + "insight", "needs notes: a phase without notes has no insight")
        phases.append(
            Phase(
                id=phase_id,
                label=check.text(data["label"], where + "label", 80),
                minutes=check.whole(data["minutes"], where + "minutes", 1, 120),
                speaker=speaker,
                prompts=_texts(
                    check, data["prompts"], where + "prompts", MAX_PROMPTS, "prompts", 500
                ),
                notes=notes,
                insight=insight,
                scale=_scale(check, data["scale"], where + "scale") if "scale" in data else None,
                columns=_columns(check, data["columns"], where + "columns")
                if "columns" in data
                else (),
            )
        )
    return tuple(phases)


def parse_protocol(data: object, path: Path) -> Protocol:
    """Validate parsed YAML as a protocol; raise DataFileError at the first broken rule."""
    check = FieldChecker(path)
    data = check.top_level(data, PROTOCOL_SCHEMA_VERSION)
    check.known_keys(
        data,
        "",
        {"schema_version", "id", "version", "name", "summary", "roles", "ground_rules"}
        | {"phases", "sources"},
        {"group_size"},
    )
    protocol_id = check.ident(data["id"], "id", ID_PATTERN)
    version = check.whole(data["version"], "version", 1, 10_000)
    name = check.text(data["name"], "name", 120)
    summary = check.text(data["summary"], "summary")
    group_size = _group_size(check, data["group_size"]) if "group_size" in data else None
    roles = _roles(check, data["roles"])
    ground_rules = _texts(
        check, data["ground_rules"], "ground_rules", MAX_GROUND_RULES, "ground rules", 300
    )
    phases = _phases(check, data["phases"], roles)
    sources = _texts(check, data["sources"], "sources", MAX_SOURCES, "sources", 500)
    return Protocol(
        id=protocol_id,
        version=version,
        name=name,
        summary=summary,
        roles=roles,
        ground_rules=ground_rules,
        phases=phases,
        sources=sources,
        path=str(path),
        group_size=group_size,
    )


def load_protocol(path: Path | str) -> Protocol:
    path = Path(path)
    return parse_protocol(read_yaml(path), path)


def load_protocols(folder: Path | str) -> Catalogue[Protocol]:
    """Every protocol file in folder: the good ones, and one error per bad file."""
    return load_catalogue(folder, load_protocol, "protocol")

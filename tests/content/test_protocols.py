"""Protocol files: every shipped one is valid; broken ones give errors naming file, field, rule."""

import copy
from pathlib import Path

import pytest
import yaml

from cop_widgets.content.protocols import (
    PROTOCOL_SCHEMA_VERSION,
    load_protocol,
    load_protocols,
)
from cop_widgets.errors import DataFileError, SchemaVersionError
from tests.conftest import REPO

PROTOCOLS = REPO / "data" / "protocols"
GOOD = yaml.safe_load((PROTOCOLS / "consultancy.yaml").read_text(encoding="utf-8"))
REQUIRED_IDS = {
    "consultancy",
    "tuning",
    "troika",
    "what_so_what_now_what",
    "three_column_mapping",
    "supervision_4x4x4",
    "reflective_case_discussion",
}


@pytest.fixture(scope="module")
def shipped():
    cat = load_protocols(PROTOCOLS)
    assert cat.problems == (), cat.problems
    return cat


def test_every_shipped_protocol_file_loads(shipped):
    files = sorted(PROTOCOLS.glob("*.yaml"))
    assert len(shipped.items) == len(files) >= len(REQUIRED_IDS)
    assert REQUIRED_IDS <= {p.id for p in shipped.items}
    for protocol in shipped.items:
        assert protocol.roles and protocol.ground_rules and protocol.sources
        assert all(p.prompts and p.minutes > 0 for p in protocol.phases)
        assert 10 <= protocol.total_minutes <= 90, protocol.id
        role_ids = {r.id for r in protocol.roles}
        assert all(p.speaker in role_ids | {"all", "group"} for p in protocol.phases)


@pytest.mark.parametrize(
    ("protocol_id", "total"),
    [
        ("consultancy", 50),
        ("tuning", 60),
        ("troika", 31),
        ("three_column_mapping", 55),
        ("supervision_4x4x4", 30),
        ("reflective_case_discussion", 45),
    ],
)
def test_shipped_totals_match_the_sources(shipped, protocol_id, total):
    assert shipped.get(protocol_id).total_minutes == total


def test_consultancy_keeps_the_presenter_silent_during_discussion(shipped):
    consultancy = shipped.get("consultancy")
    assert [p.id for p in consultancy.phases] == [
        "present",
        "clarify",
        "probe",
        "discuss",
        "respond",
        "debrief",
    ]
    assert consultancy.phase("discuss").presenter_silent
    assert consultancy.phase("discuss").minutes == 15
    assert consultancy.role("presenter").name == "Presenter"
    assert consultancy.group_size == (4, 10)
    with pytest.raises(KeyError):
        consultancy.phase("nope")
    with pytest.raises(KeyError):
        consultancy.role("nope")


def test_mapping_has_three_columns_and_a_0_to_10_scale(shipped):
    mapping = shipped.get("three_column_mapping")
    boards = [p for p in mapping.phases if p.columns]
    assert len(boards) == 1
    assert [c.id for c in boards[0].columns] == ["worries", "working_well", "next_steps"]
    scales = [p.scale for p in mapping.phases if p.scale]
    assert len(scales) == 1
    assert (scales[0].min, scales[0].max) == (0, 10)
    assert scales[0].question and scales[0].low_label and scales[0].high_label
    assert "advisor" in {r.id for r in mapping.roles}


def test_mapping_has_a_generic_name_and_credits_signs_of_safety(shipped):
    mapping = shipped.get("three_column_mapping")
    assert "signs of safety" not in mapping.name.lower()
    assert "Signs of Safety" in mapping.summary
    assert any("Signs of Safety" in s and "Turnell" in s for s in mapping.sources)


def test_private_thinking_phases_are_not_noted(shipped):
    w3 = shipped.get("what_so_what_now_what")
    assert not w3.phase("what_alone").notes and w3.phase("what_group").notes


def _write(tmp_path: Path, data, name="protocol.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def _broken(change):
    """A copy of the good file with `change(data)` applied to it."""
    data = copy.deepcopy(GOOD)
    change(data)
    return data


def _phase(i, **values):
    def change(data):
        for key, value in values.items():
            if value is None:
                data["phases"][i].pop(key)
            else:
                data["phases"][i][key] = value

    return change


def _top(**values):
    def change(data):
        for key, value in values.items():
            if value is None:
                data.pop(key)
            else:
                data[key] = value

    return change


def _role(i, **values):
    def change(data):
        data["roles"][i].update(values)

    return change


SCALE = {"min": 0, "max": 10, "question": "Where is it?"}
COLUMNS = [{"id": "worries", "label": "Worries"}, {"id": "strengths", "label": "Strengths"}]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (_phase(2, minutes=0), "phases[2].minutes", "between 1 and 120"),
        (_phase(0, minutes=-5), "phases[0].minutes", "between 1 and 120"),
        (_phase(1, minutes=121), "phases[1].minutes", "between 1 and 120"),
        (_phase(1, minutes="ten"), "phases[1].minutes", "whole number"),
        (_phase(1, id="present"), "phases[1].id", "duplicates phase id"),
        (_phase(1, speaker="observer"), "phases[1].speaker", "not a role declared"),
        (_phase(1, speaker=None), "phases[1].speaker", "is required"),
        (_phase(1, speaker=["presenter"]), "phases[1].speaker", "not a role declared"),
        (_phase(1, prompts=[]), "phases[1].prompts", "1 to 6 prompts"),
        (_phase(1, prompts=["p"] * 7), "phases[1].prompts", "1 to 6 prompts"),
        (_phase(1, prompts=["ok", ""]), "phases[1].prompts[1]", "non-empty text"),
        (_phase(1, notes="yes"), "phases[1].notes", "true or false"),
        (_phase(1, timer=5), "phases[1].timer", "not a known field"),
        (_phase(1, id="x; DROP TABLE person"), "phases[1].id", "must match"),
        (_role(1, id="presenter"), "roles[1].id", "duplicates role id"),
        (_role(1, id="group"), "roles[1].id", "reserved"),
        (_role(1, id="Facilitator"), "roles[1].id", "must match"),
        (_role(1, colour="red"), "roles[1].colour", "not a known field"),
        (_phase(4, scale={**SCALE, "min": 10}), "phases[4].scale.max", "greater than min"),
        (_phase(4, scale={**SCALE, "min": 7, "max": 3}), "phases[4].scale.max", "greater than"),
        (_phase(4, scale={**SCALE, "max": 101}), "phases[4].scale.max", "between 0 and 100"),
        (_phase(4, scale={**SCALE, "min": -1}), "phases[4].scale.min", "between 0 and 100"),
        (_phase(4, scale={**SCALE, "step": 2}), "phases[4].scale.step", "not a known field"),
        (
            _phase(3, columns=[*COLUMNS, {"id": "worries", "label": "Again"}]),
            "phases[3].columns[2].id",
            "duplicates column id",
        ),
        (_phase(3, columns=[]), "phases[3].columns", "1 to 6 columns"),
        (_phase(3, columns=[{"id": "a"}]), "phases[3].columns[0].label", "is required"),
        (_top(colour="red"), "colour", "not a known field"),
        (_top(name=None), "name", "is required"),
        (_top(id="Has Spaces"), "id", "must match"),
        (_top(version="one"), "version", "whole number"),
        (_top(phases=[]), "phases", "1 to 40 phases"),
        (_top(roles=[]), "roles", "1 to 12 roles"),
        (_top(ground_rules="be kind"), "ground_rules", "list of 1 to 12"),
        (_top(sources=[]), "sources", "list of 1 to 12"),
        (_top(group_size={"min": 8, "max": 4}), "group_size.max", "not be less than min"),
        (_top(group_size={"min": 0, "max": 4}), "group_size.min", "between 1 and 200"),
    ],
)
def test_broken_files_name_file_field_and_rule(tmp_path, change, field, rule):
    path = _write(tmp_path, _broken(change))
    with pytest.raises(DataFileError) as err:
        load_protocol(path)
    assert err.value.path == str(path)
    assert err.value.field == field
    assert rule in err.value.rule
    assert str(path) in str(err.value) and field in str(err.value)


def test_good_scale_and_columns_are_read(tmp_path):
    path = _write(
        tmp_path,
        _broken(_phase(3, columns=COLUMNS, scale={**SCALE, "low_label": "worst"}, notes=False)),
    )
    phase = load_protocol(path).phase("discuss")
    assert [c.label for c in phase.columns] == ["Worries", "Strengths"]
    assert phase.scale.low_label == "worst" and phase.scale.high_label == ""
    assert phase.notes is False


def test_schema_version_is_checked_first(tmp_path):
    path = _write(tmp_path, _broken(_top(schema_version=2, colour="red", phases="oops")))
    with pytest.raises(SchemaVersionError) as err:
        load_protocol(path)
    assert err.value.found == 2 and err.value.expected == PROTOCOL_SCHEMA_VERSION == 1
    assert "schema_version" in str(err.value)


def test_missing_schema_version_is_named(tmp_path):
    path = _write(tmp_path, _broken(_top(schema_version=None)))
    with pytest.raises(DataFileError, match="field 'schema_version': is required"):
        load_protocol(path)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("schema_version: 1\nid: a\nid: b\n", "duplicate key 'id'"),
        ("!!python/object/apply:os.system ['touch /tmp/cop-pwned-protocol']\n", "line 1"),
        ("phases: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "field '(top level)': must be a mapping"),
    ],
)
def test_unsafe_or_malformed_yaml_is_refused_with_a_place(tmp_path, text, rule):
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError) as err:
        load_protocol(path)
    assert rule in str(err.value)
    assert not Path("/tmp/cop-pwned-protocol").exists()


def test_one_bad_file_does_not_hide_the_others(tmp_path):
    _write(tmp_path, GOOD, "good.yaml")
    _write(tmp_path, _broken(_phase(2, minutes=0)), "bad.yaml")
    _write(tmp_path, "phases: [unclosed\n", "worse.yaml")
    cat = load_protocols(tmp_path)
    assert [p.id for p in cat.items] == ["consultancy"]
    assert len(cat.problems) == 2
    assert "bad.yaml" in str(cat.problems[0]) and "phases[2].minutes" in str(cat.problems[0])
    assert "worse.yaml" in str(cat.problems[1])


def test_two_files_with_one_id_are_reported(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    cat = load_protocols(tmp_path)
    assert len(cat.items) == 1
    assert "already used" in str(cat.problems[0]) and "b.yaml" in str(cat.problems[0])


def test_an_empty_folder_is_reported(tmp_path):
    cat = load_protocols(tmp_path)
    assert cat.items == () and "no protocol files" in str(cat.problems[0])


def test_adding_a_protocol_is_a_new_file_only(tmp_path):
    new = {
        "schema_version": 1,
        "id": "check-in",
        "version": 1,
        "name": "Opening check-in",
        "summary": "Each person says how they arrive.",
        "roles": [{"id": "facilitator", "name": "Facilitator", "instructions": "Go round."}],
        "ground_rules": ["Anyone may pass."],
        "phases": [
            {
                "id": "round",
                "label": "Round",
                "minutes": 5,
                "speaker": "all",
                "prompts": ["How are you arriving today?"],
                "notes": False,
            }
        ],
        "sources": ["Written for this project."],
    }
    _write(tmp_path, GOOD, "consultancy.yaml")
    _write(tmp_path, new, "check_in.yaml")
    cat = load_protocols(tmp_path)
    assert cat.problems == ()
    check_in = cat.get("check-in")
    assert check_in.total_minutes == 5 and check_in.group_size is None
    assert check_in.phase("round").prompts == ("How are you arriving today?",)
    assert cat.get("consultancy") is not None

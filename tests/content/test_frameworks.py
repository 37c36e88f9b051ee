"""Content files: every shipped file is valid; broken files give errors naming file, field, rule."""

from pathlib import Path

import pytest
import yaml

from cop_widgets.content.frameworks import load_framework, load_frameworks
from cop_widgets.errors import DataFileError, SchemaVersionError
from tests.conftest import FRAMEWORKS

GOOD = yaml.safe_load((FRAMEWORKS / "rolfe.yaml").read_text())


def test_every_shipped_framework_is_valid():
    files = sorted(FRAMEWORKS.glob("*.yaml"))
    cat = load_frameworks(FRAMEWORKS)
    assert cat.problems == ()
    assert len(cat.items) == len(files) >= 5
    ids = {f.id for f in cat.items}
    assert {"gibbs-1988", "kolb-1984", "rolfe-2001", "johns-msr", "brookfield-lenses"} <= ids
    for fw in cat.items:
        assert fw.stages and all(s.prompts and s.minutes > 0 for s in fw.stages)


def test_gibbs_has_its_six_stages_in_order(catalogue):
    gibbs = catalogue.get("gibbs-1988")
    assert [s.id for s in gibbs.stages] == [
        "description",
        "feelings",
        "evaluation",
        "analysis",
        "conclusion",
        "action_plan",
    ]
    assert gibbs.stage("analysis").minutes == 7


def _write(tmp_path: Path, data, name="fw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _broken(**changes):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        (_broken(name=None), "name", "is required"),
        (_broken(steps=[]), "steps", "non-empty list"),
        (_broken(version="one"), "version", "whole number"),
        (_broken(colour="red"), "colour", "not a known field"),
        (_broken(id="Has Spaces"), "id", "must match"),
        (
            _broken(steps=[{"id": "a", "label": "A", "minutes": 0, "prompts": ["p"]}]),
            "steps[0].minutes",
            "between 1 and 120",
        ),
        (
            _broken(
                steps=[
                    {"id": "a", "label": "A", "minutes": 3, "prompts": ["p"]},
                    {"id": "a", "label": "B", "minutes": 3, "prompts": ["q"]},
                ]
            ),
            "steps[1].id",
            "duplicates stage id",
        ),
        (
            _broken(steps=[{"id": "a", "label": "", "minutes": 3, "prompts": ["p"]}]),
            "steps[0].label",
            "non-empty text",
        ),
        (
            _broken(steps=[{"id": "a", "label": "A", "minutes": 3, "prompts": []}]),
            "steps[0].prompts",
            "1 to 6 prompts",
        ),
        (
            _broken(
                steps=[{"id": "x; DROP TABLE person", "label": "A", "minutes": 3, "prompts": ["p"]}]
            ),
            "steps[0].id",
            "must match",
        ),
    ],
)
def test_broken_files_name_file_field_and_rule(tmp_path, data, field, rule):
    path = _write(tmp_path, data)
    with pytest.raises(DataFileError) as err:
        load_framework(path)
    assert err.value.path == str(path)
    assert err.value.field == field
    assert rule in err.value.rule
    assert str(path) in str(err.value) and field in str(err.value)


def test_schema_version_mismatch_says_found_and_expected(tmp_path):
    path = _write(tmp_path, _broken(schema_version=2))
    with pytest.raises(SchemaVersionError) as err:
        load_framework(path)
    assert err.value.found == 2 and err.value.expected == 1
    assert "schema_version" in str(err.value)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("id: a\nid: b\n", "duplicate key 'id'"),
        ("!!python/object/apply:os.system ['touch /tmp/cop-pwned']\n", "line 1"),
        ("steps: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "field '(top level)': must be a mapping"),
        ("a: &x [*x]\nb: *x\n", "field 'schema_version': is required"),
    ],
)
def test_unsafe_or_malformed_yaml_is_refused_with_a_place(tmp_path, text, rule):
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError) as err:
        load_framework(path)
    assert rule in str(err.value)
    assert not Path("/tmp/cop-pwned").exists()


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="not UTF-8"):
        load_framework(path)


def test_one_bad_file_does_not_hide_the_others(tmp_path):
    _write(tmp_path, GOOD, "good.yaml")
    _write(tmp_path, _broken(steps="oops"), "bad.yaml")
    cat = load_frameworks(tmp_path)
    assert [f.id for f in cat.items] == ["rolfe-2001"]
    assert len(cat.problems) == 1 and "bad.yaml" in str(cat.problems[0])


def test_two_files_with_one_id_are_reported(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    cat = load_frameworks(tmp_path)
    assert len(cat.items) == 1
    assert "already used" in str(cat.problems[0]) and "b.yaml" in str(cat.problems[0])


def test_adding_a_framework_is_a_new_file_only(tmp_path):
    data = _broken(
        id="mini-check",
        name="Mini check-in",
        steps=[{"id": "now", "label": "Now", "minutes": 2, "prompts": ["How is it?"]}],
    )
    _write(tmp_path, GOOD, "rolfe.yaml")
    _write(tmp_path, data, "mini.yaml")
    cat = load_frameworks(tmp_path)
    assert cat.get("mini-check").stages[0].prompts == ("How is it?",)

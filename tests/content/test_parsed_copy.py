"""The server's parsed copy of the content files (content/parsed_copy.py): a kernel reads an
unchanged file from it without importing yaml, and anything else exactly as before."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cop_widgets.content import parsed_copy
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.parsed_copy import ENV_VAR, content_sources, write_parsed_copy
from cop_widgets.content.yaml_files import read_yaml
from cop_widgets.errors import DataFileError
from cop_widgets.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
SHIPPED = load_settings({"COP_DATA_DIR": str(REPO / "data")})
GOOD = "schema_version: 1\nid: one\nname: One\nsteps: [a, b]\n"


def _shipped_files() -> list[Path]:
    return sorted(p for p in (REPO / "data").rglob("*.yaml") if ".cache" not in p.parts)


def _entries(copy: Path) -> dict:
    return json.loads(copy.read_text(encoding="utf-8"))["files"]


def _parsed_without_copy(path: Path, monkeypatch) -> object:
    with monkeypatch.context() as m:
        m.delenv(ENV_VAR, raising=False)
        return read_yaml(path)


def test_every_shipped_content_file_comes_back_identical_through_the_copy(tmp_path, monkeypatch):
    copy = write_parsed_copy(content_sources(SHIPPED), tmp_path / "copy.json")
    shipped = _shipped_files()
    assert shipped and set(_entries(copy)) == {str(p.resolve()) for p in shipped}
    monkeypatch.setenv(ENV_VAR, str(copy))
    for path in shipped:
        first = read_yaml(path)
        assert first == _parsed_without_copy(path, monkeypatch), path
        first_json = json.dumps(first, sort_keys=True)
        assert read_yaml(path) is not first  # new objects: a caller may change what it got
        assert json.dumps(read_yaml(path), sort_keys=True) == first_json


def test_read_yaml_takes_an_unchanged_file_from_the_copy(tmp_path, monkeypatch):
    """What the copy holds for a file that has not changed is what read_yaml returns."""
    path = tmp_path / "one.yaml"
    path.write_text(GOOD, encoding="utf-8")
    copy = write_parsed_copy([tmp_path], tmp_path / ".cache" / "copy.json")
    entries = _entries(copy)
    entries[str(path.resolve())]["json"] = json.dumps({"from": "the copy"})
    copy.write_text(json.dumps({"format": 1, "files": entries}), encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(copy))
    assert read_yaml(path) == {"from": "the copy"}


def test_the_copy_is_written_in_one_step_for_its_owner_and_group(tmp_path):
    (tmp_path / "one.yaml").write_text(GOOD, encoding="utf-8")
    dest = tmp_path / ".cache" / "parsed-content.json"
    assert write_parsed_copy([tmp_path], dest) == dest
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary file left
    write_parsed_copy([tmp_path], dest)  # written again over the old one
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_a_kernel_reads_the_content_without_importing_yaml(tmp_path):
    copy = write_parsed_copy(content_sources(SHIPPED), tmp_path / "copy.json")
    data = REPO / "data"
    script = f"""
import sys
from pathlib import Path
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.library_topics import load_topics
from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.session_items import load_item_sets
data = Path({str(data)!r})
frameworks = load_frameworks(data / "frameworks")
protocols = load_protocols(data / "protocols")
item_sets, problems = load_item_sets(data / "session_items")
topics = load_topics(data / "library_topics.yaml")
assert frameworks.items and not frameworks.problems, frameworks.problems
assert protocols.items and not protocols.problems, protocols.problems
assert item_sets and not problems, problems
assert topics.topics
assert "yaml" not in sys.modules, "yaml was imported"
print("ok")
"""
    env = {**os.environ, ENV_VAR: str(copy)}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=REPO
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    # without the copy the same loads parse the files (and import yaml)
    env.pop(ENV_VAR)
    without = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=REPO
    )
    assert "yaml was imported" in without.stderr


@pytest.fixture
def framework_copy(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A folder holding one shipped framework, its parsed copy in use."""
    folder = tmp_path / "frameworks"
    folder.mkdir()
    path = folder / "rolfe.yaml"
    shutil.copy2(REPO / "data" / "frameworks" / "rolfe.yaml", path)
    copy = write_parsed_copy([folder], tmp_path / "copy.json")
    assert str(path.resolve()) in _entries(copy)
    monkeypatch.setenv(ENV_VAR, str(copy))
    return path, copy


def test_an_edited_file_is_read_from_yaml_not_from_the_copy(framework_copy):
    path, _ = framework_copy
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: ", "name: Edited ", 1), encoding="utf-8")
    assert read_yaml(path)["name"].startswith("Edited ")
    (loaded,) = load_frameworks(path.parent).items
    assert loaded.name.startswith("Edited ")


def test_a_file_edited_to_the_same_size_is_read_from_yaml(framework_copy):
    path, _ = framework_copy
    before = read_yaml(path)
    text = path.read_text(encoding="utf-8")
    edited = text.replace("\nname: W", "\nname: X", 1)
    assert edited != text and len(edited) == len(text)
    old = path.stat()
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == old.st_size
    assert read_yaml(path)["name"] == "X" + before["name"][1:]


def test_a_date_or_a_number_as_a_key_stays_with_yaml(tmp_path, monkeypatch):
    import datetime

    dated = tmp_path / "dated.yaml"
    dated.write_text("schema_version: 1\nreviewed: 2026-03-01\n", encoding="utf-8")
    numbered = tmp_path / "numbered.yaml"
    numbered.write_text("schema_version: 1\nlevels: {1: low, 5: high}\n", encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text(GOOD, encoding="utf-8")
    copy = write_parsed_copy([tmp_path], tmp_path / "copy.json")
    assert set(_entries(copy)) == {str(plain.resolve())}
    monkeypatch.setenv(ENV_VAR, str(copy))
    assert read_yaml(dated)["reviewed"] == datetime.date(2026, 3, 1)
    assert read_yaml(numbered)["levels"] == {1: "low", 5: "high"}


@pytest.mark.parametrize(
    "content",
    [
        None,  # no file
        b"\x00\xff garbage",
        b"[1, 2, 3]",
        b'{"format": 99, "files": {}}',
        b'{"format": 1, "files": []}',
        b"[" * 100_000,
    ],
    ids=["missing", "garbage", "a-list", "another-format", "files-not-a-mapping", "deep"],
)
def test_a_broken_copy_is_ignored(tmp_path, monkeypatch, content):
    path = tmp_path / "one.yaml"
    path.write_text(GOOD, encoding="utf-8")
    copy = tmp_path / "copy.json"
    if content is not None:
        copy.write_bytes(content)
    monkeypatch.setenv(ENV_VAR, str(copy))
    assert read_yaml(path) == {"schema_version": 1, "id": "one", "name": "One", "steps": ["a", "b"]}


def test_a_broken_entry_is_ignored(tmp_path, monkeypatch):
    path = tmp_path / "one.yaml"
    path.write_text(GOOD, encoding="utf-8")
    st = path.stat()
    key = str(path.resolve())
    for entry in (
        {"mtime_ns": st.st_mtime_ns, "size": st.st_size, "json": "{not json"},
        {"mtime_ns": st.st_mtime_ns, "size": st.st_size, "json": 42},
        {"mtime_ns": str(st.st_mtime_ns), "size": st.st_size, "json": "{}"},
        ["not", "a", "mapping"],
    ):
        copy = tmp_path / f"copy-{id(entry)}.json"
        copy.write_text(json.dumps({"format": 1, "files": {key: entry}}), encoding="utf-8")
        monkeypatch.setenv(ENV_VAR, str(copy))
        assert read_yaml(path)["id"] == "one", entry


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",
        "steps: [unclosed\n",
        "x: " + "[" * 100 + "]" * 100 + "\n",
        "!!python/object:os.system {}\n",
    ],
    ids=["duplicate-key", "unclosed", "too-deep", "unsafe-tag"],
)
def test_a_bad_file_is_left_out_and_reported_as_without_the_copy(tmp_path, monkeypatch, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(DataFileError) as without:
        _parsed_without_copy(bad, monkeypatch)
    copy = write_parsed_copy([tmp_path], tmp_path / "copy.json")
    assert str(bad.resolve()) not in _entries(copy)
    monkeypatch.setenv(ENV_VAR, str(copy))
    with pytest.raises(DataFileError) as with_copy:
        read_yaml(bad)
    assert str(with_copy.value) == str(without.value)
    assert "line 1" in str(with_copy.value) or "line 2" in str(with_copy.value)


def test_a_large_or_unreadable_file_is_refused_as_before(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (300 * 1024) + "\n", encoding="utf-8")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    copy = write_parsed_copy([tmp_path], tmp_path / "copy.json")
    assert _entries(copy) == {}
    monkeypatch.setenv(ENV_VAR, str(copy))
    with pytest.raises(DataFileError, match="larger than 256 KiB"):
        read_yaml(big)
    with pytest.raises(DataFileError, match="is not UTF-8 text"):
        read_yaml(latin)


def test_sources_are_folders_of_yaml_files_or_single_files(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "notes.txt").write_text("not content", encoding="utf-8")
    single = tmp_path / "single.yaml"
    single.write_text("topics: []\n", encoding="utf-8")
    copy = write_parsed_copy([folder, single, tmp_path / "absent"], tmp_path / "copy.json")
    assert set(_entries(copy)) == {str((folder / "a.yaml").resolve()), str(single.resolve())}


def test_no_copy_named_means_the_files_are_parsed(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = tmp_path / "one.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert parsed_copy.lookup(path, path.stat()) is parsed_copy.MISSING
    assert read_yaml(path)["name"] == "One"

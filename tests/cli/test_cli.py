"""The `cop` command: check content, prepare the store with demo content."""

import os
import subprocess
import sys


def _cop(*args, data_dir):
    env = dict(os.environ, COP_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "cop_widgets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_passes_on_shipped_content_and_names_a_bad_file(data_dir):
    ok = _cop("check", data_dir=data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "consultancy" in ok.stdout and "rolfe-2001" in ok.stdout
    (data_dir / "protocols" / "bad.yaml").write_text("schema_version: 1\nid: bad\n")
    bad = _cop("check", data_dir=data_dir)
    assert bad.returncode == 1
    assert "bad.yaml: field" in bad.stdout and "is required" in bad.stdout


def test_check_covers_session_items_and_library_topics(data_dir):
    ok = _cop("check", data_dir=data_dir)
    assert "checkout.yaml" in ok.stdout and "library topics" in ok.stdout
    (data_dir / "library_topics.yaml").write_text("schema_version: 1\ntopics: nope\n")
    (data_dir / "session_items" / "bad.yaml").write_text("schema_version: 1\nid: bad\n")
    bad = _cop("check", data_dir=data_dir)
    assert bad.returncode == 1
    errors = [line for line in bad.stdout.splitlines() if line.startswith("error ")]
    assert any("library_topics.yaml" in line for line in errors), bad.stdout
    assert any("session_items/bad.yaml" in line for line in errors), bad.stdout


def test_init_adds_demo_content_once(data_dir):
    first = _cop("init", data_dir=data_dir)
    second = _cop("init", data_dir=data_dir)
    assert "demo content added" in first.stdout
    assert first.returncode == second.returncode == 0
    assert "demo content added" not in second.stdout


def test_bad_setting_is_a_message_not_a_traceback(data_dir):
    env_bad = _cop("init", data_dir=data_dir)
    assert env_bad.returncode == 0
    broken = subprocess.run(
        [sys.executable, "-m", "cop_widgets.cli", "init"],
        env=dict(os.environ, COP_DATA_DIR=str(data_dir), COP_BUSY_TIMEOUT_MS="10"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 2
    assert "COP_BUSY_TIMEOUT_MS is 10" in broken.stderr and "Traceback" not in broken.stderr


def test_data_commands_are_wired(data_dir):
    _cop("init", data_dir=data_dir)
    out = _cop(
        "data",
        "export",
        "--person",
        "Demo practitioner",
        "--out",
        str(data_dir / "exports"),
        data_dir=data_dir,
    )
    assert out.returncode == 0, out.stderr
    assert list((data_dir / "exports").rglob("*.json"))
    refused = _cop("data", "erase", "--person", "Demo practitioner", data_dir=data_dir)
    assert refused.returncode == 1
    backup = _cop("data", "backup", "--out", str(data_dir / "backups"), data_dir=data_dir)
    assert backup.returncode == 0 and list((data_dir / "backups").glob("cop-*.sqlite"))


def test_cop_processes_skip_the_slow_iri_checker_and_still_validate_notebooks():
    """The `cop` command and the Voilà launcher never pay for rfc3987_syntax (1.5 s of parser
    building, for a format no notebook schema uses); notebook validation still works."""
    checks = (
        "import sys, nbformat\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "bad = nbformat.v4.new_notebook()\n"
        "bad.cells.append({'cell_type': 'nonsense'})\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('refused')\n"
        "print('loaded' if sys.modules.get('rfc3987_syntax') else 'skipped')\n"
    )
    for module in ("cop_widgets.cli", "cop_widgets.serving.launch"):
        # the module first, as the command runs it: nothing has imported jsonschema yet
        out = subprocess.run(
            [sys.executable, "-c", f"import {module}\n{checks}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["refused", "skipped"], module


def test_serve_hands_its_kernels_the_parsed_content_files(data_dir, monkeypatch, capsys):
    """`cop serve` and `cop review` parse the content files once, into the data folder's
    .cache/, and name the copy in the environment their kernels inherit; `cop check` and the
    content loaders do not see it."""
    import json
    import stat

    from cop_widgets import cli
    from cop_widgets.cli import serve as cli_serve
    from cop_widgets.content.parsed_copy import ENV_VAR

    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    monkeypatch.setenv(ENV_VAR, "/elsewhere/another-servers-copy.json")
    started: list[dict[str, str]] = []
    monkeypatch.setattr(cli_serve, "run_server", lambda cmd, env: started.append(env) or 0)
    assert cli.main(["serve", "--no-demo", "--port", "8871"]) == 0
    assert cli.main(["review", "--port", "8872"]) == 0
    copy = data_dir / ".cache" / "parsed-content.json"
    assert [env[ENV_VAR] for env in started] == [str(copy), str(copy)]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640
    files = json.loads(copy.read_text(encoding="utf-8"))["files"]
    shipped = [p for p in data_dir.rglob("*.yaml") if ".cache" not in p.parts]
    assert shipped and set(files) == {str(p.resolve()) for p in shipped}
    assert "warning" not in capsys.readouterr().err
    checked = _cop("check", data_dir=data_dir)  # the store has no backup yet: that one fails
    errors = [line for line in checked.stdout.splitlines() if line.startswith("error ")]
    assert [e for e in errors if "store backup" not in e] == [], checked.stdout
    assert "ok    " in checked.stdout and ".cache" not in checked.stdout


def test_serve_starts_without_the_parsed_copy_when_it_cannot_be_written(
    data_dir, monkeypatch, capsys
):
    from cop_widgets import cli
    from cop_widgets.cli import serve as cli_serve
    from cop_widgets.content.parsed_copy import ENV_VAR

    (data_dir / ".cache").write_text("a file where the folder would go", encoding="utf-8")
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    monkeypatch.delenv(ENV_VAR, raising=False)
    started: list[dict[str, str]] = []
    monkeypatch.setattr(cli_serve, "run_server", lambda cmd, env: started.append(env) or 0)
    assert cli.main(["serve", "--no-demo", "--port", "8871"]) == 0
    assert len(started) == 1 and ENV_VAR not in started[0]
    err = capsys.readouterr().err
    assert "the parsed copy of the content files was not written" in err
    assert "each kernel reads them itself" in err

"""The replay and scenarios sub-commands: output, --json, exit codes 0/1/2."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flakymirror.scenario import ScenarioError, library_dir, load_scenario
from flakymirror.scenario.commands import main, register
from flakymirror.scenario.library import ENV_VAR, library_files

QUICK = ["registry-401-without-body", "lifecycle-1674-empty-layers"]


@pytest.fixture
def quick_dir(tmp_path: Path) -> Path:
    """A folder with copies of two quick library scenarios."""
    folder = tmp_path / "quick"
    folder.mkdir()
    for name in QUICK:
        shutil.copy(library_dir() / f"{name}.toml", folder)
    return folder


@pytest.fixture
def failing_file(tmp_path: Path) -> Path:
    """A valid scenario whose expectation does not hold (it opens on attempt 3, not 2)."""
    text = (library_dir() / "lifecycle-1674-empty-layers.toml").read_text()
    text = text.replace('name = "lifecycle-1674-empty-layers"', 'name = "deliberately-wrong"')
    text = text.replace("attempts = 3", "attempts = 2")
    path = tmp_path / "deliberately-wrong.toml"
    path.write_text(text)
    return path


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    """A scenario file with a typo in a key."""
    text = (library_dir() / "registry-401-without-body.toml").read_text()
    path = tmp_path / "broken.toml"
    path.write_text(text.replace("[expect.sleeps]\nopener", "[expect.sleeps]\nopenr"))
    return path


def test_replay_prints_timelines_and_summary(quick_dir, capsys):
    assert main(["replay", str(quick_dir)]) == 0
    out = capsys.readouterr().out
    assert "== lifecycle-1674-empty-layers: " in out and "== registry-401-without-body: " in out
    assert "  sleep 100ms (opener)" in out
    assert "  +0.300s  attempt 3  GET /v2/cnb/run/manifests/jammy" in out
    lines = out.splitlines()
    assert lines[-1] == "2 scenarios, 2 passed, 0 failed"
    header = next(i for i, line in enumerate(lines) if line.startswith("scenario "))
    assert lines[header].split() == ["scenario", "outcome", "attempts", "backoff", "verdict"]
    assert lines[header + 2].split()[-3:] == ["3", "300ms", "pass"]


def test_replay_json(quick_dir, capsys):
    assert main(["replay", "--json", str(quick_dir / "registry-401-without-body.toml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    (result,) = doc["scenarios"]
    assert result["name"] == "registry-401-without-body"
    assert result["verdict"] == "pass" and result["status"] == 401 and result["attempts"] == 1
    assert result["error"].endswith("unexpected status code 401 Unauthorized")
    assert [e["type"] for e in result["timeline"]] == ["attempt", "request", "request"]
    assert doc["summary"] == {
        "total": 1, "passed": 1, "failed": 0,
        "rows": [{"scenario": "registry-401-without-body", "outcome": "error",
                  "error": result["error"], "attempts": 1, "backoff_total": 0.0,
                  "verdict": "pass"}],
    }  # fmt: skip


def test_replay_exit_1_when_an_expectation_fails(failing_file, quick_dir, capsys):
    assert main(["replay", str(quick_dir), str(failing_file)]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out
    assert "- expect.attempts: expected 2 attempts, got 3" in out
    assert out.splitlines()[-1] == "3 scenarios, 2 passed, 1 failed"


def test_replay_exit_2_on_a_broken_file(broken_file, quick_dir, capsys):
    assert main(["replay", str(quick_dir), str(broken_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing is replayed when an input is invalid
    line = next(iter(captured.err.splitlines()))
    assert line.startswith(f"flakymirror: invalid scenario: {broken_file}:")
    assert "expect.sleeps.openr: unknown key (did you mean 'opener'?)" in line
    text = broken_file.read_text().splitlines()
    number = int(line.split(f"{broken_file}:")[1].split(":")[0])
    assert text[number - 1].startswith("openr")


@pytest.mark.parametrize(
    "argv", [["replay", "no/such/file.toml"], ["replay", "no-such-scenario"], ["replay", "--frob"]]
)
def test_replay_exit_2_on_bad_arguments(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_scenarios_lists_the_library(capsys):
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(library_files())
    first = load_scenario(library_files()[0].stem)
    assert lines[0] == f"{first.name} — {first.description} [{', '.join(first.source)}]"


def test_scenarios_reports_broken_files(broken_file, quick_dir, capsys):
    assert main(["scenarios", str(quick_dir), str(broken_file)]) == 2
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "expect.sleeps.openr" in captured.err


def test_library_location_from_the_environment(monkeypatch, tmp_path, quick_dir, capsys):
    monkeypatch.setenv(ENV_VAR, str(quick_dir))
    assert main(["scenarios"]) == 0
    assert [line.split(" — ")[0] for line in capsys.readouterr().out.splitlines()] == sorted(QUICK)
    assert load_scenario("registry-401-without-body").path == str(quick_dir / f"{QUICK[0]}.toml")
    with pytest.raises(ScenarioError, match="did you mean 'registry-401-without-body'"):
        load_scenario("registry-401-without-bdy")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    assert main(["scenarios"]) == 2


def test_register_adds_both_commands_to_any_parser():
    parser = argparse.ArgumentParser(prog="flakymirror")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["replay", "--json", "-v", "a.toml", "b"])
    assert (args.command, args.json, args.verbose, args.paths) == (
        "replay",
        True,
        True,
        ["a.toml", "b"],
    )
    assert callable(args.func)
    assert callable(parser.parse_args(["scenarios"]).func)


def _run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return subprocess.run(
        [sys.executable, "-m", "flakymirror.scenario.commands", *args],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_module_runs_in_a_subprocess(quick_dir, failing_file, broken_file):
    ok = _run_module("replay", "--json", str(quick_dir))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["summary"]["passed"] == 2
    failed = _run_module("replay", str(failing_file))
    assert failed.returncode == 1
    assert "expect.attempts" in failed.stdout
    bad = _run_module("replay", str(broken_file))
    assert bad.returncode == 2
    assert f"{broken_file}:" in bad.stderr and "expect.sleeps.openr" in bad.stderr


def test_replay_exit_3_when_the_replay_itself_crashes(quick_dir, monkeypatch, capsys):
    import flakymirror.scenario.runner as runner

    def boom(scenario, mirror=None):
        raise RuntimeError("a bug in flakymirror")

    monkeypatch.setattr(runner, "run_scenario", boom)
    assert main(["replay", str(quick_dir)]) == 3
    err = capsys.readouterr().err
    assert "replay of lifecycle-1674-empty-layers crashed:" in err
    assert "RuntimeError: a bug in flakymirror" in err


def _names(out: str) -> list[str]:
    return [line.split(" — ")[0] for line in out.splitlines()]


def test_default_library_is_scenarios_in_the_current_directory(
    monkeypatch, tmp_path, quick_dir, capsys
):
    """No PATH: $FLAKYMIRROR_SCENARIOS, else ./scenarios, else the bundled library."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copy(quick_dir / f"{QUICK[0]}.toml", project / "scenarios")
    monkeypatch.chdir(project)
    assert main(["scenarios"]) == 0
    assert _names(capsys.readouterr().out) == [QUICK[0]]
    assert main(["replay", "--json"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)["scenarios"]] == [QUICK[0]]
    assert library_dir() == project / "scenarios"

    monkeypatch.setenv(ENV_VAR, str(quick_dir))  # an explicit setting beats the directory
    assert main(["scenarios"]) == 0
    assert _names(capsys.readouterr().out) == sorted(QUICK)

    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(tmp_path)  # no ./scenarios here: the bundled library
    assert main(["scenarios"]) == 0
    assert len(_names(capsys.readouterr().out)) == len(library_files()) > 2


def test_names_resolve_through_every_library_in_order(monkeypatch, tmp_path):
    """A name is looked up in ./scenarios first, then in the bundled library: a project's own
    folder adds to the library (and shadows a bundled file of the same name)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    bundled = library_dir()
    (tmp_path / "scenarios").mkdir()
    mine = tmp_path / "scenarios" / "registry-401-without-body.toml"
    mine.write_text((bundled / "registry-401-without-body.toml").read_text())
    monkeypatch.chdir(tmp_path)
    assert load_scenario("registry-401-without-body").path == str(mine)
    never = load_scenario("lifecycle-1674-never-converges")
    assert Path(never.path).parent.resolve() == bundled.resolve()
    with pytest.raises(ScenarioError, match="did you mean 'lifecycle-1674-never-converges'"):
        load_scenario("lifecycle-1674-never-converge")

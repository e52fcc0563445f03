"""``flakymirror matrix``: exit codes, output forms, baselines, skipped clients, artifacts."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from flakymirror.cli import main

TINY = shlex.join([sys.executable, str(Path(__file__).with_name("tiny_client.py"))])
HEAD = """name = "{name}"
description = "a test incident"
source = "https://github.com/buildpacks/lifecycle/issues/1674"

[[images]]
ref = "lib/app:1"
seed = 5
"""
EMPTY_FOREVER = HEAD + (
    '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 3 } }\n'
)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "healthy.toml").write_text(HEAD.replace("{name}", "healthy"))
    (folder / "empty.toml").write_text(EMPTY_FOREVER.replace("{name}", "empty"))
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["matrix", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_matrix_that_holds_exits_0(capsys, library, tmp_path):
    code, out, err = run(capsys, str(library / "healthy.toml"), "-c", f"{TINY} {{ref}}",
                         "-c", "reference", "--artifacts", str(tmp_path / "a"))  # fmt: skip
    assert code == 0, out + err
    assert re.search(r"healthy +survived 1x", out) and "cmd1 = " in out
    assert "2 cells, 2 hold, 0 do not" in out
    folder = next((tmp_path / "a" / "healthy").glob("cmd-*"))
    for name in ("command.txt", "stdout.txt", "stderr.txt", "timeline.txt", "result.json",
                 "reproduce.txt", "content.txt"):  # fmt: skip
        assert (folder / name).is_file(), name
    assert "flakymirror serve --scenario" in (folder / "reproduce.txt").read_text()
    assert "GET    manifest" in (folder / "timeline.txt").read_text()


def test_a_shortfall_fails_until_the_baseline_knows_it(capsys, library, tmp_path):
    client = f"{TINY} {{ref}}"
    code, out, _ = run(capsys, str(library), "-c", client, "--timeout", "10")
    assert code == 1
    assert "! failed-silent" in out and "(want survived)" in out
    base = tmp_path / "known.toml"
    base.write_text(
        f'[[cell]]\nscenario = "empty"\nclient = {json.dumps(client)}\n'
        'verdict = "failed-silent"\nreason = "takes the empty manifest"\n'
    )
    code, out, _ = run(capsys, str(library), "-c", client, "--timeout", "10",
                       "--baseline", str(base), "--json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"rows", "clients"} and doc["clients"] == {client: None}
    row = next(r for r in doc["rows"] if r["scenario"] == "empty")
    assert (row["verdict"], row["expected"], row["baseline"]) == (
        "failed-silent", "survived", "failed-silent"
    )
    assert row["exit_code"] == 0 and row["attempts"] == 1 and row["wall_s"] > 0
    assert Path(row["artifacts"]).is_dir()


def test_markdown(capsys, library):
    code, out, _ = run(capsys, str(library / "healthy.toml"), "-c", "reference", "--markdown")
    assert code == 0 and out.startswith("| scenario | `reference` |")


def test_a_harness_error_exits_3(capsys, library, monkeypatch):
    from flakymirror.trial import matrix as matrix_module
    from flakymirror.trial.result import TrialResult

    def broken(scenario, client, options):
        return TrialResult(scenario.name, client.name, "harness-error", "survived", error="x")

    monkeypatch.setattr(matrix_module, "run_trial", broken)
    code, _, _ = run(capsys, str(library / "healthy.toml"), "-c", "reference")
    assert code == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give at least one --client"),
        (["-c", "skopeo-cpy"], "did you mean 'skopeo-copy'?"),
        (["-c", "tool {rf}"], "unknown placeholder {rf}"),
        (["-c", "reference", "no-such-scenario"], "no-such-scenario"),
        (["-c", "reference", "--baseline", "/no/such/baseline.toml"], "cannot read baseline"),
    ],
)
def test_bad_input_exits_2_naming_it(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err


@pytest.mark.parametrize("args", [["--timeout", "0"], ["-j", "x"], ["--time-scale", "-1"]])
def test_bad_numbers_are_usage_errors(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(["matrix", "-c", "reference", *args])
    assert exc.value.code == 2


def test_a_missing_client_is_skipped_outside_ci_and_an_error_in_ci(capsys, library, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    code, out, err = run(capsys, str(library / "healthy.toml"), "-c", "reference",
                         "-c", "/no/such/tool {ref}", "--json")  # fmt: skip
    assert code == 0 and "warning: skipping /no/such/tool {ref}" in err
    doc = json.loads(out)
    assert doc["skipped"] == {"/no/such/tool {ref}": "/no/such/tool is not executable"}
    assert {r["client"] for r in doc["rows"]} == {"reference"}
    monkeypatch.setenv("CI", "true")
    code, _, err = run(capsys, str(library / "healthy.toml"), "-c", "/no/such/tool {ref}")
    assert code == 2 and "required in CI" in err


def test_scenarios_that_differ_only_in_the_reference_profile_run_once_for_others(
    capsys, tmp_path
):
    action = '[action]\nkind = "open"\nimage = "lib/app:1"\nprofile = "{profile}"\n'
    for name, profile in (("a-v5", "ggcr-v0.21.5"), ("a-v9", "ggcr-v0.21.9")):
        text = HEAD.replace("{name}", name) + action.replace("{profile}", profile)
        (tmp_path / f"{name}.toml").write_text(text)
    code, out, _ = run(capsys, str(tmp_path), "-c", f"{TINY} {{ref}}", "-c", "reference",
                       "--json")  # fmt: skip
    rows = {(r["scenario"], r["client"]): r for r in json.loads(out)["rows"]}
    external = [r for (s, c), r in rows.items() if c != "reference"]
    assert [r["note"] is not None for r in sorted(external, key=lambda r: r["scenario"])] == [
        False, True
    ]
    assert "same incident as a-v5" in rows[("a-v9", f"{TINY} {{ref}}")]["note"]
    assert rows[("a-v9", "reference")]["note"] is None  # the reference runs each profile

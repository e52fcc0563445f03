"""The trial side of the pytest plugin, in small projects run with ``pytester``: scenario files
collected as one item per scenario × client, and the ``run_client`` fixture."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

# Imported before any in-process run: pytester restores sys.modules after each run, and a
# module first imported inside a run (the reference client's, say) would come back as a
# second, incompatible copy in the next one.
import flakymirror.client  # noqa: F401
import flakymirror.mirror  # noqa: F401
import flakymirror.scenario.runner  # noqa: F401
import flakymirror.trial.reference  # noqa: F401
import flakymirror.trial.runner  # noqa: F401

pytest_plugins = ["pytester"]

TINY = shlex.join([sys.executable, str(Path(__file__).with_name("tiny_client.py"))])
HEAD = """name = "{name}"
description = "a test incident"
source = "https://github.com/buildpacks/lifecycle/issues/1674"

[[images]]
ref = "lib/app:1"
seed = 9
"""


def project(pytester: pytest.Pytester) -> Path:
    folder = pytester.mkdir("scenarios")
    (folder / "healthy.toml").write_text(HEAD.replace("{name}", "healthy"))
    (folder / "empty.toml").write_text(HEAD.replace("{name}", "empty") + (
        '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 3 } }\n'
    ))  # fmt: skip
    (folder / "notes.toml").write_text('title = "not a scenario"\n')
    (folder / "pyproject.toml").write_text(HEAD.replace("{name}", "pyproject"))
    return folder


def test_scenario_files_become_one_item_per_client(pytester: pytest.Pytester) -> None:
    project(pytester)
    client = f"{TINY} {{ref}}"
    result = pytester.runpytest("scenarios", "--flakymirror-client", client,
                                "--flakymirror-client", "reference", "-v")  # fmt: skip
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        f"*empty.toml::empty[[]{client}[]] FAILED*",
        "*empty × *: verdict failed-silent, wanted survived (ideal)*",
        "*timeline (mirror and origin*",
        "*sync=empty 0/3*",
    ])  # fmt: skip
    assert "pyproject.toml::" not in result.stdout.str()
    assert "notes.toml" not in result.stdout.str()


def test_a_baseline_entry_makes_a_known_shortfall_pass(pytester: pytest.Pytester) -> None:
    project(pytester)
    client = f"{TINY} {{ref}}"
    pytester.makefile(".toml", known=(
        f'[[cell]]\nscenario = "empty"\nclient = {json.dumps(client)}\n'
        'verdict = "failed-silent"\nreason = "takes the empty manifest"\n'
    ))  # fmt: skip
    pytester.makeini(f"[pytest]\nflakymirror_clients =\n    {client}\nflakymirror_baseline = known.toml\n")
    pytester.runpytest("scenarios").assert_outcomes(passed=2)


def test_without_clients_scenario_files_are_not_collected(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest("scenarios")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_bad_options_are_usage_errors(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest("scenarios", "--flakymirror-client", "skopeo-cpy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*did you mean 'skopeo-copy'?*"])
    result = pytester.runpytest("scenarios", "--flakymirror-client", "reference",
                                "--flakymirror-timeout", "0")  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_a_broken_scenario_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    folder = project(pytester)
    (folder / "broken.toml").write_text(HEAD.replace("{name}", "broken") + "layers = 'x'\n")
    result = pytester.runpytest("scenarios", "--flakymirror-client", "reference")
    result.stdout.fnmatch_lines(["*broken.toml*images[[]0[]].layers: expected an integer*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_run_client_with_the_marker_or_a_scenario(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        TINY = {TINY!r}

        @pytest.mark.mirror_scenario("scenarios/empty.toml")
        def test_marked(run_client):
            result = run_client(TINY + " {{ref}}", timeout=10)
            assert result.verdict == "failed-silent"
            assert result.expected == "survived" and result.attempts == 1

        def test_named(run_client):
            result = run_client("reference", "lifecycle-1674-empty-layers")
            assert result.verdict == "survived" and result.attempts == 3, result.reason

        def test_needs_a_scenario(run_client):
            run_client("reference")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*run_client needs a scenario*"])


def test_scenario_items_spread_over_workers_and_shards(pytester: pytest.Pytester) -> None:
    project(pytester)
    args = ("scenarios", "--flakymirror-client", "reference", "--flakymirror-client",
            "reference:ggcr-v0.21.5", "-p", "no:cacheprovider")  # fmt: skip
    result = pytester.runpytest_subprocess(*args, "-n", "2")
    result.assert_outcomes(passed=4)
    seen = []
    for group in ("1", "2"):
        shard = pytester.runpytest_subprocess(*args, "--splits", "2", "--group", group, "-v")
        shard.assert_outcomes(passed=2)
        seen += [line.split(" ")[0] for line in shard.stdout.lines if " PASSED" in line]
    assert len(set(seen)) == 4  # the two shards split the four items between them


def test_run_client_against_a_live_mirror(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        from flakymirror.mirror import SyncPlan, AtOnce, RealClock
        from flakymirror.oci import build_image, build_index

        TINY = {TINY!r}

        def test_live(run_client, make_flaky_mirror):
            mirror = make_flaky_mirror(clock=RealClock())
            mirror.push_upstream(build_image(layers=2, seed=4), "lib/app:1")
            healthy = run_client(TINY + " {{ref}}", mirror=mirror, image="lib/app:1")
            assert healthy.verdict == "survived" and healthy.expected == "n/a"
            mirror.set_plan(SyncPlan(AtOnce(after=600), mode="empty"))
            silent = run_client(TINY + " {{ref}}", mirror=mirror, image="lib/app:1")
            assert silent.verdict == "failed-silent" and silent.attempts == 1
            assert silent.requests == {{"GET blob": 1, "GET manifest": 1}}  # this run's only

        def test_index_and_bad_use(run_client, make_flaky_mirror):
            mirror = make_flaky_mirror(clock=RealClock())
            mirror.push_upstream(build_index(seed=2, layers=1), "lib/multi:1")
            result = run_client("{{ref}} is not run", mirror=mirror, image="lib/multi:1")
            assert result.verdict == "harness-error"  # the program "{{ref}}" cannot start
            run_client(TINY + " {{ref}}", mirror=mirror)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*run_client(mirror=...) takes image='repo:tag'*"])

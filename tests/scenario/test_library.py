"""The incident library: every scenario in scenarios/ replays and every expectation holds."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from flakymirror.scenario import (
    Elapsed,
    library_dir,
    library_scenarios,
    load_file,
    load_scenario,
    render_timeline,
    run_scenario,
)
from flakymirror.scenario.library import library_files

LIBRARY = library_files()

REQUIRED = [
    "lifecycle-1674-empty-layers",
    "lifecycle-1674-manifest-unknown",
    "lifecycle-1674-partial-index",
    "lifecycle-1674-mismatched-diff-ids",
    "lifecycle-1674-never-converges",
    "registry-401-without-body",
    "lifecycle-436-unauthorized-masked",
    "registry-k8s-403-html",
    "dockerhub-hap429-ggcr-v0.21.9",
    "token-expires-mid-transfer",
    "harbor-22609-head-404-while-caching",
    "harbor-22747-manifest-blob-unknown",
    "harbor-23600-truncated-blob",
    "gcr-56-wrong-content-digest",
    "mirror-503-storm-ggcr-v0.21.5",
    "mirror-503-storm-ggcr-v0.21.9",
]


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_library_scenario_holds(path: Path):
    scenario = load_file(path)
    assert scenario.clock == "virtual"
    result = run_scenario(scenario)
    assert result.passed, "\n" + render_timeline(result, verbose=True)
    # the virtual clock: however long the mirror clock ran, the replay took real milliseconds
    assert result.wall < max(5.0, result.elapsed)


def test_library_is_complete_and_well_formed():
    scenarios = library_scenarios()
    assert len(scenarios) >= 12
    names = [s.name for s in scenarios]
    assert names == [p.stem for p in LIBRARY], "each file is named after its scenario"
    assert set(REQUIRED) <= set(names)
    for s in scenarios:
        assert any(re.match(r"https://github\.com/\S+/(issues|pull|commit)/\w+", src)
                   for src in s.source), f"{s.name} cites no issue, PR or commit"  # fmt: skip
        e = s.expect
        if e is None:
            # an incident for any client (judged by `flakymirror matrix`): no reference action
            assert s.action is None, f"{s.name}: an [action] without [expect] checks nothing"
            continue
        # every incident with expectations pins the outcome, the attempts and the opener's
        # sleep schedule
        assert e.attempts is not None and e.sleeps.opener is not None, s.name
        if e.outcome == "error":
            assert e.error is not None or e.error_contains, s.name
        assert len(e.sleeps.opener) == e.attempts - 1, f"{s.name}: one sleep between attempts"


def test_never_converges_is_the_whole_budget():
    s = load_scenario("lifecycle-1674-never-converges")
    assert s.expect.attempts == 6
    assert s.expect.sleeps.opener == (0.1, 0.2, 0.5, 1.0, 2.0)
    assert s.expect.error == "image has no layers"


# one driven by the sync clock, one by fault counts; both sleep for real
REAL_TIME = ["lifecycle-1674-manifest-unknown", "harbor-23600-truncated-blob"]


@pytest.mark.parametrize("name", REAL_TIME)
def test_library_scenario_in_real_time(name: str):
    """The same incident on the wall clock: real sleeps, the mirror syncing in real time."""
    s = load_scenario(name)
    slept = sum(s.expect.sleeps.opener or ())
    generous = Elapsed(min=slept, max=slept + 10, wall_max=30)
    real = replace(s, clock="real", expect=replace(s.expect, elapsed=generous))
    result = run_scenario(real)
    assert result.clock == "real"
    assert result.passed, "\n" + render_timeline(result, verbose=True)
    assert result.wall >= slept - 0.01  # the sleeps really happened


def test_library_dir_is_the_repositorys():
    assert library_dir().resolve() == (Path(__file__).parents[2] / "scenarios").resolve()


def test_documented_example_is_a_library_file():
    """The guide's "A complete example" is byte-identical to the library file it names."""
    root = Path(__file__).parents[2]
    readme = (root / "docs" / "guides" / "scenarios.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+ A complete example\n", readme, re.M)
    assert heading, 'docs/guides/scenarios.md has no "A complete example" section'
    block = re.compile(r"```toml\n(.*?)```", re.S).search(readme, heading.end())
    assert block, 'no TOML block under "A complete example" in docs/guides/scenarios.md'
    library_file = root / "scenarios" / "lifecycle-1674-empty-layers.toml"
    assert library_file.name in readme[heading.end() : block.start()]
    assert block.group(1) == library_file.read_text(encoding="utf-8")


def test_every_library_file_round_trips_through_its_dict_form():
    from flakymirror.scenario import scenario_from_dict

    for s in library_scenarios():
        assert scenario_from_dict(s.to_dict(), path=s.path) == s, s.name

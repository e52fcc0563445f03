"""The ``@pytest.mark.mirror_scenario`` marker of the pytest plugin: which scenario a test
names, where it is found (next to the test file, in the ``flakymirror_scenarios`` directories,
in the incident library) and what loading it into ``flaky_mirror`` produced."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flakymirror.mirror import FlakyMirror
    from flakymirror.scenario import Scenario

MARKER = "mirror_scenario"
SCENARIO = pytest.StashKey["LoadedScenario"]()
INI_SCENARIOS = "flakymirror_scenarios"


def check_marker_use(item: pytest.Item) -> None:
    """Fail ``item`` when it carries the marker but uses neither ``flaky_mirror`` (which the
    scenario is loaded into) nor ``run_client`` (which stands it up for a client)."""
    names = getattr(item, "fixturenames", ())
    if item.get_closest_marker(MARKER) is not None and not (
        "flaky_mirror" in names or "run_client" in names
    ):
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.{MARKER} loads into the flaky_mirror fixture, "
            "but the test does not use it",
            pytrace=False,
        )


@dataclass(frozen=True)
class LoadedScenario:
    """What ``@pytest.mark.mirror_scenario`` loaded: the scenario, the images it pushed
    upstream (``Image``/``ImageIndex`` by ``"repo:tag"``) and the mirror it went into."""

    scenario: Scenario
    images: dict[str, Any]
    mirror: FlakyMirror


def _find_scenario(item: pytest.Item, arg: Any) -> Scenario:
    """A file relative to the test file, then in the ini's scenario directories (by path or
    by name), then the incident library by name."""
    from flakymirror.scenario import ScenarioError, load_file, load_scenario

    text = os.fspath(arg)
    path = Path(text)
    candidates = [path] if path.is_absolute() else [item.path.parent / path]
    if not path.is_absolute():
        for folder in item.config.getini(INI_SCENARIOS):
            candidates += [Path(folder) / path, Path(folder) / f"{text}.toml"]
    for candidate in candidates:
        if candidate.is_file():
            return load_file(candidate)
    try:
        return load_scenario(text)
    except ScenarioError as exc:
        tried = ", ".join(str(c) for c in candidates)
        raise ScenarioError(f"{exc} (also tried {tried})") from None


def scenario_marker(item: pytest.Item) -> Any | None:
    """The one argument of the test's ``mirror_scenario`` marker (``None``: no marker)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    if marker.kwargs or len(marker.args) != 1 or not isinstance(marker.args[0], str | os.PathLike):
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.{MARKER} takes one scenario name or path, "
            f"got args={marker.args!r} kwargs={marker.kwargs!r}",
            pytrace=False,
        )
    return marker.args[0]


def load_marked(item: pytest.Item, arg: Any) -> Scenario:
    """The scenario the marker names; a scenario that cannot be found or read fails the test."""
    from flakymirror.scenario import ScenarioError

    try:
        return _find_scenario(item, arg)
    except (ScenarioError, OSError, ValueError) as exc:
        message = f"@pytest.mark.{MARKER}({os.fspath(arg)!r}): {exc}"
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback

"""Incident scenarios: TOML files that describe a flaky mirror, a client action and what happens.

Public API::

    from flakymirror.scenario import load_scenario, run_scenario, apply_to_mirror

    scenario = load_scenario("lifecycle-1674-empty-layers")   # a library name or a path
    result = run_scenario(scenario)                           # builds a FlakyMirror, replays
    assert result.passed, result.failures

The runner (which imports the mirror and the client) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.library import (
    discover,
    library_dir,
    library_dirs,
    library_scenarios,
    load_all,
    load_scenario,
)
from flakymirror.scenario.loader import load_file, loads, scenario_from_dict
from flakymirror.scenario.model import (
    Action,
    AuthSpec,
    Elapsed,
    Expectations,
    ImageSpec,
    MirrorSpec,
    Scenario,
    Sleeps,
)
from flakymirror.scenario.report import render_json, render_result, render_summary, render_timeline
from flakymirror.scenario.result import Event, Failure, ScenarioResult

if TYPE_CHECKING:
    from flakymirror.scenario.runner import apply_to_mirror, run_scenario

__all__ = [
    "Action",
    "AuthSpec",
    "Elapsed",
    "Event",
    "Expectations",
    "Failure",
    "ImageSpec",
    "MirrorSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Sleeps",
    "apply_to_mirror",
    "discover",
    "library_dir",
    "library_dirs",
    "library_scenarios",
    "load_all",
    "load_file",
    "load_scenario",
    "loads",
    "render_json",
    "render_result",
    "render_summary",
    "render_timeline",
    "run_scenario",
    "scenario_from_dict",
]


def __getattr__(name: str) -> Any:
    if name in ("run_scenario", "apply_to_mirror"):
        from flakymirror.scenario import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'flakymirror.scenario' has no attribute {name!r}")

"""The incident × client matrix: every scenario against every client, each cell on a mirror of
its own, judged against the baseline (or the ideal verdict)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from flakymirror.scenario.model import Scenario
from flakymirror.trial.baseline import Baseline
from flakymirror.trial.clients import ReferenceClient
from flakymirror.trial.result import TrialResult
from flakymirror.trial.runner import TrialOptions, run_trial
from flakymirror.trial.verdict import HARNESS_ERROR

__all__ = ["Matrix", "incident_key", "run_matrix"]


@dataclass(frozen=True)
class Matrix:
    """The results in scenario × client order, the clients' versions (None: unknown or not
    installed), the clients skipped (with why) and the wall time of the whole run."""

    results: tuple[TrialResult, ...]
    clients: dict[str, str | None]
    skipped: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def holds(self) -> bool:
        """True when every cell holds."""
        return all(r.holds for r in self.results)

    @property
    def harness_errors(self) -> list[TrialResult]:
        """Cells whose verdict is ``harness-error``."""
        return [r for r in self.results if HARNESS_ERROR in (r.verdict, *r.repeats)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``flakymirror matrix --json``."""
        return {
            "rows": [r.to_row() for r in self.results],
            "clients": dict(self.clients),
            "skipped": dict(self.skipped),
            "wall_s": round(self.wall_s, 3),
            "holds": self.holds,
        }


def incident_key(scenario: Scenario) -> tuple[Any, ...]:
    """What an external client sees of a scenario: everything but its name, texts, the
    reference client's profile and seed, and the reference's expectations. Scenarios with the
    same key are one incident for external clients."""
    action = scenario.action
    action_key = None
    if action is not None:
        action_key = replace(action, profile="", seed=0)
    return (
        scenario.images,
        scenario.mirror,
        scenario.origin,
        scenario.incident,
        action_key,
    )


def _version(client: Any) -> str | None:
    if isinstance(client, ReferenceClient):
        from flakymirror import __version__

        return f"flakymirror {__version__} (reference)"
    version = getattr(client, "version", None)
    return version() if callable(version) else None


def run_matrix(
    scenarios: Sequence[Scenario],
    clients: Sequence[Any],
    options: TrialOptions | None = None,
    *,
    baseline: Baseline | None = None,
    jobs: int = 1,
    repeat: int = 1,
    skipped: dict[str, str] | None = None,
    progress: Callable[[TrialResult], None] | None = None,
) -> Matrix:
    """Run every scenario against every client (``jobs`` cells at a time, each ``repeat``
    times) and fill in each cell's baseline. ``skipped`` names clients left out (missing
    binaries) with the reason; they get no column."""
    options = options or TrialOptions()
    if jobs < 1 or repeat < 1:
        raise ValueError("jobs and repeat must be >= 1")
    baseline = baseline or Baseline({})
    started = time.monotonic()
    first_of: dict[tuple[Any, ...], str] = {}
    duplicates: dict[str, str] = {}
    for s in scenarios:
        key = incident_key(s)
        if key in first_of:
            duplicates[s.name] = first_of[key]
        else:
            first_of[key] = s.name
    cells = [(s, c) for s in scenarios for c in clients]
    runnable = [
        (s, c)
        for s, c in cells
        if isinstance(c, ReferenceClient) or s.name not in duplicates
    ]

    def known(result: TrialResult) -> TrialResult:
        entry = baseline.get(result.scenario, result.client)
        if entry is None:
            return result
        return replace(result, baseline=entry.verdict, baseline_reason=entry.reason)

    def one(cell: tuple[Scenario, Any]) -> TrialResult:
        scenario, client = cell
        runs = [run_trial(scenario, client, options) for _ in range(repeat)]
        result = known(replace(runs[0], repeats=tuple(r.verdict for r in runs[1:])))
        if progress is not None:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = dict(zip([(s.name, c.name) for s, c in runnable], pool.map(one, runnable), strict=True))
    results = []
    for scenario, client in cells:
        result = done.get((scenario.name, client.name))
        if result is None:  # an external client on a duplicate incident: reuse the first
            first = duplicates[scenario.name]
            result = known(replace(
                done[(first, client.name)],
                scenario=scenario.name,
                baseline=None,
                baseline_reason=None,
                note=f"same incident as {first} for external clients (only the reference "
                "client's profile differs): its result",
            ))  # fmt: skip
        results.append(result)
    return Matrix(
        results=tuple(results),
        clients={c.name: _version(c) for c in clients} | dict.fromkeys(skipped or {}),
        skipped=dict(skipped or {}),
        wall_s=time.monotonic() - started,
    )

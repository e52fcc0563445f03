"""How ``make test`` spreads the suite over pytest-xdist workers.

* A docs page's examples share a namespace and a ``skip: next`` acts on the block after it, so
  a page is one unit of work, run in order on one worker; every other test is a unit alone,
  as ``--dist load`` schedules it. (xdist's own ``loadgroup`` no longer works with pytest 9.)
* The longest units go first (longest processing time first), so the run does not end with
  one worker busy on a long subprocess test while the other is idle. How long a test takes is
  what it took last time: :class:`DurationLog` keeps each test's seconds in pytest's cache
  (``.pytest_cache``). A test the log does not know goes first, in collection order, so a
  fresh clone runs in plain collection order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

__all__ = ["CACHE_KEY", "DocsTogether", "DurationLog", "longest_first"]

#: Where the durations live in pytest's cache.
CACHE_KEY = "flakymirror/durations"


def longest_first(units: Mapping[str, Any], seconds: Mapping[str, float]) -> list[str]:
    """The units' names, longest expected run first (a unit's tests' seconds summed; a unit
    with a test that has no recorded time counts as unknown and goes first). Ties keep their
    order, so without any recorded time the order is unchanged."""

    def expected(name: str) -> float:
        total = 0.0
        for nodeid in units[name]:
            if nodeid not in seconds:
                return math.inf
            total += seconds[nodeid]
        return total

    return sorted(units, key=expected, reverse=True)


class DocsTogether(LoadScopeScheduling):
    """pytest-xdist scheduling: one unit per ``.md`` page, one per other test, longest first."""

    _ordered = False

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return path if path.endswith(".md") else nodeid

    def _assign_work_unit(self, node: Any) -> None:
        if not self._ordered:  # the work queue is complete when the first unit is handed out
            self._ordered = True
            seconds = DurationLog.read(self.config)
            for name in longest_first(self.workqueue, seconds):
                self.workqueue.move_to_end(name)
        super()._assign_work_unit(node)


class DurationLog:
    """Each test's seconds (setup, call and teardown) from this run, merged into pytest's cache
    at the end of the session. Registered on the controlling process only (xdist workers
    report to it)."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._seconds: dict[str, float] = {}

    @staticmethod
    def read(config: pytest.Config) -> dict[str, float]:
        """The recorded seconds per test id (empty without pytest's cache, or a bad entry)."""
        cache = getattr(config, "cache", None)
        data = cache.get(CACHE_KEY, {}) if cache is not None else {}
        if not isinstance(data, dict):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Add one phase's duration to its test."""
        self._seconds[report.nodeid] = self._seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        """Merge this run's seconds into the cache (tests not run keep their old entry)."""
        cache = getattr(self._config, "cache", None)
        if cache is None or not self._seconds:
            return
        merged = self.read(self._config)
        merged.update({k: round(v, 4) for k, v in self._seconds.items()})
        cache.set(CACHE_KEY, merged)

"""How ``make test`` spreads the suite over xdist workers (tests/helpers/scheduling.py): a docs
page is one unit, the longest units go first, and durations are kept in pytest's cache."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import pytest

from tests.helpers.scheduling import CACHE_KEY, DocsTogether, DurationLog, longest_first

pytest_plugins = ["pytester"]


def test_longest_units_go_first_and_unknown_ones_before_them() -> None:
    units = {
        "docs/a.md": ["docs/a.md::1", "docs/a.md::2"],
        "t.py::quick": ["t.py::quick"],
        "t.py::slow": ["t.py::slow"],
        "t.py::new": ["t.py::new"],
        "t.py::also_new": ["t.py::also_new"],
    }
    seconds = {"docs/a.md::1": 0.5, "docs/a.md::2": 0.7, "t.py::quick": 0.01, "t.py::slow": 3.0}
    assert longest_first(units, seconds) == [
        "t.py::new", "t.py::also_new", "t.py::slow", "docs/a.md", "t.py::quick"
    ]  # fmt: skip
    assert longest_first(units, {}) == list(units)  # a fresh clone: collection order


class _Node:
    """A worker as the scheduler sees it: it is sent test indexes."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)


def test_the_scheduler_hands_out_the_longest_unit_first() -> None:
    collection = ["t.py::a", "docs/p.md::1", "docs/p.md::2", "t.py::b"]
    recorded = {"t.py::a": 0.1, "t.py::b": 2.0, "docs/p.md::1": 0.5, "docs/p.md::2": 0.5}
    scheduler = DocsTogether.__new__(DocsTogether)  # no xdist session: only its queue is used
    scheduler.config = SimpleNamespace(cache=SimpleNamespace(get=lambda key, default: (
        recorded if key == CACHE_KEY else default)))  # fmt: skip
    queue: OrderedDict[str, dict[str, bool]] = OrderedDict()
    for nodeid in collection:
        queue.setdefault(scheduler._split_scope(nodeid), {})[nodeid] = False
    assert list(queue) == ["t.py::a", "docs/p.md", "t.py::b"]  # a page is one unit
    node = _Node()
    scheduler.workqueue = queue
    scheduler.assigned_work = {}
    scheduler.registered_collections = {node: collection}
    for _ in range(3):
        scheduler._assign_work_unit(node)
    assert [collection[i] for i in node.sent] == ["t.py::b", "docs/p.md::1", "docs/p.md::2", "t.py::a"]


def test_durations_are_merged_into_pytests_cache(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "from tests.helpers.scheduling import DurationLog\n"
        "def pytest_configure(config):\n"
        "    config.pluginmanager.register(DurationLog(config), 'durations')\n"
    )
    pytester.makepyfile(test_a="def test_one(): pass\ndef test_two(): pass\n")
    pytester.runpytest_inprocess().assert_outcomes(passed=2)
    before = DurationLog.read(pytester.parseconfigure())
    pytester.runpytest_inprocess("-k", "one").assert_outcomes(passed=1, deselected=1)
    after = DurationLog.read(pytester.parseconfigure())
    assert set(after) == {"test_a.py::test_one", "test_a.py::test_two"}
    assert after["test_a.py::test_two"] == before["test_a.py::test_two"]  # not run: kept
    assert all(0 <= s < 5 for s in after.values())


def test_without_pytests_cache_nothing_is_known() -> None:
    assert DurationLog.read(SimpleNamespace()) == {}  # run with -p no:cacheprovider
    bad = SimpleNamespace(cache=SimpleNamespace(get=lambda key, default: ["not", "a", "dict"]))
    assert DurationLog.read(bad) == {}

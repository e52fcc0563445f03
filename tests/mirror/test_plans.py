"""Sync plans: schedules as step functions, dict forms, errors naming the key path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakymirror.mirror.forms import FormError
from flakymirror.mirror.plans import (
    MODES,
    AtOnce,
    Bandwidth,
    Interval,
    Requests,
    SyncPlan,
    Timeline,
    plans_from_dict,
    schedule_from_dict,
    select_plan,
)

SIZES = [100, 200, 300]


@pytest.mark.parametrize(
    ("schedule", "points"),
    [
        (AtOnce(), [(0, 3)]),
        (AtOnce(after=2), [(0, 0), (1.999, 0), (2, 3)]),
        (Interval(0.5), [(0, 0), (0.4999, 0), (0.5, 1), (1.0, 2), (1.5, 3), (99, 3)]),
        (Interval(1, first=0), [(0, 1), (0.99, 1), (1, 2), (2, 3)]),
        (Bandwidth(100), [(0, 0), (1, 1), (2.9, 1), (3, 2), (5.99, 2), (6, 3)]),
        (
            Timeline(((0.3, 1), (0.8, 2), (3.8, -1))),
            [(0, 0), (0.3, 1), (0.8, 2), (3.79, 2), (3.8, 3)],
        ),
        (Timeline.per_layer([0.1, 0.3, 0.8]), [(0.1, 1), (0.3, 2), (0.8, 3)]),
        (Timeline(((1, 1),)), [(100, 1)]),  # never completes: outlasts a retry budget
    ],
)
def test_time_schedules(schedule, points) -> None:
    for t, n in points:
        assert schedule.synced(SIZES, t, 0) == n, (schedule, t)
    assert schedule.synced(SIZES, None, 0) == 0  # not started


def test_virtual_time_sums_hit_boundaries_exactly() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats; a layer due at 0.3 must be there
    assert Interval(0.1).synced(SIZES, 0.1 + 0.2, 0) == 3
    assert Interval(0.3).synced(SIZES, 0.1 + 0.2, 0) == 1


def test_request_schedules() -> None:
    assert [Requests(2).synced(SIZES, 0, r) for r in range(4)] == [0, 0, 3, 3]
    assert [Requests(2, per_layer=True).synced(SIZES, 0, r) for r in range(8)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert Requests(0).synced(SIZES, 0, 0) == 3


def test_plan_defaults_and_selection() -> None:
    plan = SyncPlan()
    assert plan.mode == "partial" and plan.diff_ids == "cut" and isinstance(plan.schedule, AtOnce)
    specific = SyncPlan(Interval(1), mode="missing", repo="lib/*", tag="v1*")
    plans = (specific, SyncPlan(Interval(2)))
    assert select_plan(plans, "lib/app", "v1.2") is specific
    assert select_plan(plans, "lib/app", "latest") is plans[1]
    assert select_plan((specific,), "other", "v1") == SyncPlan()
    assert set(MODES) == {
        "partial",
        "empty",
        "missing",
        "blobs-404",
        "manifest-blob-unknown",
        "partial-index",
    }


def test_plan_round_trip_and_repr() -> None:
    plan = SyncPlan(Timeline.per_layer([0.5, 1]), mode="blobs-404", blobs="head", start_at=2)
    d = plan.to_dict()
    assert d["schedule"] == {"kind": "timeline", "points": [[0.5, 1], [1.0, 2]]}
    assert SyncPlan.from_dict(d) == plan
    assert "blobs-404" in repr(plan)
    assert schedule_from_dict({"kind": "timeline", "layers": [0.5, 1]}) == plan.schedule


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "slow"}, r"^mode: 'slow' is not one of"),
        ({"modes": "partial"}, r"^modes: unknown key 'modes'"),
        ({"schedule": {"kind": "warp"}}, r"^schedule.kind: 'warp' is not one of"),
        ({"schedule": {"every": 1}}, r"^schedule.kind: missing required key"),
        ({"schedule": {"kind": "interval", "every": -1}}, r"^schedule.every: must be >= 0"),
        ({"schedule": {"kind": "interval", "evry": 1}}, r"^schedule.evry: unknown key"),
        (
            {"schedule": {"kind": "bandwidth", "bytes_per_second": 0}},
            r"schedule.bytes_per_second: must be > 0",
        ),
        ({"schedule": {"kind": "timeline", "points": [[1]]}}, r"^schedule.points\[0\]: expected"),
        (
            {"schedule": {"kind": "timeline", "points": [["a", 1]]}},
            r"^schedule.points\[0\]\[0\]: expected a number",
        ),
        ({"schedule": {"kind": "requests", "count": 1.5}}, r"^schedule.count: expected an integer"),
        ({"diff_ids": "half"}, r"^diff_ids: 'half'"),
        ({"start_at": "now"}, r"^start_at: expected a number"),
        ({"tag": 3}, r"^tag: expected a string"),
        ("partial", r"expected a table"),
    ],
)
def test_plan_errors_name_the_key(data, message) -> None:
    with pytest.raises(FormError, match=message):
        SyncPlan.from_dict(data)


def test_plans_list_form() -> None:
    plans = plans_from_dict([{"repo": "a/*", "mode": "empty"}, {"mode": "missing"}])
    assert [p.mode for p in plans] == ["empty", "missing"]
    with pytest.raises(FormError, match=r"^\[1\].mode"):
        plans_from_dict([{}, {"mode": "nope"}])


schedules = st.one_of(
    st.builds(AtOnce, st.floats(0, 100)),
    st.builds(Interval, st.floats(0, 10), st.none() | st.floats(0, 10)),
    st.builds(Bandwidth, st.floats(1, 1e9)),
    st.builds(Requests, st.integers(0, 10), st.booleans()),
    st.builds(
        Timeline, st.lists(st.tuples(st.floats(0, 100), st.integers(-1, 10)), max_size=5).map(tuple)
    ),
)


@given(
    schedule=schedules,
    sizes=st.lists(st.integers(0, 10**6), max_size=6),
    t1=st.floats(0, 200),
    dt=st.floats(0, 200),
    r=st.integers(0, 50),
)
def test_progress_is_monotonic_and_bounded(schedule, sizes, t1, dt, r) -> None:
    a = schedule.synced(sizes, t1, r)
    b = schedule.synced(sizes, t1 + dt, r + 1)
    assert 0 <= a <= b <= len(sizes)
    plan = SyncPlan(schedule)
    assert SyncPlan.from_dict(plan.to_dict()) == plan

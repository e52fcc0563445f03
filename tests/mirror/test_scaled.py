"""``scaled(factor)``: plans, schedules, matchers, rules and actions run ``factor`` times
faster (every time divided, bandwidth multiplied, counts kept)."""

from __future__ import annotations

import pytest

from flakymirror.mirror import (
    AtOnce,
    Bandwidth,
    Close,
    Corrupt,
    Delay,
    Drip,
    FaultRule,
    FormError,
    Garbage,
    Headers,
    Interval,
    Match,
    Pass,
    Requests,
    Reset,
    Sequence,
    Stall,
    Status,
    SyncPlan,
    Timeline,
    Truncate,
    WrongDigest,
    fail,
    hap429,
)
from flakymirror.mirror.forms import MAX_SECONDS
from flakymirror.mirror.scaling import scale_retry_after

SCHEDULES = [
    AtOnce(3),
    Interval(2, first=1),
    Interval(0.5),
    Bandwidth(1000),
    Requests(3, per_layer=True),
    Timeline(points=((0.5, 1), (4, -1))),
]
ACTIONS = [
    Status(429, retry_after=60, headers={"Retry-After": "60", "X-Other": "7"}),
    Reset(),
    Close(),
    Garbage(10),
    Delay(3),
    Headers(set={"Retry-After": "30"}),
    Drip(chunks=3, seconds=9),
    Truncate(5),
    Corrupt(offset=2),
    WrongDigest(),
    Stall(after=1, seconds=4),
    Stall(after=1),
    Pass(),
]


@pytest.mark.parametrize("value", SCHEDULES + ACTIONS, ids=repr)
def test_scaled_by_one_is_equal_and_the_result_is_a_valid_value(value) -> None:
    assert value.scaled(1) == value
    for factor in (0.25, 3, 1000):
        out = value.scaled(factor)
        assert type(out) is type(value)
        assert type(value).from_dict(out.to_dict()) == out  # still valid, round-trips


def test_schedules() -> None:
    assert AtOnce(3).scaled(3) == AtOnce(1)
    assert Interval(2, first=1).scaled(4) == Interval(0.5, first=0.25)
    assert Interval(2).scaled(2) == Interval(1)
    assert Bandwidth(1000).scaled(2.5) == Bandwidth(2500)
    assert Requests(3, per_layer=True).scaled(10) == Requests(3, per_layer=True)
    assert Timeline(points=((0.5, 1), (4, -1))).scaled(2) == Timeline(points=((0.25, 1), (2, -1)))


def test_a_scaled_plan_syncs_as_the_original_does_factor_times_later() -> None:
    sizes = [100, 200, 300]
    for schedule in SCHEDULES:
        plan = SyncPlan(schedule, mode="empty", start_at=2)
        fast = plan.scaled(4)
        assert fast.start_at == 0.5 and fast.mode == "empty"
        for t in (0, 0.4, 1, 2.5, 7, 12):
            assert fast.synced(sizes, t / 4, 3) == plan.synced(sizes, t, 3)


def test_plan_without_start_and_plan_dict_round_trip() -> None:
    plan = SyncPlan(Interval(1), mode="missing", repo="lib/*")
    fast = plan.scaled(10)
    assert fast == SyncPlan(Interval(0.1), mode="missing", repo="lib/*")
    assert SyncPlan.from_dict(fast.to_dict()) == fast
    assert plan.scaled(1) is plan


def test_actions_with_durations() -> None:
    assert Delay(3).scaled(3) == Delay(1)
    assert Drip(chunks=3, seconds=9).scaled(3) == Drip(chunks=3, seconds=3)
    assert Stall(after=1, seconds=4).scaled(8) == Stall(after=1, seconds=0.5)
    assert Stall(after=1).scaled(8) == Stall(after=1)  # until stop or reset, whatever the scale
    for action in (Reset(), Close(), Garbage(10), Truncate(5), Corrupt(), WrongDigest(), Pass()):
        assert action.scaled(7) is action
    # slowing down past ten years stays at ten years (still a valid value)
    assert Delay(MAX_SECONDS).scaled(0.5) == Delay(MAX_SECONDS)


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert Status(429, retry_after=60).scaled(7).retry_after == 9  # 8.57 → 9
    assert Status(429, retry_after=60).scaled(60).retry_after == 1
    assert Status(429, retry_after=1).scaled(1000).retry_after == 1  # at least 1
    assert Status(429, retry_after=0).scaled(10).retry_after == 0
    assert Status(429, retry_after=7).scaled(0.7).retry_after == 10  # not 11 from 10.000000002
    assert Status(503).scaled(5) == Status(503)
    assert hap429().scaled(60) == hap429(retry_after=1)
    assert scale_retry_after(MAX_SECONDS, 0.001) == MAX_SECONDS
    status = Status(429, retry_after=60, headers={"Retry-After": "60", "X-Other": "7"}).scaled(4)
    assert status.headers == {"Retry-After": "15", "X-Other": "7"}
    assert Headers(set={"Retry-After": "30"}).scaled(4) == Headers(set={"Retry-After": "8"})
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert Headers(set={"retry-after": date}).scaled(4) == Headers(set={"retry-after": date})


def test_match_window_and_rules() -> None:
    m = Match(kind="manifest", window=(2, 10), times=3, nth=(1, 2), probability=0.5, seed=4)
    assert m.scaled(2) == Match(
        kind="manifest", window=(1, 5), times=3, nth=(1, 2), probability=0.5, seed=4
    )
    assert Match(window=(4, None)).scaled(4) == Match(window=(1, None))
    assert Match(kind="blob").scaled(9) == Match(kind="blob")
    rule = FaultRule(Match(window=(0, 6)), (Delay(3), Status(429, retry_after=30)), name="slow")
    assert rule.scaled(3) == FaultRule(
        Match(window=(0, 2)), (Delay(1), Status(429, retry_after=10)), name="slow"
    )
    seq = fail(2, Drip(seconds=4), kind="blob").then(Stall(seconds=8, then="close"))
    fast = seq.scaled(4)
    assert fast.action == Sequence(
        ((Drip(seconds=1),), (Drip(seconds=1),), (Stall(seconds=2, then="close"),)), then="pass"
    )
    assert FaultRule.from_dict(fast.to_dict()) == fast
    assert seq.scaled(1) is seq and rule.scaled(1) == rule


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "2", True, None])
def test_bad_factors_are_refused(bad) -> None:
    for value in (AtOnce(), SyncPlan(), Match(), FaultRule(action=Delay(1)), Delay(1), hap429()):
        with pytest.raises(FormError, match="^factor: "):
            value.scaled(bad)

"""``settles()``: when a plan or a rule stops misbehaving, from the value alone."""

from __future__ import annotations

import pytest

from flakymirror.mirror import (
    AtOnce,
    Bandwidth,
    Delay,
    Drip,
    Endpoint,
    FaultRule,
    Faults,
    FormError,
    Interval,
    Match,
    Pass,
    Requests,
    Sequence,
    Settle,
    Status,
    SyncPlan,
    Timeline,
    fail,
)

SIZES = [100, 200, 300]


# -- the value -----------------------------------------------------------------------------------
def test_settle_value() -> None:
    s = Settle(seconds=2.5, requests=3)
    assert Settle.from_dict(s.to_dict()) == s and s.to_dict() == {"seconds": 2.5, "requests": 3}
    assert str(s) == "2.5 s and 3 requests"
    assert str(Settle(seconds=1, since="first-request")) == "1 s after the first request"
    assert (str(Settle()), str(Settle.unbounded()), str(Settle.unknown())) == (
        "at once", "never", "unknown",
    )  # fmt: skip
    assert Settle.from_dict({"never": True}) == Settle.unbounded()
    with pytest.raises(FormError, match="^never: a value that never settles"):
        Settle(seconds=1, never=True)
    with pytest.raises(FormError, match=r"^x\.since: 'later' is not one of"):
        Settle.from_dict({"since": "later"}, "x")
    with pytest.raises(FormError, match="^requests: must be >= 0"):
        Settle(requests=-1)


# -- plans -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schedule", "units", "expected"),
    [
        (AtOnce(), SIZES, Settle(seconds=0)),
        (AtOnce(2.5), SIZES, Settle(seconds=2.5)),
        (AtOnce(2.5), 3, Settle(seconds=2.5)),
        (Interval(0.5), 3, Settle(seconds=1.5)),
        (Interval(2, first=0.1), SIZES, Settle(seconds=4.1)),
        (Interval(2), 0, Settle(seconds=0)),
        (Bandwidth(200), SIZES, Settle(seconds=3)),
        (Bandwidth(200), 3, Settle.unknown()),
        (Bandwidth(200), [], Settle(seconds=0)),
        (Requests(4), SIZES, Settle(requests=4)),
        (Requests(4, per_layer=True), SIZES, Settle(requests=12)),
        (Requests(4, per_layer=True), 0, Settle(seconds=0)),
        (Timeline(points=((0.3, 1), (1, 2), (3.8, -1))), SIZES, Settle(seconds=3.8)),
        (Timeline(points=((0.3, 1), (1, 3), (3.8, -1))), SIZES, Settle(seconds=1)),
        (Timeline.per_layer([0.2, 0.4]), SIZES, Settle.unbounded()),  # layer 3 never syncs
        (Timeline(), SIZES, Settle.unbounded()),
    ],
)
def test_schedule_settles(schedule, units, expected) -> None:
    assert schedule.settles(units) == expected
    n = units if isinstance(units, int) else len(units)
    if expected.seconds is not None and expected.requests is None and n and expected.known:
        # the schedule agrees: nothing before, everything at that time
        sizes = [1] * n if isinstance(units, int) else units
        assert schedule.synced(sizes, expected.seconds, 0) == n
        if expected.seconds > 0:
            assert schedule.synced(sizes, expected.seconds - 0.01, 0) < n


def test_plan_settles_counts_from_its_start() -> None:
    assert SyncPlan(Interval(1)).settles(SIZES) == Settle(seconds=3, since="first-request")
    assert SyncPlan(Interval(1), start_at=2).settles(SIZES) == Settle(seconds=5)
    assert SyncPlan(Requests(2), start_at=1).settles(SIZES) == Settle(seconds=1, requests=2)
    assert SyncPlan(Requests(2)).settles(3) == Settle(requests=2, since="first-request")
    assert SyncPlan(Timeline(), start_at=1).settles(SIZES) == Settle.unbounded()
    assert SyncPlan(Bandwidth(10), start_at=1).settles(3) == Settle.unknown()
    assert SyncPlan(Interval(1)).scaled(4).settles(SIZES) == Settle(
        seconds=0.75, since="first-request"
    )
    with pytest.raises(TypeError):
        SyncPlan().settles(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        SyncPlan().settles(-1)


# -- rules -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (FaultRule(Match(kind="manifest"), Status(503)), Settle.unbounded()),
        (FaultRule(Match(times=2), Status(503)), Settle(requests=2)),
        (FaultRule(Match(times=0), Status(503)), Settle()),
        (FaultRule(Match(window=(1, 4)), Status(503)), Settle(seconds=4)),
        (FaultRule(Match(window=(1, None)), Status(503)), Settle.unbounded()),
        (FaultRule(Match(window=(1, 4), times=2), Status(503)), Settle(seconds=4, requests=2)),
        (FaultRule(Match(nth=(2, 5)), Status(503)), Settle(requests=5)),
        (FaultRule(Match(nth=(2, 5, 7), times=2), Status(503)), Settle(requests=5)),
        (FaultRule(Match(probability=0.5), Status(503)), Settle.unbounded()),
        (FaultRule(Match(probability=0.5, times=2), Status(503)), Settle.unbounded()),
        (
            FaultRule(Match(probability=0.5, nth=(2, 5, 7), times=1), Status(503)),
            Settle(requests=7),
        ),
        (FaultRule(Match(probability=0.5, window=(0, 3)), Status(503)), Settle(seconds=3)),
        (FaultRule(Match(probability=1.0, times=3), Status(503)), Settle(requests=3)),
        (FaultRule(Match(probability=0.0), Status(503)), Settle()),
        (FaultRule(Match(), Pass()), Settle()),
        (fail(3, Status(503)), Settle(requests=3)),
        (fail(3, Status(503)).then(Drip(seconds=1), times=2), Settle(requests=5)),
        (FaultRule(Match(times=2), fail(3, Status(503)).action), Settle(requests=2)),
        (FaultRule(action=Sequence((Delay(1), Pass(), Pass()))), Settle(requests=1)),
        (FaultRule(action=Sequence((Pass(), Status(503)), then="repeat-last")), Settle.unbounded()),
        (FaultRule(action=Sequence((Status(503), Pass()), then="repeat-last")), Settle(requests=1)),
        (FaultRule(action=Sequence((Status(503), Pass()), then="cycle")), Settle.unbounded()),
        (FaultRule(action=Sequence((Pass(),), then="cycle")), Settle()),
        (FaultRule(Match(times=4), Sequence((Status(503),), then="cycle")), Settle(requests=4)),
    ],
    ids=lambda v: repr(v.to_dict()) if isinstance(v, FaultRule) else str(v),
)
def test_rule_settles(rule, expected) -> None:
    assert rule.settles() == expected


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(Match(kind="manifest", method="GET", reference_type="tag", times=2), Status(503)),
        FaultRule(Match(kind="manifest", nth=(1, 3)), Status(503)),
        fail(2, Status(503), kind="manifest").then(Delay(1)),
    ],
)
def test_a_rule_behaves_normally_after_the_requests_it_names(rule) -> None:
    """Drive the rule's own runtime: from request ``requests + 1`` on (counting requests its
    static fields match), it never fires a misbehaving action."""
    bound = rule.settles().requests
    assert bound is not None
    faults = Faults([rule])
    tag, digest = (
        Endpoint("manifest", "lib/app", "1"),
        Endpoint("manifest", "lib/app", "sha256:" + "a" * 64),
    )
    matched = 0
    for i in range(20):
        method, endpoint = ("HEAD", tag) if i % 3 == 0 else ("GET", tag if i % 3 == 1 else digest)
        fired = faults.fire(method, endpoint, 0.0)
        if rule.match.static_match(method, endpoint):
            matched += 1
        misbehaved = any(not isinstance(a, Pass) for f in fired for a in f.actions)
        if matched > bound:
            assert not misbehaved
        elif matched == bound and rule.match.static_match(method, endpoint):
            assert misbehaved  # the bound is tight for these rules

"""Fault rules as values: matchers, sequences, seeded probability, dict forms and their errors."""

from __future__ import annotations

import pytest

from flakymirror.mirror.actions import (
    ACTIONS,
    Corrupt,
    Delay,
    Headers,
    Pass,
    Status,
    Truncate,
    WrongDigest,
    action_from_dict,
    hap429,
    pull_rate_limit,
)
from flakymirror.mirror.faults import FaultRule, Faults, Sequence, fail, rules_from_dict
from flakymirror.mirror.forms import FormError
from flakymirror.mirror.match import Endpoint, Match, classify

M = Endpoint("manifest", "lib/app", "latest")
B = Endpoint("blob", "lib/app", "sha256:" + "a" * 64)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/", Endpoint("ping")),
        ("/v2", Endpoint("ping")),
        ("/token", Endpoint("token")),
        ("/v2/_catalog", Endpoint("catalog")),
        ("/v2/lib/app/manifests/latest", M),
        ("/v2/lib/app/blobs/sha256:" + "a" * 64, B),
        ("/v2/lib/app/blobs/uploads/", Endpoint("upload", "lib/app")),
        ("/v2/lib/app/blobs/uploads/abc-123", Endpoint("upload", "lib/app", "abc-123")),
        ("/v2/a/b/c/tags/list", Endpoint("tags", "a/b/c")),
        ("/v2/x/referrers/sha256:" + "b" * 64, Endpoint("referrers", "x", "sha256:" + "b" * 64)),
        ("/favicon.ico", Endpoint("other")),
        ("/v2/UPPER/manifests/x", Endpoint("other")),
    ],
)
def test_classify(path, expected) -> None:
    assert classify(path) == expected


def test_static_matching() -> None:
    assert Match().static_match("GET", M)
    assert Match(method="head").static_match("HEAD", M)
    assert not Match(method=("GET",)).static_match("HEAD", M)
    assert Match(kind=["manifest", "blob"]).static_match("GET", B)
    assert Match(repo="lib/*", reference="sha256:*").static_match("GET", B)
    assert not Match(repo="other/*").static_match("GET", B)
    assert not Match(reference="v1").static_match("GET", Endpoint("ping"))


def _fire(faults: Faults, n: int, endpoint=M, t: float = 0.0) -> list[list[str]]:
    return [[f.label() for f in faults.fire("GET", endpoint, t)] for _ in range(n)]


def test_times_nth_and_window() -> None:
    faults = Faults([FaultRule(Match(kind="manifest", times=2), Status(503))])
    assert _fire(faults, 4) == [["#0:status"], ["#0:status"], [], []]
    faults = Faults([FaultRule(Match(nth=(2, 4)), Status(500), name="even")])
    assert _fire(faults, 5) == [[], ["even:status"], [], ["even:status"], []]
    faults = Faults([FaultRule(Match(window=(1, 2)), Status(503))])
    assert [bool(faults.fire("GET", M, t)) for t in (0, 0.999, 1, 1.5, 2, 3)] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    assert faults.counters() == [{"seen": 2, "applied": 2}]


def test_fail_then_sequence() -> None:
    rule = fail(2, Status(503), kind="manifest").then(hap429())
    faults = Faults([rule])
    fired = [faults.fire("GET", M, 0) for _ in range(4)]
    assert [f[0].actions[0] for f in fired] == [Status(503), Status(503), hap429(), Pass()]
    assert faults.fire("GET", B, 0) == []  # matcher still applies
    cycle = FaultRule(Match(), Sequence((Status(500), Pass()), then="cycle"))
    faults = Faults([cycle])
    kinds = [faults.fire("GET", M, 0)[0].actions[0].kind for _ in range(5)]
    assert kinds == ["status", "pass", "status", "pass", "status"]
    last = FaultRule(Match(), Sequence((Pass(), Status(502)), then="repeat-last"))
    faults = Faults([last])
    assert [faults.fire("GET", M, 0)[0].actions[0].kind for _ in range(4)] == [
        "pass",
        "status",
        "status",
        "status",
    ]


def test_probability_with_seed_is_reproducible() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults([FaultRule(Match(probability=0.5, seed=seed), Status(503))])
        return [bool(faults.fire("GET", M, 0)) for _ in range(64)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert 10 < sum(run(7)) < 54
    never = Faults([FaultRule(Match(probability=0), Status(503))])
    assert not any(never.fire("GET", M, 0) for _ in range(20))


def test_several_actions_together_and_multiple_rules() -> None:
    faults = Faults(
        [FaultRule(Match(), (Delay(0.5), Status(503))), FaultRule(Match(kind="blob"), Truncate(3))]
    )
    assert [f.label() for f in faults.fire("GET", B, 0)] == ["#0:delay+status", "#1:truncate"]


def test_rule_round_trips() -> None:
    rules = [
        FaultRule(Match(kind="blob", method="HEAD", times=1), Status(404, code="BLOB_UNKNOWN")),
        fail(3, Status(503), kind="manifest").then((Delay(1), Status(429))),
        FaultRule(Match(probability=0.25, seed=3, window=(1, None)), Corrupt(offset=-1), "c"),
        FaultRule(Match(), Headers(set={"ratelimit-remaining": "0;w=21600"}, remove=("etag",))),
        FaultRule(Match(reference="latest"), pull_rate_limit()),
        FaultRule(Match(), WrongDigest()),
        FaultRule(Match(), hap429()),
    ]
    for rule in rules:
        assert FaultRule.from_dict(rule.to_dict()) == rule, rule
    seq = rules[1].to_dict()["action"]
    assert seq["steps"][0] == {"times": 3, "action": {"kind": "status", "status": 503}}
    assert rules_from_dict([r.to_dict() for r in rules]) == tuple(rules)
    for kind, cls in ACTIONS.items():
        assert action_from_dict(cls().to_dict()) == cls(), kind


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": {"kind": "explode"}}, r"^action.kind: unknown fault action 'explode'"),
        ({"match": {}, "action": {"status": 503}}, r"^action.kind: missing required key"),
        ({"action": {"kind": "status", "status": "x"}}, r"^action.status: expected an integer"),
        ({"action": {"kind": "status", "status": 700}}, r"^action.status: must be an HTTP status"),
        ({"action": {"kind": "status", "body": "xml"}}, r"^action.body: 'xml' is not one of"),
        (
            {"action": {"kind": "wrong-digest", "digest": "sha256:zz"}},
            r"^action.digest: invalid digest",
        ),
        ({"action": {"kind": "truncate", "bytes": 3}}, r"^action.bytes: unknown key 'bytes'"),
        (
            {"match": {"kind": "manifests"}, "action": {"kind": "pass"}},
            r"^match.kind\[0\]: unknown endpoint kind",
        ),
        (
            {"match": {"method": "FETCH"}, "action": {"kind": "pass"}},
            r"^match.method\[0\]: 'FETCH'",
        ),
        (
            {"match": {"probability": 2}, "action": {"kind": "pass"}},
            r"^match.probability: must be between",
        ),
        (
            {"match": {"window": [5, 1]}, "action": {"kind": "pass"}},
            r"^match.window: end 1 is before",
        ),
        ({"match": {"times": -1}, "action": {"kind": "pass"}}, r"^match.times: must be >= 0"),
        ({"match": {"when": 1}, "action": {"kind": "pass"}}, r"^match.when: unknown key"),
        ({"match": {}}, r"^action: missing required key"),
        ({"action": {"kind": "sequence", "steps": []}}, r"^action.steps: expected a non-empty"),
        (
            {"action": {"kind": "sequence", "steps": [{"kind": "nope"}]}},
            r"^action.steps\[0\].kind: unknown fault action",
        ),
        (
            {"action": {"kind": "sequence", "steps": [{"kind": "pass"}], "then": "loop"}},
            r"^action.then: 'loop'",
        ),
        ({"action": []}, r"^action: expected at least one action"),
    ],
)
def test_rule_errors_name_the_key(data, message) -> None:
    with pytest.raises(FormError, match=message):
        FaultRule.from_dict(data)


def test_every_value_reads_its_own_dict_form() -> None:
    from flakymirror.mirror import (
        AtOnce,
        Bandwidth,
        Interval,
        RealClock,
        Requests,
        Timeline,
        VirtualClock,
    )  # fmt: skip
    from flakymirror.mirror.journal import Journal, JournalEntry

    for value in (
        AtOnce(2),
        Interval(0.5, first=0),
        Bandwidth(10),
        Requests(3, True),
        Timeline(((1, 2),)),
    ):
        assert type(value).from_dict(value.to_dict()) == value
    assert Interval.from_dict({"every": 2}) == Interval(2)
    with pytest.raises(FormError, match="expected 'interval'"):
        Interval.from_dict({"kind": "bandwidth", "bytes_per_second": 1})
    for action in (Status(429, body="text"), Truncate(5), Corrupt(offset=3), hap429()):
        assert type(action).from_dict(action.to_dict()) == action
    assert Delay.from_dict({"seconds": 2}) == Delay(2)
    assert Match.from_dict(Match(kind="blob", nth=2).to_dict()) == Match(kind="blob", nth=(2,))
    assert RealClock.from_dict({"kind": "real"}) == RealClock()
    v = VirtualClock.from_dict({"kind": "virtual", "start": "2030-01-01T00:00:00Z"})
    assert v.to_dict()["start"].startswith("2030-01-01")
    j = Journal()
    e = j.open(t=1.5, clock_time=2.0, wall_time=3.0, method="GET", path="/v2/", kind="ping")
    assert JournalEntry.from_dict(e.to_dict()) == e

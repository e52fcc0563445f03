"""Values that used to break the mirror at request time are refused up front, with a
``ValueError`` naming the field (a 400 through the control API); values at the bounds work."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

import pytest
import requests

from flakymirror.mirror import (
    Delay,
    Drip,
    FaultRule,
    Garbage,
    Headers,
    Match,
    Stall,
    Status,
    VirtualClock,
    fail,
)
from flakymirror.mirror.clock import LATEST
from flakymirror.mirror.effects import garbage_chunks
from flakymirror.mirror.faults import Sequence
from flakymirror.mirror.forms import MAX_BYTES, MAX_SECONDS, MAX_STEPS, FormError
from tests.helpers.mirror_requests import REPO, get_manifest
from tests.helpers.mirror_requests import control_api as api
from tests.helpers.wire import raw_request, split_response

BIG_INT = 10**400  # JSON allows it; float() of it overflows


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _rule(action: dict) -> dict:
    return {"match": {"kind": "manifest"}, "action": action}


# -- the control API: 400 naming the field, never a 500 ----------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "kw", "field", "words"),
    [
        ("POST", "clock/advance", {"json": {"seconds": 1e12}}, "seconds", "must be <= 3162"),
        (
            "POST",
            "clock/advance",
            {"data": b'{"seconds": ' + str(BIG_INT).encode() + b"}"},
            "seconds",
            "too large integer",
        ),
        ("GET", "journal", {"params": {"status": "\u00b2"}}, "status", "expected an integer"),
        ("GET", "journal", {"params": {"status": "9" * 5000}}, "status", "expected an integer"),
        ("POST", "faults", {"data": _nested(100_000)}, "body", "nested deeper than 32"),
        ("PUT", "plan", {"data": _nested(100_000)}, "body", "nested deeper than 32"),
        ("POST", "faults", {"data": _nested(40)}, "body", "nested deeper than 32"),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "sequence", "steps": [
                {"times": 10**15, "action": {"kind": "pass"}}]})},
            "fault.action.steps[0].times",
            f"must be <= {MAX_STEPS}",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "sequence", "steps": [
                {"times": MAX_STEPS, "action": {"kind": "pass"}}, {"kind": "pass"}]})},
            "fault.action.steps",
            "at most 10000 steps",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "headers", "set": {"Content-Length": "abc"}})},
            "fault.action.set.Content-Length",
            "decimal byte count",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "headers", "set": {"Content-Length": "\u00b2"}})},
            "fault.action.set.Content-Length",
            "",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "headers", "set": {"X": "a\r\nInjected: yes"}})},
            "fault.action.set.X",
            "CR, LF",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "headers", "set": {"X:Y": "1"}})},
            "fault.action.set.X:Y",
            "not a valid HTTP header name",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "headers", "remove": ["X Y"]})},
            "fault.action.remove[0]",
            "not a valid HTTP header name",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "status", "headers": {"X": "caf\u00e9 \u20ac"}})},
            "fault.action.headers.X",
            "non-Latin-1",
        ),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "status", "status": 401, "www_authenticate": "B\nX: y"})},
            "fault.action.www_authenticate",
            "CR, LF",
        ),
        ("POST", "faults", {"json": _rule({"kind": "delay", "seconds": 1e12})},
         "fault.action.seconds", "must be <="),
        ("POST", "faults", {"json": _rule({"kind": "stall", "after": 0, "seconds": 1e12})},
         "fault.action.seconds", "must be <="),
        ("POST", "faults", {"json": _rule({"kind": "drip", "seconds": 1e12})},
         "fault.action.seconds", "must be <="),
        ("POST", "faults", {"json": _rule({"kind": "drip", "chunks": 10**9})},
         "fault.action.chunks", "must be <= 100000"),
        (
            "POST",
            "faults",
            {"json": _rule({"kind": "status", "status": 429, "retry_after": 1e300,
                            "retry_after_format": "http-date"})},
            "fault.action.retry_after",
            "must be <=",
        ),
        ("POST", "faults", {"json": _rule({"kind": "garbage", "size": 4611686018427387904})},
         "fault.action.size", f"must be <= {MAX_BYTES}"),
        ("POST", "faults", {"json": _rule({"kind": "status", "status": 100})},
         "fault.action.status", "must be an HTTP status (200-599)"),
        ("POST", "faults", {"json": _rule({"kind": "status", "status": 600})},
         "fault.action.status", "got 600"),
        ("POST", "faults", {"json": {"match": {"window": [0, BIG_INT]}, "action": "pass"}},
         "fault.match.window[1]", "too large integer"),
    ],
)  # fmt: skip
def test_bad_control_input_is_a_400_never_a_500(
    mirror, image, method, path, kw, field, words
) -> None:
    r = api(mirror, method, path, **kw)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == field, body
    assert body["error"].startswith(field) and words in body["error"], body
    assert len(body["error"]) < 500  # a huge or deep value is not echoed back whole
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes
    assert api(mirror, "GET", "state").json()["faults"] == []


def test_advance_stops_at_the_virtual_clock_last_moment(make_mirror) -> None:
    clock = VirtualClock("8995-01-01T00:00:00Z")
    mirror = make_mirror(clock=clock)
    r = api(mirror, "POST", "clock/advance", json={"seconds": MAX_SECONDS})
    assert r.status_code == 400 and r.json()["field"] == "seconds"
    assert "cannot move past 9000-01-01" in r.json()["error"]
    ok = api(mirror, "POST", "clock/advance", json={"seconds": 86400})
    assert ok.status_code == 200 and ok.json()["t"] == 86400


# -- the same checks in constructors (Python API and scenario files) ----------------------------
@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Headers(set={"Content-Length": "abc"}), "set.Content-Length"),
        (lambda: Headers(set={"X": "a\r\nInjected: yes"}), "set.X"),
        (lambda: Headers(set={"X:Y": "1"}), "set.X:Y"),
        (lambda: Headers(set={"": "1"}), "set"),
        (lambda: Headers(remove=("ok", "a\nb")), "remove[1]"),
        (lambda: Status(headers={"X": "\x00"}), "headers.X"),
        (lambda: Status(401, www_authenticate="Bearer\r\nX: y"), "www_authenticate"),
        (lambda: Status(detail=object()), "detail"),
        (lambda: Status(100), "status"),
        (lambda: Status(199), "status"),
        (lambda: Status(429, retry_after=1e300, retry_after_format="http-date"), "retry_after"),
        (lambda: Status(429, retry_after=BIG_INT), "retry_after"),
        (lambda: Delay(1e12), "seconds"),
        (lambda: Delay(MAX_SECONDS + 1), "seconds"),
        (lambda: Stall(after=0, seconds=1e12), "seconds"),
        (lambda: Drip(seconds=1e12), "seconds"),
        (lambda: Drip(chunks=10**9), "chunks"),
        (lambda: Garbage(size=4611686018427387904), "size"),
        (lambda: Garbage(size=MAX_BYTES + 1), "size"),
        (lambda: fail(10**15, Status(503)), "times"),
        (lambda: fail(MAX_STEPS, Status(503)).then(Status(429)), "times"),
        (lambda: FaultRule(action=Status(503)).then(Status(429), times=10**15), "times"),
        (lambda: Sequence(((Status(503),),) * (MAX_STEPS + 1)), "steps"),
        (lambda: Match(window=(0, BIG_INT)), "window[1]"),
    ],
)
def test_constructors_refuse_values_that_break_requests(make, field) -> None:
    with pytest.raises(FormError) as caught:
        make()
    assert isinstance(caught.value, ValueError) and caught.value.path == field


@pytest.mark.parametrize(
    "value",
    [
        Status(200),
        Status(599),
        Status(headers={"X-Ok": "tab\tand latin-1 \u00e9"}),
        Headers(set={"Content-Length": "5"}, remove="ETag"),
        Delay(MAX_SECONDS),
        Garbage(size=MAX_BYTES),
        fail(MAX_STEPS, Status(503)),
    ],
)
def test_values_at_the_bounds_are_accepted_and_round_trip(value) -> None:
    assert type(value).from_dict(value.to_dict()) == value


# -- at the bounds, over the wire ------------------------------------------------------------------
def test_longest_delay_and_http_date_retry_after_work_on_the_virtual_clock(
    make_mirror, image
) -> None:
    clock = VirtualClock("8999-12-31T00:00:00Z")  # a day before the clock's last moment
    mirror = make_mirror(clock=clock)
    mirror.push_upstream(image, f"{REPO}:1")
    mirror.add_fault(FaultRule(Match(kind="manifest", times=1), Delay(MAX_SECONDS)))
    rule = Status(429, retry_after=MAX_SECONDS, retry_after_format="http-date")
    mirror.add_fault(FaultRule(Match(kind="manifest", nth=2), rule))
    assert get_manifest(mirror, REPO, "1").status_code == 200
    assert clock.datetime().replace(tzinfo=None) == LATEST  # time stops there, no error
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 429
    assert parsedate_to_datetime(r.headers["Retry-After"]).year == 9010
    mirror.check()


def test_a_lying_content_length_is_sent_as_given(mirror, image) -> None:
    mirror.add_fault(FaultRule(Match(kind="manifest"), Headers(set={"Content-Length": "5"})))
    data, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    status, headers, body = split_response(data)
    assert status == 200 and headers["content-length"] == "5"
    assert body == image.manifest_bytes[:5]
    mirror.check()


def test_204_and_304_answers_carry_no_body(mirror) -> None:
    mirror.add_fault(FaultRule(Match(kind="manifest", nth=1), Status(204)))
    mirror.add_fault(FaultRule(Match(kind="manifest", nth=2), Status(304, body="text")))
    for code in (204, 304):
        data, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
        status, headers, body = split_response(data)
        assert status == code and body == b""
        assert "content-type" not in headers and "transfer-encoding" not in headers
        assert "content-length" not in headers or headers["content-length"] == "0"


def test_garbage_is_streamed_in_pieces(mirror) -> None:
    size = 3 * 65536 + 5
    pieces = list(garbage_chunks(size, 7))
    assert [len(p) for p in pieces] == [65536, 65536, 65536, 5]
    mirror.add_fault(FaultRule(Match(kind="manifest"), Garbage(size=size, seed=7)))
    data, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    assert data == b"".join(pieces)
    assert json.loads(requests.get(mirror.url + "/v2/", timeout=5).content) == {}

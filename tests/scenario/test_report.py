"""Checking expectations and rendering results, from plain values (no mirror, no client)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from flakymirror.scenario.checks import check, sleeps_match
from flakymirror.scenario.model import Elapsed, Expectations, Sleeps
from flakymirror.scenario.report import (
    duration,
    render_json,
    render_result,
    render_summary,
    render_timeline,
)
from flakymirror.scenario.result import Event, Failure, ScenarioResult

DIGEST = "sha256:" + "ab" * 32


def _result(**kw) -> ScenarioResult:
    base = dict(
        name="lifecycle-1674-empty-layers",
        description="manifest served before its layers",
        source=("buildpacks/lifecycle#1674",),
        path="scenarios/lifecycle-1674-empty-layers.toml",
        action="open",
        image="cnb/run:jammy",
        profile="ggcr-v0.21.9",
        clock="virtual",
        outcome="success",
        error=None,
        error_type=None,
        status=None,
        exit_code=None,
        attempts=3,
        opener_sleeps=(0.1, 0.2),
        transport_sleeps=(),
        requests=(("GET ping", 3), ("GET manifest", 3), ("GET blob", 3)),
        elapsed=0.3,
        wall=0.05,
        events=(
            Event(0.0, "attempt", attempt=1),
            Event(0.0, "request", attempt=1, method="GET", path="/v2/", endpoint="ping",
                  status=200),
            Event(0.0, "request", attempt=1, method="GET", path="/v2/cnb/run/manifests/jammy",
                  endpoint="manifest", status=200, sync="layers 0/3", bytes=300),
            Event(0.0, "request", attempt=1, method="GET", path=f"/v2/cnb/run/blobs/{DIGEST}",
                  endpoint="blob", status=200, fault="wrong digest"),
            Event(0.0, "log", level="WARNING",
                  text="Failed to open remote image (attempt 1/6): image has no layers, "
                       "retrying in 100ms"),
            Event(0.0, "sleep", duration=0.1, source="opener"),
            Event(0.3, "request", attempt=3, method="GET", path="/v2/cnb/run/manifests/jammy",
                  endpoint="manifest", status=200, sync="layers 3/3"),
        ),
        logs=("WARNING Failed to open remote image (attempt 1/6): image has no layers, "
              "retrying in 100ms",),
        failures=(),
    )  # fmt: skip
    base.update(kw)
    return ScenarioResult(**base)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.1, "100ms"), (0.5, "500ms"), (1.0, "1s"), (2, "2s"), (1.0394, "1.0394s"),
     (0.0001, "0.1ms"), (3.8, "3.8s")],
)  # fmt: skip
def test_duration_is_go_style(seconds, text):
    assert duration(seconds) == text


def test_timeline_lines():
    text = render_timeline(_result())
    lines = text.splitlines()
    assert lines[0] == (
        "== lifecycle-1674-empty-layers: manifest served before its layers "
        "[buildpacks/lifecycle#1674]"
    )
    assert "open cnb/run:jammy  profile ggcr-v0.21.9  clock virtual" in lines[1]
    manifest = next(line for line in lines if "manifests/jammy" in line and "0/3" in line)
    assert manifest.split() == ["+0.000s", "attempt", "1", "GET", "/v2/cnb/run/manifests/jammy",
                                "200", "layers", "0/3"]  # fmt: skip
    assert "  +0.300s  attempt 3  GET /v2/cnb/run/manifests/jammy" in text
    assert any(line.strip() == "sleep 100ms (opener)" for line in lines)
    blob = next(line for line in lines if "/blobs/" in line)
    assert "sha256:abababababab…" in blob and DIGEST not in blob
    assert "fault: wrong digest" in blob
    assert "log WARNING" not in text  # log lines only in verbose mode
    assert "attempts 3, backoff 300ms (opener 300ms, transport 0s)" in text
    assert lines[-1] == "   verdict: pass"


def test_timeline_verbose_and_failures():
    failure = Failure("expect.attempts", 2, 3, "expected 2 attempts, got 3")
    text = render_timeline(_result(failures=(failure,)), verbose=True)
    assert DIGEST in text and "300 B" in text
    assert "log WARNING: Failed to open remote image (attempt 1/6)" in text
    assert text.splitlines()[-2:] == [
        "   verdict: FAIL",
        "     - expect.attempts: expected 2 attempts, got 3",
    ]


def test_summary_table_and_json():
    ok = _result()
    bad = _result(
        name="never-converges", outcome="error", error="image has no layers", attempts=6,
        opener_sleeps=(0.1, 0.2, 0.5, 1.0, 2.0), transport_sleeps=(1.05,),
        failures=(Failure("expect.outcome", "success", "error", "expected success"),),
    )  # fmt: skip
    table = render_summary([ok, bad]).splitlines()
    assert table[0].split() == ["scenario", "outcome", "attempts", "backoff", "verdict"]
    assert table[2].split() == ["lifecycle-1674-empty-layers", "success", "3", "300ms", "pass"]
    assert table[3].split()[-3:] == ["6", "4.85s", "FAIL"]
    assert "error: image has no layers" in table[3]
    assert table[-1] == "2 scenarios, 1 passed, 1 failed"
    doc = json.loads(render_json([ok, bad]))
    assert doc["summary"]["passed"] == 1 and doc["summary"]["failed"] == 1
    first, second = doc["scenarios"]
    assert first["verdict"] == "pass" and second["verdict"] == "fail"
    assert second["backoff_total"] == pytest.approx(4.85)
    assert second["failures"][0]["key"] == "expect.outcome"
    assert first["timeline"][1] == {"time": 0.0, "type": "request", "attempt": 1, "method": "GET",
                                    "path": "/v2/", "endpoint": "ping", "status": 200}  # fmt: skip
    assert first["requests"] == {"GET ping": 3, "GET manifest": 3, "GET blob": 3}
    both = render_result([ok, bad])
    assert (
        both.index("== lifecycle-1674")
        < both.index("== never-converges")
        < both.index("2 scenarios")
    )


def test_request_count_by_kind_and_method():
    r = _result(requests=(("GET manifest", 3), ("HEAD manifest", 1), ("GET blob", 2)))
    assert r.request_count("manifest") == 4
    assert r.request_count("HEAD manifest") == 1
    assert r.request_count("PUT manifest") == 0
    assert r.request_count("token") == 0


def test_sleeps_match_with_jitter_and_tolerance():
    assert sleeps_match([1.0, 3.0], [1.05, 3.29], jitter=0.1, tolerance=1e-6) is None
    assert "sleep 2 was 3.31s" in sleeps_match([1.0, 3.0], [1.0, 3.31], jitter=0.1, tolerance=0)
    assert "expected 2 sleeps" in sleeps_match([1.0, 3.0], [1.0], jitter=0.1, tolerance=0)
    assert sleeps_match([0.1], [0.1000000001], jitter=0, tolerance=1e-6) is None
    assert sleeps_match([0.1], [0.099], jitter=0, tolerance=1e-6) is not None


def test_check_lists_every_failed_expectation():
    r = _result()
    good = Expectations(
        outcome="success",
        attempts=3,
        sleeps=Sleeps(opener=(0.1, 0.2), transport=()),
        requests=(("manifest", 3), ("GET blob", 3)),
        elapsed=Elapsed(min=0.3, max=0.3, wall_max=5),
    )
    assert check(good, r) == ()
    bad = replace(
        good,
        outcome="error",
        error="image has no layers",
        error_contains=("no layers",),
        exit_code=62,
        status=404,
        attempts=6,
        logs=(),
        sleeps=Sleeps(opener=(0.1,), transport=(1.0,), jitter=0.1),
        requests=(("manifest", 6), ("HEAD blob", 0)),
        elapsed=Elapsed(min=3.8, max=None, wall_max=0.01),
    )
    keys = [f.key for f in check(bad, r)]
    assert keys == [
        "expect.outcome", "expect.error", "expect.error_contains[0]", "expect.exit_code",
        "expect.status", "expect.attempts", "expect.logs", "expect.sleeps.opener",
        "expect.sleeps.transport", "expect.requests.manifest", "expect.elapsed.min",
        "expect.elapsed.wall_max",
    ]  # fmt: skip
    by_key = {f.key: f for f in check(bad, r)}
    assert by_key["expect.requests.manifest"].message == "expected 6 manifest requests, got 3"
    assert by_key["expect.logs"].message.startswith("unexpected log line 1: ")
    assert "got none" in by_key["expect.status"].message
    too_long = replace(good, elapsed=Elapsed(max=0.2))
    (failure,) = check(too_long, r)
    assert failure.key == "expect.elapsed.max" and failure.actual == 0.3

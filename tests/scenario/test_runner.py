"""The replay runner: timelines, expectations that fail, loading into a mirror you own."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from flakymirror.client import new_remote_image, open_remote_image
from flakymirror.mirror.clock import VirtualClock
from flakymirror.mirror.mirror import FlakyMirror
from flakymirror.scenario import (
    ScenarioError,
    apply_to_mirror,
    load_scenario,
    loads,
    render_json,
    run_scenario,
)
from flakymirror.scenario.runner import build_mirror, placeholders, substitute


def test_timeline_interleaves_attempts_requests_logs_and_sleeps():
    result = run_scenario(load_scenario("lifecycle-1674-empty-layers"))
    kinds = [(e.type, e.attempt, e.endpoint, e.source) for e in result.events]
    one_attempt = [("request", None, "ping", None), ("request", None, "manifest", None),
                   ("request", None, "blob", None)]  # fmt: skip

    def attempt(n):
        return [("attempt", n, None, None)] + [(t, n, k, s) for t, _, k, s in one_attempt]

    assert kinds == [
        *attempt(1), ("log", None, None, None), ("sleep", None, None, "opener"),
        *attempt(2), ("log", None, None, None), ("sleep", None, None, "opener"),
        *attempt(3), ("log", None, None, None),
    ]  # fmt: skip
    manifests = [e for e in result.events if e.endpoint == "manifest"]
    assert [e.time for e in manifests] == [0.0, 0.1, 0.3]
    assert [e.sync for e in manifests] == ["empty 0/3", "empty 0/3", "synced 3/3"]
    assert [e.status for e in manifests] == [200, 200, 200]
    assert result.requests == (("GET blob", 3), ("GET manifest", 3), ("GET ping", 3))
    assert result.opener_sleeps == (0.1, 0.2) and result.transport_sleeps == ()
    assert result.elapsed == 0.3 and result.clock == "virtual"


def test_transport_sleeps_are_told_apart_from_opener_sleeps():
    result = run_scenario(load_scenario("mirror-503-storm-ggcr-v0.21.9"))
    assert result.opener_sleeps == (0.1, 0.2, 0.5, 1.0, 2.0)
    assert len(result.transport_sleeps) == 12
    assert all(1.0 <= s <= 1.1 for s in result.transport_sleeps[::2])
    assert all(3.0 <= s <= 3.3 for s in result.transport_sleeps[1::2])
    sleeps = [e for e in result.events if e.type == "sleep"]
    # per attempt: two transport sleeps between three tries, then the opener's delay
    assert [e.source for e in sleeps[:3]] == ["transport", "transport", "opener"]
    assert result.backoff_total == pytest.approx(sum(result.transport_sleeps) + 3.8)
    manifests = [e for e in result.events if e.endpoint == "manifest"]
    assert len(manifests) == 18
    assert {(e.status, e.fault) for e in manifests} == {(503, "503 storm:status")}
    assert [e.attempt for e in manifests] == [n for n in range(1, 7) for _ in range(3)]


def test_export_sleeps_are_classified_from_the_opener_warning():
    result = run_scenario(load_scenario("lifecycle-1674-export-never-converges"))
    assert result.opener_sleeps == (0.1, 0.2, 0.5, 1.0, 2.0)
    assert result.attempts == 6 and result.exit_code == 1
    starts = [e for e in result.events if e.type == "attempt"]
    assert [e.time for e in starts] == [0.0, 0.1, 0.3, 0.8, 1.8, 3.8]


def test_a_failed_expectation_is_reported_with_its_key():
    s = load_scenario("lifecycle-1674-empty-layers")
    wrong = replace(s, expect=replace(s.expect, attempts=2, top_layer="{diff_id1}"))
    result = run_scenario(wrong)
    assert result.verdict == "fail"
    by_key = {f.key: f for f in result.failures}
    assert set(by_key) == {"expect.attempts", "expect.top_layer"}
    assert by_key["expect.attempts"].message == "expected 2 attempts, got 3"
    assert by_key["expect.top_layer"].actual == result.top_layer
    doc = json.loads(render_json([result]))
    assert doc["scenarios"][0]["failures"][0]["key"] == "expect.attempts"
    assert doc["summary"]["failed"] == 1


def test_placeholders_name_the_action_images_digests():
    s = load_scenario("lifecycle-1674-partial-index")
    built = {spec.ref: spec.build() for spec in s.images}
    values = placeholders(s, built, "127.0.0.1:5000")
    index = built["cnb/run:jammy"]
    child = index.image_for("linux/amd64")
    assert values["index_digest"] == str(index.digest)
    assert values["digest"] == str(child.digest)
    assert values["diff_id2"] == str(child.layers[1].diff_id)
    assert "diff_id3" not in values
    text = "{host} {digest} {unknown} no child with platform {amd64 linux}"
    assert substitute(text, values) == (
        f"127.0.0.1:5000 {child.digest} {{unknown}} no child with platform {{amd64 linux}}"
    )


def test_apply_to_a_mirror_you_own_then_drive_the_client_yourself():
    s = load_scenario("lifecycle-1674-manifest-unknown")
    clock = VirtualClock()
    with FlakyMirror(clock=clock) as mirror:
        built = apply_to_mirror(s, mirror)
        assert set(built) == {"cnb/run:jammy"}
        assert mirror.plans == s.mirror.plans
        ref = f"{mirror.host}/cnb/run:jammy"
        image = open_remote_image(
            lambda: new_remote_image(ref, insecure=True, sleep=clock.sleep), sleep=clock.sleep
        )
        assert image.top_layer() == str(built["cnb/run:jammy"].layers[-1].diff_id)
        assert clock.sleeps == [0.1, 0.2, 0.5]
        assert mirror.journal.count(kind="manifest") == 4


def test_run_scenario_on_a_given_mirror_uses_its_clock_and_journal():
    s = load_scenario("harbor-23600-truncated-blob")
    with FlakyMirror(clock=VirtualClock()) as mirror:
        result = run_scenario(s, mirror=mirror)
        assert result.passed, result.failures
        assert mirror.journal.count(kind="blob", method="GET") == 3
        assert len(mirror.faults.rules) == 1


def test_run_scenario_rejects_what_is_not_a_scenario():
    with pytest.raises(TypeError, match="needs a Scenario"):
        run_scenario("lifecycle-1674-empty-layers")  # type: ignore[arg-type]


def test_a_scenario_with_auth_needs_a_mirror_with_that_auth():
    s = load_scenario("token-expires-mid-transfer")
    with FlakyMirror(clock=VirtualClock()) as mirror, pytest.raises(ScenarioError) as info:
        apply_to_mirror(s, mirror)
    assert info.value.key == "mirror.auth"
    assert "needs a mirror with bearer auth, this one has AnonymousAuth" in str(info.value)
    with build_mirror(s) as own:
        assert run_scenario(s, mirror=own).passed


def test_a_rebase_whose_set_up_cannot_export_is_bad_input():
    s = load_scenario("lifecycle-1674-rebase-empty-layers")
    # the plan now also hides the old run image for two minutes: the set-up export cannot open it
    text = (
        Path(s.path)
        .read_text()
        .replace('tag = "jammy", ', "")
        .replace("after = 0.25", "after = 120")
    )
    broken = loads(text, path="rebase.toml")
    with pytest.raises(ScenarioError) as info:
        run_scenario(broken)
    assert info.value.key == "action.base_image"
    assert "failed to create new app image: image has no layers" in info.value.reason

"""The control API under /_flakymirror/: scripting a mirror over HTTP, and refusing bad input
with a 400 that names the field while the mirror keeps serving."""

from __future__ import annotations

import functools

import pytest
import requests

from flakymirror.mirror import Interval, RealClock, SyncPlan
from tests.helpers.mirror_requests import REPO, control_api, get_manifest

api = functools.partial(control_api, timeout=5)


def test_plan_faults_clock_journal_reset(mirror, vclock, image) -> None:
    state = api(mirror, "GET", "state").json()
    assert state["plans"] == [] and state["faults"] == [] and state["clock"]["kind"] == "virtual"

    plan = {"schedule": {"kind": "interval", "every": 2}, "mode": "missing"}
    r = api(mirror, "PUT", "plan", json=plan)
    assert r.status_code == 200 and r.json()["plans"][0]["mode"] == "missing"
    assert mirror.plans == (SyncPlan(Interval(2), mode="missing"),)
    assert get_manifest(mirror, REPO, "1").status_code == 404

    r = api(mirror, "POST", "clock/advance", json={"seconds": 6})
    assert r.status_code == 200 and r.json()["t"] == 6
    assert get_manifest(mirror, REPO, "1").status_code == 200

    rule = {"match": {"kind": "manifest", "times": 1}, "action": {"kind": "status", "status": 503}}
    r = api(mirror, "POST", "faults", json=rule)
    assert r.status_code == 201 and r.json() == {"added": [0]}
    assert get_manifest(mirror, REPO, "1").status_code == 503
    assert get_manifest(mirror, REPO, "1").status_code == 200
    faults = api(mirror, "GET", "faults").json()
    assert faults[0]["applied"] == 1 and faults[0]["action"]["status"] == 503
    assert api(mirror, "DELETE", "faults").json() == {"faults": []}

    journal = api(mirror, "GET", "journal", params={"kind": "manifest", "status": "503"}).json()
    assert [e["status"] for e in journal["entries"]] == [503]
    assert journal["entries"][0]["fault"] == "#0:status"
    all_entries = api(mirror, "GET", "journal").json()["entries"]
    assert [e["status"] for e in all_entries] == [404, 200, 503, 200]  # control calls not journaled

    text = api(mirror, "GET", "journal", params={"format": "text", "status": "503"}).text
    assert text.startswith("         t  method") and "fault=#0:status" in text
    images = api(mirror, "GET", "state").json()["images"]
    assert images[0]["repo"] == REPO and images[0]["complete"] is True

    r = api(mirror, "POST", "reset")
    assert r.status_code == 200
    state = r.json()
    assert state["plans"] == [] and state["faults"] == [] and state["images"] == []
    assert state["journal"] == {"entries": 0, "dropped": 0} and state["clock"]["t"] == 0
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes  # upstream kept


def test_fault_list_and_sequence_forms(mirror) -> None:
    rules = [
        {"match": {"kind": "manifest"}, "action": {"kind": "sequence", "steps": [
            {"times": 2, "action": {"kind": "status", "status": 503}},
            [{"kind": "delay", "seconds": 1}, {"kind": "status", "status": 429, "body": "text",
                                               "text": "Too Many Requests (HAP429).\n"}],
        ]}},
        {"match": {"kind": "ping"}, "action": {"kind": "headers", "set": {"x-mirror": "flaky"}}},
    ]  # fmt: skip
    assert api(mirror, "POST", "faults", json=rules).json() == {"added": [0, 1]}
    codes = [get_manifest(mirror, REPO, "1").status_code for _ in range(4)]
    assert codes == [503, 503, 429, 200]
    assert requests.get(mirror.url + "/v2/", timeout=5).headers["x-mirror"] == "flaky"


@pytest.mark.parametrize(
    ("method", "path", "kw", "field", "words"),
    [
        ("POST", "faults", {"data": b"{not json"}, "body", "not valid JSON"),
        (
            "POST",
            "faults",
            {"json": {"action": {"kind": "explode"}}},
            "fault.action.kind",
            "unknown fault action 'explode'",
        ),
        (
            "POST",
            "faults",
            {"json": {"action": {"kind": "wrong-digest", "digest": "sha256:123"}}},
            "fault.action.digest",
            "invalid digest",
        ),
        (
            "POST",
            "faults",
            {"json": {"match": {"reference": "sha256:xyz"}, "action": {"kind": "pass"}}},
            "fault.match.reference",
            "invalid digest",
        ),
        (
            "POST",
            "faults",
            {"json": {"match": {"kind": "manifest"}, "action": {"kind": "status"}, "why": 1}},
            "fault.why",
            "unknown key 'why'",
        ),
        (
            "POST",
            "faults",
            {"json": [{"action": {"kind": "pass"}}, {"action": {"kind": "status", "status": "x"}}]},
            "faults[1].action.status",
            "expected an integer",
        ),
        ("POST", "faults", {"json": None}, "body", "expected a fault rule"),
        ("PUT", "plan", {"json": {"mode": "sideways"}}, "plan.mode", "'sideways' is not one of"),
        (
            "PUT",
            "plan",
            {"json": {"schedule": {"kind": "interval", "evry": 1}}},
            "plan.schedule.evry",
            "unknown key",
        ),
        ("PUT", "plan", {"data": b"[1, 2"}, "body", "not valid JSON"),
        ("POST", "clock/advance", {"json": {"seconds": -3}}, "seconds", "must be >= 0"),
        ("POST", "clock/advance", {"json": {"secs": 3}}, "secs", "unknown key"),
        ("POST", "clock/advance", {"json": "3"}, "body", "seconds"),
        ("GET", "journal", {"params": {"status": "abc"}}, "status", "expected an integer"),
        ("GET", "journal", {"params": {"colour": "red"}}, "colour", "unknown journal filter"),
        ("GET", "journal", {"params": {"format": "xml"}}, "format", "'xml' is not one of"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(mirror, image, method, path, kw, field, words) -> None:
    r = api(mirror, method, path, **kw)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == field and words in body["error"] and body["error"].startswith(field)
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes  # still serving
    assert api(mirror, "GET", "state").json()["faults"] == []  # nothing half-applied


def test_unknown_endpoint_method_and_real_clock(make_mirror, mirror) -> None:
    r = api(mirror, "GET", "nope")
    assert r.status_code == 404 and r.json()["field"] == "path"
    r = api(mirror, "DELETE", "state")
    assert r.status_code == 405 and "allowed: GET" in r.json()["error"]
    real = make_mirror(clock=RealClock())
    r = api(real, "POST", "clock/advance", json={"seconds": 1})
    assert r.status_code == 400 and r.json()["field"] == "clock"


def test_reset_can_empty_the_own_upstream(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock)
    mirror.push_upstream(image, f"{REPO}:1")
    mirror.reset()
    assert get_manifest(mirror, REPO, "1").status_code == 200  # upstream content kept
    mirror.reset(upstream=True)
    assert get_manifest(mirror, REPO, "1").status_code == 404
    mirror.push_upstream(image, f"{REPO}:2")
    assert get_manifest(mirror, REPO, "2").status_code == 200
    shared = make_mirror(upstream=mirror.upstream)
    with pytest.raises(TypeError, match="own in-process upstream"):
        shared.reset(upstream=True)


def _documented_routes() -> list[tuple[str, str]]:
    """(method, path) pairs from the table in the control module's docstring."""
    import flakymirror.mirror.control as control

    pairs = []
    for line in (control.__doc__ or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("/_flakymirror/"):
            pairs += [(method, parts[1]) for method in parts[0].split("/")]
    return pairs


def test_the_documented_routes_are_the_served_ones(mirror) -> None:
    documented = _documented_routes()
    assert ("POST", "/_flakymirror/clock/advance") in documented
    for method, path in documented:
        kw = {"json": {"seconds": 1}} if path.endswith("advance") else {}
        if path.endswith("faults") and method == "POST":
            kw = {"json": {"action": {"kind": "pass"}}}
        r = requests.request(method, mirror.url + path, timeout=5, **kw)
        assert r.status_code not in (404, 405), (method, path, r.text)
    served = {
        (method, "/_flakymirror/" + name)
        for name, handlers in mirror.control.routes.items()
        for method in handlers
    }
    assert served == set(documented)

"""Every fault action over a real socket, asserting what a client sees."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

import pytest
import requests

from flakymirror.mirror import (
    Close,
    Corrupt,
    Delay,
    Drip,
    FaultRule,
    Garbage,
    Headers,
    Interval,
    Match,
    RealClock,
    Reset,
    Stall,
    Status,
    SyncPlan,
    Truncate,
    WrongDigest,
    fail,
    hap429,
    html_403,
    pull_rate_limit,
)
from tests.helpers.mirror_requests import get_blob, get_manifest, sha256
from tests.helpers.waiting import wait_until
from tests.helpers.wire import raw_request, split_response

REPO = "lib/app"


@pytest.fixture
def seeded(make_mirror, vclock, image):
    def make(*rules, clock=None, **kw):
        mirror = make_mirror(clock=clock or vclock, faults=rules, **kw)
        mirror.push_upstream(image, f"{REPO}:1")
        return mirror

    return make


def layer(image, i=0) -> str:
    return str(image.manifest.layers[i].digest)


# -- answers ----------------------------------------------------------------------------------
def test_status_oci_body_with_default_codes(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="manifest"), Status(503)),
        FaultRule(Match(kind="blob"), Status(404)),
        FaultRule(Match(kind="ping"), Status(403, code="DENIED", message="nope", detail={"x": 1})),
    )
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 503 and r.json() == {
        "errors": [{"code": "UNAVAILABLE", "message": "service unavailable"}]
    }
    assert r.headers["Content-Type"].startswith("application/json")
    assert get_blob(mirror, REPO, layer(image)).json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    ping = requests.get(mirror.url + "/v2/", timeout=5)
    assert ping.status_code == 403
    assert ping.json()["errors"][0] == {"code": "DENIED", "message": "nope", "detail": {"x": 1}}


def test_hap429_plain_text_with_lf_and_retry_after(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), hap429()))
    status, headers, body = split_response(raw_request(mirror.host, f"/v2/{REPO}/manifests/1")[0])
    assert status == 429
    assert body == b"Too Many Requests (HAP429).\n" and b"\r" not in body
    assert headers["content-type"].startswith("text/plain")
    assert headers["retry-after"] == "60"
    assert "docker-distribution-api-version" not in headers


def test_pull_rate_limit_headers_and_retry_after_http_date(seeded, vclock) -> None:
    mirror = seeded(
        FaultRule(Match(kind="manifest", method="GET"), pull_rate_limit(source="10.0.0.1")),
        FaultRule(
            Match(kind="manifest", method="HEAD"),
            Status(429, retry_after=30, retry_after_format="http-date"),
        ),
    )
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert r.headers["ratelimit-limit"] == "100;w=21600"
    assert r.headers["ratelimit-remaining"] == "0;w=21600"
    assert r.headers["docker-ratelimit-source"] == "10.0.0.1"
    h = get_manifest(mirror, REPO, "1", "HEAD")
    assert h.status_code == 429 and h.content == b""
    when = parsedate_to_datetime(h.headers["Retry-After"]).timestamp()
    assert when == vclock.now() + 30  # an HTTP-date on the mirror clock


def test_html_and_empty_bodies(seeded) -> None:
    mirror = seeded(
        FaultRule(Match(kind="manifest"), html_403()),
        FaultRule(Match(kind="tags"), Status(502, body="empty")),
    )
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")
    assert r.text.startswith("<html>") and "403 Forbidden" in r.text
    with pytest.raises(ValueError):
        r.json()  # docker: "invalid character '<'"
    t = requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5)
    assert t.status_code == 502 and t.content == b"" and t.headers["Content-Length"] == "0"


@pytest.mark.parametrize(
    ("challenge", "expected"),
    [
        (
            "bearer",
            'Bearer realm="http://{host}/token",service="flakymirror",scope="repository:lib/app:pull"',
        ),
        ("basic", 'Basic realm="flakymirror"'),
        (
            'Bearer realm="https://auth.example/token",error="invalid_token"',
            'Bearer realm="https://auth.example/token",error="invalid_token"',
        ),
        (None, None),
    ],
)
def test_401_challenge_variants(seeded, challenge, expected) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Status(401, www_authenticate=challenge)))
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    want = expected.format(host=mirror.host) if expected else None
    assert r.headers.get("WWW-Authenticate") == want


def test_extra_headers_on_a_good_response(seeded, image) -> None:
    mirror = seeded(
        FaultRule(
            Match(kind="manifest"),
            Headers(set={"ratelimit-remaining": "99;w=21600"}, remove=("etag",)),
        )
    )
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.content == image.manifest_bytes
    assert r.headers["ratelimit-remaining"] == "99;w=21600" and "ETag" not in r.headers


def test_connection_reset(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest", times=1), Reset()))
    data, error = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    assert data == b"" and error == "ConnectionResetError"
    assert get_manifest(mirror, REPO, "1").status_code == 200  # times=1: then normal
    entry = mirror.journal.filter(kind="manifest")[0]
    assert entry.status is None and entry.outcome == "closed" and entry.fault == "#0:reset"


def test_close_without_response(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Close()))
    assert raw_request(mirror.host, f"/v2/{REPO}/manifests/1") == (b"", None)
    with pytest.raises(requests.ConnectionError):
        get_manifest(mirror, REPO, "1")


def test_garbage_then_close(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Garbage(size=40, seed=3)))
    first, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    again, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    assert len(first) == 40 and first == again and not first.startswith(b"HTTP/")
    with pytest.raises(requests.ConnectionError):
        get_manifest(mirror, REPO, "1")


# -- timing -----------------------------------------------------------------------------------
def test_delay_advances_the_virtual_clock(seeded, vclock, real_sleeps) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Delay(5)))
    t0 = vclock.now()
    assert get_manifest(mirror, REPO, "1").status_code == 200
    assert real_sleeps.calls == []  # the 5 s passed on the mirror clock only
    assert vclock.now() == t0 + 5 and vclock.sleeps == []


def test_delay_before_headers_on_a_real_clock(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Delay(0.3)), clock=RealClock())
    wall = time.perf_counter()
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.28
    assert time.perf_counter() - wall >= 0.28


def test_drip_sends_the_body_in_chunks_over_a_duration(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Drip(chunks=4, seconds=0.4)), clock=RealClock())
    start = time.perf_counter()  # before the request: the server's 0.4 s all come after it
    with requests.get(f"{mirror.url}/v2/{REPO}/blobs/{layer(image)}", stream=True, timeout=5) as r:
        assert r.status_code == 200
        arrivals = []
        for chunk in r.iter_content(None):
            arrivals.append((time.perf_counter() - start, len(chunk)))
    body_len = sum(n for _, n in arrivals)
    assert body_len == image.manifest.layers[0].size
    assert arrivals[-1][0] >= 0.25  # spread over the duration, not sent at once
    assert mirror.journal.filter(kind="blob")[0].bytes_sent == body_len


def test_drip_under_virtual_clock_advances_it(seeded, image, vclock) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Drip(chunks=3, seconds=9)))
    t0 = vclock.now()
    r = get_blob(mirror, REPO, layer(image))
    assert sha256(r.content) == layer(image)
    assert vclock.now() == t0 + 9


def test_truncate_after_n_bytes(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Truncate(after=100)))
    data, error = raw_request(mirror.host, f"/v2/{REPO}/blobs/{layer(image)}")
    status, headers, body = split_response(data)
    assert status == 200 and int(headers["content-length"]) == image.manifest.layers[0].size
    assert len(body) == 100 and error is None  # clean close after 100 bytes
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # "unexpected EOF"
        get_blob(mirror, REPO, layer(image))
    assert mirror.journal.filter(kind="blob")[0].bytes_sent == 100


def test_truncate_with_reset_and_short_bodies_untouched(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="blob"), Truncate(after=10, reset=True)),
        FaultRule(Match(kind="manifest"), Truncate(after=10**6)),
    )
    data, error = raw_request(mirror.host, f"/v2/{REPO}/blobs/{layer(image)}")
    assert len(split_response(data)[2]) == 10 and error == "ConnectionResetError"
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes


def test_wrong_digest_header(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), WrongDigest()))
    r = get_manifest(mirror, REPO, "1")
    assert r.content == image.manifest_bytes
    assert r.headers["Docker-Content-Digest"] != sha256(r.content)
    custom = "sha256:" + "0" * 64
    mirror.clear_faults()
    mirror.add_fault(FaultRule(Match(kind="manifest", method="HEAD"), WrongDigest(custom)))
    assert get_manifest(mirror, REPO, "1", "HEAD").headers["Docker-Content-Digest"] == custom


def test_corrupt_body_keeps_length_and_digest_header(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Corrupt(offset=-1)))
    r = get_blob(mirror, REPO, layer(image))
    assert r.status_code == 200 and len(r.content) == image.manifest.layers[0].size
    assert r.headers["Docker-Content-Digest"] == layer(image) != sha256(r.content)
    good = b"".join(image.layers[0].chunks())
    diff = [i for i, (a, b) in enumerate(zip(good, r.content, strict=True)) if a != b]
    assert diff == [len(good) - 1]


def test_stall_with_duration_then_resume(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Stall(after=50, seconds=0.3)), clock=RealClock())
    start = time.perf_counter()  # before the request: the server's 0.3 s stall comes after it
    with requests.get(f"{mirror.url}/v2/{REPO}/blobs/{layer(image)}", stream=True, timeout=5) as r:
        assert r.status_code == 200  # headers arrive before the stall
        body = r.raw.read()
        waited = time.perf_counter() - start
    assert sha256(body) == layer(image) and waited >= 0.25


def test_stall_forever_times_the_client_out_and_stop_does_not_hang(
    make_mirror, vclock, image
) -> None:
    mirror = make_mirror(clock=vclock, faults=[FaultRule(Match(kind="blob"), Stall(after=10))])
    mirror.push_upstream(image, f"{REPO}:1")
    with pytest.raises(
        (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        r = requests.get(f"{mirror.url}/v2/{REPO}/blobs/{layer(image)}", timeout=0.5)
        r.content  # noqa: B018
    mirror.stop()
    mirror.check()  # a stalled handler still alive after stop's join would be reported here


def test_stall_is_released_by_reset(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock, faults=[FaultRule(Match(kind="blob"), Stall(after=10))])
    mirror.push_upstream(image, f"{REPO}:1")
    import threading

    result = {}

    def client() -> None:
        result["raw"] = raw_request(mirror.host, f"/v2/{REPO}/blobs/{layer(image)}", timeout=10)

    t = threading.Thread(target=client)
    t.start()
    # the 10 bytes before the stall went out: the handler holds the interrupt reset() sets
    wait_until(lambda: any(e.bytes_sent >= 10 for e in mirror.journal.filter(kind="blob")))
    mirror.reset()
    t.join(5)
    assert not t.is_alive()
    assert len(split_response(result["raw"][0])[2]) == 10


# -- rules over time, sequences, composition ----------------------------------------------------
def test_fail_n_times_then_behave(seeded, image) -> None:
    mirror = seeded(fail(2, Status(503), kind="manifest").then(hap429()))
    codes = [get_manifest(mirror, REPO, "1").status_code for _ in range(5)]
    assert codes == [503, 503, 429, 200, 200]


def test_window_on_the_mirror_clock(seeded, vclock) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest", window=(1, 2)), Status(503)))
    codes = []
    for _ in range(4):
        codes.append(get_manifest(mirror, REPO, "1").status_code)
        vclock.sleep(0.75)
    assert codes == [200, 200, 503, 200]  # t = 0, 0.75, 1.5, 2.25


def test_probability_with_seed_is_reproducible_over_http(make_mirror, vclock, image) -> None:
    def run(seed: int) -> list[int]:
        mirror = make_mirror(
            clock=vclock,
            faults=[FaultRule(Match(kind="manifest", probability=0.5, seed=seed), Status(503))],
        )
        mirror.push_upstream(image, f"{REPO}:1")
        return [get_manifest(mirror, REPO, "1").status_code for _ in range(16)]

    a, b, c = run(42), run(42), run(43)
    assert a == b and a != c and {200, 503} == set(a)


def test_faults_compose_with_the_sync_state(make_mirror, vclock, image) -> None:
    mirror = make_mirror(
        clock=vclock,
        plan=SyncPlan(Interval(1)),
        faults=[FaultRule(Match(kind="manifest"), WrongDigest())],
    )
    mirror.push_upstream(image, f"{REPO}:1")
    r = get_manifest(mirror, REPO, "1")
    assert r.json()["layers"] == []  # the sync state...
    assert r.headers["Docker-Content-Digest"] != sha256(r.content)  # ...with the fault on top
    entry = mirror.journal.filter(kind="manifest")[0]
    assert entry.sync == "partial 0/3" and entry.fault == "#0:wrong-digest"


def test_journal_records_each_request(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob", method="HEAD"), Status(404)))
    get_manifest(mirror, REPO, "1")
    get_blob(mirror, REPO, layer(image), "HEAD")
    get_blob(mirror, REPO, layer(image))
    entries = mirror.journal.entries
    assert [(e.method, e.kind, e.status) for e in entries] == [
        ("GET", "manifest", 200),
        ("HEAD", "blob", 404),
        ("GET", "blob", 200),
    ]
    assert entries[0].bytes_sent == len(image.manifest_bytes) and entries[1].bytes_sent == 0
    assert entries[2].bytes_sent == image.manifest.layers[0].size
    assert all(e.done and e.wall_time > 1.7e9 for e in entries)
    data = json.loads(mirror.journal.to_json())
    assert data["entries"][1]["fault"] == "#0:status"

"""What the server in front of the mirror does is the mirror's too: requests it refuses before
the mirror are journaled, and its ``Date`` header reads the mirror clock."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime

import requests

from flakymirror.mirror import FaultRule, Match, Status
from tests.helpers.mirror_requests import REPO, get_manifest
from tests.helpers.wire import raw as raw_on_server
from tests.helpers.wire import split_response


def send(mirror, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    return raw_on_server(mirror.server, data)


def _req(target: str, *headers: str, line: str | None = None) -> bytes:
    head = line if line is not None else f"GET {target} HTTP/1.1"
    return ("\r\n".join([head, "Host: x", *headers, "Connection: close", "", ""])).encode()


REJECTED = [
    (_req("", line="NONSENSE\r\n"), 400, "NONSENSE", "", None),
    (_req(f"/v2/{REPO}/manifests/1", line=f"GET /v2/{REPO}/manifests/1 HTTP/2.0"), 505, "GET",
     f"/v2/{REPO}/manifests/1", "1"),
    (_req(f"/v2/{REPO}/blobs/uploads/", "Transfer-Encoding: gzip", line=(
        f"POST /v2/{REPO}/blobs/uploads/ HTTP/1.1")), 501, "POST", f"/v2/{REPO}/blobs/uploads/",
     None),
    (_req(f"/v2/{REPO}/manifests/1?ns=docker.io", "Content-Length: \u00b2"), 400, "GET",
     f"/v2/{REPO}/manifests/1", "1"),
    (_req("/v2/", *[f"X-{i}: y" for i in range(300)]), 431, "GET", "/v2/", None),
]  # fmt: skip


def test_requests_refused_before_the_mirror_are_journaled(mirror, vclock) -> None:
    vclock.sleep(2)
    for raw, status, *_ in REJECTED:
        answer = send(mirror, raw)
        assert split_response(answer)[0] == status, answer[:200]
    assert get_manifest(mirror, REPO, "1").status_code == 200
    entries = mirror.journal.entries
    assert [(e.kind, e.status) for e in entries] == [
        *(("rejected", status) for _, status, *_ in REJECTED),
        ("manifest", 200),
    ]
    for entry, (_, _, method, path, reference) in zip(entries, REJECTED, strict=False):
        assert (entry.method, entry.path, entry.reference) == (method, path, reference)
        assert entry.outcome == "rejected" and entry.done and entry.faults == []
        assert entry.reason and entry.t == 2
    assert entries[1].repo == REPO and "HTTP version" in entries[1].reason
    assert (entries[3].query, entries[3].ns) == ("ns=docker.io", "docker.io")
    assert "Content-Length" in entries[3].reason
    # through the control API and in the timeline too
    r = requests.get(f"{mirror.url}/_flakymirror/journal", params={"kind": "rejected"}, timeout=5)
    assert [e["status"] for e in r.json()["entries"]] == [s for _, s, *_ in REJECTED]
    assert r.json()["entries"][2]["reason"].startswith("unsupported Transfer-Encoding")
    assert "rejected: unsupported HTTP version" in mirror.journal.timeline()
    assert mirror.state()["journal"]["entries"] == len(REJECTED) + 1
    mirror.check()


def test_refused_control_calls_stay_out_of_the_journal(mirror) -> None:
    answer = send(mirror, _req("/_flakymirror/state", "Content-Length: x"))
    assert split_response(answer)[0] == 400
    assert len(mirror.journal) == 0


def test_date_header_follows_the_mirror_clock(mirror, vclock) -> None:
    r = get_manifest(mirror, REPO, "1")
    assert r.headers["Date"] == formatdate(vclock.now(), usegmt=True)
    assert r.headers["Date"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    vclock.sleep(3600)
    mirror.add_fault(
        FaultRule(
            Match(kind="manifest"), Status(429, retry_after=30, retry_after_format="http-date")
        )
    )
    r = get_manifest(mirror, REPO, "1")
    date = parsedate_to_datetime(r.headers["Date"])
    retry = parsedate_to_datetime(r.headers["Retry-After"])
    assert date.timestamp() == vclock.now() and (retry - date).total_seconds() == 30
    # the server's own answers (a refused request, the control API) carry it as well
    refused = split_response(send(mirror, _req("/v2/", line="GET /v2/ HTTP/3")))[1]
    assert refused["date"] == "Thu, 01 Jan 2026 01:00:00 GMT"
    control = requests.get(f"{mirror.url}/_flakymirror/state", timeout=5)
    assert control.headers["Date"] == "Thu, 01 Jan 2026 01:00:00 GMT"
    mirror.reset()
    assert get_manifest(mirror, REPO, "1").headers["Date"] == "Thu, 01 Jan 2026 00:00:00 GMT"

"""Structured facts in journal entries, over real sockets: the digest of the manifest served,
the damage faults did to a body, and the offset of a ranged answer."""

from __future__ import annotations

import pytest
import requests

from flakymirror.mirror import (
    Corrupt,
    Delay,
    FaultRule,
    Garbage,
    Headers,
    Interval,
    JournalEntry,
    Match,
    Pass,
    RealClock,
    Stall,
    SyncPlan,
    Truncate,
    WrongDigest,
)
from tests.helpers.mirror_requests import REPO, get_blob, get_manifest, sha256
from tests.helpers.waiting import wait_until
from tests.helpers.wire import raw_request


def done(mirror, n: int = 1, timeout: float = 5.0) -> list[JournalEntry]:
    """The journal's entries once ``n`` of them are closed (polling, generous bound)."""

    def closed() -> list[JournalEntry] | None:
        entries = mirror.journal.entries
        return entries if len(entries) >= n and all(e.done for e in entries[:n]) else None

    return wait_until(
        closed,
        timeout=timeout,
        message=lambda: f"journal did not close {n} entries: {mirror.journal.timeline()}",
    )


def layer(image, i: int = 0) -> str:
    return str(image.manifest.layers[i].digest)


@pytest.fixture
def seeded(make_mirror, vclock, image):
    def make(*rules, clock=None, **kw):
        mirror = make_mirror(clock=clock or vclock, faults=rules, **kw)
        mirror.push_upstream(image, f"{REPO}:1")
        return mirror

    return make


# -- digest ----------------------------------------------------------------------------------
def test_fast_path_and_full_path_journal_the_same_digest(make_mirror, vclock, image) -> None:
    plain = make_mirror(clock=vclock)  # no rules: the manifest fast path
    ruled = make_mirror(clock=vclock, faults=[FaultRule(Match(kind="blob"), Pass())])
    facts = []
    for mirror in (plain, ruled):
        mirror.push_upstream(image, f"{REPO}:1")
        for method in ("GET", "HEAD"):
            assert get_manifest(mirror, REPO, "1", method).status_code == 200
        assert get_manifest(mirror, REPO, str(image.digest)).status_code == 200
        facts.append([(e.method, e.digest, e.media_type) for e in done(mirror, 3)])
    assert facts[0] == facts[1]
    assert facts[0] == [(m, str(image.digest), image.media_type) for m in ("GET", "HEAD", "GET")]


def test_digest_is_the_view_served_and_none_without_a_manifest_body(
    make_mirror, vclock, image
) -> None:
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1), mode="partial"))
    mirror.push_upstream(image, f"{REPO}:1")
    cut = get_manifest(mirror, REPO, "1")
    assert cut.status_code == 200 and len(cut.json()["layers"]) == 0
    vclock.sleep(3)
    full = get_manifest(mirror, REPO, "1")
    missing = get_manifest(mirror, REPO, "nope")
    blob = get_blob(mirror, REPO, layer(image))
    entries = done(mirror, 4)
    assert entries[0].digest == sha256(cut.content) != str(image.digest)
    assert entries[0].sync == "partial 0/3"
    assert entries[1].digest == str(image.digest) == sha256(full.content)
    assert missing.status_code == 404 and entries[2].digest is None
    assert blob.status_code == 200 and entries[3].digest is None


def test_wrong_digest_is_not_damage_and_the_digest_is_the_document_served(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), WrongDigest()))
    r = get_manifest(mirror, REPO, "1")
    assert r.headers["Docker-Content-Digest"] != str(image.digest)
    (entry,) = done(mirror)
    assert entry.digest == str(image.digest) and entry.damage == []


# -- offset ------------------------------------------------------------------------------------
def test_offset_of_a_ranged_blob_answer(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Pass()))
    whole = get_blob(mirror, REPO, layer(image))
    part = get_blob(mirror, REPO, layer(image), headers={"Range": "bytes=100-"})
    tail = get_blob(mirror, REPO, layer(image), headers={"Range": "bytes=-10"})
    assert (whole.status_code, part.status_code, tail.status_code) == (200, 206, 206)
    size = len(whole.content)
    entries = done(mirror, 3)
    assert [(e.status, e.offset, e.bytes_sent) for e in entries] == [
        (200, 0, size),
        (206, 100, size - 100),
        (206, size - 10, 10),
    ]
    assert part.content == whole.content[100:]


def test_offset_without_any_fault_rule(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock)
    mirror.push_upstream(image, f"{REPO}:1")
    r = get_blob(mirror, REPO, layer(image), headers={"Range": "bytes=7-9"})
    assert r.status_code == 206 and len(r.content) == 3
    (entry,) = done(mirror)
    assert (entry.offset, entry.bytes_sent) == (7, 3)


# -- damage ------------------------------------------------------------------------------------
def test_truncate_is_damage_only_when_it_cut(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="blob"), Truncate(after=100)),
        FaultRule(Match(kind="manifest"), Truncate(after=10**6)),
    )
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_blob(mirror, REPO, layer(image))
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes
    blob, manifest = done(mirror, 2)
    assert blob.damage == ["truncated"] and blob.bytes_sent == 100 and blob.outcome == "closed"
    assert manifest.damage == [] and manifest.outcome == "ok"
    assert "damage=truncated" in blob.line() and "damage" not in manifest.line()


def test_truncate_with_reset_and_on_head_requests(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Truncate(after=10, reset=True)))
    data, error = raw_request(mirror.host, f"/v2/{REPO}/blobs/{layer(image)}")
    assert error == "ConnectionResetError"
    assert get_blob(mirror, REPO, layer(image), method="HEAD").status_code == 200
    get_, head = done(mirror, 2)
    assert get_.damage == ["truncated"] and head.damage == []


def test_corrupt_is_damage_when_a_byte_flipped(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="blob", reference=layer(image, 0)), Corrupt(offset=5)),
        FaultRule(Match(kind="blob", reference=layer(image, 1)), Corrupt(offset=10**9)),
    )
    bad = get_blob(mirror, REPO, layer(image, 0))
    ok = get_blob(mirror, REPO, layer(image, 1))  # the offset lies past the body: untouched
    head = get_blob(mirror, REPO, layer(image, 0), method="HEAD")
    assert sha256(bad.content) != layer(image, 0) and sha256(ok.content) == layer(image, 1)
    assert head.status_code == 200
    assert [e.damage for e in done(mirror, 3)] == [["corrupted"], [], []]


def test_garbage_is_damage(seeded) -> None:
    mirror = seeded(FaultRule(Match(kind="manifest"), Garbage(size=100)))
    data, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1")
    assert len(data) == 100
    (entry,) = done(mirror)
    assert entry.damage == ["garbage"] and entry.digest is None


def test_headers_with_a_shorter_content_length_truncate(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="blob"), Headers(set={"Content-Length": "20"})),
        FaultRule(
            Match(kind="manifest"), Headers(set={"Content-Length": "100000"}, remove=("ETag",))
        ),
    )
    r = get_blob(mirror, REPO, layer(image))
    assert len(r.content) == 20
    data, _ = raw_request(mirror.host, f"/v2/{REPO}/manifests/1", timeout=2)
    entries = done(mirror, 2)
    assert entries[0].damage == ["truncated"] and entries[0].bytes_sent == 20
    assert entries[1].damage == []  # a longer length cuts nothing


def test_stall_that_closes_truncates_and_one_that_resumes_does_not(seeded, image) -> None:
    mirror = seeded(
        FaultRule(
            Match(kind="blob", reference=layer(image, 0)), Stall(after=50, seconds=1, then="close")
        ),
        FaultRule(Match(kind="blob", reference=layer(image, 1)), Stall(after=50, seconds=1)),
        FaultRule(Match(kind="manifest"), Stall(after=10**6, seconds=1, then="close")),
    )
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_blob(mirror, REPO, layer(image, 0))
    assert sha256(get_blob(mirror, REPO, layer(image, 1)).content) == layer(image, 1)
    raw_request(mirror.host, f"/v2/{REPO}/manifests/1")  # the whole body, then a close
    assert [e.damage for e in done(mirror, 3)] == [["truncated"], [], []]


def test_several_damaging_effects_are_each_recorded(seeded, image) -> None:
    mirror = seeded(
        FaultRule(Match(kind="blob"), (Delay(0.1), Corrupt(offset=0), Truncate(after=30))),
    )
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_blob(mirror, REPO, layer(image))
    (entry,) = done(mirror)
    assert entry.damage == ["corrupted", "truncated"]
    assert "damage=corrupted,truncated" in entry.line()


def test_real_clock_stall_until_stop_is_truncated(make_mirror, image) -> None:
    mirror = make_mirror(clock=RealClock(), faults=[FaultRule(Match(kind="blob"), Stall(after=10))])
    mirror.push_upstream(image, f"{REPO}:1")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{mirror.url}/v2/{REPO}/blobs/{layer(image)}", timeout=0.5).content  # noqa: B018
    mirror.stop()
    (entry,) = done(mirror)
    assert entry.damage == ["truncated"] and entry.bytes_sent == 10


# -- the dict form -----------------------------------------------------------------------------
def test_new_fields_round_trip_and_old_exports_still_load(seeded, image) -> None:
    mirror = seeded(FaultRule(Match(kind="blob"), Truncate(after=10)))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_blob(mirror, REPO, layer(image), headers={"Range": "bytes=5-"})
    get_manifest(mirror, REPO, "1")
    for entry in done(mirror, 2):
        d = entry.to_dict()
        assert JournalEntry.from_dict(d) == entry
    blob, manifest = (e.to_dict() for e in mirror.journal)
    assert (blob["offset"], blob["damage"], blob["digest"]) == (5, ["truncated"], None)
    assert manifest["digest"] == str(image.digest)
    old = {k: v for k, v in blob.items() if k not in ("digest", "media_type", "damage", "offset")}
    loaded = JournalEntry.from_dict(old)
    assert (loaded.digest, loaded.damage, loaded.offset) == (None, [], 0)

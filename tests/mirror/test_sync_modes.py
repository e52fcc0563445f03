"""Each sync mode over real sockets: what a client (requests) sees while an image fills in."""

from __future__ import annotations

import json

import pytest
import requests

from flakymirror.mirror import AtOnce, Bandwidth, Interval, Requests, SyncPlan, Timeline
from tests.helpers.mirror_requests import get_blob, get_manifest, sha256

REPO = "lib/app"


def _seeded(make_mirror, vclock, image, **plan_kw):
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1), **plan_kw))
    mirror.push_upstream(image, f"{REPO}:1")
    return mirror


def _check_digest(r: requests.Response) -> None:
    assert r.headers["Docker-Content-Digest"] == sha256(r.content)
    assert r.headers["Content-Length"] == str(len(r.content))


def test_partial_cut_layers_fill_in_with_consistent_config(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image)
    layers = [d.digest for d in image.manifest.layers]
    digests = []
    for k in range(4):
        r = get_manifest(mirror, REPO, "1")
        assert r.status_code == 200
        _check_digest(r)
        assert r.headers["Content-Type"] == image.media_type
        doc = r.json()
        assert [layer["digest"] for layer in doc["layers"]] == [str(d) for d in layers[:k]]
        cfg = get_blob(mirror, REPO, doc["config"]["digest"])
        assert cfg.status_code == 200 and sha256(cfg.content) == doc["config"]["digest"]
        assert len(cfg.json()["rootfs"]["diff_ids"]) == k  # cut to match: no "mismatched fs layers"
        # the served digest is fetchable by digest; synced layers are served, the rest are not
        assert get_manifest(mirror, REPO, r.headers["Docker-Content-Digest"]).content == r.content
        for i, d in enumerate(layers):
            assert get_blob(mirror, REPO, str(d), "HEAD").status_code == (200 if i < k else 404)
        digests.append(r.headers["Docker-Content-Digest"])
        vclock.sleep(1)
    assert len(set(digests)) == 4  # the manifest digest changes as layers fill in
    assert digests[-1] == str(image.digest)  # ...and ends as upstream's
    assert r.content == image.manifest_bytes


def test_partial_full_diff_ids_reproduces_mismatched_fs_layers(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image, diff_ids="full")
    assert get_manifest(mirror, REPO, "1").json()["layers"] == []  # starts the sync
    vclock.advance(1)
    doc = get_manifest(mirror, REPO, "1").json()
    config = get_blob(mirror, REPO, doc["config"]["digest"]).json()
    assert len(doc["layers"]) == 1
    assert len(config["rootfs"]["diff_ids"]) == 3  # mismatched fs layers (1) and diff ids (3)
    assert doc["config"]["digest"] == str(image.manifest.config.digest)


def test_partial_before_any_layer_is_the_lifecycle_1674_manifest(
    make_mirror, vclock, image
) -> None:
    mirror = _seeded(make_mirror, vclock, image)
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.json()["layers"] == []
    # the full manifest is not on the mirror yet when asked for by digest
    missing = get_manifest(mirror, REPO, str(image.digest))
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_empty_mode(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image, mode="empty")
    seen = []
    for _ in range(4):
        r = get_manifest(mirror, REPO, "1")
        _check_digest(r)
        seen.append(len(r.json()["layers"]))
        vclock.sleep(1)
    assert seen == [0, 0, 0, 3]


def test_missing_mode_answers_manifest_unknown_with_oci_body(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image, mode="missing")
    for _ in range(3):
        r = get_manifest(mirror, REPO, "1")
        assert r.status_code == 404
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert get_manifest(mirror, REPO, "1", "HEAD").status_code == 404
        vclock.sleep(1)
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.content == image.manifest_bytes


@pytest.mark.parametrize(
    ("which", "get_status", "head_status"),
    [("both", 404, 404), ("head", 200, 404), ("get", 404, 200)],
)
def test_blobs_404_mode(make_mirror, vclock, image, which, get_status, head_status) -> None:
    mirror = _seeded(make_mirror, vclock, image, mode="blobs-404", blobs=which)
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.content == image.manifest_bytes  # full manifest at once
    layer = str(image.manifest.layers[0].digest)
    g, h = get_blob(mirror, REPO, layer), get_blob(mirror, REPO, layer, "HEAD")
    assert (g.status_code, h.status_code) == (get_status, head_status)
    if get_status == 404:
        assert g.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    else:
        assert sha256(g.content) == layer
    assert get_blob(mirror, REPO, str(image.manifest.config.digest)).status_code == 200
    vclock.sleep(1)
    assert get_blob(mirror, REPO, layer).status_code == 200
    assert get_blob(mirror, REPO, layer, "HEAD").status_code == 200
    assert get_blob(mirror, REPO, str(image.manifest.layers[1].digest)).status_code == get_status


def test_manifest_blob_unknown_mode(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image, mode="manifest-blob-unknown")
    first = str(image.manifest.layers[0].digest)
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err == {
        "code": "MANIFEST_BLOB_UNKNOWN",
        "message": "blob unknown to registry",
        "detail": first,
    }
    vclock.sleep(2)
    err = get_manifest(mirror, REPO, "1").json()["errors"][0]
    assert err["detail"] == str(image.manifest.layers[2].digest)
    assert get_blob(mirror, REPO, first).status_code == 200
    vclock.sleep(1)
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes


def test_partial_index_missing_child(make_mirror, vclock, index) -> None:
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1), mode="partial-index"))
    mirror.push_upstream(index, f"{REPO}:multi")
    amd, arm = (str(d.digest) for d in index.index.manifests)
    r = get_manifest(mirror, REPO, "multi")
    assert r.content == index.index_bytes  # both children listed
    assert get_manifest(mirror, REPO, amd).status_code == 404
    vclock.sleep(1)
    child = get_manifest(mirror, REPO, amd)
    assert child.status_code == 200 and sha256(child.content) == amd
    missing = get_manifest(mirror, REPO, arm)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    arm_layer = json.loads(index.image(arm).manifest_bytes)["layers"][0]["digest"]
    assert get_blob(mirror, REPO, arm_layer).status_code == 404
    vclock.sleep(1)
    assert get_manifest(mirror, REPO, arm).status_code == 200
    assert get_blob(mirror, REPO, arm_layer).status_code == 200


def test_partial_index_unlisted(make_mirror, vclock, index) -> None:
    mirror = make_mirror(
        clock=vclock, plan=SyncPlan(Interval(1), mode="partial-index", index="unlisted")
    )
    mirror.push_upstream(index, f"{REPO}:multi")
    listed = []
    for _ in range(3):
        r = get_manifest(mirror, REPO, "multi")
        _check_digest(r)
        listed.append([m["platform"]["architecture"] for m in r.json()["manifests"]])
        vclock.sleep(1)
    assert listed == [[], ["amd64"], ["amd64", "arm64"]]
    assert r.content == index.index_bytes


def test_partial_mode_on_an_index_rewrites_child_digests(make_mirror, vclock, index) -> None:
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1)))
    mirror.push_upstream(index, f"{REPO}:multi")
    get_manifest(mirror, REPO, "multi")
    vclock.advance(1)
    r = get_manifest(mirror, REPO, "multi")
    _check_digest(r)
    for desc in r.json()["manifests"]:
        child = get_manifest(mirror, REPO, desc["digest"])
        assert child.status_code == 200 and sha256(child.content) == desc["digest"]
        assert len(child.content) == desc["size"] and len(child.json()["layers"]) == 1
    vclock.advance(1)
    assert get_manifest(mirror, REPO, "multi").content == index.index_bytes


def test_tags_list_shows_synced_tags_only(make_mirror, vclock, image) -> None:
    other = image.with_config(labels={"v": "2"})
    mirror = make_mirror(
        clock=vclock,
        plan=[SyncPlan(Interval(1), tag="slow"), SyncPlan(AtOnce())],
    )
    mirror.push_upstream(image, f"{REPO}:slow")
    mirror.push_upstream(other, f"{REPO}:fast")
    tags = lambda: requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5).json()["tags"]  # noqa: E731
    assert tags() == ["fast"]
    get_manifest(mirror, REPO, "slow")  # starts its sync
    vclock.sleep(2)
    assert tags() == ["fast"]
    vclock.sleep(1)
    assert tags() == ["fast", "slow"]


def test_ns_parameter_is_accepted_and_journaled(make_mirror, vclock, image) -> None:
    mirror = _seeded(make_mirror, vclock, image)
    r = get_manifest(mirror, REPO, "1", params={"ns": "docker.io"})
    assert r.status_code == 200
    assert mirror.journal.filter(kind="manifest")[0].ns == "docker.io"


def test_request_count_and_bandwidth_schedules(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Requests(2, per_layer=True)))
    mirror.push_upstream(image, f"{REPO}:1")
    counts = [len(get_manifest(mirror, REPO, "1").json()["layers"]) for _ in range(7)]
    assert counts == [0, 0, 1, 1, 2, 2, 3]
    sizes = [d.size for d in image.manifest.layers]
    mirror.set_plan(SyncPlan(Bandwidth(sizes[0])))  # restarts syncing at the next request
    assert len(get_manifest(mirror, REPO, "1").json()["layers"]) == 0
    vclock.advance(1)
    assert len(get_manifest(mirror, REPO, "1").json()["layers"]) == 1


def test_fixed_start_time(make_mirror, vclock, image) -> None:
    mirror = make_mirror(
        clock=vclock, plan=SyncPlan(Timeline(((0, -1),)), start_at=5, mode="missing")
    )
    mirror.push_upstream(image, f"{REPO}:1")
    vclock.advance(4.5)
    assert get_manifest(mirror, REPO, "1").status_code == 404
    vclock.advance(0.5)
    assert get_manifest(mirror, REPO, "1").status_code == 200


def test_plan_per_repository(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock, plan=[SyncPlan(Interval(1), repo="slow/*", mode="missing")])
    mirror.push_upstream(image, "slow/app:1")
    mirror.push_upstream(image, "fast/app:1")
    assert get_manifest(mirror, "slow/app", "1").status_code == 404
    assert get_manifest(mirror, "fast/app", "1").status_code == 200
    assert get_manifest(mirror, "nope/app", "1").status_code == 404


@pytest.mark.parametrize("kind", ["image", "index"])
@pytest.mark.parametrize(
    "mode", ["partial", "empty", "missing", "blobs-404", "manifest-blob-unknown", "partial-index"]
)
def test_every_mode_is_consistent_and_converges(
    make_mirror, vclock, image, index, mode, kind
) -> None:
    """Whatever a mode shows, nothing served is ever inconsistent: a 200 carries the digest of
    its bytes, whatever it references is either served with exactly that digest or refused,
    and the image converges to upstream's bytes."""
    target = image if kind == "image" else index
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1), mode=mode))
    mirror.push_upstream(target, f"{REPO}:t")
    final = target.manifest_bytes
    unsynced_seen = False  # the mode really showed something not yet synced
    for _ in range(4):
        r = get_manifest(mirror, REPO, "t")
        unsynced_seen |= r.content != final
        assert r.status_code in (200, 400, 404)
        if r.status_code == 200:
            _check_digest(r)
            docs = [r.json()]
            for child in r.json().get("manifests", []):
                c = get_manifest(mirror, REPO, child["digest"])
                assert c.status_code in (200, 400, 404)
                unsynced_seen |= c.status_code != 200
                if c.status_code == 200:
                    assert sha256(c.content) == child["digest"] and len(c.content) == child["size"]
                    docs.append(c.json())
            for doc in docs:
                for desc in [doc.get("config"), *doc.get("layers", [])]:
                    if desc is None:
                        continue
                    b = get_blob(mirror, REPO, desc["digest"])
                    assert b.status_code in (200, 404)
                    unsynced_seen |= b.status_code == 404
                    if b.status_code == 200:
                        assert sha256(b.content) == desc["digest"]
        else:
            assert r.json()["errors"][0]["code"] in ("MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")
        vclock.sleep(1)
    r = get_manifest(mirror, REPO, "t")
    assert r.status_code == 200 and r.content == final
    assert unsynced_seen
    mirror.check()

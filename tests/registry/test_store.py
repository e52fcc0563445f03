"""The content store without HTTP: membership, spooling, ranges, manifests, referrers, seeding."""

from __future__ import annotations

import json
import os

import pytest

from flakymirror.oci import Digest, DigestMismatch, InvalidReferenceError, build_image, build_index
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import RegistryError, Store
from tests.helpers.registry_requests import descriptor, manifest_bytes
from tests.helpers.threads import run_threads


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path)) as s:
        yield s


def test_blobs_are_content_addressed_but_belong_to_repositories(store):
    d = Digest.of(b"data")
    assert store.put_blob("a", d, b"data") == 4
    assert store.has_blob("a", d) and not store.has_blob("b", d)
    assert store.blob_size("a", d) == 4 and store.blob_size("b", d) is None
    with pytest.raises(KeyError):
        store.open_blob("b", d)
    assert store.mount_blob("a", "b", d)
    assert store.has_blob("b", str(d))
    assert not store.mount_blob("nope", "c", d)
    assert store.delete_blob("a", d) and not store.has_blob("a", d)
    assert b"".join(store.open_blob("b", d)) == b"data"  # still held by b
    assert store.delete_blob("b", d)
    assert not store.delete_blob("b", d)
    assert str(d) not in store._blobs


def test_put_blob_checks_the_digest_and_accepts_streams_and_files(store, tmp_path):
    with pytest.raises(DigestMismatch):
        store.put_blob("a", Digest.of(b"x"), b"y")
    assert not store.has_blob("a", Digest.of(b"x"))
    data = os.urandom(200_000)
    d = Digest.of(data)
    assert store.put_blob("a", d, iter([data[:7], data[7:]])) == len(data)
    f = tmp_path / "blob"
    f.write_bytes(data)
    with open(f, "rb") as fh:
        assert store.put_blob("b", str(d), fh) == len(data)
    d512 = Digest.of(data, "sha512")
    assert store.put_blob("c", d512, data) == len(data)


def test_large_blobs_live_on_disk_and_stream_in_64k_chunks(tmp_path):
    with Store(str(tmp_path), memory_threshold=1024) as store:
        data = os.urandom(300_000)
        d = Digest.of(data)
        store.put_blob("a", d, data)
        content = store._blobs[str(d)]
        assert content.data is None and content.path.startswith(store.root)
        chunks = list(store.open_blob("a", d))
        assert max(len(c) for c in chunks) == 65536 and b"".join(chunks) == data
        assert b"".join(store.open_blob("a", d, 1000, 70_000)) == data[1000:70_000]
        it = store.open_blob("a", d, 10)
        store.delete_blob("a", d)  # a download under way keeps reading the unlinked file
        assert b"".join(it) == data[10:]
        assert not os.path.exists(content.path)
    assert not os.path.exists(store.root)


def test_small_blob_ranges(store):
    d = Digest.of(b"0123456789")
    store.put_blob("a", d, b"0123456789")
    assert b"".join(store.open_blob("a", d, 2, 5)) == b"234"
    assert b"".join(store.open_blob("a", d, 8)) == b"89"


def test_uploads_spool_to_disk_and_roll_back(tmp_path):
    with Store(str(tmp_path)) as store:
        up = store.uploads.start("a")
        up.write(b"x" * (2 << 20))
        assert up.spool.on_disk
        up.write(b"tail")
        up.rollback(2 << 20)
        assert up.size == 2 << 20
        assert up.digest() == Digest.of(b"x" * (2 << 20))
        assert store.commit_upload(up, up.digest()) == 2 << 20
        assert store.has_blob("a", Digest.of(b"x" * (2 << 20)))
        assert store.uploads.get("a", up.uuid) is None


def _manifest_setup(store, repo="r"):
    store.put_blob(repo, Digest.of(b"{}"), b"{}")
    store.put_blob(repo, Digest.of(b"layer"), b"layer")
    return manifest_bytes()


def test_manifests_by_tag_and_digest_exact_bytes(store):
    data = _manifest_setup(store)
    d = store.put_manifest("r", data, mt.OCI_MANIFEST, ["1", "latest"])
    assert d == Digest.of(data)
    for ref in ("1", "latest", str(d)):
        m = store.get_manifest("r", ref)
        assert m.data == data and m.media_type == mt.OCI_MANIFEST and m.digest == d
        assert dict(m.headers)["Docker-Content-Digest"] == str(d)
    assert store.tags("r") == ["1", "latest"]
    assert store.untag("r", "1") and store.tags("r") == ["latest"]
    assert store.delete_manifest("r", str(d))
    assert store.get_manifest("r", "latest") is None and store.tags("r") == []
    assert not store.delete_manifest("r", str(d))


def test_manifest_references_must_exist(store):
    data = manifest_bytes(layers=(b"l1", b"l2"))
    with pytest.raises(RegistryError) as exc:
        store.put_manifest("r", data, mt.OCI_MANIFEST)
    assert exc.value.code == "MANIFEST_BLOB_UNKNOWN" and exc.value.status == 400
    assert len(exc.value.more) == 2  # config + 2 layers, one error each
    child = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [descriptor(b"x", mt.OCI_MANIFEST)],
        }
    )
    with pytest.raises(RegistryError) as exc:
        store.put_manifest("r", child.encode(), mt.OCI_INDEX)
    assert exc.value.code == "MANIFEST_BLOB_UNKNOWN" and exc.value.status == 400
    assert exc.value.detail == {"digest": str(Digest.of(b"x"))} and exc.value.more == []
    # check=False seeds anything, even broken bytes
    assert store.put_manifest("r", b"not json", "application/octet-stream", ["x"], check=False)
    assert store.get_manifest("r", "x").data == b"not json"


def test_referrers_follow_subject_and_deletes(store):
    data = _manifest_setup(store)
    subject = store.put_manifest("r", data, mt.OCI_MANIFEST)
    sub = {"mediaType": mt.OCI_MANIFEST, "digest": str(subject), "size": len(data)}
    ref1 = store.put_manifest(
        "r",
        manifest_bytes(subject=sub, artifact_type="application/x-sig", annotations={"k": "v"}),
        mt.OCI_MANIFEST,
    )
    ref2 = store.put_manifest("r", manifest_bytes(subject=sub), mt.OCI_MANIFEST)
    found = store.referrers("r", subject)
    assert [m.digest for m in found] == [ref1, ref2]
    assert found[0].artifact_type == "application/x-sig" and found[0].annotations == {"k": "v"}
    assert found[1].artifact_type == mt.OCI_CONFIG  # config media type stands in
    store.delete_manifest("r", str(ref1))
    assert [m.digest for m in store.referrers("r", subject)] == [ref2]


def test_push_image_and_index_without_http(store):
    img = build_image(layers=2, seed=5)
    assert store.push_image(img, "app", "1") == img.digest
    assert all(store.has_blob("app", b.digest) for b in img.blobs())
    idx = build_index(seed=6)
    assert store.push_image(idx, "multi", "latest") == idx.digest
    assert store.get_manifest("multi", "latest").media_type == mt.OCI_INDEX
    for child in idx.images:
        assert store.get_manifest("multi", str(child.digest)).data == child.manifest_bytes
    assert store.repositories() == ["app", "multi"]


def test_repository_names_are_validated(store):
    with pytest.raises(InvalidReferenceError):
        store.put_blob("Bad/Name", Digest.of(b"x"), b"x")
    with pytest.raises(InvalidReferenceError):
        store.push_image(build_image(layers=1), "a/../b")


def test_concurrent_puts_are_safe(store):
    errors = []

    def worker(i):
        try:
            img = build_image(layers=2, seed=i, layer_size=1024)
            store.push_image(img, f"repo{i % 3}", f"t{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(worker, 12)
    assert errors == []
    assert sum(len(store.tags(f"repo{i}")) for i in range(3)) == 12

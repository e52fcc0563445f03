"""Push endpoints: upload sessions (end-4…6, 11, 13, 14) and manifest PUT (end-7)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import requests

from flakymirror.oci import Digest, build_image
from flakymirror.oci import mediatypes as mt
from tests.helpers.registry_requests import (
    code_of,
    descriptor,
    errors_of,
    manifest_bytes,
    push_blob,
    push_default_blobs,
)
from tests.helpers.threads import run_threads


def _start(url: str, repo: str = "r") -> requests.Response:
    r = requests.post(f"{url}/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status_code == 202
    return r


def test_post_opens_a_session(registry):
    r = _start(registry.url)
    uuid = r.headers["Docker-Upload-UUID"]
    assert r.headers["Location"] == f"/v2/r/blobs/uploads/{uuid}"
    assert r.headers["Range"] == "0-0"
    status = requests.get(registry.url + r.headers["Location"])
    assert status.status_code == 204 and status.headers["Range"] == "0-0"


def test_post_then_put_monolithic(registry):
    data = os.urandom(5000)
    d = Digest.of(data)
    loc = _start(registry.url).headers["Location"]
    r = requests.put(
        f"{registry.url}{loc}?digest={d}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/r/blobs/{d}" and r.headers[
        "Docker-Content-Digest"
    ] == str(d)
    assert requests.get(registry.url + r.headers["Location"]).content == data
    # the session is over
    assert requests.get(registry.url + loc).status_code == 404


def test_single_post_push_and_digest_mismatch(registry):
    data = b"monolithic"
    r = requests.post(f"{registry.url}/v2/r/blobs/uploads/?digest={Digest.of(data)}", data=data)
    assert r.status_code == 201 and r.headers["Location"] == f"/v2/r/blobs/{Digest.of(data)}"
    r = requests.post(f"{registry.url}/v2/r/blobs/uploads/?digest={Digest.of(b'other')}", data=data)
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    assert requests.head(f"{registry.url}/v2/r/blobs/{Digest.of(b'other')}").status_code == 404
    assert len(registry.store.uploads) == 0


def test_chunked_upload_in_order_out_of_order_and_recovery(registry):
    url = registry.url
    data = os.urandom(42)
    first, second = data[:22], data[22:]
    post = _start(url).headers["Location"]
    r = requests.patch(
        url + post,
        data=second,
        headers={"Content-Range": "22-41", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 416 and code_of(r) == "RANGE_INVALID"
    assert r.headers["Range"] == "0-0" and r.headers["Location"]
    r = requests.patch(url + post, data=first, headers={"Content-Range": "0-21"})
    assert r.status_code == 202 and r.headers["Range"] == "0-21"
    again = requests.patch(url + post, data=first, headers={"Content-Range": "0-21"})
    assert again.status_code == 416
    status = requests.get(url + post)
    assert status.status_code == 204 and status.headers["Range"] == "0-21"
    r = requests.patch(
        url + status.headers["Location"], data=second, headers={"Content-Range": "22-41"}
    )
    assert r.status_code == 202 and r.headers["Range"] == "0-41"
    r = requests.put(f"{url}{r.headers['Location']}?digest={Digest.of(data)}")
    assert r.status_code == 201
    assert requests.get(f"{url}/v2/r/blobs/{Digest.of(data)}").content == data


def test_final_chunk_in_the_closing_put_and_out_of_order_put(registry):
    url = registry.url
    data = os.urandom(3000)
    loc = _start(url).headers["Location"]
    loc = requests.patch(url + loc, data=data[:1000], headers={"Content-Range": "0-999"}).headers[
        "Location"
    ]
    bad = requests.put(
        f"{url}{loc}?digest={Digest.of(data)}",
        data=data[2000:],
        headers={"Content-Range": "2000-2999"},
    )
    assert bad.status_code == 416
    r = requests.put(
        f"{url}{loc}?digest={Digest.of(data)}",
        data=data[1000:],
        headers={"Content-Range": "1000-2999"},
    )
    assert r.status_code == 201
    assert requests.get(f"{url}/v2/r/blobs/{Digest.of(data)}").content == data


def test_streamed_patch_then_empty_put(registry):
    data = os.urandom(100_000)
    loc = _start(registry.url).headers["Location"]
    r = requests.patch(
        registry.url + loc, data=iter([data[:5000], data[5000:]])
    )  # chunked encoding
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = requests.put(f"{registry.url}{r.headers['Location']}?digest={Digest.of(data)}")
    assert r.status_code == 201


def test_put_digest_mismatch_and_missing_digest(registry):
    url = registry.url
    loc = _start(url).headers["Location"]
    requests.patch(url + loc, data=b"abc")
    r = requests.put(url + loc)
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    r = requests.put(f"{url}{loc}?digest={Digest.of(b'abc oh no')}")
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"
    assert requests.get(url + loc).status_code == 404  # a failed close ends the session


def test_size_invalid_when_content_range_and_length_disagree(registry):
    url = registry.url
    loc = _start(url).headers["Location"]
    r = requests.patch(url + loc, data=b"abcd", headers={"Content-Range": "0-9"})
    assert r.status_code == 400 and code_of(r) == "SIZE_INVALID"
    assert requests.get(url + loc).headers["Range"] == "0-0"  # nothing kept


def test_sha512_upload(registry):
    data = os.urandom(1000)
    d = Digest.of(data, "sha512")
    r = requests.post(f"{registry.url}/v2/r/blobs/uploads/?digest-algorithm=sha512")
    assert r.status_code == 202
    loc = requests.patch(registry.url + r.headers["Location"], data=data).headers["Location"]
    r = requests.put(f"{registry.url}{loc}?digest={d}")
    assert r.status_code == 201
    assert requests.get(f"{registry.url}/v2/r/blobs/{d}").content == data
    r = requests.post(f"{registry.url}/v2/r/blobs/uploads/?digest-algorithm=md5")
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"


def test_cancel_upload(registry):
    url = registry.url
    loc = _start(url).headers["Location"]
    assert requests.delete(url + loc).status_code == 204
    r = requests.get(url + loc)
    assert r.status_code == 404 and code_of(r) == "BLOB_UPLOAD_UNKNOWN"
    assert requests.delete(url + loc).status_code == 404
    assert requests.patch(url + loc, data=b"x").status_code == 404


def test_session_belongs_to_its_repository(registry):
    loc = _start(registry.url, "a").headers["Location"]
    other = loc.replace("/v2/a/", "/v2/b/")
    r = requests.get(registry.url + other)
    assert r.status_code == 404 and code_of(r) == "BLOB_UPLOAD_UNKNOWN"


def test_mount(registry):
    url = registry.url
    d = push_blob(url, "src", b"shared layer")
    r = requests.post(f"{url}/v2/dst/blobs/uploads/?mount={d}&from=src")
    assert r.status_code == 201 and r.headers["Location"] == f"/v2/dst/blobs/{d}"
    assert requests.get(f"{url}/v2/dst/blobs/{d}").content == b"shared layer"
    # absent in the source: a normal session the client may use
    missing = Digest.of(b"hello world")
    r = requests.post(f"{url}/v2/dst/blobs/uploads/?mount={missing}&from=src")
    assert r.status_code == 202 and r.headers["Location"].startswith("/v2/dst/blobs/uploads/")
    r = requests.put(f"{url}{r.headers['Location']}?digest={missing}", data=b"hello world")
    assert r.status_code == 201
    # no from: a session (distribution does the same)
    r = requests.post(f"{url}/v2/other/blobs/uploads/?mount={d}")
    assert r.status_code == 202


def test_manifest_put_by_tag_and_digest(registry):
    url = registry.url
    push_default_blobs(url, "r")
    data = manifest_bytes()
    d = Digest.of(data)
    r = requests.put(
        f"{url}/v2/r/manifests/{d}", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/r/manifests/{d}" and r.headers[
        "Docker-Content-Digest"
    ] == str(d)
    r = requests.put(
        f"{url}/v2/r/manifests/v1", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 201
    got = requests.get(f"{url}/v2/r/manifests/v1")
    assert got.content == data and got.headers["Content-Type"] == mt.OCI_MANIFEST


def test_manifest_exact_bytes_are_kept(registry):
    url = registry.url
    push_default_blobs(url, "r")
    data = json.dumps(json.loads(manifest_bytes()), indent=3).encode() + b"\n"
    r = requests.put(
        f"{url}/v2/r/manifests/pretty", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert (
        r.status_code == 201
        and r.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    )
    assert requests.get(f"{url}/v2/r/manifests/pretty").content == data


def test_manifest_put_with_tag_params(registry):
    url = registry.url
    push_default_blobs(url, "r")
    data = manifest_bytes()
    d = Digest.of(data)
    r = requests.put(
        f"{url}/v2/r/manifests/{d}?tag=a&tag=b&tag=c",
        data=data,
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert r.status_code == 201 and r.headers["OCI-Tag"] == "a, b, c"
    assert requests.get(f"{url}/v2/r/tags/list").json()["tags"] == ["a", "b", "c"]


def test_manifest_put_by_sha512_digest(registry):
    url = registry.url
    push_default_blobs(url, "r")
    data = manifest_bytes()
    d = Digest.of(data, "sha512")
    r = requests.put(
        f"{url}/v2/r/manifests/{d}?tag=five12", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == str(d)
    got = requests.get(f"{url}/v2/r/manifests/{d}")
    assert got.content == data and got.headers["Docker-Content-Digest"] == str(d)


def test_manifest_missing_references(registry):
    url = registry.url
    push_blob(url, "r", b"{}")
    data = manifest_bytes(layers=(b"l1", b"l2"))
    r = requests.put(
        f"{url}/v2/r/manifests/x", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 400 and errors_of(r) == [
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_BLOB_UNKNOWN",
    ]
    # an index whose children are missing: 400 MANIFEST_BLOB_UNKNOWN per child (end-7a)
    img = build_image(layers=1, seed=3)
    registry.push(img, "r:present")
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            descriptor(b"nope", mt.OCI_MANIFEST),
            descriptor(img.manifest_bytes, mt.OCI_MANIFEST),
            descriptor(b"nope2", mt.OCI_MANIFEST),
        ],
    }
    r = requests.put(
        f"{url}/v2/r/manifests/i", data=json.dumps(index), headers={"Content-Type": mt.OCI_INDEX}
    )
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert [e["code"] for e in errors] == ["MANIFEST_BLOB_UNKNOWN"] * 2
    assert [e["detail"] for e in errors] == [
        {"digest": str(Digest.of(b"nope"))},
        {"digest": str(Digest.of(b"nope2"))},
    ]
    assert str(Digest.of(b"nope")) in errors[0]["message"]
    assert requests.head(f"{url}/v2/r/manifests/i").status_code == 404
    # a blob in another repository does not count
    push_blob(url, "other", b"l1")
    push_blob(url, "other", b"l2")
    r = requests.put(
        f"{url}/v2/r/manifests/x", data=data, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 400


def test_index_with_children_and_subject_referrers(registry):
    url = registry.url
    img = build_image(layers=1, seed=11)
    registry.push(img, "r:base")
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [descriptor(img.manifest_bytes, mt.OCI_MANIFEST)],
    }
    r = requests.put(
        f"{url}/v2/r/manifests/idx", data=json.dumps(index), headers={"Content-Type": mt.OCI_INDEX}
    )
    assert r.status_code == 201 and "OCI-Subject" not in r.headers
    # a referrer whose subject does not exist yet is accepted, with OCI-Subject
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"future")), "size": 6}
    push_default_blobs(url, "r")
    art = manifest_bytes(
        config_type=mt.OCI_EMPTY, subject=subject, artifact_type="application/x-sbom"
    )
    r = requests.put(
        f"{url}/v2/r/manifests/{Digest.of(art)}",
        data=art,
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert r.status_code == 201 and r.headers["OCI-Subject"] == subject["digest"]


def test_oversize_manifest_is_413_and_4mb_fits(registry):
    url = registry.url
    push_default_blobs(url, "r")
    base = json.loads(manifest_bytes())
    base["annotations"] = {
        f"k{i}": "v" * 10_000 for i in range(390)
    }  # ~3.9 MB, like the conformance data
    big = json.dumps(base).encode()
    assert 3_800_000 < len(big) < 4 * 1024 * 1024
    r = requests.put(
        f"{url}/v2/r/manifests/big", data=big, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 201
    assert requests.get(f"{url}/v2/r/manifests/big").content == big
    base["annotations"]["more"] = "x" * 400_000
    huge = json.dumps(base).encode()
    r = requests.put(
        f"{url}/v2/r/manifests/huge", data=huge, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 413 and code_of(r) == "MANIFEST_INVALID"
    r = requests.put(
        f"{url}/v2/r/manifests/huge", data=iter([huge]), headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 413  # chunked, no Content-Length: the limit holds while reading
    assert requests.get(f"{url}/v2/").status_code == 200


def test_parallel_pushes_of_different_and_identical_images(registry):
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            img = build_image(layers=2, seed=i % 3, layer_size=2048)
            repo = f"par{i % 2}"
            for blob in img.blobs():
                data = b"".join(blob.chunks())
                loc = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/").headers["Location"]
                loc = requests.patch(registry.url + loc, data=data).headers["Location"]
                r = requests.put(f"{registry.url}{loc}?digest={blob.digest}")
                assert r.status_code == 201, r.text
            r = requests.put(
                f"{registry.url}/v2/{repo}/manifests/t{i}",
                data=img.manifest_bytes,
                headers={"Content-Type": img.media_type},
            )
            assert r.status_code == 201, r.text
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(push, 10)
    assert errors == []
    tags = requests.get(f"{registry.url}/v2/par0/tags/list").json()["tags"]
    assert sorted(tags) == sorted(f"t{i}" for i in range(0, 10, 2))


@pytest.mark.parametrize("flavor", ["oci", "docker"])
def test_push_real_image_over_http_and_pull_it_back(registry, flavor):
    img = build_image(layers=3, seed=12, flavor=flavor)
    url = registry.url
    for blob in img.blobs():
        r = requests.post(
            f"{url}/v2/app/blobs/uploads/?digest={blob.digest}", data=b"".join(blob.chunks())
        )
        assert r.status_code == 201
    r = requests.put(
        f"{url}/v2/app/manifests/1",
        data=img.manifest_bytes,
        headers={"Content-Type": img.media_type},
    )
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == str(img.digest)
    got = requests.get(f"{url}/v2/app/manifests/1", headers={"Accept": mt.GGCR_MANIFEST_ACCEPT})
    assert got.headers["Content-Type"] == img.media_type and got.content == img.manifest_bytes

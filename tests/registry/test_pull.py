"""Pull endpoints over real sockets: ping (end-1), blobs (end-2), manifests (end-3)."""

from __future__ import annotations

import os

import pytest
import requests

from flakymirror.oci import Digest, build_image, build_index
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import Registry
from tests.helpers.registry_requests import code_of, push_blob


def test_ping(registry):
    r = requests.get(f"{registry.url}/v2/")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert requests.get(f"{registry.url}/v2").status_code == 200


def test_every_response_carries_the_api_version_header(registry):
    for path in ("/v2/", "/v2/nope/tags/list", "/elsewhere", "/v2/a/manifests/x"):
        assert (
            requests.get(registry.url + path).headers["Docker-Distribution-API-Version"]
            == "registry/2.0"
        )


def test_manifest_get_and_head_by_tag_and_digest(registry):
    img = build_image(layers=2, seed=1)
    d = registry.push(img, "app:1")
    for ref in ("1", str(d)):
        r = requests.get(f"{registry.url}/v2/app/manifests/{ref}")
        assert r.status_code == 200
        assert r.content == img.manifest_bytes
        assert r.headers["Content-Type"] == mt.OCI_MANIFEST
        assert r.headers["Content-Length"] == str(len(img.manifest_bytes))
        assert r.headers["Docker-Content-Digest"] == str(d) == str(Digest.of(r.content))
        assert r.headers["ETag"] == f'"{d}"'
        h = requests.head(f"{registry.url}/v2/app/manifests/{ref}")
        assert h.status_code == 200 and h.content == b""
        assert h.headers["Content-Length"] == str(len(img.manifest_bytes))
        assert h.headers["Docker-Content-Digest"] == str(d)


def test_manifest_if_none_match_gives_304(registry):
    d = registry.push(build_image(layers=1), "app:1")
    r = requests.get(f"{registry.url}/v2/app/manifests/1", headers={"If-None-Match": f'"{d}"'})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == f'"{d}"'
    other = requests.get(
        f"{registry.url}/v2/app/manifests/1", headers={"If-None-Match": '"sha256:00"'}
    )
    assert other.status_code == 200


def test_missing_manifest_and_repository(registry):
    registry.push(build_image(layers=1), "app:1")
    r = requests.get(f"{registry.url}/v2/app/manifests/2")
    assert r.status_code == 404 and code_of(r) == "MANIFEST_UNKNOWN"
    r = requests.get(f"{registry.url}/v2/nothing/manifests/1")
    assert r.status_code == 404 and code_of(r) == "NAME_UNKNOWN"
    r = requests.head(f"{registry.url}/v2/app/manifests/.INVALID_MANIFEST_NAME")
    assert r.status_code == 404
    r = requests.get(f"{registry.url}/v2/app/manifests/sha256:{'0' * 64}")
    assert r.status_code == 404 and code_of(r) == "MANIFEST_UNKNOWN"


def test_lenient_accept_serves_the_stored_type_whatever_accept_says(registry):
    idx = build_index(seed=2)
    registry.push(idx, "multi:1")
    r = requests.get(f"{registry.url}/v2/multi/manifests/1", headers={"Accept": mt.DOCKER_MANIFEST})
    assert r.status_code == 200 and r.headers["Content-Type"] == mt.OCI_INDEX


def test_strict_accept_behaves_like_distribution_2_8():
    with Registry(strict_accept=True) as reg:
        img = build_image(layers=1, seed=3)
        reg.push(img, "o:1")
        reg.push(build_index(seed=4), "oi:1")
        dlist = build_index(seed=5, flavor="docker")
        reg.push(dlist, "dl:1")
        url = reg.url
        for accept in (None, "application/json", mt.DOCKER_MANIFEST, "*/*"):
            headers = {"Accept": accept} if accept else {}
            r = requests.get(f"{url}/v2/o/manifests/1", headers=headers)
            assert r.status_code == 404 and code_of(r) == "MANIFEST_UNKNOWN"
            assert "OCI manifest found" in r.json()["errors"][0]["message"]
            r = requests.get(f"{url}/v2/oi/manifests/1", headers=headers)
            assert r.status_code == 404 and "OCI index found" in r.json()["errors"][0]["message"]
        r = requests.get(
            f"{url}/v2/o/manifests/1", headers={"Accept": f"{mt.OCI_MANIFEST}; q=0.9, text/plain"}
        )
        assert r.status_code == 200 and r.content == img.manifest_bytes
        r = requests.get(f"{url}/v2/oi/manifests/1", headers={"Accept": mt.GGCR_MANIFEST_ACCEPT})
        assert r.status_code == 200 and r.headers["Content-Type"] == mt.OCI_INDEX
        # a manifest list to a client without list support: the linux/amd64 image
        r = requests.get(f"{url}/v2/dl/manifests/1", headers={"Accept": mt.DOCKER_MANIFEST})
        amd64 = dlist.image_for("linux/amd64")
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == str(amd64.digest)
        r = requests.get(f"{url}/v2/dl/manifests/1", headers={"Accept": mt.DOCKER_MANIFEST_LIST})
        assert r.headers["Docker-Content-Digest"] == str(dlist.digest)
        reg.check()


def test_blob_get_head_and_headers(registry):
    img = build_image(layers=1, seed=7)
    registry.push(img, "app:1")
    layer = img.layers[0]
    body = b"".join(layer.chunks())
    r = requests.get(f"{registry.url}/v2/app/blobs/{layer.digest}")
    assert r.status_code == 200 and r.content == body
    assert r.headers["Docker-Content-Digest"] == str(layer.digest)
    assert r.headers["Content-Length"] == str(len(body))
    assert r.headers["Content-Type"] == "application/octet-stream"
    h = requests.head(f"{registry.url}/v2/app/blobs/{layer.digest}")
    assert (
        h.status_code == 200 and h.content == b"" and h.headers["Content-Length"] == str(len(body))
    )
    r = requests.get(
        f"{registry.url}/v2/app/blobs/{layer.digest}",
        headers={"If-None-Match": f'"{layer.digest}"'},
    )
    assert r.status_code == 304


def test_blob_membership_is_per_repository(registry):
    d = push_blob(registry.url, "one", b"private")
    assert requests.head(f"{registry.url}/v2/one/blobs/{d}").status_code == 200
    r = requests.get(f"{registry.url}/v2/two/blobs/{d}")
    assert r.status_code == 404 and code_of(r) == "BLOB_UNKNOWN"
    assert requests.head(f"{registry.url}/v2/two/blobs/{d}").status_code == 404


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=500-1499", 206, (500, 1500)),
        ("bytes=500-", 206, (500, 2048)),
        ("bytes=-500", 206, (1548, 2048)),
        ("bytes=2000-5000", 206, (2000, 2048)),
        ("bytes=0-0", 206, (0, 1)),
        ("bytes=500-0", 416, None),
        ("bytes=5000-10000", 416, None),
        ("bytes=abc", 416, None),
        ("bytes=0-1,5-6", 200, (0, 2048)),
        ("items=0-5", 200, (0, 2048)),
    ],
)
def test_blob_ranges(registry, header, status, span):
    data = os.urandom(2048)
    d = push_blob(registry.url, "r", data)
    r = requests.get(f"{registry.url}/v2/r/blobs/{d}", headers={"Range": header})
    assert r.status_code == status
    if status == 416:
        assert code_of(r) == "RANGE_INVALID"
        assert r.headers["Content-Range"] == "bytes */2048"
        return
    start, end = span
    assert r.content == data[start:end]
    assert r.headers["Content-Length"] == str(end - start)
    if status == 206:
        assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/2048"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=-5", 200),  # satisfiable (RFC 9110 14.1.1) but no byte to name: Range ignored
        ("bytes=-" + "9" * 19, 200),
        ("bytes=0-", 416),
        ("bytes=0-0", 416),
        ("bytes=-0", 416),
        ("bytes=1-0", 416),
    ],
)
def test_ranges_on_an_empty_blob_never_send_an_impossible_content_range(registry, header, status):
    d = push_blob(registry.url, "e", b"")
    r = requests.get(f"{registry.url}/v2/e/blobs/{d}", headers={"Range": header})
    assert r.status_code == status
    assert r.headers["Content-Length"] == str(len(r.content))
    if status == 416:
        assert code_of(r) == "RANGE_INVALID"
        assert r.headers["Content-Range"] == "bytes */0"
    else:
        assert r.content == b"" and "Content-Range" not in r.headers


def test_a_suffix_range_longer_than_the_blob_is_the_whole_blob(registry):
    d = push_blob(registry.url, "r", b"abc")
    r = requests.get(f"{registry.url}/v2/r/blobs/{d}", headers={"Range": "bytes=-" + "9" * 19})
    assert r.status_code == 206 and r.content == b"abc"
    assert r.headers["Content-Range"] == "bytes 0-2/3"


def test_well_known_blobs(registry):
    for data in (b"", b"{}"):
        d = push_blob(registry.url, "w", data)
        r = requests.get(f"{registry.url}/v2/w/blobs/{d}")
        assert r.status_code == 200 and r.content == data
        assert requests.head(f"{registry.url}/v2/w/blobs/{d}").headers["Content-Length"] == str(
            len(data)
        )
    assert push_blob(registry.url, "w", b"{}") == mt.EMPTY_JSON_DIGEST


def test_names_with_endpoint_words_route_to_the_longest_name(registry):
    img = build_image(layers=1, seed=8)
    registry.push(img, "a/manifests/b:1")
    r = requests.get(f"{registry.url}/v2/a/manifests/b/manifests/1")
    assert r.status_code == 200 and r.content == img.manifest_bytes
    r = requests.get(f"{registry.url}/v2/a/manifests/b/blobs/{img.layers[0].digest}")
    assert r.status_code == 200


def test_store_subclass_errors_are_answered_not_crashed():
    from flakymirror.registry import RegistryError, Store

    class Refusing(Store):
        def get_manifest(self, repo, reference):
            raise RegistryError("TOOMANYREQUESTS", "slow down", headers={"Retry-After": "1"})

    with Registry(store=Refusing()) as reg:
        r = requests.get(f"{reg.url}/v2/app/manifests/1")
        assert r.status_code == 429 and code_of(r) == "TOOMANYREQUESTS"
        assert r.headers["Retry-After"] == "1"
        reg.check()

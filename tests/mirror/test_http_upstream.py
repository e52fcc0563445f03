"""The mirror as a true pull-through cache of a registry reached over HTTP (here flakymirror's
own Registry on loopback; the real distribution registry is in test_real_upstream.py)."""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flakymirror.mirror import Interval, SyncPlan, classify
from flakymirror.registry import BasicAuth, BearerAuth, Registry, RegistryApp, Server, Store
from tests.helpers.mirror_requests import get_blob, get_manifest, sha256

REPO = "lib/app"


class Counting:
    """WSGI middleware counting upstream requests by (method, endpoint kind); can slow blob
    GETs down (so concurrent mirror requests overlap) and corrupt blob bodies."""

    def __init__(self, app, blob_delay: float = 0.0) -> None:
        self.app = app
        self.blob_delay = blob_delay
        self.corrupt = False
        self.calls: collections.Counter = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        key = (environ["REQUEST_METHOD"], classify(environ["PATH_INFO"]).kind)
        with self.lock:
            self.calls[key] += 1
        if key == ("GET", "blob"):
            if self.blob_delay:
                time.sleep(self.blob_delay)
            if self.corrupt:
                body = b"".join(self.app(environ, start_response))
                return [bytes([body[0] ^ 1]) + body[1:]]
        return self.app(environ, start_response)


@pytest.fixture
def upstream(image, index):
    """An upstream registry on loopback (counting its requests), seeded with two tags."""
    store = Store()
    store.push_image(image, REPO, "1")
    store.push_image(index, REPO, "multi")
    counting = Counting(RegistryApp(store))
    server = Server(counting)
    server.start()
    server.counting = counting
    yield server
    if server.is_running():
        server.stop()
    store.close()


def test_pull_through(make_mirror, upstream, image) -> None:
    mirror = make_mirror(upstream=upstream.url)
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.content == image.manifest_bytes
    assert r.headers["Docker-Content-Digest"] == str(image.digest)
    for desc in (image.manifest.config, *image.manifest.layers):
        b = get_blob(mirror, REPO, str(desc.digest))
        assert b.status_code == 200 and sha256(b.content) == str(desc.digest)
        assert get_blob(mirror, REPO, str(desc.digest), "HEAD").headers["Content-Length"] == str(
            desc.size
        )
    # cached blobs are not fetched again
    before = upstream.counting.calls[("GET", "blob")]
    get_blob(mirror, REPO, str(image.manifest.layers[0].digest))
    assert upstream.counting.calls[("GET", "blob")] == before == 4
    tags = requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5).json()["tags"]
    assert tags == ["1", "multi"]
    assert get_manifest(mirror, REPO, "nope").status_code == 404


def test_single_flight_for_concurrent_blob_gets(make_mirror, upstream, image) -> None:
    mirror = make_mirror(upstream=upstream.url)
    upstream.counting.blob_delay = 0.3  # every mirror request arrives while the fetch runs
    digest = str(image.manifest.layers[1].digest)
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: get_blob(mirror, REPO, digest).content, range(8)))
    assert all(sha256(b) == digest for b in bodies)
    assert upstream.counting.calls[("GET", "blob")] == 1


def test_bad_upstream_bytes_are_never_cached_or_served(make_mirror, upstream, image) -> None:
    mirror = make_mirror(upstream=upstream.url)
    digest = str(image.manifest.layers[0].digest)
    upstream.counting.corrupt = True
    r = get_blob(mirror, REPO, digest)
    assert r.status_code == 502 and r.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert get_blob(mirror, REPO, digest, "HEAD").status_code == 200  # HEAD asks upstream
    upstream.counting.corrupt = False
    good = get_blob(mirror, REPO, digest)
    assert good.status_code == 200 and sha256(good.content) == digest
    assert upstream.counting.calls[("GET", "blob")] == 2  # the bad copy was not kept


def test_upstream_dies_cached_content_still_served(make_mirror, upstream, image) -> None:
    mirror = make_mirror(upstream=upstream.url)
    assert get_manifest(mirror, REPO, "1").status_code == 200
    for desc in (image.manifest.config, *image.manifest.layers):
        assert get_blob(mirror, REPO, str(desc.digest)).status_code == 200
    upstream.stop()
    r = get_manifest(mirror, REPO, "1")
    assert r.status_code == 200 and r.content == image.manifest_bytes
    assert get_manifest(mirror, REPO, str(image.digest)).status_code == 200
    for desc in image.manifest.layers:
        assert sha256(get_blob(mirror, REPO, str(desc.digest)).content) == str(desc.digest)
    gone = get_manifest(mirror, REPO, "multi")
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5).json()["tags"] == ["1"]


def test_unknown_repository_is_name_unknown_like_upstream(make_mirror, upstream, image) -> None:
    mirror = make_mirror(upstream=upstream.url)
    r = requests.get(f"{mirror.url}/v2/no/such/tags/list", timeout=5)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    up = requests.get(f"{upstream.url}/v2/no/such/tags/list", timeout=5)
    assert (up.status_code, up.json()["errors"][0]["code"]) == (404, "NAME_UNKNOWN")
    r = get_manifest(mirror, "no/such", "1")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    # a known repository still lists its tags and answers MANIFEST_UNKNOWN for a missing tag
    assert requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5).json()["tags"] == [
        "1",
        "multi",
    ]
    r = get_manifest(mirror, REPO, "nope")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    # what the mirror cached (both tags, read while listing) keeps the repository known when
    # upstream goes away; an uncached one stays a plain 404 (upstream cannot tell)
    upstream.stop()
    r = requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=5)
    assert r.json()["tags"] == ["1", "multi"]
    assert get_manifest(mirror, "other/repo", "1").status_code == 404
    mirror.check()


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_upstream_auth_is_followed(make_mirror, image, auth) -> None:
    users = {"alice": "s3cret"}
    up_auth = (
        BearerAuth(users=users, token_field="access_token")
        if auth == "bearer"
        else BasicAuth(users)
    )
    with Registry(auth=up_auth) as up:
        up.push(image, f"{REPO}:1")
        anonymous = make_mirror(upstream=up.url)
        assert get_manifest(anonymous, REPO, "1").status_code == 404  # nothing it may read
        mirror = make_mirror(upstream=up.url, credentials=("alice", "s3cret"))
        r = get_manifest(mirror, REPO, "1")
        assert r.status_code == 200 and r.content == image.manifest_bytes
        layer = str(image.manifest.layers[0].digest)
        assert sha256(get_blob(mirror, REPO, layer).content) == layer


def test_sync_plan_applies_over_an_http_upstream(make_mirror, upstream, image, vclock) -> None:
    mirror = make_mirror(upstream=upstream.url, clock=vclock, plan=SyncPlan(Interval(1)))
    assert get_manifest(mirror, REPO, "1").json()["layers"] == []
    vclock.sleep(2)
    doc = get_manifest(mirror, REPO, "1").json()
    assert len(doc["layers"]) == 2
    assert get_blob(mirror, REPO, doc["config"]["digest"]).json()["rootfs"]["diff_ids"] != []
    vclock.sleep(1)
    assert get_manifest(mirror, REPO, "1").content == image.manifest_bytes


def _artifact(subject) -> bytes:
    import json

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.sbom",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                "size": 2,
            },
            "layers": [],
            "subject": {
                "mediaType": subject.media_type,
                "digest": str(subject.digest),
                "size": len(subject.manifest_bytes),
            },
        }
    ).encode()


@pytest.mark.parametrize("over_http", [False, True])
def test_referrers_and_catalog_pass_through(make_mirror, image, over_http) -> None:
    with Registry() as up:
        up.push(image, f"{REPO}:1")
        referrer = up.store.put_manifest(
            REPO, _artifact(image), "application/vnd.oci.image.manifest.v1+json", check=False
        )
        mirror = make_mirror(upstream=up.url if over_http else up)
        r = requests.get(f"{mirror.url}/v2/{REPO}/referrers/{image.digest}", timeout=5)
        assert r.status_code == 200
        assert [m["digest"] for m in r.json()["manifests"]] == [str(referrer)]
        assert r.json()["manifests"][0]["artifactType"] == "application/vnd.example.sbom"
        catalog = requests.get(f"{mirror.url}/v2/_catalog", timeout=5).json()
        assert catalog["repositories"] == [REPO]

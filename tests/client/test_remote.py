"""new_remote_image over real sockets: imgutil's open, ggcr's fetches, the exact texts."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from flakymirror.client import (
    GoEOF,
    ImageError,
    NetworkError,
    RemoteImageError,
    RepoStoreError,
    StaticToken,
    TransportError,
    find_transport_error,
    new_remote_image,
)
from flakymirror.oci import build_image, build_index
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest
from tests.helpers.scripted_registry import EOF, OCIError, Status
from tests.helpers.sleeps import ggcr_sleeps

NO_AMD64 = "{Architecture:amd64 OS:linux OSVersion: OSFeatures:[] Variant: Features:[]}"


def fake(n: int) -> str:
    return str(Digest.of(f"blob-{n}".encode()))


def craft(fake_registry, repo, layers, diff_ids, *, tag="latest", media_type=mt.OCI_MANIFEST):
    """Serve a hand-made image: ``layers`` are blob digests, ``diff_ids`` the config's."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    config_digest = fake_registry.put_blob(repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest), "size": len(config)},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": d, "size": 10} for d in layers],
    }
    data = json.dumps(manifest).encode()
    return fake_registry.put_manifest(repo, data, media_type, tag), data, config


def test_open_an_image(fake_registry, sleeps):
    image = build_image(layers=3, seed=4, labels={"io.buildpacks.stack.id": "s"})
    digest = fake_registry.push(image, "run")
    img = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert img.top_layer() == str(image.layers[-1].diff_id)
    assert fake_registry.paths() == [
        "GET /v2/",
        "GET /v2/run/manifests/latest",
        f"GET /v2/run/blobs/{image.config_blob.digest}",
    ]
    accept = fake_registry.headers_seen[1]["Accept"]
    assert accept == (
        "application/vnd.docker.distribution.manifest.v1+json,"
        "application/vnd.docker.distribution.manifest.v1+prettyjws,"
        "application/vnd.docker.distribution.manifest.v2+json,"
        "application/vnd.oci.image.manifest.v1+json,"
        "application/vnd.docker.distribution.manifest.list.v2+json,"
        "application/vnd.oci.image.index.v1+json"
    )
    assert img.digest == digest == image.digest
    assert img.media_type == mt.OCI_MANIFEST
    assert img.found and not img.empty
    assert img.identifier == f"{fake_registry.host}/run@{digest}"
    assert img.config.labels["io.buildpacks.stack.id"] == "s"
    assert [d.digest for d in img.layers] == [layer.digest for layer in image.layers]
    assert img.manifest_bytes == image.manifest_bytes
    assert [(r.method, r.status) for r in img.requests] == [("GET", 200)] * 3
    # TopLayer is memoised: no request, whatever the registry does meanwhile
    fake_registry.on("GET", ".*", then=Status(500))
    for _ in range(3):
        assert img.top_layer() == str(image.layers[-1].diff_id)
    assert fake_registry.count() == 3
    assert sleeps.calls == []


def test_docker_flavour_and_unknown_content_type(fake_registry, sleeps):
    image = build_image(layers=2, seed=1, flavor="docker")
    fake_registry.push(image, "d")
    img = new_remote_image(fake_registry.ref("d"), insecure=True, sleep=sleeps)
    assert img.media_type == mt.DOCKER_MANIFEST
    assert img.top_layer() == str(image.layers[-1].diff_id)
    # ggcr treats a manifest served with an odd Content-Type as an image manifest
    fake_registry.put_manifest("odd", image.manifest_bytes, "text/plain", "latest")
    fake_registry.blobs[("odd", str(image.config_blob.digest))] = image.config_blob.read()
    assert new_remote_image(fake_registry.ref("odd"), insecure=True).top_layer() == img.top_layer()


def test_every_open_fetches_everything_again(fake_registry, sleeps):
    fake_registry.push(build_image(layers=1, seed=2), "run")
    first = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    second = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert first.top_layer() == second.top_layer()
    assert fake_registry.count("GET", "/v2/") == 2
    assert fake_registry.count("GET", "/v2/run/manifests/latest") == 2
    assert fake_registry.count("GET", "/v2/run/blobs/.*") == 2
    assert first.transport is not second.transport


def test_index_resolves_the_platform_child(fake_registry, sleeps):
    index = build_index(("linux/arm64", "linux/amd64"), seed=3)
    index_digest = fake_registry.push(index, "multi")
    amd64 = index.image_for("linux/amd64")
    img = new_remote_image(fake_registry.ref("multi"), insecure=True, sleep=sleeps)
    assert img.digest == amd64.digest and img.index_digest == index_digest
    assert img.index_media_type == mt.OCI_INDEX
    assert img.top_layer() == str(amd64.layers[-1].diff_id)
    assert fake_registry.paths() == [
        "GET /v2/",
        "GET /v2/multi/manifests/latest",
        f"GET /v2/multi/manifests/{amd64.digest}",
        f"GET /v2/multi/blobs/{amd64.config_blob.digest}",
    ]
    assert fake_registry.headers_seen[2]["Accept"] == mt.OCI_MANIFEST  # the child's type only
    arm = new_remote_image(fake_registry.ref("multi"), insecure=True, platform="linux/arm64")
    assert arm.digest == index.image_for("linux/arm64").digest
    assert str(arm.platform) == "linux/arm64"


def test_index_child_without_platform_counts_as_linux_amd64(fake_registry, sleeps):
    image = build_image(layers=2, seed=5)
    fake_registry.push(image, "np", tag=str(image.digest))
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": str(image.digest),
                "size": len(image.manifest_bytes),
            }
        ],
    }
    fake_registry.put_manifest("np", json.dumps(index).encode(), mt.OCI_INDEX, "latest")
    img = new_remote_image(fake_registry.ref("np"), insecure=True, sleep=sleeps)
    assert img.top_layer() == str(image.layers[-1].diff_id)
    with pytest.raises(ImageError, match="^image has no layers$"):
        new_remote_image(fake_registry.ref("np"), insecure=True, platform="linux/arm64").top_layer()


def test_index_missing_the_platform_is_an_empty_image(fake_registry, sleeps):
    fake_registry.push(build_index(("linux/arm64", "linux/s390x")), "arm")
    img = new_remote_image(fake_registry.ref("arm"), insecure=True, sleep=sleeps)
    assert img.empty and not img.found
    assert (
        str(img.empty_reason)
        == f"no child with platform {NO_AMD64} in index {fake_registry.host}/arm:latest"
    )
    with pytest.raises(ImageError) as info:
        img.top_layer()
    assert str(info.value) == "image has no layers"
    assert fake_registry.paths() == ["GET /v2/", "GET /v2/arm/manifests/latest"]  # no config GET
    assert img.config.os == "linux" and img.config.architecture == "amd64"
    assert img.config.diff_ids == () and img.layers == ()


@pytest.mark.parametrize(
    ("status", "error"), [(404, "MANIFEST_UNKNOWN"), (401, "UNAUTHORIZED"), (404, "NAME_UNKNOWN")]
)
def test_404_or_401_with_oci_errors_is_an_empty_image(fake_registry, sleeps, status, error):
    fake_registry.on("GET", "/v2/run/manifests/latest", OCIError(status, error, "nope"))
    img = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert img.empty
    assert isinstance(img.empty_reason, TransportError)
    assert img.empty_reason.status_code == status
    with pytest.raises(ImageError, match="^image has no layers$"):
        img.top_layer()


@pytest.mark.parametrize(
    ("action", "status", "tail"),
    [
        (Status(404), 404, "unexpected status code 404 Not Found"),
        (Status(401, b"go away"), 401, "unexpected status code 401 Unauthorized: go away"),
        (
            Status(403, b"<html><h1>Forbidden</h1></html>", content_type="text/html"),
            403,
            "unexpected status code 403 Forbidden: <html><h1>Forbidden</h1></html>",
        ),
        (OCIError(403, "DENIED", "denied"), 403, "DENIED: denied"),
        (OCIError(400, "NAME_INVALID", "bad"), 400, "NAME_INVALID: bad"),
    ],
)
def test_other_statuses_are_wrapped_as_connect_to_repo_store(
    fake_registry, sleeps, action, status, tail
):
    fake_registry.on("GET", "/v2/run/manifests/latest", action)
    ref = fake_registry.ref("run")
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(ref, insecure=True, sleep=sleeps)
    url = f"http://{fake_registry.host}/v2/run/manifests/latest"
    assert str(info.value) == f'connect to repo store "{ref}": GET {url}: {tail}'
    cause = info.value.__cause__
    assert isinstance(cause, TransportError) and find_transport_error(info.value) is cause
    assert cause.status_code == status
    assert sleeps.calls == []


def test_5xx_after_ggcr_retries_is_wrapped(fake_registry, sleeps):
    fake_registry.on("GET", "/v2/run/manifests/latest", then=OCIError(503, "UNAVAILABLE", "later"))
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert str(info.value).endswith("UNAVAILABLE: later")
    assert sleeps.calls == ggcr_sleeps(1)
    assert fake_registry.count("GET", "/v2/run/manifests/latest") == 3
    assert [r.status for r in info.value.requests] == [200, 503, 503, 503]


def test_by_digest_mismatch(fake_registry, sleeps):
    image = build_image(layers=1, seed=9)
    wrong = fake(1)
    fake_registry.manifests[("run", wrong)] = (image.manifest_bytes, image.media_type)
    ref = fake_registry.ref("run", wrong)
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(ref, insecure=True, sleep=sleeps)
    assert str(info.value) == (
        f'connect to repo store "{ref}": manifest digest: "{image.digest}" does not match '
        f'requested digest: "{wrong}" for "{fake_registry.host}/run@{wrong}"'
    )
    assert find_transport_error(info.value) is None


def test_pull_by_digest(fake_registry, sleeps):
    image = build_image(layers=2, seed=10)
    digest = fake_registry.push(image, "run")
    img = new_remote_image(fake_registry.ref("run", str(digest)), insecure=True, sleep=sleeps)
    assert img.digest == digest
    assert fake_registry.paths()[1] == f"GET /v2/run/manifests/{digest}"


def test_config_failures_are_not_wrapped(fake_registry, sleeps):
    image = build_image(layers=1, seed=11)
    fake_registry.push(image, "run")
    config_path = f"/v2/run/blobs/{image.config_blob.digest}"
    size = image.config_blob.size
    fake_registry.on("GET", config_path, OCIError(404, "BLOB_UNKNOWN", "gone"))
    with pytest.raises(TransportError) as info:  # bare: no connect-to-repo-store, no empty image
        new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert str(info.value) == f"GET http://{fake_registry.host}{config_path}: BLOB_UNKNOWN: gone"

    fake_registry.rules.clear()
    fake_registry.on("GET", config_path, Status(200, b"x" * size))
    with pytest.raises(RemoteImageError) as info:
        new_remote_image(fake_registry.ref("run"), insecure=True)
    assert str(info.value) == (
        f"error verifying sha256 checksum after reading {size} bytes; "
        f'got "{Digest.of(b"x" * size).hex}", want "{image.config_blob.digest.hex}"'
    )

    fake_registry.rules.clear()
    fake_registry.on("GET", config_path, Status(200, b"{}", {"Content-Length": "2"}))
    with pytest.raises(RemoteImageError) as info:
        new_remote_image(fake_registry.ref("run"), insecure=True)
    assert str(info.value) == (
        f"GET http://{fake_registry.host}{config_path}: Content-Length header 2 does not match "
        f"expected size {size}"
    )


def test_config_size_shorter_than_the_descriptor(fake_registry, sleeps):
    repo = "short"
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    digest = fake_registry.put_blob(repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": str(digest), "size": len(config) + 5},
        "layers": [],
    }
    fake_registry.put_manifest(repo, json.dumps(manifest).encode(), mt.OCI_MANIFEST, "latest")
    # Content-Length present and different: ggcr's header check fires first
    with pytest.raises(RemoteImageError) as info:
        new_remote_image(fake_registry.ref(repo), insecure=True, sleep=sleeps)
    assert str(info.value).endswith(
        f"Content-Length header {len(config)} does not match expected size {len(config) + 5}"
    )
    # without Content-Length (chunked) the verifying reader notices the short body
    fake_registry.on("GET", f"/v2/{repo}/blobs/.*", lambda _req: Response(iter([config])))
    with pytest.raises(RemoteImageError) as info:
        new_remote_image(fake_registry.ref(repo), insecure=True, sleep=sleeps)
    assert str(info.value) == f"error verifying size; got {len(config)}, want {len(config) + 5}"


def test_mismatched_diff_ids(fake_registry, sleeps):
    craft(fake_registry, "mm", [fake(1), fake(2)], [fake(11)])
    img = new_remote_image(fake_registry.ref("mm"), insecure=True, sleep=sleeps)
    with pytest.raises(ImageError) as info:
        img.top_layer()
    assert str(info.value) == "mismatched fs layers (2) and diff ids (1)"


def test_served_image_without_layers(fake_registry, sleeps):
    craft(fake_registry, "nolayers", [], [fake(11)])
    img = new_remote_image(fake_registry.ref("nolayers"), insecure=True, sleep=sleeps)
    assert img.found
    with pytest.raises(ImageError, match="^image has no layers$"):
        img.top_layer()


def test_top_layer_maps_the_last_blob_to_its_first_diff_id(fake_registry, sleeps):
    # ggcr BlobToDiffID returns the diffID at the blob's first position
    craft(fake_registry, "dup", [fake(1), fake(2), fake(1)], [fake(11), fake(12), fake(13)])
    img = new_remote_image(fake_registry.ref("dup"), insecure=True, sleep=sleeps)
    assert img.top_layer() == fake(11)


def test_empty_index_body_is_an_exact_eof_that_imgutil_retries(fake_registry, sleeps):
    fake_registry.on(
        "GET", "/v2/run/manifests/latest", then=Status(200, b"", content_type=mt.OCI_INDEX)
    )
    ref = fake_registry.ref("run")
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(ref, insecure=True, sleep=sleeps)
    assert str(info.value) == f'connect to repo store "{ref}": EOF'
    assert type(info.value.__cause__) is GoEOF
    assert sleeps.calls == [0.1, 0.2]
    assert fake_registry.paths() == ["GET /v2/", "GET /v2/run/manifests/latest"] * 3


def test_empty_index_body_once_then_the_index(fake_registry, sleeps):
    index = build_index(("linux/amd64",), seed=12)
    fake_registry.push(index, "run")
    fake_registry.on(
        "GET", "/v2/run/manifests/latest", Status(200, b"  ", content_type=mt.OCI_INDEX)
    )
    img = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert img.top_layer() == str(index.images[0].layers[-1].diff_id)
    assert sleeps.calls == [0.1]
    assert fake_registry.count("GET", "/v2/") == 2


def test_empty_image_manifest_body_is_a_bare_eof_from_the_config_stage(fake_registry, sleeps):
    fake_registry.on(
        "GET", "/v2/run/manifests/latest", Status(200, b"", content_type=mt.OCI_MANIFEST)
    )
    with pytest.raises(GoEOF) as info:
        new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert str(info.value) == "EOF"
    assert sleeps.calls == []
    assert fake_registry.paths() == ["GET /v2/", "GET /v2/run/manifests/latest"]


def test_connection_closed_without_response_is_retried_by_ggcr_not_imgutil(fake_registry, sleeps):
    fake_registry.on("GET", "/v2/run/manifests/latest", then=EOF())
    ref = fake_registry.ref("run")
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(ref, insecure=True, sleep=sleeps)
    url = f"http://{fake_registry.host}/v2/run/manifests/latest"
    assert str(info.value) == f'connect to repo store "{ref}": Get "{url}": EOF'
    assert isinstance(info.value.__cause__, NetworkError)
    assert sleeps.calls == ggcr_sleeps(1)  # Go wraps io.EOF in *url.Error: imgutil's check misses


def test_bearer_open_and_requests_record(fake_registry, sleeps):
    fake_registry.push(build_image(layers=1, seed=13), "run")
    fake_registry.ping_status = 401
    fake_registry.ping_headers = {
        "WWW-Authenticate": f'Bearer realm="http://{fake_registry.host}/token",service="svc"'
    }
    fake_registry.on("GET", "/token", then=Status(200, b'{"token":"tk"}'))
    record = []
    new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps, record=record)
    assert [r.url.split(fake_registry.host)[1].split("?")[0] for r in record] == [
        "/v2/",
        "/token",
        "/v2/run/manifests/latest",
        f"/v2/run/blobs/{build_image(layers=1, seed=13).config_blob.digest}",
    ]
    assert all(h.get("Authorization") == "Bearer tk" for h in fake_registry.headers_seen[2:])
    new_remote_image(
        fake_registry.ref("run"), insecure=True, keychain=StaticToken("s"), record=record
    )
    assert len(record) == 4 + 3


def test_https_against_a_plain_http_registry(fake_registry, sleeps):
    ref = fake_registry.ref("run")
    with pytest.raises(RepoStoreError) as info:
        new_remote_image(ref, sleep=sleeps)
    assert str(info.value) == (
        f'connect to repo store "{ref}": Get "https://{fake_registry.host}/v2/": '
        "http: server gave HTTP response to HTTPS client"
    )


def test_exists_heads_the_manifest(fake_registry, sleeps):
    fake_registry.push(build_image(layers=1, seed=14), "run")
    img = new_remote_image(fake_registry.ref("run"), insecure=True, sleep=sleeps)
    assert img.exists() is True
    assert fake_registry.paths()[-2:] == ["GET /v2/", "HEAD /v2/run/manifests/latest"]
    fake_registry.on("HEAD", "/v2/run/manifests/latest", OCIError(404, "MANIFEST_UNKNOWN", "x"))
    assert img.exists() is False
    fake_registry.on("HEAD", "/v2/run/manifests/latest", Status(200, b"", {"Content-Type": "x"}))
    fake_registry.rules.pop(0)
    with pytest.raises(RemoteImageError, match="did not include Docker-Content-Digest header"):
        img.head()


def test_bad_references_are_named():
    with pytest.raises(ValueError, match="bad tag part"):
        new_remote_image("127.0.0.1:5000/foo:-bad")
    with pytest.raises(ValueError, match="invalid platform"):
        new_remote_image("127.0.0.1:5000/foo", platform="linux")


def test_fetch_config_false_defers_the_config_to_its_first_use(fake_registry, sleeps):
    """imgutil's WithPreviousImage: the open fetches the manifest only; the config is fetched
    (and verified) once, on first use; a failure then is the bare error, raised then."""
    image = build_image(layers=2, seed=77)
    fake_registry.push(image, "prev")
    config_path = f"/v2/prev/blobs/{image.config_blob.digest}"
    opened = new_remote_image(
        fake_registry.ref("prev"), insecure=True, sleep=sleeps, fetch_config=False
    )
    assert fake_registry.paths() == ["GET /v2/", "GET /v2/prev/manifests/latest"]
    assert not opened.config_fetched and opened.layer_digests == tuple(
        d.digest for d in image.layers
    )
    assert opened.diff_ids == tuple(layer.diff_id for layer in image.layers)  # now fetched
    assert opened.config_bytes == image.config_blob.read() and opened.config_fetched
    assert opened.top_layer() == str(image.layers[-1].diff_id)
    assert fake_registry.paths()[2:] == [f"GET {config_path}"]  # once
    assert [r.url.split(fake_registry.host, 1)[1] for r in opened.requests][-1] == config_path

    fake_registry.on("GET", config_path, OCIError(404, "BLOB_UNKNOWN", "gone"))
    later = new_remote_image(
        fake_registry.ref("prev"), insecure=True, sleep=sleeps, fetch_config=False
    )
    with pytest.raises(TransportError, match=f"GET http://{fake_registry.host}{config_path}: "):
        _ = later.config_dict
    assert later.config_dict["rootfs"]["diff_ids"]  # not memoised after a failure: fetched again
    assert sleeps.calls == []

"""The retrying opener against misbehaving registries over real sockets.

Every case asserts the whole sleep schedule (ggcr backoff inside an attempt, imgutil's EOF
sleeps, lifecycle's delays between attempts, all through one recorded sleep function) and the
request counts: each opener attempt must ping and GET the manifest again.

Every case runs twice: against the scripted ``FakeRegistry`` (pytest-httpserver, which closes
every connection) and against the same script wrapped around flakymirror's ``RegistryApp`` on
the registry's keep-alive ``Server``. The sleeps are the same on both; the request counts differ
only where keep-alive changes what the wire carries: a connection closed under a request that
went out on a reused connection is resent once at once (Go's ``http.Transport``).
"""

from __future__ import annotations

import json
import logging

import pytest

from flakymirror.client import (
    ImageError,
    RepoStoreError,
    TransportError,
    find_transport_error,
    new_remote_image,
    open_remote_image,
)
from flakymirror.oci import build_image, build_index
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest
from tests.helpers.scripted_registry import EOF, FakeRegistry, KeepAliveRegistry, OCIError, Status
from tests.helpers.sleeps import ggcr_sleeps

MANIFEST = "/v2/run/manifests/latest"
DELAYS = [0.1, 0.2, 0.5, 1.0, 2.0]
G = ggcr_sleeps(1)  # one exhausted request in a fresh transport: ~1.0x s then ~3.0x s


@pytest.fixture(params=["httpserver", "keepalive"])
def scripted_registry(request):
    """The scripted registry, once per build (see the module docstring)."""
    name = "fake_registry" if request.param == "httpserver" else "keepalive_registry"
    return request.getfixturevalue(name)


def keepalive(scripted_registry) -> bool:
    """True on the keep-alive build, where resends on reused connections happen."""
    assert isinstance(scripted_registry, FakeRegistry | KeepAliveRegistry)
    return isinstance(scripted_registry, KeepAliveRegistry)


@pytest.fixture
def image(scripted_registry):
    img = build_image(layers=3, seed=21)
    scripted_registry.push(img, "run")
    return img


class Opener:
    """open_remote_image(lambda: new_remote_image(ref, insecure=True, ...)) with recording."""

    def __init__(self, scripted_registry, sleeps, caplog, profile="ggcr-v0.21.9", **kw):
        self.registry = scripted_registry
        self.sleeps = sleeps
        self.caplog = caplog
        self.profile = profile
        self.kw = kw
        self.opens = 0

    def new_image(self):
        self.opens += 1
        return new_remote_image(
            self.registry.ref("run"),
            insecure=True,
            sleep=self.sleeps,
            profile=self.profile,
            **self.kw,
        )

    def __call__(self):
        with self.caplog.at_level(logging.INFO, logger="flakymirror.client"):
            return open_remote_image(self.new_image, sleep=self.sleeps)

    def logs(self, level):
        return [
            r.getMessage()
            for r in self.caplog.records
            if r.name == "flakymirror.client" and r.levelno == level
        ]


@pytest.fixture
def opener(scripted_registry, sleeps, caplog):
    def make(**kw):
        return Opener(scripted_registry, sleeps, caplog, **kw)

    return make


def assert_attempts(scripted_registry, attempts, *, manifest_gets=None):
    assert scripted_registry.count("GET", "/v2/") == attempts
    assert scripted_registry.count("GET", MANIFEST) == (
        attempts if manifest_gets is None else manifest_gets
    )


def test_healthy_registry_one_attempt(scripted_registry, sleeps, opener, image):
    op = opener()
    img = op()
    assert img.top_layer() == str(image.layers[-1].diff_id)
    assert sleeps.calls == [] and op.opens == 1
    assert scripted_registry.paths() == [
        "GET /v2/",
        f"GET {MANIFEST}",
        f"GET /v2/run/blobs/{image.config_blob.digest}",
    ]
    assert op.logs(logging.WARNING) == [] and op.logs(logging.INFO) == []


def test_401_with_json_body_becomes_an_empty_image_and_is_retried(
    scripted_registry, sleeps, opener, image
):
    scripted_registry.on(
        "GET", MANIFEST, then=OCIError(401, "UNAUTHORIZED", "authentication required")
    )
    op = opener()
    with pytest.raises(ImageError) as info:
        op()
    assert str(info.value) == "image has no layers"
    assert sleeps.calls == DELAYS
    assert_attempts(scripted_registry, 6)
    assert scripted_registry.count("GET", "/v2/run/blobs/.*") == 0
    assert op.logs(logging.WARNING)[0] == (
        "Failed to open remote image (attempt 1/6): image has no layers, retrying in 100ms"
    )


def test_401_without_body_short_circuits(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, then=Status(401))
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    assert find_transport_error(info.value).status_code == 401
    assert str(info.value).endswith("unexpected status code 401 Unauthorized")
    assert sleeps.calls == [] and op.opens == 1
    assert_attempts(scripted_registry, 1)
    assert op.logs(logging.WARNING) == []


def test_403_with_html_short_circuits(scripted_registry, sleeps, opener, image):
    html = b"<html><body><h1>403 Forbidden</h1></body></html>"
    scripted_registry.on("GET", MANIFEST, then=Status(403, html, content_type="text/html"))
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    ref = scripted_registry.ref("run")
    assert str(info.value) == (
        f'connect to repo store "{ref}": GET http://{scripted_registry.host}{MANIFEST}: '
        f"unexpected status code 403 Forbidden: {html.decode()}"
    )
    assert sleeps.calls == [] and op.opens == 1
    assert_attempts(scripted_registry, 1)


def test_404_with_body_until_the_mirror_syncs(scripted_registry, sleeps, opener, image):
    scripted_registry.on(
        "GET", MANIFEST, *[OCIError(404, "MANIFEST_UNKNOWN", "manifest unknown")] * 2
    )
    op = opener()
    img = op()
    assert img.top_layer() == str(image.layers[-1].diff_id)
    assert sleeps.calls == [0.1, 0.2]
    assert_attempts(scripted_registry, 3)
    assert op.logs(logging.WARNING) == [
        "Failed to open remote image (attempt 1/6): image has no layers, retrying in 100ms",
        "Failed to open remote image (attempt 2/6): image has no layers, retrying in 200ms",
    ]
    assert op.logs(logging.INFO) == ["Successfully opened remote image after 2 retries"]


def test_404_with_body_for_good_is_issue_1674(scripted_registry, sleeps, opener, image):
    scripted_registry.on(
        "GET", MANIFEST, then=OCIError(404, "MANIFEST_UNKNOWN", "manifest unknown")
    )
    op = opener()
    with pytest.raises(ImageError, match="^image has no layers$"):
        op()
    assert sleeps.calls == DELAYS and sum(sleeps.calls) == pytest.approx(3.8)
    assert_attempts(scripted_registry, 6)
    assert len(op.logs(logging.WARNING)) == 5 and op.logs(logging.INFO) == []


def test_404_without_body_is_retried_as_a_wrapped_error(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, then=Status(404))
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    text = (
        f'connect to repo store "{scripted_registry.ref("run")}": GET http://{scripted_registry.host}{MANIFEST}: '
        "unexpected status code 404 Not Found"
    )
    assert str(info.value) == text
    assert sleeps.calls == DELAYS
    assert_attempts(scripted_registry, 6)
    assert op.logs(logging.WARNING)[4] == (
        f"Failed to open remote image (attempt 5/6): {text}, retrying in 2s"
    )


@pytest.mark.parametrize(
    ("profile", "manifest_gets", "expected_sleeps"),
    [("ggcr-v0.21.9", 3, G), ("ggcr-v0.21.5", 1, []), ("none", 1, [])],
)
def test_429_ggcr_retries_first_then_the_opener_stops(
    scripted_registry, sleeps, opener, image, profile, manifest_gets, expected_sleeps
):
    scripted_registry.on("GET", MANIFEST, then=OCIError(429, "TOOMANYREQUESTS", "rate limited"))
    op = opener(profile=profile)
    with pytest.raises(RepoStoreError) as info:
        op()
    assert find_transport_error(info.value).status_code == 429
    assert str(info.value).endswith("TOOMANYREQUESTS: rate limited")
    assert sleeps.calls == expected_sleeps
    assert op.opens == 1
    assert_attempts(scripted_registry, 1, manifest_gets=manifest_gets)
    assert op.logs(logging.WARNING) == []


def test_429_that_clears_within_ggcr_retries(scripted_registry, sleeps, opener, image):
    scripted_registry.on(
        "GET",
        MANIFEST,
        OCIError(429, "TOOMANYREQUESTS", "x"),
        OCIError(429, "TOOMANYREQUESTS", "x"),
    )
    op = opener(profile="ggcr-v0.21.9")
    op()
    assert sleeps.calls == G and op.opens == 1
    assert_attempts(scripted_registry, 1, manifest_gets=3)


@pytest.mark.parametrize("profile", ["ggcr-v0.21.9", "ggcr-v0.21.5"])
def test_5xx_storm_ggcr_retries_times_opener_attempts(
    scripted_registry, sleeps, opener, image, profile
):
    scripted_registry.on("GET", MANIFEST, then=OCIError(503, "UNAVAILABLE", "try later"))
    op = opener(profile=profile)
    with pytest.raises(RepoStoreError) as info:
        op()
    expected = []
    for delay in DELAYS:
        expected += [*G, delay]
    expected += G
    assert sleeps.calls == expected
    assert len(sleeps.calls) == 17
    assert_attempts(scripted_registry, 6, manifest_gets=18)
    if profile == "ggcr-v0.21.9":
        assert str(info.value).endswith("UNAVAILABLE: try later")
    else:  # the retried response's body was consumed: no diagnostics left
        assert str(info.value).endswith("unexpected status code 503 Service Unavailable")


def test_5xx_storm_under_profile_none(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, then=Status(502, b"bad gateway"))
    op = opener(profile="none")
    with pytest.raises(RepoStoreError, match="502 Bad Gateway: bad gateway$"):
        op()
    assert sleeps.calls == DELAYS
    assert_attempts(scripted_registry, 6)


def test_5xx_storm_that_ends_mid_attempt(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, *[Status(500)] * 4)
    op = opener()
    op()
    assert sleeps.calls == [*G, 0.1, G[0]]
    assert_attempts(scripted_registry, 2, manifest_gets=5)
    assert op.logs(logging.INFO) == ["Successfully opened remote image after 1 retries"]


def test_eof_server_closes_without_response(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, then=EOF())
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    url = f"http://{scripted_registry.host}{MANIFEST}"
    assert (
        str(info.value)
        == f'connect to repo store "{scripted_registry.ref("run")}": Get "{url}": EOF'
    )
    assert find_transport_error(info.value) is None
    expected = []
    for delay in DELAYS:
        expected += [*G, delay]
    assert sleeps.calls == [*expected, *G]
    if keepalive(scripted_registry):
        # each attempt's first manifest GET rides the ping's kept-alive connection: its EOF is
        # resent at once on a new connection (no sleep), then ggcr's 2 retries dial afresh;
        # a fresh connection's EOF is not resent. 4 GETs per attempt, the same sleeps.
        assert scripted_registry.paths() == ["GET /v2/", *[f"GET {MANIFEST}"] * 4] * 6
    else:  # a new connection per request: ggcr's 3 tries per attempt
        assert scripted_registry.paths() == ["GET /v2/", *[f"GET {MANIFEST}"] * 3] * 6


def test_one_eof_on_the_manifest(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, EOF())
    op = opener()
    op()
    assert op.opens == 1
    assert scripted_registry.paths()[:3] == ["GET /v2/", f"GET {MANIFEST}", f"GET {MANIFEST}"]
    if keepalive(scripted_registry):  # resent at once on a new connection: ggcr never sees the EOF
        assert sleeps.calls == []
    else:  # the EOF reaches ggcr's retry layer: one backoff sleep, then a new try
        assert sleeps.calls == [G[0]]


def test_eof_on_the_ping_then_recovery(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", "/v2/", EOF(), EOF(), EOF(), EOF())
    op = opener()
    op()
    # attempt 1: the ping fails 3 times; attempt 2: one more EOF, then the ping succeeds
    assert sleeps.calls == [*G, 0.1, G[0]]
    assert scripted_registry.count("GET", "/v2/") == 5
    assert scripted_registry.count("GET", MANIFEST) == 1


def test_empty_index_body_exact_eof_uses_imgutil_sleeps(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, *[Status(200, b"", content_type=mt.OCI_INDEX)] * 4)
    op = opener()
    op()
    # attempt 1: imgutil tries 3 times (sleeping 100ms, 200ms), fails with EOF;
    # attempt 2: one more empty body, imgutil sleeps 100ms, then the real image
    assert sleeps.calls == [0.1, 0.2, 0.1, 0.1]
    assert_attempts(scripted_registry, 5)
    assert op.logs(logging.WARNING) == [
        f'Failed to open remote image (attempt 1/6): connect to repo store "{scripted_registry.ref("run")}"'
        ": EOF, retrying in 100ms"
    ]


def test_index_missing_the_platform_child_until_it_appears(scripted_registry, sleeps, opener):
    partial = build_index(("linux/arm64",), seed=30)
    full = build_index(("linux/arm64", "linux/amd64"), seed=30)
    scripted_registry.push(full, "run")
    partial_bytes = partial.index_bytes
    scripted_registry.on(
        "GET", MANIFEST, *[Status(200, partial_bytes, content_type=mt.OCI_INDEX)] * 2
    )
    op = opener()
    img = op()
    amd64 = full.image_for("linux/amd64")
    assert img.digest == amd64.digest
    assert sleeps.calls == [0.1, 0.2]
    assert_attempts(scripted_registry, 3)
    assert scripted_registry.count("GET", f"/v2/run/manifests/{amd64.digest}") == 1


def test_mismatched_diff_ids_is_retried_then_fixed(scripted_registry, sleeps, opener, image):
    config = json.loads(image.config_blob.read())
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:1]
    bad_config = json.dumps(config).encode()
    bad_digest = scripted_registry.put_blob("run", bad_config)
    manifest = json.loads(image.manifest_bytes)
    manifest["config"]["digest"], manifest["config"]["size"] = str(bad_digest), len(bad_config)
    bad_manifest = json.dumps(manifest).encode()
    scripted_registry.on(
        "GET", MANIFEST, *[Status(200, bad_manifest, content_type=mt.OCI_MANIFEST)] * 3
    )
    op = opener()
    img = op()
    assert img.top_layer() == str(image.layers[-1].diff_id)
    assert sleeps.calls == [0.1, 0.2, 0.5]
    assert_attempts(scripted_registry, 4)
    assert op.logs(logging.WARNING)[0] == (
        "Failed to open remote image (attempt 1/6): mismatched fs layers (3) and diff ids (1), "
        "retrying in 100ms"
    )
    assert scripted_registry.count("GET", f"/v2/run/blobs/{bad_digest}") == 3


def test_bearer_token_flow_every_attempt_authenticates_again(
    scripted_registry, sleeps, opener, image
):
    scripted_registry.ping_status = 401
    scripted_registry.ping_headers = {
        "WWW-Authenticate": f'Bearer realm="http://{scripted_registry.host}/token",service="svc"'
    }
    scripted_registry.on("GET", "/token", then=Status(200, b'{"access_token":"tk"}'))
    scripted_registry.on("GET", MANIFEST, *[OCIError(404, "MANIFEST_UNKNOWN", "x")] * 2)
    op = opener()
    op()
    assert sleeps.calls == [0.1, 0.2]
    assert_attempts(scripted_registry, 3)
    assert scripted_registry.count("GET", "/token") == 3
    manifest_auth = [
        h.get("Authorization")
        for (m, p, _), h in zip(scripted_registry.log, scripted_registry.headers_seen, strict=True)
        if p == MANIFEST
    ]
    assert manifest_auth == ["Bearer tk"] * 3


def test_bearer_token_service_rate_limited(scripted_registry, sleeps, opener, image):
    scripted_registry.ping_status = 401
    scripted_registry.ping_headers = {
        "WWW-Authenticate": f'Bearer realm="http://{scripted_registry.host}/token"'
    }
    scripted_registry.on("GET", "/token", then=OCIError(429, "TOOMANYREQUESTS", "slow"))
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    terr = find_transport_error(info.value)
    assert isinstance(terr, TransportError) and terr.status_code == 429
    assert "/token?scope=repository%3Arun%3Apull&service=" in str(info.value)
    assert sleeps.calls == G  # ggcr retried the token GET; lifecycle then stops at once
    assert scripted_registry.count("GET", "/token") == 3
    assert scripted_registry.count("GET", MANIFEST) == 0


def test_config_blob_404_is_retried_bare(scripted_registry, sleeps, opener, image):
    config_path = f"/v2/run/blobs/{image.config_blob.digest}"
    scripted_registry.on(
        "GET", config_path, OCIError(404, "BLOB_UNKNOWN", "blob unknown to registry")
    )
    op = opener()
    op()
    assert sleeps.calls == [0.1]
    assert op.logs(logging.WARNING) == [
        f"Failed to open remote image (attempt 1/6): GET http://{scripted_registry.host}{config_path}: "
        "BLOB_UNKNOWN: blob unknown to registry, retrying in 100ms"
    ]
    assert_attempts(scripted_registry, 2)


def test_wrong_digest_served_for_a_digest_reference(scripted_registry, sleeps, caplog, image):
    wanted = Digest.of(b"something else")
    answer = Status(200, image.manifest_bytes, content_type=image.media_type)
    scripted_registry.on("GET", f"/v2/run/manifests/{wanted}", then=answer)
    ref = scripted_registry.ref("run", str(wanted))
    with pytest.raises(RepoStoreError, match="does not match requested digest"):
        open_remote_image(lambda: new_remote_image(ref, insecure=True, sleep=sleeps), sleep=sleeps)
    assert sleeps.calls == DELAYS
    assert scripted_registry.count("GET", f"/v2/run/manifests/{wanted}") == 6


@pytest.mark.parametrize(
    ("status", "error"), [(400, "NAME_INVALID"), (405, "UNSUPPORTED"), (403, "DENIED")]
)
def test_other_deny_listed_statuses_short_circuit(
    scripted_registry, sleeps, opener, image, status, error
):
    scripted_registry.on("GET", MANIFEST, then=OCIError(status, error, "no"))
    op = opener()
    with pytest.raises(RepoStoreError, match=f"{error}: no$"):
        op()
    assert sleeps.calls == [] and op.opens == 1
    assert_attempts(scripted_registry, 1)


def test_index_without_the_platform_for_good(scripted_registry, sleeps, opener):
    scripted_registry.push(build_index(("linux/arm64",), seed=31), "run")
    op = opener()
    with pytest.raises(ImageError, match="^image has no layers$"):
        op()
    assert sleeps.calls == DELAYS
    assert_attempts(scripted_registry, 6)
    assert scripted_registry.count("GET", "/v2/run/manifests/sha256:.*") == 0
    assert scripted_registry.count("GET", "/v2/run/blobs/.*") == 0


def test_mismatched_diff_ids_for_good(scripted_registry, sleeps, opener, image):
    config = json.loads(image.config_blob.read())
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:1]
    bad_config = json.dumps(config).encode()
    manifest = json.loads(image.manifest_bytes)
    manifest["config"]["digest"] = str(scripted_registry.put_blob("run", bad_config))
    manifest["config"]["size"] = len(bad_config)
    scripted_registry.put_manifest("run", json.dumps(manifest).encode(), mt.OCI_MANIFEST, "latest")
    op = opener()
    with pytest.raises(ImageError) as info:
        op()
    assert str(info.value) == "mismatched fs layers (3) and diff ids (1)"
    assert sleeps.calls == DELAYS
    assert_attempts(scripted_registry, 6)


def test_empty_index_body_for_good(scripted_registry, sleeps, opener, image):
    scripted_registry.on("GET", MANIFEST, then=Status(200, b"", content_type=mt.OCI_INDEX))
    op = opener()
    with pytest.raises(RepoStoreError) as info:
        op()
    assert str(info.value) == f'connect to repo store "{scripted_registry.ref("run")}": EOF'
    expected = []
    for delay in DELAYS:
        expected += [0.1, 0.2, delay]
    assert sleeps.calls == [*expected, 0.1, 0.2]
    assert_attempts(scripted_registry, 18)

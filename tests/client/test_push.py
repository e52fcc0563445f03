"""push_image: ggcr remote.Write's request flow against flakymirror's Registry."""

from __future__ import annotations

import json
import logging
import random
import re
from urllib.parse import quote_plus

import pytest
from werkzeug import Request, Response

from flakymirror.client import BasicCredentials, TransportError, new_remote_image
from flakymirror.client.layers import LayerBuilder
from flakymirror.client.push import (
    MountSource,
    PushBlob,
    ggcr_config_bytes,
    ggcr_manifest_bytes,
    go_query_encode,
    push_image,
)
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest
from flakymirror.registry import BearerAuth, Registry
from tests.helpers.sleeps import Sleeps

from .export_helpers import (
    HookedRegistry,
    bearer_token,
    oci_error,
    pull_and_verify,
    run_image,
)


def _app_image(reg, n_new: int = 1, repo_from: str = "run", keychain=None):
    """The run image's layers (mountable) plus ``n_new`` local layers and a new config."""
    run = new_remote_image(f"{reg.host}/{repo_from}:1", insecure=True, keychain=keychain)
    src = MountSource(reg.host, repo_from, run.transport)
    blobs = [PushBlob(d.digest, d.size, d.media_type, source=src) for d in run.layers]
    descs = [json.loads(d.to_bytes()) for d in run.layers]
    diff_ids = [str(d) for d in run.diff_ids]
    builder = LayerBuilder()
    for i in range(n_new):
        layer = builder.from_files(f"l{i}", {f"f{i}": b"x" * (i + 1)}, "/app", "test")
        blobs.append(PushBlob(layer.digest, layer.size, mt.OCI_LAYER_GZIP, chunks=layer.chunks))
        descs.append(
            {"mediaType": mt.OCI_LAYER_GZIP, "size": layer.size, "digest": str(layer.digest)}
        )
        diff_ids.append(str(layer.diff_id))
    cfg = dict(run.config_dict, rootfs={"type": "layers", "diff_ids": diff_ids})
    config = ggcr_config_bytes(cfg)
    cdesc = {"mediaType": mt.OCI_CONFIG, "size": len(config), "digest": str(Digest.of(config))}
    blobs.append(PushBlob(Digest.of(config), len(config), mt.OCI_CONFIG, chunks=lambda: [config]))
    manifest = ggcr_manifest_bytes(mt.OCI_MANIFEST, cdesc, descs)
    return run, manifest, blobs


@pytest.fixture
def reg():
    with HookedRegistry() as r:
        r.push(run_image(1), "run:1")
        yield r


def test_request_flow_ping_head_mount_upload_manifest(reg):
    run, manifest, blobs = _app_image(reg)
    seen: dict[str, dict[str, str]] = {}

    def spy(request: Request) -> None:
        seen[f"{request.method} {request.path}"] = dict(request.headers)
        return None

    reg.on("POST", "/blobs/uploads/", spy)
    reg.on("PATCH", "/blobs/uploads/", spy)
    before = len(reg.log)
    result = push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    log = reg.log[before:]

    assert log[0] == ("GET", "/v2/", 200)
    assert log[1] == ("HEAD", "/v2/app/manifests/1", 404)
    assert log[-1] == ("PUT", "/v2/app/manifests/1", 201)
    for d in run.layers:
        mount = [e for e in log if e[0] == "POST" and "mount=" in e[1] and d.digest.hex in e[1]]
        assert mount == [
            (
                "POST",
                f"/v2/app/blobs/uploads/?from=run&mount=sha256%3A{d.digest.hex}"
                f"&origin={reg.host.replace(':', '%3A')}",
                201,
            )
        ]
        assert ("HEAD", f"/v2/app/blobs/{d.digest}", 404) in log
    for blob in blobs[len(run.layers) :]:
        flow = [
            (m, s)
            for m, p, s in log
            if str(blob.digest) in p or p.startswith("/v2/app/blobs/uploads/")
        ]
        assert ("HEAD", 404) in flow
        put = [p for m, p, s in log if m == "PUT" and f"digest=sha256%3A{blob.digest.hex}" in p]
        assert len(put) == 1 and put[0].startswith("/v2/app/blobs/uploads/")
    patches = {k: v for k, v in seen.items() if k.startswith("PATCH")}
    assert len(patches) == 2  # the new layer and the config
    for headers in patches.values():
        assert headers["Content-Type"] == "application/octet-stream"
        assert int(headers["Content-Length"]) in {b.size for b in blobs}
        assert "Transfer-Encoding" not in headers
    posts = [v for k, v in seen.items() if k.startswith("POST")]
    assert all(h["Content-Type"] == "application/json" for h in posts)

    assert result.digest == Digest.of(manifest)
    assert result.existing is False
    states = sorted(result.blobs.values())
    assert states == ["mounted", "mounted", "pushed", "pushed"]
    pulled = pull_and_verify(reg.url, "app", "1")
    assert pulled.digest == str(result.digest)


def test_same_manifest_again_is_one_head(reg):
    _run, manifest, blobs = _app_image(reg)
    push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    before = len(reg.log)
    again = push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert again.existing is True
    assert reg.log[before:] == [("GET", "/v2/", 200), ("HEAD", "/v2/app/manifests/1", 200)]


def test_existing_blobs_are_not_uploaded_again(reg):
    _run, manifest, blobs = _app_image(reg)
    push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    before = len(reg.log)
    result = push_image(f"{reg.host}/app:2", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    log = reg.log[before:]
    assert set(result.blobs.values()) == {"existing"}
    assert [m for m, _p, _s in log].count("HEAD") == 1 + len(blobs)
    assert not [e for e in log if e[0] in ("POST", "PATCH")]
    assert log[-1] == ("PUT", "/v2/app/manifests/2", 201)


@pytest.mark.parametrize(("jobs", "expected"), [(4, 4), (2, 2), (1, 1)])
def test_at_most_jobs_blobs_in_flight(jobs, expected):
    with HookedRegistry(hold_blob_heads=expected) as reg:
        reg.push(run_image(1), "run:1")
        _run, manifest, blobs = _app_image(reg, n_new=9)
        push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True, jobs=jobs)
        assert reg.max_inflight == expected
        pull_and_verify(reg.url, "app", "1")


def test_failed_mount_retries_without_mount_and_reads_the_source(reg, caplog):
    run, manifest, blobs = _app_image(reg)
    reg.on("POST", r"mount=", oci_error(500, "UNKNOWN", "mount broke"))
    with caplog.at_level(logging.WARNING, logger="flakymirror.client.push"):
        result = push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == len(run.layers)
    assert all(w.startswith("retrying without mount: POST http://") for w in warnings)
    assert all("UNKNOWN: mount broke" in w for w in warnings)
    for d in run.layers:
        assert ("GET", f"/v2/run/blobs/{d.digest}", 200) in reg.log  # read from the source
    assert sorted(result.blobs.values()) == ["pushed"] * len(blobs)
    pull_and_verify(reg.url, "app", "1")


def test_mount_answered_202_uploads_to_the_location(reg):
    def ignore_mount(request: Request) -> Response:
        plain = Request(dict(request.environ, QUERY_STRING=""))
        return reg.app.handle(plain)

    run, manifest, blobs = _app_image(reg)
    reg.on("POST", r"mount=", ignore_mount)
    result = push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert sorted(result.blobs.values()) == ["pushed"] * len(blobs)
    for d in run.layers:
        assert reg.requests("GET", f"/v2/run/blobs/{d.digest}") == [
            ("GET", f"/v2/run/blobs/{d.digest}", 200)
        ]
    pull_and_verify(reg.url, "app", "1")


def test_absolute_locations_with_query_strings(reg):
    def absolute(suffix: str):
        def hook(request: Request) -> Response:
            response = reg.app.handle(request)
            loc = response.headers.get("Location")
            if loc and "/uploads/" in loc:
                response.headers["Location"] = f"{reg.url}{loc}?_state={suffix}"
            return response

        return hook

    _run, manifest, blobs = _app_image(reg)
    reg.on("POST", r"/blobs/uploads/$", absolute("post"))
    reg.on("PATCH", r"/blobs/uploads/", absolute("patch"))
    push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    patches = reg.requests("PATCH")
    puts = [e for e in reg.requests("PUT") if "/uploads/" in e[1]]
    assert len(patches) == 2 and all(p[1].endswith("?_state=post") for p in patches)
    assert len(puts) == 2
    for _m, path, status in puts:
        assert status == 201
        assert re.search(r"\?_state=patch&digest=sha256%3A[0-9a-f]{64}$", path), path


def test_blob_from_another_registry_is_read_there_then_uploaded():
    with HookedRegistry() as source, HookedRegistry() as target:
        source.push(run_image(1), "run:1")
        run, manifest, blobs = _app_image(source)
        push_image(f"{target.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
        origin = source.host.replace(":", "%3A")
        for d in run.layers:
            assert any(
                m == "POST" and f"origin={origin}" in p and s == 202 for m, p, s in target.log
            )
            assert ("GET", f"/v2/run/blobs/{d.digest}", 200) in source.log
        assert not source.requests("PUT")
        pull_and_verify(target.url, "app", "1")


def test_temporary_manifest_put_error_retries_the_put(reg):
    _run, manifest, blobs = _app_image(reg)
    reg.on("PUT", r"/manifests/", oci_error(503, "UNAVAILABLE", "busy"), times=1)
    sleeps = Sleeps()
    push_image(
        f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True, sleep=sleeps, seed=7
    )
    expected = (1_000_000_000 + int(random.Random(7).random() * 0.1 * 1_000_000_000)) / 1e9
    assert sleeps.calls == [expected]
    assert [s for _m, _p, s in reg.requests("PUT", "/manifests/")] == [503, 201]


def test_non_temporary_manifest_put_error_is_raised_at_once(reg):
    _run, manifest, blobs = _app_image(reg)
    reg.on("PUT", r"/manifests/", oci_error(400, "MANIFEST_INVALID", "nope"))
    sleeps = Sleeps()
    with pytest.raises(TransportError) as info:
        push_image(
            f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True, sleep=sleeps
        )
    assert info.value.status_code == 400
    assert str(info.value) == (f"PUT http://{reg.host}/v2/app/manifests/1: MANIFEST_INVALID: nope")
    assert sleeps.calls == []
    assert len(reg.requests("PUT", "/manifests/")) == 1


def test_temporary_upload_error_retries_the_whole_blob_operation(reg):
    _run, manifest, blobs = _app_image(reg, n_new=1)
    reg.on("PATCH", r"/blobs/uploads/", Response("boom", status=500), times=1)
    sleeps = Sleeps()
    result = push_image(
        f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True, sleep=sleeps, jobs=1
    )
    assert len(sleeps.calls) == 1 and 1.0 <= sleeps.calls[0] <= 1.1
    patches = [s for _m, _p, s in reg.requests("PATCH")]
    assert patches == [500, 202, 202]  # the failed blob again, then the other one
    heads = reg.requests("HEAD", "/blobs/")
    assert len(heads) == len(blobs) + 1  # the retried operation starts over with its HEAD
    assert sorted(result.blobs.values()) == ["mounted", "mounted", "pushed", "pushed"]


def test_blob_head_other_than_200_or_404_fails(reg):
    _run, manifest, blobs = _app_image(reg, n_new=1)
    reg.on("HEAD", r"/v2/app/blobs/", Response(status=400))
    with pytest.raises(TransportError) as info:
        push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert info.value.status_code == 400
    assert str(info.value).startswith(f"HEAD http://{reg.host}/v2/app/blobs/sha256:")
    assert not reg.requests("PUT", "/manifests/")


def test_manifest_head_403_counts_as_missing(reg):
    _run, manifest, blobs = _app_image(reg)
    reg.on("HEAD", r"/manifests/", oci_error(403, "DENIED", "no peeking"))
    result = push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert result.existing is False
    assert reg.requests("PUT", "/manifests/1")[-1][2] == 201


def test_manifest_head_error_fails_the_push(reg):
    _run, manifest, blobs = _app_image(reg)
    reg.on("HEAD", r"/manifests/", oci_error(400, "NAME_INVALID", "bad"))
    with pytest.raises(TransportError):
        push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert not reg.requests("HEAD", "/blobs/")


def test_blob_needs_content_or_source():
    with pytest.raises(ValueError, match="needs local content or a mount source"):
        PushBlob(Digest.of(b"x"), 1, mt.OCI_LAYER_GZIP)


def test_go_query_encode_sorts_keys_and_escapes():
    assert go_query_encode([("mount", "sha256:ab"), ("from", "a/b"), ("origin", "h:5")]) == (
        "from=a%2Fb&mount=sha256%3Aab&origin=h%3A5"
    )
    assert go_query_encode([("b", "2"), ("a", "x y"), ("b", "1")]) == "a=x+y&b=2&b=1"


def test_ggcr_config_order_and_omitempty():
    cfg = {
        "unknown": 1,
        "os": "linux",
        "config": {"Labels": {"b": "2", "a": "<&>"}, "Env": [], "Cmd": None, "User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
        "architecture": "amd64",
        "history": [{"created_by": "x", "empty_layer": False}],
        "variant": "",
    }
    text = ggcr_config_bytes(cfg).decode()
    assert text == (
        '{"architecture":"amd64","created":"0001-01-01T00:00:00Z",'
        '"history":[{"created":"0001-01-01T00:00:00Z","created_by":"x"}],"os":"linux",'
        '"rootfs":{"type":"layers","diff_ids":["sha256:' + "0" * 64 + '"]},'
        '"config":{"Labels":{"a":"\\u003c\\u0026\\u003e","b":"2"},"User":"1000"}}'
    )


def test_ggcr_manifest_shape():
    d = {"digest": "sha256:" + "1" * 64, "size": 3, "mediaType": mt.OCI_LAYER_GZIP, "x": 1}
    out = json.loads(ggcr_manifest_bytes(mt.OCI_MANIFEST, d, [d], {"z": "1", "a": "2"}))
    assert list(out) == ["schemaVersion", "mediaType", "config", "layers", "annotations"]
    assert list(out["layers"][0]) == ["mediaType", "size", "digest"]
    assert list(out["annotations"]) == ["a", "z"]


def test_bearer_mount_asks_one_token_for_push_and_source_pull_scopes():
    """ggcr's maybeUpdateScopes: before mounting from ``run`` the writer re-pings and fetches
    one token for ``repository:app:push,pull`` and ``repository:run:pull``; the registry then
    mounts (201) instead of starting an upload, and nothing is read from ``run``."""
    auth = BearerAuth(users={"ci": "secret"})
    creds = BasicCredentials("ci", "secret")
    with Registry(auth=auth) as reg:
        reg.push(run_image(1), "run:1")
        run, manifest, blobs = _app_image(reg, keychain=creds)
        reg.server.clear_log()
        issued = auth.issued
        result = push_image(
            f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True, keychain=creds
        )
        log = [(e.method, e.target, e.status) for e in reg.server.log]
        issued = auth.issued - issued
        app = pull_and_verify(reg.url, "app", "1", bearer_token(reg.url, "app", "ci", "secret"))

    run_digests = [str(d.digest) for d in run.layers]
    for digest in run_digests:
        assert result.blobs[digest] == "mounted"
        mounts = [e for e in log if e[0] == "POST" and quote_plus(digest) in e[1]]
        assert len(mounts) == 1 and mounts[0][2] == 201
        assert mounts[0][1].startswith("/v2/app/blobs/uploads/?from=run&mount=")
    assert not [e for e in log if e[0] == "GET" and "/blobs/" in e[1]]  # no read of run's blobs
    assert len([e for e in log if e[0] == "PATCH"]) == 2  # the new layer and the config only
    assert [e for e in log if e[2] in (401, 403)] == [("GET", "/v2/", 401)] * 2  # challenges

    tokens = [e[1] for e in log if e[1].startswith("/token")]
    assert tokens == [
        "/token?scope=repository%3Aapp%3Apush%2Cpull&service=flakymirror",
        "/token?scope=repository%3Aapp%3Apush%2Cpull&scope=repository%3Arun%3Apull"
        "&service=flakymirror",
    ]
    assert issued == 2
    assert [e[1] for e in log if e[0] == "GET" and e[1] == "/v2/"] == ["/v2/", "/v2/"]
    # the second token comes before the first mount, after the blob HEADs that preceded it
    first_mount = next(i for i, e in enumerate(log) if e[0] == "POST" and "mount=" in e[1])
    second_token = next(i for i, e in enumerate(log) if "run%3Apull" in e[1])
    assert second_token < first_mount
    assert app.layer_digests[: len(run_digests)] == run_digests


def test_scope_refresh_pings_once_per_source_repository(reg):
    """Two mountable layers from one other repository: one extra ``GET /v2/`` (ggcr builds
    the new transport once); layers from the target repository itself add no scope."""
    _run, manifest, blobs = _app_image(reg)
    before = len(reg.log)
    push_image(f"{reg.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert [e for e in reg.log[before:] if e[1] == "/v2/"] == [("GET", "/v2/", 200)] * 2

    reg.push(run_image(1), "app:base")  # the same layers, now in the target repository
    app_src = MountSource(reg.host, "app")
    same_repo = [PushBlob(b.digest, b.size, b.media_type, source=app_src) for b in blobs[:2]]
    before = len(reg.log)
    push_image(f"{reg.host}/app:2", manifest, mt.OCI_MANIFEST, same_repo + blobs[2:], insecure=True)
    assert [e for e in reg.log[before:] if e[1] == "/v2/"] == [("GET", "/v2/", 200)]


def test_mount_from_another_registry_adds_no_scope():
    with HookedRegistry() as target, HookedRegistry() as other:
        other.push(run_image(1), "run:1")
        run, manifest, blobs = _app_image(other)
        result = push_image(f"{target.host}/app:1", manifest, mt.OCI_MANIFEST, blobs, insecure=True)
    assert [e for e in target.log if e[1] == "/v2/"] == [("GET", "/v2/", 200)]
    mounts = [e for e in target.log if e[0] == "POST" and "mount=" in e[1]]
    assert len(mounts) == 2 and all(f"origin={quote_plus(other.host)}" in e[1] for e in mounts)
    assert all(e[2] == 202 for e in mounts)  # not in this registry: an upload starts instead
    for layer in run.layers:  # read from the source registry, then uploaded
        assert len(other.requests("GET", f"^/v2/run/blobs/{layer.digest}$")) == 1
    assert sorted(result.blobs.values()) == ["pushed"] * 4


_HUB_DIGEST = Digest.of(b"a layer that lives elsewhere")
_MOUNT = f"mount={quote_plus(str(_HUB_DIGEST))}"


@pytest.mark.parametrize(
    ("target", "source", "query"),
    [
        # ggcr issue 1741: Docker Hub gets no mount of a blob that lives in another registry
        ("index.docker.io", "ghcr.io", None),
        ("docker.io", "ghcr.io", None),  # name.NewRegistry rewrites docker.io to index.docker.io
        # the same registry under either spelling: a mount, with ggcr's origin spelling
        ("index.docker.io", "docker.io", f"from=library%2Frun&{_MOUNT}&origin=index.docker.io"),
        ("docker.io", "index.docker.io", f"from=library%2Frun&{_MOUNT}&origin=index.docker.io"),
        # only name.DefaultRegistry is special: any other target mounts from anywhere
        ("registry-1.docker.io", "ghcr.io", f"from=library%2Frun&{_MOUNT}&origin=ghcr.io"),
        ("quay.io", "ghcr.io", f"from=library%2Frun&{_MOUNT}&origin=ghcr.io"),
    ],
)
def test_docker_hub_target_gets_no_mount_from_another_registry(target, source, query):
    """The POST that starts a blob upload, as ggcr's uploadOne/initiateUpload build it. The
    writer's transport is named for ``target`` but talks to a loopback registry."""
    from flakymirror.client.push import _Writer
    from flakymirror.client.transport import Transport

    with HookedRegistry() as reg:
        transport = Transport(target, insecure=True)
        transport.base_url = reg.url  # the name stays target's: only where it connects changes
        writer = _Writer(lambda: transport, "app", logging.getLogger("tests.push"))
        blob = PushBlob(
            _HUB_DIGEST, 28, mt.OCI_LAYER_GZIP, source=MountSource(source, "library/run")
        )
        try:
            location, mounted = writer.initiate(blob)
        finally:
            writer.close()
    assert not mounted and location is not None  # nothing to mount here: an upload starts
    posts = [path for method, path, _ in reg.log if method == "POST"]
    assert posts == ["/v2/app/blobs/uploads/" + (f"?{query}" if query else "")]

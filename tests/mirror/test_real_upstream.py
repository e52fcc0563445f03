"""The flaky mirror in front of a real distribution registry (2.8, /usr/bin/docker-registry),
pulled through by real clients (skopeo; podman when installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flakymirror.distribution import Distribution
from flakymirror.mirror import FlakyMirror, Interval, SyncPlan
from flakymirror.oci import build_image
from tests.helpers.holding_proxy import HoldingProxy
from tests.helpers.mirror_requests import ACCEPT, get_blob, get_manifest, sha256
from tests.helpers.optional_tools import require_binary

pytestmark = pytest.mark.real_client

REPO = "lib/app"


@pytest.fixture
def distribution(tmp_path) -> Iterator[Distribution]:
    """distribution 2.8 on loopback, storage under tmp_path; a test may stop it early."""
    binary = require_binary("/usr/bin/docker-registry")
    with Distribution(binary=binary, root=tmp_path / "registry") as reg:
        yield reg


def _pull(
    client: str, mirror: FlakyMirror, ref: str, dest: Path, env: dict
) -> subprocess.CompletedProcess:
    cmd = [
        client,
        "--insecure-policy",
        "copy",
        "--retry-times",
        "3",
        "--src-tls-verify=false",
        f"docker://{mirror.host}/{ref}",
        f"dir:{dest}",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_skopeo_pulls_through_a_filling_mirror_in_front_of_distribution(
    distribution, make_mirror, tmp_path
) -> None:
    skopeo = require_binary("skopeo")
    image = build_image(layers=3, seed=21, layer_size=8192)
    other = build_image(layers=1, seed=22)
    distribution.push(image, REPO, "1")
    distribution.push(other, REPO, "2")
    # layers sync one every 0.2 s after the first request; until all have, the manifest GET
    # answers 400 MANIFEST_BLOB_UNKNOWN (Harbor #22747), which skopeo's retry loop retries
    plan = SyncPlan(Interval(0.2), mode="manifest-blob-unknown")
    mirror = make_mirror(upstream=distribution.url, plan=plan)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}

    done = _pull(skopeo, mirror, f"{REPO}:1", tmp_path / "pull1", env)
    assert done.returncode == 0, done.stderr
    manifest = (tmp_path / "pull1" / "manifest.json").read_bytes()
    assert manifest == image.manifest_bytes
    for desc in image.manifest.layers:
        assert sha256((tmp_path / "pull1" / desc.digest.hex).read_bytes()) == str(desc.digest)
    # the mirror really was filling: the first manifest GET failed, a retry converged
    statuses = [e.status for e in mirror.journal.filter(kind="manifest", method="GET")]
    assert statuses[0] == 400 and statuses[-1] == 200, mirror.journal.timeline()
    assert mirror.journal.count(kind="blob", status=200) >= 4

    # upstream killed mid-run: what the mirror cached is still served, the rest is unknown
    distribution.stop()
    again = _pull(skopeo, mirror, f"{REPO}:1", tmp_path / "pull2", env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "pull2" / "manifest.json").read_bytes() == image.manifest_bytes
    r = get_manifest(mirror, REPO, "2")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert get_blob(mirror, REPO, str(other.manifest.layers[0].digest)).status_code == 404


def test_podman_pulls_through_the_mirror(distribution, make_mirror, tmp_path) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (optional client)")
    podman = require_binary("podman")
    image = build_image(layers=2, seed=23)
    distribution.push(image, REPO, "p")
    mirror = make_mirror(upstream=distribution.url)
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run(
        [podman, "pull", "--tls-verify=false", f"{mirror.host}/{REPO}:p"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert mirror.journal.count(kind="manifest") >= 1


def test_mirror_serves_distribution_content_with_the_client_accept_header(
    distribution, make_mirror
) -> None:
    require_binary("skopeo")
    image = build_image(layers=2, seed=24, flavor="docker")
    distribution.push(image, REPO, "d")
    mirror = make_mirror(upstream=distribution.url)
    r = get_manifest(mirror, REPO, "d")
    assert r.status_code == 200 and r.content == image.manifest_bytes
    assert r.headers["Content-Type"] == image.media_type
    assert json.loads(r.content)["mediaType"] == image.media_type
    assert requests.get(f"{mirror.url}/v2/_catalog", headers=ACCEPT, timeout=5).json()[
        "repositories"
    ] == [REPO]


def test_upstream_killed_while_a_blob_streams_through_the_mirror(
    distribution, make_mirror, tmp_path
) -> None:
    """distribution dies in the middle of sending a 24 MiB layer to the mirror: the partial
    bytes are never cached or served, and what was cached before is still served."""
    small = build_image(layers=2, seed=25, layer_size=4096)
    big = build_image(layers=1, seed=26, layer_size=24 << 20)
    distribution.push(small, REPO, "small")
    distribution.push(big, REPO, "big")
    layer = big.manifest.layers[0]
    assert layer.size > 20 << 20  # more than the socket buffers hold, whatever the kernel
    proxy = HoldingProxy(distribution.host)
    try:
        mirror = make_mirror(upstream=proxy.url)
        for ref in ("small", "big"):
            assert get_manifest(mirror, REPO, ref).status_code == 200
        for desc in (small.manifest.config, *small.manifest.layers):
            assert get_blob(mirror, REPO, str(desc.digest)).status_code == 200

        proxy.hold_after = 1 << 20  # 1 MiB of the layer reaches the mirror, then upstream waits
        answers: list[requests.Response] = []
        pull = threading.Thread(
            target=lambda: answers.append(get_blob(mirror, REPO, str(layer.digest), timeout=60))
        )
        pull.start()
        try:
            assert proxy.held.wait(30), "the layer transfer never started"
            distribution.stop()  # mid-transfer: the rest of the layer never comes
        finally:
            proxy.release()
            pull.join(60)
        assert not pull.is_alive() and len(answers) == 1
        r = answers[0]
        # the mirror verifies a blob before sending it: the broken fetch is a clean 404
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN", r.text
        assert not mirror.upstream_reader.cache.has_blob(REPO, str(layer.digest))
        assert get_blob(mirror, REPO, str(layer.digest)).status_code == 404
        assert get_blob(mirror, REPO, str(layer.digest), "HEAD").status_code == 404
        entry = mirror.journal.filter(kind="blob", reference=str(layer.digest))[0]
        assert (entry.status, entry.bytes_sent) == (404, len(r.content))

        # what the mirror had cached is still served, byte for byte
        again = get_manifest(mirror, REPO, "small")
        assert again.status_code == 200 and again.content == small.manifest_bytes
        for desc in (small.manifest.config, *small.manifest.layers):
            b = get_blob(mirror, REPO, str(desc.digest))
            assert b.status_code == 200 and sha256(b.content) == str(desc.digest)
        assert get_manifest(mirror, REPO, "big").content == big.manifest_bytes
        mirror.check()
    finally:
        proxy.close()

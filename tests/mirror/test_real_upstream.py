"""The flaky mirror in front of a real distribution registry (2.8, /usr/bin/docker-registry),
pulled through by real clients (skopeo; podman when installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest
import requests

from conftest import require_binary
from flakymirror.mirror import FlakyMirror, Interval, SyncPlan
from flakymirror.oci import build_image
from tests.mirror.conftest import ACCEPT, get_blob, get_manifest, sha256

pytestmark = pytest.mark.real_client

REPO = "lib/app"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Distribution:
    """distribution/registry 2.8 on loopback with a temp-dir config; stopped and reaped."""

    def __init__(self, binary: str, root: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                if requests.get(self.url + "/v2/", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry did not start: {self.proc.stderr.read()!r}")
            time.sleep(0.05)

    def push(self, image, repo: str, tag: str) -> None:
        """Push over HTTP like any client: POST + PUT per blob, then the manifest."""
        for blob in image.blobs():
            r = requests.post(f"{self.url}/v2/{repo}/blobs/uploads/", timeout=10)
            assert r.status_code == 202, r.text
            location = urljoin(self.url, r.headers["Location"])
            sep = "&" if "?" in location else "?"
            put = requests.put(
                location + sep + urlencode({"digest": str(blob.digest)}),
                data=b"".join(blob.chunks()),
                headers={"Content-Type": "application/octet-stream"},
                timeout=10,
            )
            assert put.status_code == 201, put.text
        r = requests.put(
            f"{self.url}/v2/{repo}/manifests/{tag}",
            data=image.manifest_bytes,
            headers={"Content-Type": image.media_type},
            timeout=10,
        )
        assert r.status_code == 201, r.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def distribution(tmp_path) -> Iterator[Distribution]:
    binary = require_binary("/usr/bin/docker-registry")
    reg = Distribution(binary, tmp_path / "registry")
    yield reg
    reg.stop()


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

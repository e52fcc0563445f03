"""Real clients against the registry: skopeo (Go, containers/image), oras-py and python-dxf."""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
from pathlib import Path

import pytest
import requests

from flakymirror.oci import build_image, build_index
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import BearerAuth, Registry
from tests.helpers.optional_tools import require_binary, require_module

pytestmark = pytest.mark.real_client

TLS = ["--src-tls-verify=false", "--dest-tls-verify=false"]


def skopeo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = require_binary("skopeo")
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"skopeo {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def manifest_digest(path) -> str:
    return "sha256:" + hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()


def test_skopeo_copy_in_and_out_keeps_digests(tmp_path):
    img = build_image(layers=3, seed=21, layer_size=50_000)
    with Registry() as src, Registry() as dst:
        src.push(img, "a:1")
        skopeo("copy", *TLS, f"docker://{src.host}/a:1", f"dir:{tmp_path / 'out'}")
        assert manifest_digest(tmp_path / "out") == str(img.digest)
        # into a registry that has none of the blobs: real uploads, then back out
        skopeo("copy", *TLS, f"dir:{tmp_path / 'out'}", f"docker://{dst.host}/b:1")
        assert dst.store.resolve("b", "1") == img.digest
        assert any(e.method == "PATCH" or e.method == "PUT" for e in dst.server.log)
        skopeo("copy", *TLS, f"docker://{dst.host}/b:1", f"dir:{tmp_path / 'back'}")
        assert manifest_digest(tmp_path / "back") == str(img.digest)
        for blob in img.blobs():
            assert (tmp_path / "back" / blob.digest.hex).read_bytes() == b"".join(blob.chunks())
        # and a cross-repository copy inside one registry (blob mounts)
        skopeo("copy", *TLS, f"docker://{dst.host}/b:1", f"docker://{dst.host}/c:1")
        assert dst.store.resolve("c", "1") == img.digest
        src.check()
        dst.check()


def test_skopeo_copy_all_of_an_index(tmp_path):
    idx = build_index(seed=22, layers=2)
    with Registry() as src, Registry() as dst:
        src.push(idx, "multi:1")
        skopeo(
            "copy", "--all", *TLS, f"docker://{src.host}/multi:1", f"docker://{dst.host}/multi:2"
        )
        assert dst.store.resolve("multi", "2") == idx.digest
        for child in idx.images:
            assert dst.store.get_manifest("multi", str(child.digest)).data == child.manifest_bytes
        dst.check()


def test_skopeo_inspect(tmp_path):
    img = build_image(layers=2, seed=23, labels={"io.example": "yes"})
    with Registry() as reg:
        reg.push(img, "app:1")
        reg.push(img, "app:2")
        out = json.loads(
            skopeo("inspect", "--tls-verify=false", f"docker://{reg.host}/app:1").stdout
        )
        assert out["Digest"] == str(img.digest)
        assert sorted(out["RepoTags"]) == ["1", "2"]
        assert out["Labels"] == {"io.example": "yes"}
        assert out["Layers"] == [str(layer.digest) for layer in img.layers]
        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{reg.host}/app:1").stdout
        assert raw.encode() == img.manifest_bytes
        config = json.loads(
            skopeo(
                "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{reg.host}/app:1"
            ).stdout
        )
        assert config["rootfs"]["diff_ids"] == [str(layer.diff_id) for layer in img.layers]
        reg.check()


def test_skopeo_with_bearer_auth(tmp_path):
    users = {"alice": "wonderland"}
    img = build_image(layers=2, seed=24)
    with Registry(auth=BearerAuth(users=users)) as reg, Registry() as plain:
        plain.push(img, "src:1")
        skopeo(
            "copy",
            *TLS,
            "--dest-creds",
            "alice:wonderland",
            f"docker://{plain.host}/src:1",
            f"docker://{reg.host}/dst:1",
        )
        assert reg.store.resolve("dst", "1") == img.digest
        out = json.loads(
            skopeo(
                "inspect",
                "--tls-verify=false",
                "--creds",
                "alice:wonderland",
                f"docker://{reg.host}/dst:1",
            ).stdout
        )
        assert out["Digest"] == str(img.digest)
        assert reg.auth.issued >= 2
        exe = require_binary("skopeo")
        bad = subprocess.run(
            [
                exe,
                "inspect",
                "--tls-verify=false",
                "--creds",
                "alice:nope",
                f"docker://{reg.host}/dst:1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode != 0
        reg.check()


def test_oras_push_and_pull_a_file(tmp_path):
    oras_client = require_module("oras.client")
    with Registry() as reg:
        client = oras_client.OrasClient(hostname=reg.host, insecure=True)
        for tag, chunked in (("v1", False), ("v2", True)):
            payload = tmp_path / tag / "artifact.txt"
            payload.parent.mkdir()
            payload.write_bytes(os.urandom(20_000))
            r = client.push(
                target=f"{reg.host}/art/file:{tag}",
                files=[str(payload)],
                disable_path_validation=True,
                do_chunked=chunked,
                chunk_size=6000,
            )
            assert r.status_code == 201
            out = tmp_path / f"out-{tag}"
            files = client.pull(target=f"{reg.host}/art/file:{tag}", outdir=str(out))
            assert [os.path.basename(f) for f in files] == ["artifact.txt"]
            assert Path(files[0]).read_bytes() == payload.read_bytes()
        manifest = requests.get(f"{reg.url}/v2/art/file/manifests/v1").json()
        assert manifest["mediaType"] == mt.OCI_MANIFEST
        assert any(e.method == "PATCH" for e in reg.server.log)  # the chunked push used PATCH
        reg.check()


@pytest.mark.parametrize("with_auth", [False, True])
def test_dxf_push_and_pull(tmp_path, with_auth):
    dxf = require_module("dxf")
    auth = BearerAuth(users={"bob": "builder"}) if with_auth else None
    data = os.urandom(300_000)
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    tls: dict = {"insecure": True}
    ssl_context = None
    if with_auth:  # python-dxf sends credentials over HTTPS only: serve TLS from a test CA
        trustme = require_module("trustme")
        ca = trustme.CA()
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(ssl_context)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        tls = {"insecure": False, "tlsverify": str(tmp_path / "ca.pem")}
    with Registry(auth=auth, ssl_context=ssl_context) as reg:

        def login(client, response):
            client.authenticate("bob", "builder", response=response)

        client = dxf.DXF(reg.host, "dxf/repo", auth=login if with_auth else None, **tls)
        digest = client.push_blob(str(blob))
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
        manifest = client.set_alias("latest", digest)
        assert client.get_alias("latest") == [digest]
        assert b"".join(client.pull_blob(digest)) == data
        assert client.blob_size(digest) == len(data)
        assert client.list_aliases() == ["latest"]
        assert json.loads(manifest)["config"]["digest"] == digest
        assert client.get_manifest("latest") == manifest
        client.del_alias("latest")
        assert client.list_aliases() == []
        if with_auth:
            assert reg.auth.issued >= 1 and reg.url.startswith("https://")
        reg.check()

"""flakymirror.distribution: the real distribution registry as a test peer.

The tests marked ``real_client`` run /usr/bin/docker-registry; the failure paths run small
stand-in scripts, so they need no registry binary.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import flakymirror.distribution as fd
from flakymirror.distribution import INSTANCE_HEADER, Distribution, DistributionError
from flakymirror.oci import build_image, build_index
from flakymirror.oci import mediatypes as mt
from tests.helpers.optional_tools import require_binary

ACCEPT = {"Accept": ",".join(sorted(mt.MANIFESTS))}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def registry_binary() -> str:
    return require_binary(fd.BINARY)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mkdtemp() lands in a directory of this test's own, so leftovers can be counted."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


# -- against the real binary ---------------------------------------------------------------------


@pytest.mark.real_client
def test_start_answers_v2_and_stop_reaps_the_process_and_removes_its_dir(
    registry_binary, private_tmp
) -> None:
    with Distribution(binary=registry_binary) as d:
        pid, root = d.pid, d.root
        assert d.host == f"127.0.0.1:{d.port}" and d.url == f"http://{d.host}"
        r = requests.get(f"{d.url}/v2/", timeout=5)
        assert r.status_code == 200 and r.headers[INSTANCE_HEADER]
        assert root is not None and root.parent == private_tmp and (root / "config.yml").exists()
        assert pid is not None and not _gone(pid)
    assert _gone(pid)
    assert d.pid is None and not root.exists() and list(private_tmp.iterdir()) == []
    d.stop()  # idempotent
    assert "stopped" in repr(d)


@pytest.mark.real_client
def test_push_then_get_serves_the_pushed_digests(registry_binary) -> None:
    image = build_image(layers=2, seed=41, layer_size=50_000)
    index = build_index(seed=42, flavor="docker")
    with Distribution(binary=registry_binary) as d:
        assert d.push(image, "lib/app", "1") == image.digest
        assert d.push(index, "lib/multi", "m") == index.digest
        for repo, tag, pushed in (("lib/app", "1", image), ("lib/multi", "m", index)):
            r = requests.get(f"{d.url}/v2/{repo}/manifests/{tag}", headers=ACCEPT, timeout=5)
            assert r.status_code == 200, r.text
            assert r.headers["Docker-Content-Digest"] == str(pushed.digest)
            assert r.content == pushed.manifest_bytes
        child = index.images[1]
        r = requests.get(f"{d.url}/v2/lib/multi/manifests/{child.digest}", headers=ACCEPT)
        assert r.status_code == 200 and r.content == child.manifest_bytes
        layer = image.layers[0]
        blob = requests.get(f"{d.url}/v2/lib/app/blobs/{layer.digest}", timeout=5).content
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == str(layer.digest)


@pytest.mark.real_client
def test_proxy_mode_pulls_through_from_a_first_instance(registry_binary) -> None:
    image = build_image(layers=2, seed=43, flavor="docker")
    with (
        Distribution(binary=registry_binary) as upstream,
        Distribution(binary=registry_binary, proxy=upstream.url) as cache,
    ):
        upstream.push(image, "lib/app", "1")
        r = requests.get(f"{cache.url}/v2/lib/app/manifests/1", headers=ACCEPT, timeout=10)
        assert r.status_code == 200 and r.content == image.manifest_bytes
        assert r.headers["Docker-Content-Digest"] == str(image.digest)
        layer = image.layers[1]
        blob = requests.get(f"{cache.url}/v2/lib/app/blobs/{layer.digest}", timeout=10)
        assert "sha256:" + hashlib.sha256(blob.content).hexdigest() == str(layer.digest)
        # a pull-through cache refuses pushes; the error names the request and the answer
        with pytest.raises(
            DistributionError, match=r"POST .*/v2/lib/x/blobs/uploads/ answered 405"
        ):
            cache.push(image, "lib/x", "1")


@pytest.mark.real_client
def test_a_given_root_is_kept_and_a_restart_serves_the_same_content(
    registry_binary, tmp_path
) -> None:
    image = build_image(layers=1, seed=44)
    d = Distribution(binary=registry_binary, root=tmp_path / "reg")
    with d:
        d.push(image, "lib/app", "1")
    assert (tmp_path / "reg" / "data").is_dir() and (tmp_path / "reg" / "registry.log").exists()
    with d:
        r = requests.get(f"{d.url}/v2/lib/app/manifests/1", headers=ACCEPT, timeout=5)
        assert r.status_code == 200 and r.content == image.manifest_bytes


class _Impostor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[int]:
    """Another server answering 200 to everything on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.real_client
def test_a_port_taken_after_the_probe_is_retried_and_never_mistaken_for_ours(
    registry_binary, impostor, monkeypatch
) -> None:
    ports = iter([impostor, fd.free_port()])
    monkeypatch.setattr(fd, "free_port", lambda: next(ports))
    with Distribution(binary=registry_binary) as d:
        assert d.port != impostor
        r = requests.get(f"{d.url}/v2/", timeout=5)
        assert r.headers.get(INSTANCE_HEADER), "the server found is not the one started"


# -- failure paths (stand-in scripts, no registry needed) ----------------------------------------


def test_a_missing_binary_is_a_clear_error(tmp_path, private_tmp) -> None:
    missing = str(tmp_path / "no-such-registry")
    d = Distribution(binary=missing)
    with pytest.raises(DistributionError, match="no-such-registry.*not an executable"):
        d.start()
    assert d.pid is None and d.root is None and list(private_tmp.iterdir()) == []
    assert not fd.available(missing) and fd.available(sys.executable)


def test_a_process_that_exits_is_reported_with_its_log_tail(tmp_path, private_tmp) -> None:
    binary = _script(
        tmp_path / "registry",
        "import sys\nprint('cannot parse', sys.argv[1:], file=sys.stderr)\nsys.exit(3)\n",
    )
    with pytest.raises(DistributionError) as err:
        Distribution(binary=binary).start()
    assert "exited with status 3" in str(err.value)
    assert "cannot parse ['serve'," in str(err.value) and "config.yml" in str(err.value)
    assert list(private_tmp.iterdir()) == []


def test_a_process_that_never_answers_is_killed_after_the_deadline(tmp_path) -> None:
    pidfile = tmp_path / "pid"
    binary = _script(
        tmp_path / "registry",
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(60)\n",
    )
    d = Distribution(binary=binary, start_timeout=0.5, stop_timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(DistributionError, match=r"did not answer GET .*/v2/ .*within 0.5s"):
        d.start()
    assert time.monotonic() - t0 < 30  # not the script's 60 s: it was killed, not waited for
    assert _gone(int(pidfile.read_text()))  # SIGTERM ignored: SIGKILL, then reaped
    assert d.pid is None

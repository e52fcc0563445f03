"""``Registry(tls=True)``: HTTPS from a generated CA; the log's timestamps; the refusal app."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from flakymirror.oci import build_image
from flakymirror.registry import REFUSED, LogEntry, Registry, RejectedRequest, Server, ServerTLS
from tests.helpers.optional_tools import require_binary
from tests.helpers.waiting import wait_until
from tests.helpers.wire import raw


def hello(environ, start_response):
    start_response("200 OK", [("Content-Length", "5")])
    return [b"hello"]


# -- tls=True ----------------------------------------------------------------------------------
def test_tls_true_serves_https_that_verifies_against_ca_file_and_ca_pem():
    with Registry(tls=True) as reg:
        digest = reg.push(build_image(layers=1, seed=5), "demo/app:1")
        assert reg.url.startswith("https://127.0.0.1:")
        r = requests.get(f"{reg.url}/v2/demo/app/manifests/1", verify=reg.ca_file, timeout=5)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == str(digest)
        assert Path(reg.ca_file).read_bytes() == reg.ca_pem
        assert reg.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
        # the certificate also names localhost
        r = requests.get(f"https://localhost:{reg.server.port}/v2/", verify=reg.ca_file, timeout=5)
        assert r.status_code == 200
        # and nothing else vouches for it
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{reg.url}/v2/", timeout=5)
        reg.check()
    assert not os.path.exists(reg.ca_file)  # close() removed the CA file


def test_every_tls_registry_has_its_own_ca():
    with Registry(tls=True) as a, Registry(tls=True) as b:
        assert a.ca_pem != b.ca_pem
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{b.url}/v2/", verify=a.ca_file, timeout=5)


def test_without_tls_there_is_no_ca_and_the_url_is_http():
    with Registry() as reg:
        assert reg.ca_pem is None and reg.ca_file is None and reg.tls is None
        assert reg.url.startswith("http://")


def test_tls_with_an_ssl_context_is_an_error():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with pytest.raises(ValueError, match="either tls=True .* or ssl_context="):
        Registry(tls=True, ssl_context=ctx)
    with pytest.raises(TypeError, match="tls must be True or False"):
        Registry(tls="yes")  # type: ignore[arg-type]


def test_a_missing_trustme_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'flakymirror\[tls\]'"):
        Registry(tls=True)


def test_server_tls_client_context_trusts_exactly_its_ca():
    tls = ServerTLS()
    try:
        with Server(hello, ssl_context=tls.ssl_context) as srv:
            import urllib.request

            with urllib.request.urlopen(srv.url, context=tls.client_context(), timeout=5) as r:
                assert r.read() == b"hello"
        assert "127.0.0.1" in tls.hosts and "localhost" in tls.hosts
    finally:
        tls.close()
        tls.close()  # idempotent
    assert not os.path.exists(tls.ca_file)


@pytest.mark.real_client
def test_skopeo_inspects_a_tls_registry_with_the_ca_in_a_cert_dir(tmp_path):
    exe = require_binary("skopeo")
    image = build_image(layers=2, seed=6)
    with Registry(tls=True) as reg:
        reg.push(image, "demo/app:1")
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(reg.ca_pem)
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        ref = f"docker://{reg.host}/demo/app:1"
        proc = subprocess.run(
            [exe, "inspect", "--raw", "--cert-dir", str(certs), ref],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == json.loads(image.manifest_bytes)
        # without the CA skopeo refuses the certificate: the TLS is real
        proc = subprocess.run(
            [exe, "inspect", "--raw", "--retry-times=0", ref],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert proc.returncode != 0 and "certificate" in proc.stderr
        assert all(e.method != "" for e in reg.server.log)  # no TLS probe on a TLS port
        reg.check()


# -- the log's timestamps ----------------------------------------------------------------------
def test_log_entries_carry_the_wall_clock_time_they_were_logged():
    with Server(hello) as srv, requests.Session() as s:
        before = time.time()
        s.get(srv.url, timeout=5)
        # two requests at distinguishable times: poll the clock past the first one's time
        wait_until(lambda: time.time() >= srv.log[0].time + 0.02, interval=0.002)
        s.get(srv.url + "/two", timeout=5)
        after = time.time()
        first, second = srv.log
        assert before <= first.time <= second.time <= after
        assert second.time - first.time >= 0.015
        assert first.time == first[4]  # the last field, positionally too


def test_log_entry_keeps_its_four_field_constructor():
    entry = LogEntry("GET", "/v2/", 200, "127.0.0.1:1")
    assert entry.time == 0.0 and entry[:4] == ("GET", "/v2/", 200, "127.0.0.1:1")
    assert LogEntry("GET", "/v2/", 200, "c", 12.5).time == 12.5


def test_refused_requests_are_logged_with_their_time_too():
    with Server(hello) as srv:
        before = time.time()
        raw(srv, b"GET / HTTP/2.0\r\n\r\n")
        assert srv.log[0].status == 505 and before <= srv.log[0].time <= time.time()


# -- the refusal app ---------------------------------------------------------------------------
def test_a_server_can_hand_refusals_to_its_own_refusal_app():
    got: list[RejectedRequest] = []

    def teapot(environ, start_response):
        rejected = environ[REFUSED]
        got.append(rejected)
        body = f"refused {rejected.kind}: {rejected.reason}".encode()
        start_response("418 I'm a Teapot", [("Content-Length", str(len(body)))])
        return [body]

    with Server(hello) as srv:
        srv.refusal_app = teapot
        out = raw(srv, b"GET /x HTTP/9.9\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 418 I'm a Teapot\r\n")
        assert b"Connection: close" in out  # the connection closes after a refusal, always
        assert out.endswith(b"refused rejected: unsupported HTTP version 'HTTP/9.9'")
        assert [(r.method, r.target, r.status, r.kind) for r in got] == [
            ("GET", "/x", 505, "rejected")
        ]
        assert [(e.target, e.status) for e in srv.log] == [("/x", 418)]  # what was answered
        assert requests.get(srv.url, timeout=5).text == "hello"
        srv.check()


def test_a_refused_head_gets_its_status_without_a_body():
    with Server(hello) as srv:
        out = raw(srv, b"HEAD / HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 Bad Request") and body == b""
        assert b"Content-Length: " in head

"""TLS handshakes on a plain-HTTP port: classified as ``tls-probe`` and answered 400, stably."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
import requests

from flakymirror.registry import TLS_PROBE, Registry, RejectedRequest, Server
from flakymirror.registry.tls_probe import MAX_RECORD, describe, is_tls_record_header
from tests.helpers.wire import raw


def client_hello(maximum: ssl.TLSVersion | None = None) -> bytes:
    """The bytes of a real ClientHello from Python's ssl module (nothing sent anywhere)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def hello(environ, start_response):
    start_response("200 OK", [("Content-Length", "5")])
    return [b"hello"]


def status_and_body(out: bytes) -> tuple[bytes, bytes, bytes]:
    head, _, body = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], head, body


# -- what a probe is ---------------------------------------------------------------------------
def test_a_real_client_hello_is_a_tls_handshake_record_and_names_its_version():
    for maximum, name in ((None, "TLS 1.3"), (ssl.TLSVersion.TLSv1_2, "TLS 1.2")):
        data = client_hello(maximum)
        assert is_tls_record_header(data[:5])
        assert describe(data[:5], data[5:]) == (
            f"TLS handshake (ClientHello, {name}) on a plain-HTTP port"
        )


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (b"\x16\x03\x01\x02\x00", True),
        (b"\x16\x03\x04\x00\x10", True),
        (b"\x16\x03\x05\x00\x10", False),  # no such TLS version
        (b"\x16\x02\x01\x00\x10", False),
        (b"\x17\x03\x03\x00\x10", False),  # application data, not a handshake
        (b"\x16\x03\x01", False),
        (b"GET /", False),
    ],
)
def test_record_headers_are_recognised_exactly(header, ok):
    assert is_tls_record_header(header) is ok


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "TLS handshake record (empty record)"),
        (b"\x02\x00\x00\x00", "TLS handshake record (handshake type 2)"),
        (b"\x01\x00", "TLS handshake (ClientHello, TLS)"),  # cut before its version
        (b"\x01\x00\x00\x30\x03\x03" + b"\xff" * 40, "TLS handshake (ClientHello, TLS 1.2)"),
    ],
)
def test_odd_or_cut_handshake_records_are_still_described_printably(body, words):
    reason = describe(b"\x16\x03\x01" + len(body).to_bytes(2, "big"), body)
    assert reason.startswith(words) and reason.isprintable()


# -- the registry answers it -------------------------------------------------------------------
def test_an_ssl_client_on_the_plain_port_gets_an_http_answer_and_the_log_says_tls_probe():
    with Registry() as reg:
        for _ in range(3):  # stable: every probe the same way
            # the TLS layer reads "HTTP/" as a record header: wrong version, as Go's
            # "server gave HTTP response to HTTPS client"
            with (
                socket.create_connection(("127.0.0.1", reg.server.port), timeout=5) as sock,
                pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER|wrong version"),
            ):
                unverified().wrap_socket(sock, server_hostname="127.0.0.1")
        assert [(e.method, e.target, e.status) for e in reg.server.log] == [("", "", 400)] * 3
        assert requests.get(f"{reg.url}/v2/", timeout=5).status_code == 200  # still serving
        reg.check()


@pytest.mark.parametrize("maximum", [None, ssl.TLSVersion.TLSv1_2])
def test_the_answer_is_a_400_with_an_oci_body_and_connection_close(maximum):
    seen: list[RejectedRequest] = []
    with Server(hello) as srv:
        srv.on_reject = seen.append
        out = raw(srv, client_hello(maximum))
        status, head, body = status_and_body(out)
        assert status == b"HTTP/1.1 400 Bad Request"
        assert b"\r\nConnection: close" in head
        assert b"Docker-Distribution-API-Version: registry/2.0" in head
        message = json.loads(body)["errors"][0]
        assert message["code"] == "UNKNOWN"
        assert "TLS handshake (ClientHello, TLS 1." in message["message"]
        assert len(seen) == 1 and seen[0].kind == TLS_PROBE == "tls-probe"
        assert (seen[0].method, seen[0].target, seen[0].status) == ("", "", 400)
        assert seen[0].reason == message["message"] and seen[0].reason.isprintable()
        srv.check()


def test_a_probe_is_answered_without_waiting_for_a_newline():
    with Server(hello) as srv, socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.settimeout(5)
        sock.sendall(client_hello())  # a ClientHello has no b"\n" to wait for, usually
        assert sock.recv(12) == b"HTTP/1.1 400"


def test_bytes_that_start_like_a_handshake_but_are_no_tls_record_are_refused_at_once():
    with Server(hello) as srv, socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.settimeout(5)
        sock.sendall(b"\x16\x99\x99\x00\x05")  # no newline, and not TLS
        out = b""
        while chunk := sock.recv(4096):
            out += chunk
        status, _, body = status_and_body(out)
        assert status == b"HTTP/1.1 400 Bad Request"
        assert "malformed request line" in json.loads(body)["errors"][0]["message"]
        assert [e.status for e in srv.log] == [400]
        srv.check()


def test_an_oversized_record_is_read_up_to_the_bound_then_answered():
    header = b"\x16\x03\x01\xff\xff"  # declares 65535 bytes: more than any TLS record
    with Server(hello) as srv:
        out = raw(srv, header + b"\x01" + b"\x00" * (MAX_RECORD - 1))
        assert status_and_body(out)[0] == b"HTTP/1.1 400 Bad Request"
        srv.check()


def test_a_peer_that_closes_mid_record_header_gets_nothing_and_nothing_is_logged():
    with Server(hello) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"\x16\x03")
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(4096) == b""
        assert list(srv.log) == []
        srv.check()


def test_a_probe_on_a_tls_port_is_just_tls():
    """With an ssl_context the handshake is real: nothing is refused."""
    from flakymirror.registry import ServerTLS

    tls = ServerTLS()
    try:
        with Server(hello, ssl_context=tls.ssl_context) as srv:
            r = requests.get(srv.url, verify=tls.ca_file, timeout=5)
            assert r.text == "hello"
            assert [e.status for e in srv.log] == [200]
    finally:
        tls.close()


@pytest.mark.real_client
def test_skopeo_probes_a_plain_registry_and_falls_back_to_http(tmp_path):
    import os
    import subprocess

    from flakymirror.oci import build_image
    from tests.helpers.optional_tools import require_binary

    exe = require_binary("skopeo")
    image = build_image(layers=1, seed=12)
    with Registry() as reg:
        reg.push(image, "demo/app:1")
        proc = subprocess.run(
            [exe, "inspect", "--raw", "--tls-verify=false", f"docker://{reg.host}/demo/app:1"],
            capture_output=True, timeout=120,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == image.manifest_bytes
        log = list(reg.server.log)
        assert (log[0].method, log[0].target, log[0].status) == ("", "", 400)  # the probe
        assert [(e.method, e.status) for e in log[1:3]] == [("GET", 200), ("GET", 200)]
        reg.check()

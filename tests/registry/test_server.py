"""The server: any WSGI app, fast start/stop, no leaks, check(), CloseConnection, keep-alive."""

from __future__ import annotations

import gc
import os
import socket
import ssl
import struct
import threading

import pytest
import requests

from flakymirror.registry import CloseConnection, Registry, Server
from tests.helpers.optional_tools import require_module
from tests.helpers.waiting import wait_until
from tests.helpers.wire import hello, raw


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_hosts_any_wsgi_app_with_url_helpers():
    with Server(hello) as srv:
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert srv.host == f"127.0.0.1:{srv.port}"
        assert srv.url_for("x") == srv.url + "/x" == srv.url_for("/x")
        r = requests.get(srv.url_for("/anything"))
        assert r.status_code == 200 and r.text == "hello"
        assert r.headers["Date"]
    assert not srv.is_running()


def test_twenty_starts_and_stops_serve_and_leave_nothing_behind():
    # how fast: the benchmark's "Registry start()+stop()" and "`with Registry()`" rows
    gc.collect()  # an earlier test's unreferenced socket must not close during this one
    before_threads, before_fds = _threads(), _fds()
    for _ in range(20):
        with Server(hello) as srv:
            requests.get(srv.url).raise_for_status()
        assert not srv.is_running() and srv.active_connections() == 0
    for _ in range(20):
        with Registry() as reg:
            requests.get(reg.url + "/v2/").raise_for_status()
        reg.check()
    gc.collect()
    assert _threads() <= before_threads  # no new thread (another test's may have ended)
    assert _fds() <= before_fds  # nothing left open (fewer: a stray closed by the collection)


def test_http10_keep_alive_is_honoured():
    with Server(hello) as srv:
        out = raw(
            srv,
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        )
        assert out.count(b"HTTP/1.0 200 OK") == 2
        assert b"Connection: keep-alive" in out


def test_stop_with_open_keepalive_connections_is_fast_and_leaks_nothing():
    before_threads, before_fds = _threads(), _fds()
    srv = Server(hello)
    srv.start()
    sessions = [requests.Session() for _ in range(4)]
    for s in sessions:
        assert s.get(srv.url).status_code == 200
    assert srv.active_connections() == 4
    srv.stop()  # how fast: the benchmark's "Server stop() with open connections" row
    assert srv.active_connections() == 0  # every connection shut, not left to time out
    for s in sessions:
        s.close()
    # nothing new (a thread or socket another test left closing may go away meanwhile)
    assert _threads() <= before_threads
    assert _fds() <= before_fds
    srv.check()


def test_start_twice_and_stop_twice_raise():
    from flakymirror.registry.server import ServerStateError

    srv = Server(hello)
    srv.start()
    with pytest.raises(ServerStateError):
        srv.start()
    srv.stop()
    with pytest.raises(ServerStateError):
        srv.stop()


def test_handler_exception_is_a_500_with_oci_body_and_reraised_by_check():
    def boom(environ, start_response):
        raise ValueError("handler bug")

    with Server(boom) as srv:
        r = requests.get(srv.url)
        assert r.status_code == 500
        assert r.json()["errors"][0]["code"] == "UNKNOWN"
        assert "handler bug" in r.json()["errors"][0]["message"]
        with pytest.raises(ValueError, match="handler bug"):
            srv.check()
        srv.check()  # reported once
        assert requests.get(srv.url).status_code == 500  # still serving
    with pytest.raises(ValueError):
        srv.check()


def test_exception_mid_body_is_kept_and_the_connection_dropped():
    def half(environ, start_response):
        start_response("200 OK", [("Content-Length", "10")])
        yield b"12345"
        raise RuntimeError("body bug")

    with Server(half) as srv:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(srv.url)
        with pytest.raises(RuntimeError, match="body bug"):
            srv.check()


def test_close_connection_before_headers_sends_nothing_and_logs_no_error():
    def drop(environ, start_response):
        raise CloseConnection()

    with Server(drop) as srv:
        assert raw(srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(srv.url)
        srv.check()
        assert srv.handler_errors == []


def test_close_connection_mid_body_keeps_bytes_already_written():
    def truncate(environ, start_response):
        start_response("200 OK", [("Content-Length", "100")])
        yield b"a" * 30
        raise CloseConnection()

    with Server(truncate) as srv:
        out = raw(srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b"a" * 30
        srv.check()


def test_close_connection_with_so_linger_resets():
    def reset(environ, start_response):
        sock = environ["werkzeug.socket"]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raise CloseConnection()

    with Server(reset) as srv:
        with socket.create_connection((srv.bind_host, srv.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                while s.recv(100):
                    pass
        srv.check()


def test_raw_bytes_then_close():
    def garbage(environ, start_response):
        environ["werkzeug.socket"].sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")
        raise CloseConnection()

    with Server(garbage) as srv:
        assert raw(srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"short")
        srv.check()


def test_stalled_handler_released_by_stopping_event():
    entered = threading.Event()
    released: list[bool] = []

    def stall(environ, start_response):
        entered.set()
        released.append(environ["flakymirror.stopping"].wait(30))  # False: the 30 s ran out
        raise CloseConnection()

    srv = Server(stall)
    srv.start()
    outcome = []

    def client():
        try:
            requests.get(srv.url, timeout=30)
        except requests.ConnectionError as exc:
            outcome.append(exc)

    t = threading.Thread(target=client)
    t.start()
    assert entered.wait(5)
    assert srv.stopping is not None and not srv.stopping.is_set()
    srv.stop()
    assert released == [True]  # the stop released the handler; it did not time out
    t.join(5)
    assert not t.is_alive() and len(outcome) == 1
    srv.check()


def test_keep_alive_reuses_one_connection_and_pipelining_works():
    with Server(hello) as srv:
        out = raw(
            srv,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert out.count(b"HTTP/1.1 200 OK") == 2
        assert out.endswith(b"hello")
        with requests.Session() as s:
            for _ in range(5):
                s.get(srv.url + "/keep")
        # a request is logged before its last byte goes out: no waiting needed
        kept = [e.client for e in srv.log if e.target == "/keep"]
        assert len(kept) == 5 and len(set(kept)) == 1


def test_chunked_request_body_and_chunked_response():
    def echo(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data[: len(data) // 2], data[len(data) // 2 :]]

    with Server(echo) as srv:
        payload = os.urandom(300_000)
        r = requests.post(srv.url, data=iter([payload[:1000], payload[1000:]]))
        assert r.status_code == 200 and r.content == payload
        assert r.headers["Transfer-Encoding"] == "chunked"


def test_head_has_no_body_and_expect_continue():
    with Server(hello) as srv:
        out = raw(srv, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"\r\n\r\n")
        assert b"Content-Length: 5" in out
        out = raw(
            srv,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc",
        )
        assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    ],
)
def test_malformed_http_gets_a_4xx_json_and_the_server_keeps_serving(request_bytes, status):
    with Server(hello) as srv:
        out = raw(srv, request_bytes)
        assert out.split(b" ", 2)[1] == status
        assert b'"errors"' in out
        assert requests.get(srv.url).text == "hello"
        srv.check()


def test_malformed_chunked_body_does_not_crash():
    def reader(environ, start_response):
        from werkzeug.exceptions import BadRequest

        try:
            environ["wsgi.input"].read()
        except BadRequest:
            start_response("400 Bad Request", [("Content-Length", "3")])
            return [b"bad"]
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with Server(reader) as srv:
        out = raw(
            srv, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
        )
        assert out.startswith(b"HTTP/1.1 400")
        srv.check()


def test_request_log_is_bounded():
    with Server(hello, log_size=10) as srv, requests.Session() as s:
        for i in range(25):
            s.get(srv.url_for(f"/{i}"))
        assert len(srv.log) == 10
        assert srv.log[-1].target == "/24" and srv.log[-1].status == 200
        srv.clear_log()
        assert len(srv.log) == 0


def test_not_threaded_mode_serves_and_stops():
    with Server(hello, threaded=False) as srv, requests.Session() as s:
        assert s.get(srv.url).text == "hello"
        assert s.get(srv.url).text == "hello"


def test_tls_with_trustme(tmp_path):
    trustme = require_module("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with Server(hello, ssl_context=ctx) as srv:
        assert srv.url.startswith("https://")
        assert requests.get(srv.url, verify=str(ca_file)).text == "hello"


def test_stop_during_a_large_download_and_an_upload_leaks_nothing():
    from flakymirror.oci import Digest

    before_threads, before_fds = _threads(), _fds()
    reg = Registry()
    reg.start()
    data = os.urandom(8 << 20)
    d = Digest.of(data)
    reg.store.put_blob("big", d, data)
    # a client that reads 1 byte of an 8 MiB blob and then stalls
    reader = socket.create_connection((reg.server.bind_host, reg.server.port))
    reader.sendall(f"GET /v2/big/blobs/{d} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert reader.recv(1)
    # a client in the middle of a chunked upload
    loc = requests.post(f"{reg.url}/v2/big/blobs/uploads/").headers["Location"]
    writer = socket.create_connection((reg.server.bind_host, reg.server.port))
    writer.sendall(
        f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode() + b"x" * 1000
    )
    wait_until(lambda: reg.server.active_connections() >= 2)
    reg.close()  # how fast: the benchmark's "Server stop() with open connections" row
    assert reg.server.active_connections() == 0
    reader.close()
    writer.close()
    assert _threads() <= before_threads
    assert _fds() <= before_fds
    reg.check()


def _overlong(environ, start_response):
    """An app whose first (and only) chunk is longer than the Content-Length it declared."""
    start_response("200 OK", [("Content-Length", "5")])
    return [b"hello, and more than declared"]


def _overlong_later(environ, start_response):
    start_response("200 OK", [("Content-Length", "5")])
    return [b"hel", b"lo, and more"]


@pytest.mark.parametrize("app", [_overlong, _overlong_later], ids=["first-chunk", "later-chunk"])
def test_body_never_goes_past_the_declared_length(app):
    with Server(app) as srv:
        out = raw(srv, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        assert b"Content-Length: 5" in head
        # the rest is dropped and the connection closes (raw_request reads until the close)
        assert body == b"hello"


def _chunked(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])  # no length: chunked
    return iter([b"a", b"b"])


@pytest.mark.parametrize("app", [hello, _chunked], ids=["content-length", "chunked"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_request_is_logged_before_its_answer_completes(app, method):
    with Server(app) as srv, requests.Session() as s:
        for i in range(20):  # a race would show within a few rounds
            s.request(method, f"{srv.url}/r{i}")
            assert [e.target for e in srv.log][-1] == f"/r{i}"


def test_a_sendfile_blob_is_logged_before_its_last_byte(tmp_path):
    from flakymirror.oci import Digest
    from flakymirror.registry import Registry

    data = bytes(range(256)) * 8192  # 2 MiB: kept on disk, sent with sendfile(2)
    digest = Digest.of(data)
    with Registry(spool_dir=str(tmp_path)) as reg, requests.Session() as s:
        reg.store.put_blob("big", digest, data)
        for _ in range(5):
            assert len(s.get(f"{reg.url}/v2/big/blobs/{digest}").content) == len(data)
            assert reg.server.log[-1].target == f"/v2/big/blobs/{digest}"

"""Gateway hooks and strictness: date_clock, on_reject, Content-Length, reason phrases."""

from __future__ import annotations

import json
import socket
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import pytest
import requests

from flakymirror.registry import LogEntry, RejectedRequest, Server
from tests.helpers.waiting import wait_until
from tests.helpers.wire import hello, raw


def echo_length(environ, start_response):
    body = environ["wsgi.input"].read()
    out = json.dumps({"length": environ.get("CONTENT_LENGTH"), "body": body.decode()}).encode()
    start_response("200 OK", [("Content-Length", str(len(out)))])
    return [out]


def status_line(out: bytes) -> bytes:
    return out.split(b"\r\n", 1)[0]


def header(out: bytes, name: bytes) -> bytes:
    head = out.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower():
            return v.strip()
    raise AssertionError(f"no {name!r} header in {head!r}")


# -- Date follows date_clock -------------------------------------------------------------
def test_date_header_follows_date_clock_given_to_the_constructor():
    with Server(hello, date_clock=lambda: 0.0) as srv:
        r = requests.get(srv.url)
        assert r.headers["Date"] == "Thu, 01 Jan 1970 00:00:00 GMT"
        srv.check()


def test_date_clock_is_settable_and_cached_per_second_of_that_clock():
    now = [1_000_000_000.2]
    with Server(hello) as srv, requests.Session() as s:
        wall = parsedate_to_datetime(s.get(srv.url).headers["Date"])
        assert wall.year >= 2024
        srv.date_clock = lambda: now[0]
        assert s.get(srv.url).headers["Date"] == "Sun, 09 Sep 2001 01:46:40 GMT"
        now[0] = 1_000_000_000.9  # same second: same text
        assert s.get(srv.url).headers["Date"] == "Sun, 09 Sep 2001 01:46:40 GMT"
        now[0] = 1_000_003_600.0  # the clock jumps an hour: the header follows at once
        assert s.get(srv.url).headers["Date"] == "Sun, 09 Sep 2001 02:46:40 GMT"
        srv.date_clock = None
        assert parsedate_to_datetime(s.get(srv.url).headers["Date"]).year >= 2024
        srv.check()


def test_gateway_error_responses_carry_the_date_clock_date_too():
    with Server(hello, date_clock=lambda: 86400.0) as srv:
        out = raw(srv, b"GET / HTTP/3.0\r\n\r\n")
        assert header(out, b"Date") == b"Fri, 02 Jan 1970 00:00:00 GMT"


def test_a_broken_date_clock_is_reported_by_check_and_responses_still_go_out():
    def broken() -> float:
        raise RuntimeError("clock broke")

    with Server(hello, date_clock=broken) as srv:
        r = requests.get(srv.url)
        assert r.status_code == 200 and r.text == "hello"
        assert parsedate_to_datetime(r.headers["Date"]).year >= 2024
        with pytest.raises(RuntimeError, match="clock broke"):
            srv.check()
        srv.date_clock = lambda: 1e300  # out of any calendar: same fallback
        assert requests.get(srv.url).status_code == 200
        with pytest.raises((OverflowError, OSError, ValueError)):
            srv.check()


# -- on_reject and the log ---------------------------------------------------------------
CASES = [
    (b"NONSENSE\r\n\r\n", 400, "Bad Request", "NONSENSE", "", "malformed request line"),
    (b"GET /v2/ HTTP/2.0\r\n\r\n", 505, "HTTP Version Not Supported", "GET", "/v2/", "version"),
    (
        b"PUT /v2/a/blobs/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
        400,
        "Bad Request",
        "PUT",
        "/v2/a/blobs/x",
        "bad Content-Length",
    ),
    (
        b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
        "Bad Request",
        "PUT",
        "/up",
        "conflicting Content-Length",
    ),
    (b"GET /h HTTP/1.1\r\nbad header line\r\n\r\n", 400, "Bad Request", "GET", "/h", "header"),
    (
        b"GET /many HTTP/1.1\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n",
        431,
        "Request Header Fields Too Large",
        "GET",
        "/many",
        "header fields too large",
    ),
    (
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "Not Implemented",
        "POST",
        "/te",
        "Transfer-Encoding",
    ),
    (
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        414,
        HTTPStatus(414).phrase,
        "GET",
        None,
        "too long",
    ),
]


@pytest.mark.parametrize(("data", "status", "phrase", "method", "target", "why"), CASES)
def test_rejected_requests_reach_on_reject_and_the_log_with_the_right_reason_phrase(
    data, status, phrase, method, target, why
):
    seen: list[RejectedRequest] = []
    with Server(hello) as srv:
        srv.on_reject = seen.append
        out = raw(srv, data)
        assert status_line(out) == f"HTTP/1.1 {status} {phrase}".encode()
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        assert body["errors"][0]["code"] == "UNKNOWN"
        # on_reject ran before the response went out: no waiting needed
        assert len(seen) == 1
        rej = seen[0]
        assert (rej.method, rej.status) == (method, status)
        assert why in rej.reason and rej.reason == body["errors"][0]["message"]
        if target is not None:
            assert rej.target == target
        else:
            assert rej.target.startswith("/aaa") and len(rej.target) <= 8192
        host, port = rej.client.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        logged = srv.log[0].time  # LogEntry's last field: when it was logged (wall clock)
        assert abs(logged - time.time()) < 60
        assert list(srv.log) == [LogEntry(rej.method, rej.target, status, rej.client, logged)]
        assert requests.get(srv.url).text == "hello"  # still serving
        srv.check()


def test_a_rejection_after_a_good_keep_alive_request_is_reported_with_its_own_line():
    seen: list[RejectedRequest] = []
    with Server(hello) as srv:
        srv.on_reject = seen.append
        out = raw(
            srv,
            b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        )
        assert out.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 400 Bad Request" in out
        assert [(r.method, r.target, r.status) for r in seen] == [("GET", "/bad", 400)]
        assert [(e.target, e.status) for e in srv.log] == [("/ok", 200), ("/bad", 400)]


def test_an_on_reject_that_raises_is_kept_for_check_and_the_client_still_gets_its_answer():
    def hook(rejected: RejectedRequest) -> None:
        raise ValueError(f"hook broke on {rejected.status}")

    with Server(hello) as srv:
        srv.on_reject = hook
        assert status_line(raw(srv, b"GET / HTTP/9.9\r\n\r\n")).startswith(b"HTTP/1.1 505")
        assert requests.get(srv.url).text == "hello"
        with pytest.raises(ValueError, match="hook broke on 505"):
            srv.check()


def test_requests_the_app_answered_do_not_reach_on_reject():
    seen: list[RejectedRequest] = []
    with Server(hello) as srv:
        srv.on_reject = seen.append
        assert requests.get(srv.url).status_code == 200
        assert seen == []


def test_on_reject_is_none_by_default_and_rejections_are_still_logged():
    with Server(hello) as srv:
        assert srv.on_reject is None and srv.date_clock is None
        raw(srv, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n")
        assert [e.status for e in srv.log] == [400]
        srv.check()


# -- Content-Length strictness (R1, R5) ---------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "\u00b2".encode("latin-1"),  # '²' passes str.isdigit, int() rejects it
        b"\xb2",
        "\u0663".encode("utf-8"),  # an Arabic-Indic digit, as UTF-8 bytes
        b"1" * 20,  # over 63 bits
        b"9" * 5000,  # over Python's int-conversion digit limit
        b"+5",
        b"",
        b"5, 6",
    ],
)
def test_odd_content_length_values_get_400_and_the_thread_survives(value):
    with Server(echo_length) as srv:
        out = raw(srv, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\nabcde")
        assert status_line(out) == b"HTTP/1.1 400 Bad Request"
        assert b"bad Content-Length" in out
        assert requests.get(srv.url).status_code == 200
        srv.check()  # nothing escaped to stderr or the thread


def test_identical_duplicate_content_lengths_are_one_value():
    with Server(echo_length) as srv:
        for headers in (
            b"Content-Length: 3\r\nContent-Length: 3\r\n",
            b"Content-Length: 3, 3\r\n",
        ):
            out = raw(srv, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\nabc")
            assert status_line(out) == b"HTTP/1.1 200 OK"
            assert json.loads(out.split(b"\r\n\r\n", 1)[1]) == {"length": "3", "body": "abc"}
        srv.check()


def test_conflicting_content_lengths_are_refused_not_last_wins():
    with Server(echo_length) as srv:
        out = raw(srv, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 3\r\n\r\nabcde")
        assert status_line(out) == b"HTTP/1.1 400 Bad Request"
        assert b"conflicting Content-Length values 5 and 3" in out
        srv.check()


@pytest.mark.parametrize("order", ["te-first", "cl-first"])
def test_transfer_encoding_with_content_length_is_answered_then_the_connection_closes(order):
    """RFC 9112 6.1: chunked framing wins for that request, then no pipelined request is
    served on the connection (the two framings disagree on where the next one starts)."""
    te, cl = b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n"
    first = (
        b"POST /first HTTP/1.1\r\nHost: x\r\n"
        + (te + cl if order == "te-first" else cl + te)
        + b"\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    second = b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
    with Server(echo_length) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(first + second)  # pipelined: both on the wire before any answer
            out = b""
            while chunk := sock.recv(65536):  # b"": the server closed the connection
                out += chunk
        head, _, body = out.partition(b"\r\n\r\n")
        assert status_line(out) == b"HTTP/1.1 200 OK"
        assert header(out, b"Connection") == b"close"
        assert json.loads(body) == {"length": None, "body": "abc"}  # read as chunked
        assert out.count(b"HTTP/1.1 ") == 1  # the second request was never answered
        assert [e.target for e in srv.log] == ["/first"]
        srv.check()


def test_a_chunked_request_without_content_length_keeps_the_connection():
    body = b"3\r\nabc\r\n0\r\n\r\n"
    first = b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    second = b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with Server(echo_length) as srv:
        out = raw(srv, first + second)
        assert out.count(b"HTTP/1.1 200 OK") == 2
        assert [e.target for e in srv.log] == ["/first", "/second"]


def test_an_unexpected_gateway_error_is_recorded_for_check_and_the_socket_closed(monkeypatch):
    from flakymirror.registry import http11

    def boom(self):
        raise KeyError("gateway bug")

    monkeypatch.setattr(http11.Connection, "_read_head", boom)
    with Server(hello) as srv:
        assert raw(srv, b"GET / HTTP/1.1\r\n\r\n") == b""  # closed, no half response
        wait_until(lambda: srv.handler_errors)
        with pytest.raises(KeyError, match="gateway bug"):
            srv.check()

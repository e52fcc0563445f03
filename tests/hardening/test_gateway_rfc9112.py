"""The gateway refuses what RFC 9112 makes a bad request, as Go's net/http (and so
distribution) does, and bounds a request head: 431 past 1 MiB, not 8 MiB per connection."""

from __future__ import annotations

import pytest

from flakymirror.registry import Registry, Server
from flakymirror.registry.request_head import MAX_HEAD
from tests.helpers.wire import hello, raw, split_response

GOOD = b"GET /v2/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def server():
    with Server(hello) as srv:
        yield srv
        srv.check()


@pytest.mark.parametrize(
    ("request_bytes", "status", "why"),
    [
        (b"GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "no Host header"),
        (b"GET /v2/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host"),
        (b"GET /v2/ HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400, "control character"),
        (b"GET\t/v2/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request line"),
        (b"GET /v2/\tHTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request line"),
        (b"GET /v2/\tx HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target"),
        (b"GET  /v2/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request line"),
        (b"GET v2/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request target"),
        (b"GET /v2/ garbage\r\nHost: h\r\n\r\n", 400, "malformed HTTP version"),
        (b"\x01\x02\x03 / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"GET /v2/ HTTP/2.0\r\nHost: h\r\n\r\n", 505, "unsupported HTTP version"),
    ],
    ids=["no-host", "two-hosts", "nul-in-value", "tab-after-method", "tab-before-version",
         "tab-in-target",
         "two-spaces", "no-leading-slash", "garbage-version", "garbage-line", "http-2"],
)  # fmt: skip
def test_a_bad_request_is_400_and_the_connection_closes(server, request_bytes, status, why):
    data = raw(server, request_bytes + GOOD)
    status_seen, headers, body = split_response(data)
    assert status_seen == status
    assert why in body.decode()
    assert headers["connection"] == "close"
    assert b"HTTP/1.1 200" not in data  # the pipelined GOOD request is not served


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v2/ HTTP/1.0\r\n\r\n",  # HTTP/1.0 needs no Host
        b"GET http://h/v2/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",  # absolute-form
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nHost: h\r\nX-A: a\tb\r\nConnection: close\r\n\r\n",  # HTAB is fine
        b"\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",  # RFC 9112 2.2
    ],
)
def test_what_rfc_9112_allows_is_served(server, request_bytes):
    assert split_response(raw(server, request_bytes))[0] == 200


def test_a_head_over_the_limit_is_431_without_reading_on(server):
    filler = b"X-Fill: " + b"a" * 60_000 + b"\r\n"
    count = MAX_HEAD // len(filler) + 1  # under 128 fields: the byte limit is what refuses
    head = b"GET /v2/ HTTP/1.1\r\nHost: h\r\n" + filler * count + b"\r\n"
    status, _, body = split_response(raw(server, head))
    assert status == 431 and b"too large" in body
    just_under = b"GET /v2/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + filler * (count - 2)
    assert split_response(raw(server, just_under + b"\r\n"))[0] == 200


def test_a_refused_head_request_has_no_body():
    with Registry() as registry:
        data = raw(registry.server, b"HEAD /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n")
        status, headers, body = split_response(data)
        assert status == 400 and body == b""
        assert int(headers["content-length"]) > 0  # the length a GET would have had


@pytest.mark.parametrize(
    "request_bytes",
    [b"HEAD\n /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     b"HEAD  /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     b"HEAD /v2/ HTTP/1.1 x\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ids=["newline-after-method", "two-spaces", "four-parts"],
)  # fmt: skip
def test_a_request_line_that_cannot_be_read_is_no_head_request(request_bytes):
    """``HEAD`` is only a guess when the request line cannot be read: the answer keeps its
    body (Go's net/http writes one too)."""
    with Registry() as registry:
        status, headers, body = split_response(raw(registry.server, request_bytes))
        assert status == 400 and len(body) == int(headers["content-length"]) > 0
        assert b'"errors"' in body

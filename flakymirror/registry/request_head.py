"""Reading and checking an HTTP/1.1 request head: the request line and the header fields.

The connection loop in :mod:`flakymirror.registry.http11` calls :func:`read_head` for each
request; a head it must refuse raises :class:`BadRequestLine` with the status to answer and
what could be read of the request line. :func:`content_length` checks one
``Content-Length`` value and :func:`path_and_query` splits the request target.

The parsing is our own rather than h11's: h11 measured at about half the manifest GET
throughput of this module on the benchmark's load (its per-event machinery costs more than the
whole request otherwise does), and it refuses leading empty lines, which RFC 9112 2.2 asks a
server to ignore. What RFC 9112 makes a bad request is refused as Go's net/http (and so
distribution) refuses it: a request line that is not ``method SP target SP version``, a target
that is neither a path nor an absolute URI, a control character in a header value, a head over
:data:`MAX_HEAD` (431); the Host rules are in :mod:`.http11`.

A connection whose next bytes are a TLS handshake record (a client trying HTTPS on a plain-HTTP
port, see :mod:`.tls_probe`) is refused as kind ``"tls-probe"`` once that record is read, without
waiting for a request line that will never come.
"""

from __future__ import annotations

import io
import re

from .request_bodies import MAX_LINE
from .tls_probe import (
    HANDSHAKE,
    MAX_RECORD,
    RECORD_HEADER,
    TLS_PROBE,
    describe,
    is_tls_record_header,
    record_length,
)

__all__ = [
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_LENGTH_DIGITS",
    "BadRequestLine",
    "RequestHead",
    "content_length",
    "path_and_query",
    "read_head",
]

MAX_HEADERS = 128
#: Most bytes one request head may take (request line, header fields, leading empty lines);
#: above it the answer is 431. 1 MiB, Go's ``http.DefaultMaxHeaderBytes``, as distribution.
MAX_HEAD = 1 << 20
_HANDSHAKE_BYTE = bytes((HANDSHAKE,))
#: Longest ``Content-Length`` value accepted (a 63-bit number, as Go's net/http parses it).
MAX_LENGTH_DIGITS = 19

# RFC 9110 5.6.2 token (a method); RFC 9112 2.3 HTTP-version; a field value may hold no
# control character but HTAB (RFC 9110 5.5; Go's httpguts.ValidHeaderFieldValue)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_CTL = re.compile(r"[\x00-\x1f\x7f]")  # a request line holds no control byte, not even HTAB
# the common cases skip the regular expressions (the manifest GET hot path)
_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"})
_NAMES = frozenset({"Host", "Accept", "User-Agent", "Connection", "Content-Type",
                    "Content-Length", "Accept-Encoding", "Authorization", "Range"})  # fmt: skip

#: ``(method, target, version, headers)`` as read off the wire.
RequestHead = tuple[str, str, str, list[tuple[str, str]]]


class BadRequestLine(Exception):  # noqa: N818
    """A request head refused before the app: the status to answer and why.

    ``method`` and ``target`` are what could be read of the request line (``""`` when
    nothing usable was sent); ``kind`` is ``"rejected"``, or ``"tls-probe"`` for a TLS
    handshake sent to this plain-HTTP port. ``line_read`` is False when the request line itself
    could not be read as ``method target version``: then ``method`` is a guess, and the answer
    carries its body even when the guess is ``HEAD``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        method: str = "",
        target: str = "",
        *,
        kind: str = "rejected",
        line_read: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.method = method
        self.target = target
        self.kind = kind
        self.line_read = line_read


def read_head(rfile: io.BufferedIOBase, *, first: bool = True) -> RequestHead | None:
    """Read one request head from ``rfile``; None when the peer closed before a full head.

    On a connection's ``first`` request, a TLS handshake record raises :class:`BadRequestLine`
    of kind ``"tls-probe"`` (a client starts TLS before anything else, so later requests of a
    keep-alive connection are not peeked at)."""
    if first:
        peek = getattr(rfile, "peek", None)
        if peek is not None and peek(1)[:1] == _HANDSHAKE_BYTE:
            return _refuse_tls(rfile)
    line = rfile.readline(MAX_LINE + 1)
    size = len(line)
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore leading empty lines
        if size > MAX_HEAD:
            raise BadRequestLine(400, "no request line, only empty lines")
        line = rfile.readline(MAX_LINE + 1)
        size += len(line)
    if not line:
        return None
    method, target, version = _request_line(line)
    headers: list[tuple[str, str]] = []
    while True:
        h = rfile.readline(MAX_LINE + 1)
        size += len(h)
        if h in (b"\r\n", b"\n"):
            break
        if not h:
            return None
        if len(h) > MAX_LINE or len(headers) >= MAX_HEADERS or size > MAX_HEAD:
            raise BadRequestLine(431, "request header fields too large", method, target)
        name, sep, value = h.decode("latin-1").partition(":")
        if not sep or (name not in _NAMES and not _TOKEN.fullmatch(name)):
            raise BadRequestLine(400, f"malformed header line {h[:80]!r}", method, target)
        value = value.strip(" \t\r\n")
        if not value.isprintable() and _CTL.search(value):
            raise BadRequestLine(
                400, f"control character in the value of header {name[:80]!r}", method, target
            )
        headers.append((name, value))
    return method, target, version, headers


def _request_line(line: bytes) -> tuple[str, str, str]:
    """``method SP target SP version`` exactly (RFC 9112 3), or :class:`BadRequestLine`."""
    text = line.decode("latin-1")
    text = text[:-2] if text.endswith("\r\n") else text.rstrip("\n")
    parts = text.split(" ")
    seen_method = parts[0]
    seen_target = parts[1] if len(parts) > 1 else ""
    if len(line) > MAX_LINE:
        raise BadRequestLine(
            414, "request line too long", seen_method, seen_target, line_read=False
        )
    if len(parts) != 3 or (parts[0] not in _METHODS and not _TOKEN.fullmatch(parts[0])):
        raise BadRequestLine(
            400, f"malformed request line {line[:80]!r}", seen_method, seen_target,
            line_read=False,
        )  # fmt: skip
    method, target, version = parts
    if not (target[:1] == "/" or target.startswith(("http://", "https://"))
            or (target == "*" and method == "OPTIONS")) or (
                not target.isprintable() and _LINE_CTL.search(target)):  # fmt: skip
        raise BadRequestLine(400, f"malformed request target {target[:80]!r}", method, target)
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if _VERSION.fullmatch(version) is None:
            raise BadRequestLine(400, f"malformed HTTP version {version[:20]!r}", method, target)
        raise BadRequestLine(505, f"unsupported HTTP version {version!r}", method, target)
    return method, target, version


def _refuse_tls(rfile: io.BufferedIOBase) -> None:
    """Read the TLS record that starts here (bounded) and refuse it; None when the peer
    closed first. Bytes that start with ``0x16`` but are no TLS record are a malformed request
    line, refused at once (``0x16`` can never start an HTTP method)."""
    header = rfile.read(RECORD_HEADER)
    if len(header) < RECORD_HEADER:
        return None
    if not is_tls_record_header(header):
        raise BadRequestLine(400, f"malformed request line {header!r}")
    body = rfile.read(min(record_length(header), MAX_RECORD))
    raise BadRequestLine(400, describe(header, body), kind=TLS_PROBE)


def path_and_query(target: str) -> tuple[str, str]:
    """``PATH_INFO`` (percent-decoded, as latin-1) and ``QUERY_STRING`` of a request target."""
    path, _, query = target.partition("?")
    if path.startswith(("http://", "https://")):  # absolute-form (proxies)
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    if "%" in path:
        from urllib.parse import unquote_to_bytes

        path = unquote_to_bytes(path).decode("latin-1")
    return path, query


def content_length(value: str) -> int | None:
    """The number in a ``Content-Length`` value, or None when it is not one.

    RFC 9112 6.3: a list of identical values (``5, 5``) is that value; differing values or
    anything but ASCII digits is invalid. ``str.isdigit`` alone would accept ``'²'``.
    """
    numbers = {v.strip() for v in value.split(",")}
    if len(numbers) != 1:
        return None
    text = numbers.pop()
    if not (0 < len(text) <= MAX_LENGTH_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)

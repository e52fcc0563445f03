"""Go's net/http behaviour on top of requests/urllib3, for :mod:`flakymirror.client.transport`,
and the record of each exchange (:class:`RequestRecord`, :func:`recorder`).

* :func:`network_error` turns a requests failure into Go's ``*url.Error`` text
  (``Get "<url>": EOF``) and a kind ggcr's retry predicate understands.
* :class:`ReuseTrackingAdapter` tells, per request, whether it went out on a kept-alive
  connection: Go's ``http.Transport`` silently resends an idempotent request once when such a
  connection turns out closed or reset before the first response byte.
* :func:`read_body` reads a streamed body the way ``io.ReadAll`` fails on a cut one;
  :func:`read_and_close` also closes the response (Go's ``defer resp.Body.Close()``).
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from flakymirror.client.errors import NetworkError, UnexpectedEOF

__all__ = [
    "REPLAYABLE",
    "RequestRecord",
    "ReuseTrackingAdapter",
    "went_out_reused",
    "network_error",
    "read_and_close",
    "read_body",
    "recorder",
]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP exchange a transport made: method, URL, status (None when no response came)."""

    method: str
    url: str
    status: int | None
    error: str | None = None


def recorder(*sinks: list[RequestRecord] | None) -> Callable[[RequestRecord], None]:
    """A ``record`` callable for :class:`~flakymirror.client.transport.Transport` that appends
    every :class:`RequestRecord` to each list of ``sinks`` (None entries are skipped): an
    operation's own log plus the caller's, across the several transports it may build."""
    lists = [s for s in sinks if s is not None]

    def note(item: RequestRecord) -> None:
        for sink in lists:
            sink.append(item)

    return note


#: Methods Go's http.Transport treats as replayable (``Request.isReplayable``).
REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: The attribute a failure of a request gets: whether the connection it went out on had served a
#: request before (a kept-alive connection). Go's http.Transport silently resends an idempotent
#: request once when such a connection turns out closed or reset before the first response byte.
REUSED = "fm_reused"
_WIRE_ERRORS = (OSError, http.client.HTTPException)


class _ReuseTracking:
    """Mixin for urllib3 connections: count the requests sent since the socket was opened
    (urllib3 reuses a connection object after closing it, so ``close`` starts over), and mark
    a failure of sending or of reading the answer with :data:`REUSED`."""

    _fm_uses = 0
    _fm_reused = False

    def close(self) -> None:
        self._fm_uses = 0
        super().close()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._fm_reused = self._fm_uses > 0 and getattr(self, "sock", None) is not None
        self._fm_uses += 1
        try:
            return super().request(*args, **kwargs)  # type: ignore[misc]
        except _WIRE_ERRORS as exc:
            setattr(exc, REUSED, self._fm_reused)
            raise

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        except _WIRE_ERRORS as exc:
            setattr(exc, REUSED, self._fm_reused)
            raise


class _HTTPConnection(_ReuseTracking, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_ReuseTracking, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class ReuseTrackingAdapter(HTTPAdapter):
    """requests adapter whose connections report whether they were reused."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Use the pools whose connections remember whether they were reused."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def went_out_reused(exc: BaseException) -> bool:
    """Whether the request that failed with ``exc`` had gone out on a kept-alive connection
    (read from the wire error nested in ``exc``, where the connection marked it)."""
    return any(getattr(e, REUSED, False) for e in _causes(exc))


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and everything urllib3/requests nest inside it (args, reason, causes)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__, *cur.args):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


def network_error(method: str, url: str, exc: BaseException) -> NetworkError:
    """Translate a requests/urllib3 failure into Go's ``*url.Error`` text and a kind."""
    host = requests.utils.urlparse(url).netloc
    chain = list(_causes(exc))
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in chain):
        return NetworkError(method, url, f"dial tcp {host}: i/o timeout", "timeout")
    for c in chain:
        if isinstance(c, ConnectionRefusedError | urllib3.exceptions.NewConnectionError) and (
            "refused" in str(c).lower() or isinstance(c, ConnectionRefusedError)
        ):
            return NetworkError(
                method, url, f"dial tcp {host}: connect: connection refused", "refused"
            )
    for c in chain:
        # RemoteDisconnected subclasses ConnectionResetError: test it first
        if isinstance(c, http.client.RemoteDisconnected):
            return NetworkError(method, url, "EOF", "eof")
        if isinstance(c, ConnectionResetError):
            return NetworkError(method, url, "read: connection reset by peer", "reset")
        if isinstance(c, BrokenPipeError):
            return NetworkError(method, url, "write: broken pipe", "broken-pipe")
        if isinstance(c, http.client.IncompleteRead | urllib3.exceptions.IncompleteRead):
            return NetworkError(method, url, "unexpected EOF", "eof")
    for c in chain:
        if isinstance(c, requests.exceptions.ReadTimeout | socket.timeout | TimeoutError):
            return NetworkError(
                method, url, "net/http: timeout awaiting response headers", "timeout"
            )
        if isinstance(c, requests.exceptions.SSLError):
            text = str(c)
            if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
                return NetworkError(
                    method, url, "http: server gave HTTP response to HTTPS client", "tls"
                )
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return NetworkError(
                    method,
                    url,
                    "tls: failed to verify certificate: x509: certificate signed by unknown authority",
                    "tls",
                )
            return NetworkError(method, url, f"tls: {text}", "tls")
    for c in chain:
        if isinstance(c, http.client.BadStatusLine):
            return NetworkError(method, url, f"malformed HTTP response {str(c)!r}", "other")
    return NetworkError(method, url, str(exc), "other")


def read_body(resp: requests.Response, limit: int | None = None) -> bytes:
    """Read (up to ``limit`` bytes of) a streamed body; a cut body raises :class:`UnexpectedEOF`
    (Go's ``io.ErrUnexpectedEOF``), like ``io.ReadAll`` on a short response."""
    pending = getattr(resp, "_fm_body_error", None)
    if pending is not None:
        raise pending
    if resp._content_consumed and isinstance(resp._content, bytes):  # already read (or emptied)
        return resp._content if limit is None else resp._content[:limit]
    try:
        if limit is None:
            return resp.content
        out = bytearray()
        for chunk in resp.iter_content(8192):
            out += chunk
            if len(out) >= limit:
                break
        return bytes(out[:limit])
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise UnexpectedEOF() from exc


def read_and_close(resp: requests.Response, limit: int | None = None) -> bytes:
    """:func:`read_body`, then close the response, whether the read worked or not."""
    try:
        return read_body(resp, limit)
    finally:
        resp.close()

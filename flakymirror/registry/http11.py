"""A small HTTP/1.1 gateway that runs a WSGI app on one client connection.

Why not werkzeug's ``WSGIRequestHandler``: it parses headers with the ``email`` package and
costs ~10x more per request than this loop, it cannot be told to drop a connection silently
(fault injection needs that), and its shutdown polls every 0.5 s. This module does only what
a registry needs: keep-alive, ``Content-Length`` and chunked request bodies (streamed, never
read whole), chunked responses when the app gives no length, ``Expect: 100-continue``, HEAD.
Reading and checking the request line and header fields lives in :mod:`.request_head`,
the request body streams in :mod:`.request_bodies`, writing the answer in :mod:`.wsgi_response`.
A request with both ``Transfer-Encoding: chunked`` and ``Content-Length`` is read as chunked and
answered, then the connection closes (RFC 9112 6.1): a later pipelined request is not served.

:class:`CloseConnection` raised by the app (before the headers or from the body iterator)
makes the gateway stop writing and close the connection, with no 500 and no error recorded.

A request refused before the app (see :mod:`.refusal`) is answered by a *refusal app* run the
same way as the app (so it may delay, reset or stream too); the connection closes after it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any, NamedTuple

from werkzeug.exceptions import BadRequest, ClientDisconnected

from ..oci.protocol import API_VERSION_LINE
from .errors import error_body
from .refusal import (
    MAX_TARGET_KEPT,
    REJECTED,
    RejectedRequest,
    refusal_environ,
)
from .refusal import refusal_app as default_refusal_app
from .request_bodies import BodyReader, ChunkedReader
from .request_head import BadRequestLine, RequestHead, content_length, path_and_query, read_head
from .wsgi_response import REASONS, ClientGone, ResponseWriter

__all__ = ["CloseConnection", "Connection", "LogEntry", "RejectedRequest", "http_date"]
#: Unread request body bytes the gateway reads and discards to keep a connection usable.
DRAIN_LIMIT = 8 << 20
_READ = 65536


class CloseConnection(Exception):  # noqa: N818 - the contract's name
    """Raise from a WSGI app or its body iterator to drop the connection without a response.

    The gateway stops writing (bytes already written stay written), sends no 500, records no
    error and closes the socket. Set ``SO_LINGER`` (1, 0) on ``environ["werkzeug.socket"]``
    before raising to make the close an RST instead of a FIN.
    """


class LogEntry(NamedTuple):
    """One served request in the server's bounded log.

    ``time`` is the wall-clock epoch time (``time.time()``) at which it was logged: just before
    the bytes that complete its answer went out. It is the last field and defaults to 0.0, so
    ``LogEntry(method, target, status, client)`` still builds one (but a logged entry compares
    equal only to one with the same ``time``, and unpacks into five names).
    """

    method: str
    target: str
    status: int
    client: str
    time: float = 0.0


_date_cache: tuple[int, bytes] = (-1, b"")


def http_date() -> bytes:
    """The wall-clock ``Date`` header value (RFC 9110 IMF-fixdate), formatted once a second."""
    global _date_cache
    now = int(time.time())
    cached = _date_cache
    if cached[0] != now:
        cached = (now, formatdate(now, usegmt=True).encode())
        _date_cache = cached  # one tuple swap: threads never see a half-updated cache
    return cached[1]


class Connection:
    """Serve requests from one accepted socket until it closes, errors or the server stops.

    ``on_error(exc)`` receives exceptions raised by the app (they answer 500 when the headers
    are not out yet) and any unexpected gateway error; ``on_log(entry)`` receives one
    :class:`LogEntry` per response the app produced; ``on_reject(rejected)`` receives one
    :class:`RejectedRequest` per request refused before the app, before its answer is
    sent; ``refusal_app`` (a WSGI app, default :func:`~.refusal.refusal_app`) answers that
    request; ``date()`` gives the ``Date`` header value. ``arm(first)`` is called before each
    request head is read (``first``: the connection's first request) and ``arm(None)`` once
    it is read: the server's head deadline (see :mod:`.admission`).
    """

    def __init__(
        self,
        sock: socket.socket,
        app: Callable[..., Iterable[bytes]],
        base_environ: dict[str, Any],
        *,
        on_error: Callable[[BaseException], None],
        on_log: Callable[[LogEntry], None],
        on_reject: Callable[[RejectedRequest], None] | None = None,
        refusal_app: Callable[..., Iterable[bytes]] | None = None,
        date: Callable[[], bytes] = http_date,
        arm: Callable[[bool | None], None] | None = None,
    ) -> None:
        self.sock = sock
        self.app = app
        self.base_environ = base_environ
        self.on_error = on_error
        self.on_log = on_log
        self.on_reject = on_reject
        self.refusal_app = refusal_app if refusal_app is not None else default_refusal_app
        self.date = date
        self.arm = arm
        self.rfile = sock.makefile("rb", buffering=_READ)
        self.first = True  # no request read yet: the one place a TLS handshake can start
        peer = base_environ.get("REMOTE_ADDR", "")
        self.client = f"{peer}:{base_environ.get('REMOTE_PORT', '')}"

    # -- writing -------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def _send_simple(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            f"{API_VERSION_LINE}\r\nDate: "
        ).encode("latin-1")
        self._send(head + self.date() + b"\r\n\r\n" + body)

    def _reject(
        self,
        status: int,
        message: str,
        method: str,
        target: str,
        kind: str = REJECTED,
        *,
        head_only: bool | None = None,
    ) -> bool:
        """Report a request refused before the app, then let the refusal app answer it (the
        connection closes after the answer: returns False). ``head_only``: whether the answer
        goes without its body (default: the method is ``HEAD``)."""
        rejected = RejectedRequest(
            method, target[:MAX_TARGET_KEPT], status, message, self.client, kind
        )
        if self.on_reject is not None:
            self.on_reject(rejected)
        environ = refusal_environ(self.base_environ, rejected)
        body = BodyReader(self.rfile, 0)
        environ["wsgi.input"] = body
        self._run_app(environ, rejected.method, rejected.target, "HTTP/1.1", False, body,
                      app=self.refusal_app, head_only=head_only)  # fmt: skip
        return False

    # -- reading -------------------------------------------------------------------------
    def _read_head(self) -> RequestHead | None:
        """The next request head (see :mod:`.request_head`); a method so tests can swap it."""
        first, self.first = self.first, False
        arm = self.arm
        if arm is None:
            return read_head(self.rfile, first=first)
        arm(first)
        try:
            return read_head(self.rfile, first=first)
        finally:
            arm(None)

    # -- serving -------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve requests until the connection should close."""
        try:
            while self._serve_one():
                pass
        except (ClientGone, ClientDisconnected, CloseConnection):
            pass
        except OSError:
            pass  # reading the next request line failed: peer reset or server stop
        except Exception as exc:  # noqa: BLE001 - a gateway bug must reach check(), not stderr
            self.on_error(exc)
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection's file and socket."""
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.sock.close()

    def _serve_one(self) -> bool:  # noqa: C901 - one request, linear steps
        try:
            head = self._read_head()
        except BadRequestLine as exc:
            return self._reject(
                exc.status, exc.message, exc.method, exc.target, exc.kind,
                head_only=exc.line_read and exc.method == "HEAD",
            )  # fmt: skip
        if head is None:
            return False
        method, target, version, headers = head
        environ = self.base_environ.copy()
        path, query = path_and_query(target)
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["REQUEST_URI"] = environ["RAW_URI"] = target
        environ["SERVER_PROTOCOL"] = version
        keep_alive = version == "HTTP/1.1"
        chunked = False
        length: int | None = None
        hosts = 0
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                parsed = content_length(value)
                if parsed is None:
                    return self._reject(400, f"bad Content-Length {value[:80]!r}", method, target)
                if length is not None and parsed != length:
                    return self._reject(
                        400,
                        f"conflicting Content-Length values {length} and {parsed}",
                        method,
                        target,
                    )
                length = parsed
                environ["CONTENT_LENGTH"] = str(parsed)
                continue
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
                continue
            if key == "TRANSFER_ENCODING":
                if value.lower() != "chunked":
                    return self._reject(
                        501, f"unsupported Transfer-Encoding {value!r}", method, target
                    )
                chunked = True
            elif key == "CONNECTION":
                tokens = value.lower()
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens and version == "HTTP/1.0":
                    keep_alive = True
            elif key == "EXPECT" and value.lower() == "100-continue" and version == "HTTP/1.1":
                self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
            elif key == "HOST":
                hosts += 1
            hkey = "HTTP_" + key
            if hkey in environ:
                environ[hkey] += ", " + value
            else:
                environ[hkey] = value
        if hosts != 1 and (hosts or version == "HTTP/1.1"):  # RFC 9112 3.2
            why = "more than one Host header" if hosts else "no Host header in an HTTP/1.1 request"
            return self._reject(400, why, method, target)
        if chunked:
            body: BodyReader | ChunkedReader = ChunkedReader(self.rfile)
            if environ.pop("CONTENT_LENGTH", None) is not None:
                # RFC 9112 6.1: a message with both is a possible request smuggling attempt;
                # the chunked framing wins for this request, then the connection closes
                keep_alive = False
        else:
            body = BodyReader(self.rfile, length or 0)
        environ["wsgi.input"] = body
        return self._run_app(environ, method, target, version, keep_alive, body)

    def _run_app(
        self,
        environ: dict[str, Any],
        method: str,
        target: str,
        version: str,
        keep_alive: bool,
        body: BodyReader | ChunkedReader,
        app: Callable[..., Iterable[bytes]] | None = None,
        head_only: bool | None = None,
    ) -> bool:
        """Run ``app`` (default: the server's) for one request and write its answer; True when
        the connection may serve the next request. ``head_only`` (default: the method is
        ``HEAD``): the answer goes without its body."""

        def log(status: int) -> None:
            self.on_log(LogEntry(method, target, status, self.client, time.time()))

        out = ResponseWriter(
            self.sock,
            version=version,
            head_only=method == "HEAD" if head_only is None else head_only,
            keep_alive=keep_alive,
            date=self.date,
            log=log,
        )
        result: Iterable[bytes] | None = None
        try:
            try:
                result = (app or self.app)(environ, out.start_response)
                out.send(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (CloseConnection, ClientGone, ClientDisconnected):
            return False
        except Exception as exc:  # noqa: BLE001 - the app's bug goes to server.check()
            self.on_error(exc)
            out.log_once(500)
            if not out.sent:
                self._send_simple(
                    500, error_body("UNKNOWN", f"handler raised {type(exc).__name__}: {exc}")
                )
            return False
        if not out.finish():
            return False
        if not body.done():
            try:
                return body.drain(DRAIN_LIMIT)
            except (BadRequest, OSError):
                return False
        return True

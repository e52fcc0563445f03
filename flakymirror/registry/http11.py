"""A small HTTP/1.1 gateway that runs a WSGI app on one client connection.

Why not werkzeug's ``WSGIRequestHandler``: it parses headers with the ``email`` package and
costs ~10x more per request than this loop, it cannot be told to drop a connection silently
(fault injection needs that), and its shutdown polls every 0.5 s. This module does only what
a registry needs: keep-alive, ``Content-Length`` and chunked request bodies (streamed, never
read whole), chunked responses when the app gives no length, ``Expect: 100-continue``, HEAD.
Reading and checking the request line and header fields lives in :mod:`.request_head`.

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
from http import HTTPStatus
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


class _ClientGone(Exception):  # noqa: N818
    """The peer closed or reset the connection while we were writing."""


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


_NO_BODY_STATUS = frozenset({204, 304})
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class Connection:
    """Serve requests from one accepted socket until it closes, errors or the server stops.

    ``on_error(exc)`` receives exceptions raised by the app (they answer 500 when the headers
    are not out yet) and any unexpected gateway error; ``on_log(entry)`` receives one
    :class:`LogEntry` per response the app produced; ``on_reject(rejected)`` receives one
    :class:`RejectedRequest` per request refused before the app, before its answer is
    sent; ``refusal_app`` (a WSGI app, default :func:`~.refusal.refusal_app`) answers that
    request; ``date()`` gives the ``Date`` header value.
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
    ) -> None:
        self.sock = sock
        self.app = app
        self.base_environ = base_environ
        self.on_error = on_error
        self.on_log = on_log
        self.on_reject = on_reject
        self.refusal_app = refusal_app if refusal_app is not None else default_refusal_app
        self.date = date
        self.rfile = sock.makefile("rb", buffering=_READ)
        self.first = True  # no request read yet: the one place a TLS handshake can start
        peer = base_environ.get("REMOTE_ADDR", "")
        self.client = f"{peer}:{base_environ.get('REMOTE_PORT', '')}"

    # -- writing -------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc

    def _send_simple(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            f"{API_VERSION_LINE}\r\nDate: "
        ).encode("latin-1")
        self._send(head + self.date() + b"\r\n\r\n" + body)

    def _reject(
        self, status: int, message: str, method: str, target: str, kind: str = REJECTED
    ) -> bool:
        """Report a request refused before the app, then let the refusal app answer it (the
        connection closes after the answer: returns False)."""
        rejected = RejectedRequest(
            method, target[:MAX_TARGET_KEPT], status, message, self.client, kind
        )
        if self.on_reject is not None:
            self.on_reject(rejected)
        environ = refusal_environ(self.base_environ, rejected)
        body = BodyReader(self.rfile, 0)
        environ["wsgi.input"] = body
        self._run_app(environ, rejected.method, rejected.target, "HTTP/1.1", False, body,
                      app=self.refusal_app)  # fmt: skip
        return False

    # -- reading -------------------------------------------------------------------------
    def _read_head(self) -> RequestHead | None:
        """The next request head (see :mod:`.request_head`); a method so tests can swap it."""
        first, self.first = self.first, False
        return read_head(self.rfile, first=first)

    # -- serving -------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve requests until the connection should close."""
        try:
            while self._serve_one():
                pass
        except (_ClientGone, ClientDisconnected, CloseConnection):
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

    def _sendfile(
        self,
        span: tuple[Any, int, int],
        send_head: Callable[[bytes], None],
        state: dict[str, Any],
        log_once: Callable[[], None],
    ) -> None:
        """Zero-copy body from a file region (``sendfile(2)``), for bodies that offer one."""
        f, offset, count = span
        send_head(b"")
        if state["no_body"] or count <= 0:
            return
        declared = state["declared"]
        if declared is not None and state["written"] + count >= declared:
            log_once()  # this region completes the answer
        if state.get("chunked"):
            self._send(b"%x\r\n" % count)
        try:
            sent = self.sock.sendfile(f, offset, count)
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc
        state["written"] += sent
        if sent != count:
            raise _ClientGone(f"sendfile sent {sent} of {count} bytes")
        if state.get("chunked"):
            self._send(b"\r\n")

    def _serve_one(self) -> bool:  # noqa: C901 - one request, linear steps
        try:
            head = self._read_head()
        except BadRequestLine as exc:
            return self._reject(exc.status, exc.message, exc.method, exc.target, exc.kind)
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
            hkey = "HTTP_" + key
            if hkey in environ:
                environ[hkey] += ", " + value
            else:
                environ[hkey] = value
        if chunked:
            body: BodyReader | ChunkedReader = ChunkedReader(self.rfile)
            environ.pop("CONTENT_LENGTH", None)
        else:
            body = BodyReader(self.rfile, length or 0)
        environ["wsgi.input"] = body
        return self._run_app(environ, method, target, version, keep_alive, body)

    def _run_app(  # noqa: C901 - the WSGI response state machine
        self,
        environ: dict[str, Any],
        method: str,
        target: str,
        version: str,
        keep_alive: bool,
        body: BodyReader | ChunkedReader,
        app: Callable[..., Iterable[bytes]] | None = None,
    ) -> bool:
        state: dict[str, Any] = {"status": None, "headers": None, "sent": False}
        head_only = method == "HEAD"

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and state["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"] = status
            state["headers"] = headers
            return write

        def send_head(first: bytes) -> None:
            status = state["status"]
            if status is None:
                raise RuntimeError("WSGI app returned a body before calling start_response")
            code = int(status[:3])
            state["code"] = code
            reason = _REASONS.get(code) or status[4:]
            lines = [f"{'HTTP/1.0' if version == 'HTTP/1.0' else 'HTTP/1.1'} {code} {reason}\r\n"]
            declared = None
            for k, v in state["headers"]:
                kl = k.lower()
                if kl == "content-length":
                    declared = int(v)
                    continue
                if kl == "connection" and v.lower() == "close":
                    state["close"] = True
                    continue
                elif kl == "transfer-encoding":
                    continue
                lines.append(f"{k}: {v}\r\n")
            no_body = head_only or code in _NO_BODY_STATUS or code < 200
            if declared is not None:
                lines.append(f"Content-Length: {declared}\r\n")
            elif not no_body:
                if version == "HTTP/1.1":
                    state["chunked"] = True
                    lines.append("Transfer-Encoding: chunked\r\n")
                else:
                    state["close"] = True
            state["declared"] = declared
            state["no_body"] = no_body
            state["written"] = 0
            if state.get("close") or not keep_alive:
                lines.append("Connection: close\r\n")
            elif version == "HTTP/1.0":
                lines.append("Connection: keep-alive\r\n")
            lines.append("Date: ")
            out = "".join(lines).encode("latin-1") + self.date() + b"\r\n\r\n"
            state["sent"] = True
            first = clip(first)
            if no_body or (declared is not None and len(first) >= declared):
                log_once()  # the head (and this first chunk) is the whole answer
            if first:
                out += _frame(first)
                state["written"] += len(first)
            self._send(out)

        def log_once() -> None:
            """Log the request once, before the bytes that complete its answer go out, so a
            client that has its whole response finds it in ``server.log``."""
            if not state.get("logged"):
                state["logged"] = True
                self.on_log(
                    LogEntry(method, target, state.get("code", 0), self.client, time.time())
                )

        def clip(data: bytes) -> bytes:
            """What of ``data`` may go out: nothing for a bodiless answer, and never past the
            declared Content-Length (an app that says more than it declared loses the rest,
            and the connection closes after the answer)."""
            if state["no_body"] or not data:
                return b""
            declared = state["declared"]
            if declared is not None and state["written"] + len(data) > declared:
                state["close"] = True
                data = data[: declared - state["written"]]
            return data

        def _frame(data: bytes) -> bytes:
            if state.get("chunked"):
                return b"%x\r\n%s\r\n" % (len(data), data)
            return data

        def write(data: bytes) -> None:
            if not state["sent"]:
                send_head(data)
                return
            data = clip(data)
            if data:
                declared = state["declared"]
                if declared is not None and state["written"] + len(data) >= declared:
                    log_once()
                state["written"] += len(data)
                self._send(_frame(data))

        result: Iterable[bytes] | None = None
        try:
            try:
                result = (app or self.app)(environ, start_response)
                span = getattr(result, "sendfile_span", None)
                if span is not None and state["status"] is not None and not head_only:
                    self._sendfile(span(), send_head, state, log_once)
                else:
                    for chunk in result:
                        if chunk:
                            write(chunk)
                if not state["sent"]:
                    send_head(b"")
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (CloseConnection, _ClientGone, ClientDisconnected):
            return False
        except Exception as exc:  # noqa: BLE001 - the app's bug goes to server.check()
            self.on_error(exc)
            if not state.get("logged"):
                state["logged"] = True
                self.on_log(LogEntry(method, target, 500, self.client, time.time()))
            if not state["sent"]:
                self._send_simple(
                    500, error_body("UNKNOWN", f"handler raised {type(exc).__name__}: {exc}")
                )
            return False
        if state.get("chunked"):
            log_once()
            self._send(b"0\r\n\r\n")
        log_once()
        declared = state["declared"]
        if declared is not None and not state["no_body"] and state["written"] != declared:
            return False  # the app lied about its length: the stream is out of step
        if state.get("close") or not keep_alive:
            return False
        if not body.done():
            try:
                return body.drain(DRAIN_LIMIT)
            except (BadRequest, OSError):
                return False
        return True

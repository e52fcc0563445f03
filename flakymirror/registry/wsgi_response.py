"""Writing one WSGI response onto a client socket: status line, headers, body framing.

:class:`ResponseWriter` is the state of one response, from ``start_response`` to the last
byte: which status and headers the app chose, whether the head went out, how many body bytes
were written against the declared ``Content-Length``, whether the body is chunked, and whether
the connection must close afterwards. The connection loop in :mod:`.http11` makes one per
request and hands it the app's result.

A body never goes past its declared length (the rest is dropped and the connection closes);
a response without a length is chunked on HTTP/1.1 and ends with the connection on HTTP/1.0;
a HEAD, 1xx, 204 or 304 answer has no body. The request is logged once, just before the bytes
that complete its answer go out, so a client holding its whole response finds it in the log.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

__all__ = ["ClientGone", "ResponseWriter", "REASONS"]

#: The standard reason phrase of each status code.
REASONS = {s.value: s.phrase for s in HTTPStatus}
_NO_BODY_STATUS = frozenset({204, 304})


class ClientGone(Exception):  # noqa: N818
    """The peer closed or reset the connection while we were writing."""


class ResponseWriter:
    """One WSGI response written to ``sock``: give :meth:`start_response` to the app, then
    :meth:`send` its result and :meth:`finish`.

    ``version`` is the request's HTTP version, ``head_only`` is True for a HEAD request,
    ``keep_alive`` whether the client lets the connection stay open; ``date()`` gives the
    ``Date`` header value and ``log(status)`` is called once per response (see the module).
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        version: str,
        head_only: bool,
        keep_alive: bool,
        date: Callable[[], bytes],
        log: Callable[[int], None],
    ) -> None:
        self.sock = sock
        self.version = version
        self.head_only = head_only
        self.keep_alive = keep_alive
        self.date = date
        self._log = log
        #: The status line and headers the app gave ``start_response`` (None before it did).
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        #: True once the status line and headers are written.
        self.sent = False
        #: The numeric status sent (0 before the head went out).
        self.code = 0
        #: The ``Content-Length`` the app declared (None: no length, chunked or until close).
        self.declared: int | None = None
        #: True when this answer carries no body (HEAD, 1xx, 204, 304).
        self.no_body = False
        #: Body bytes written so far.
        self.written = 0
        self.chunked = False
        #: The connection closes after this response (the app asked, or the body overran).
        self.close = False
        self.logged = False

    # -- the WSGI side ---------------------------------------------------------------------
    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """The WSGI ``start_response`` callable."""
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """Write body bytes (the head first, if not out yet); the WSGI ``write`` callable."""
        if not self.sent:
            self.send_head(data)
            return
        data = self._clip(data)
        if data:
            declared = self.declared
            if declared is not None and self.written + len(data) >= declared:
                self.log_once()
            self.written += len(data)
            self._send(self._frame(data))

    def send(self, result: Iterable[bytes]) -> None:
        """Write the app's whole ``result`` (zero-copy when it offers a ``sendfile_span``)."""
        span = getattr(result, "sendfile_span", None)
        if span is not None and self.status is not None and not self.head_only:
            self._sendfile(*span())
        else:
            for chunk in result:
                if chunk:
                    self.write(chunk)
        if not self.sent:
            self.send_head(b"")

    def finish(self) -> bool:
        """End the response (the last chunk, the log); True when the connection may serve
        another request: the body matched its length and nobody asked to close."""
        if self.chunked:
            self.log_once()
            self._send(b"0\r\n\r\n")
        self.log_once()
        declared = self.declared
        if declared is not None and not self.no_body and self.written != declared:
            return False  # the app lied about its length: the stream is out of step
        return not self.close and self.keep_alive

    def log_once(self, status: int | None = None) -> None:
        """Log the request once (with ``status``, default the one sent)."""
        if not self.logged:
            self.logged = True
            self._log(self.code if status is None else status)

    # -- the wire side ---------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def send_head(self, first: bytes) -> None:
        """Write the status line and headers, with ``first`` body bytes in the same send."""
        status = self.status
        if status is None:
            raise RuntimeError("WSGI app returned a body before calling start_response")
        code = self.code = int(status[:3])
        reason = REASONS.get(code) or status[4:]
        http10 = self.version == "HTTP/1.0"
        lines = [f"{'HTTP/1.0' if http10 else 'HTTP/1.1'} {code} {reason}\r\n"]
        declared = None
        for k, v in self.headers:
            kl = k.lower()
            if kl == "content-length":
                declared = int(v)
                continue
            if kl == "connection" and v.lower() == "close":
                self.close = True
                continue
            elif kl == "transfer-encoding":
                continue
            lines.append(f"{k}: {v}\r\n")
        no_body = self.head_only or code in _NO_BODY_STATUS or code < 200
        if declared is not None:
            lines.append(f"Content-Length: {declared}\r\n")
        elif not no_body:
            if self.version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                self.close = True
        self.declared = declared
        self.no_body = no_body
        if self.close or not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif http10:
            lines.append("Connection: keep-alive\r\n")
        lines.append("Date: ")
        out = "".join(lines).encode("latin-1") + self.date() + b"\r\n\r\n"
        self.sent = True
        first = self._clip(first)
        if no_body or (declared is not None and len(first) >= declared):
            self.log_once()  # the head (and this first chunk) is the whole answer
        if first:
            out += self._frame(first)
            self.written += len(first)
        self._send(out)

    def _clip(self, data: bytes) -> bytes:
        """What of ``data`` may go out: nothing for a bodiless answer, and never past the
        declared Content-Length (an app that says more than it declared loses the rest,
        and the connection closes after the answer)."""
        if self.no_body or not data:
            return b""
        declared = self.declared
        if declared is not None and self.written + len(data) > declared:
            self.close = True
            data = data[: declared - self.written]
        return data

    def _frame(self, data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data

    def _sendfile(self, f: Any, offset: int, count: int) -> None:
        """Zero-copy body from a file region (``sendfile(2)``), for bodies that offer one."""
        self.send_head(b"")
        if self.no_body or count <= 0:
            return
        declared = self.declared
        if declared is not None and self.written + count >= declared:
            self.log_once()  # this region completes the answer
        if self.chunked:
            self._send(b"%x\r\n" % count)
        try:
            sent = self.sock.sendfile(f, offset, count)
        except OSError as exc:
            raise ClientGone(str(exc)) from exc
        self.written += sent
        if sent != count:
            raise ClientGone(f"sendfile sent {sent} of {count} bytes")
        if self.chunked:
            self._send(b"\r\n")

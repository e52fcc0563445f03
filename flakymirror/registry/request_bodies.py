"""Request bodies as ``wsgi.input`` streams: a ``Content-Length`` body and a chunked one.

Both end exactly where the request body ends, so the app can read until EOF and the
connection stays in step for the next keep-alive request. A client that goes away mid-body
raises werkzeug's ``ClientDisconnected``; broken chunk framing raises ``BadRequest``.
"""

from __future__ import annotations

import io
from typing import Any

from werkzeug.exceptions import BadRequest, ClientDisconnected

__all__ = ["BodyReader", "ChunkedReader", "MAX_LINE"]

MAX_LINE = 65536
_READ = 65536


class _Body(io.RawIOBase):
    """What both request body streams share; subclasses define ``read``."""

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into a writable buffer; return the byte count."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        """The rest of the body."""
        return self.read(-1)


class BodyReader(_Body):
    """``wsgi.input`` for a body with a ``Content-Length``: EOF exactly at the end."""

    def __init__(self, rfile: io.BufferedReader, length: int) -> None:
        self._rfile = rfile
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left when negative); ``b''`` at the end."""
        n = self.remaining
        if n <= 0:
            return b""
        if size is not None and 0 <= size < n:
            n = size
        try:
            data = self._rfile.read(n)
        except OSError as exc:
            self.remaining = 0
            raise ClientDisconnected(f"client went away while sending the body: {exc}") from exc
        self.remaining -= len(data)
        if len(data) < n:
            self.remaining = 0
            raise ClientDisconnected(
                f"client closed the connection {n - len(data)} bytes before the end of the body"
            )
        return data

    def done(self) -> bool:
        """True when the whole body has been read."""
        return self.remaining <= 0

    def drain(self, limit: int) -> bool:
        """Read and discard the rest of the body; False if more than ``limit`` bytes remain."""
        if self.remaining > limit:
            return False
        while self.remaining > 0:
            self.read(_READ)
        return True


class ChunkedReader(_Body):
    """``wsgi.input`` for ``Transfer-Encoding: chunked``: decodes chunks as the app reads."""

    def __init__(self, rfile: io.BufferedReader) -> None:
        self._rfile = rfile
        self._left = 0  # bytes left in the current chunk
        self._eof = False
        self._broken = False  # after a framing error nothing more can be read safely

    def _readline(self) -> bytes:
        try:
            line = self._rfile.readline(MAX_LINE)
        except OSError as exc:
            raise ClientDisconnected(f"client went away while sending the body: {exc}") from exc
        if not line:
            raise ClientDisconnected("client closed the connection inside a chunked body")
        return line

    def _fail(self, message: str) -> BadRequest:
        self._broken = True
        return BadRequest(message)

    def _next_chunk(self) -> None:
        line = self._readline().split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise self._fail(f"malformed chunk size line {line[:40]!r} in a chunked body") from None
        if size < 0 or not line.isalnum():
            raise self._fail(f"malformed chunk size {line[:40]!r} in a chunked body")
        if size == 0:
            while self._readline() not in (b"\r\n", b"\n"):  # trailers
                pass
            self._eof = True
        self._left = size

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left when negative); ``b''`` at the end."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_READ), b""))
        if self._broken:
            raise BadRequest("the chunked body is malformed")
        if self._eof or size == 0:
            return b""
        if self._left == 0:
            self._next_chunk()
            if self._eof:
                return b""
        n = min(size, self._left)
        try:
            data = self._rfile.read(n)
        except OSError as exc:
            raise ClientDisconnected(f"client went away while sending the body: {exc}") from exc
        if len(data) < n:
            raise ClientDisconnected("client closed the connection inside a chunk")
        self._left -= n
        if self._left == 0 and self._readline() not in (b"\r\n", b"\n"):
            raise self._fail("chunk data not followed by CRLF in a chunked body")
        return data

    def done(self) -> bool:
        """True when the whole body has been read."""
        return self._eof

    def drain(self, limit: int) -> bool:
        """Read and discard the rest of the body; False if more than ``limit`` bytes remain."""
        if self._broken:
            return False
        seen = 0
        while not self._eof:
            seen += len(self.read(_READ))
            if seen > limit:
                return False
        return True

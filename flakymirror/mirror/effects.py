"""What each fault action does on the wire: one function per action kind, in :data:`EFFECTS`.

An effect gets the request context, the action and the response so far (``None`` before the
registry ran) and returns the response (or ``None`` for a "before" effect). Connection-level
effects raise :class:`~flakymirror.registry.CloseConnection`, which makes the server drop the
connection without writing anything more.

Timing under a virtual clock: delays, drips and stalls with a duration advance the mirror's
clock instead of waiting, so the response arrives at once but *later* on the mirror clock
(sync progresses accordingly). A stall without a duration waits for real until the mirror
stops or is reset, whatever the clock.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from flakymirror.mirror.actions import (
    Close,
    Corrupt,
    Delay,
    Drip,
    Garbage,
    Headers,
    Pass,
    Reset,
    Stall,
    Status,
    Truncate,
    WrongDigest,
)
from flakymirror.mirror.body_streams import Cursor, closing, garbage_chunks, rechunk
from flakymirror.mirror.clock import Clock
from flakymirror.mirror.match import Endpoint
from flakymirror.oci.protocol import API_VERSION_PAIR, error_body, error_entry
from flakymirror.registry.errors import CODES
from flakymirror.registry.server import CloseConnection

__all__ = ["EFFECTS", "Ctx", "Resp", "garbage_chunks", "reason"]

_LENGTH = re.compile(r"[0-9]{1,19}")

_HTML = (
    "<html>\n<head><title>{status} {reason}</title></head>\n<body>\n"
    "<center><h1>{status} {reason}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
)


def reason(status: int) -> str:
    """The standard reason phrase (``"Unknown"`` for unregistered codes)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class Resp:
    """A response being built: status, header list, body chunks."""

    status: int
    headers: list[tuple[str, str]]
    body: Iterable[bytes] = ()
    reason: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def remove(self, name: str) -> None:
        """Drop every header called ``name`` (case-insensitive)."""
        low = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != low]

    def set(self, name: str, value: str) -> None:
        """Replace every header called ``name`` by one with ``value``."""
        self.remove(name)
        self.headers.append((name, value))

    @property
    def length(self) -> int | None:
        """The declared ``Content-Length`` as an int (None when absent or not a number)."""
        value = self.header("Content-Length")
        return int(value) if value is not None and _LENGTH.fullmatch(value) else None

    @property
    def status_line(self) -> str:
        """``"<status> <reason>"`` as WSGI's ``start_response`` takes it."""
        return f"{self.status} {self.reason or reason(self.status)}"


@dataclass
class Ctx:
    """A request as the effects see it."""

    environ: dict[str, Any]
    method: str
    endpoint: Endpoint
    clock: Clock
    interrupt: threading.Event
    host_url: str
    #: Sends the response headers now (set once ``start_response`` ran).
    flush: Callable[[], None] = lambda: None
    notes: list[str] = field(default_factory=list)
    #: The damage done to the body's bytes, one word per effect as it happens (the mirror
    #: hands its journal entry's list here): ``truncated``, ``corrupted``, ``garbage``.
    damage: list[str] = field(default_factory=list)


Effect = Callable[[Ctx, Any, "Resp | None"], "Resp | None"]


# -- before the registry ---------------------------------------------------------------------
def _pass(ctx: Ctx, action: Pass, resp: Resp | None) -> Resp | None:
    return resp


def _delay(ctx: Ctx, action: Delay, resp: Resp | None) -> None:
    ctx.clock.pause(action.seconds, ctx.interrupt)
    return None


# -- answers -------------------------------------------------------------------------------
def _default_code(status: int, kind: str) -> str:
    if status == 404:
        return {"manifest": "MANIFEST_UNKNOWN", "blob": "BLOB_UNKNOWN"}.get(
            kind, "BLOB_UPLOAD_UNKNOWN" if kind == "upload" else "NAME_UNKNOWN"
        )
    by_status = {
        401: "UNAUTHORIZED",
        403: "DENIED",
        405: "UNSUPPORTED",
        416: "RANGE_INVALID",
        429: "TOOMANYREQUESTS",
        503: "UNAVAILABLE",
    }
    return by_status.get(status, "UNKNOWN")


def _challenge(ctx: Ctx, value: str) -> str:
    repo = ctx.endpoint.repo
    if value.lower() == "bearer":
        scope = f',scope="repository:{repo}:pull"' if repo else ""
        return f'Bearer realm="{ctx.host_url}/token",service="flakymirror"{scope}'
    if value.lower() == "basic":
        return 'Basic realm="flakymirror"'
    return value


def _status(ctx: Ctx, action: Status, resp: Resp | None) -> Resp:
    status = action.status
    headers: list[tuple[str, str]] = []
    if action.body == "oci":
        code = action.code or _default_code(status, ctx.endpoint.kind)
        message = action.message or (CODES[code][1] if code in CODES else reason(status))
        body = error_body([error_entry(code, message, action.detail)])
        headers.append(("Content-Type", "application/json; charset=utf-8"))
        headers.append(API_VERSION_PAIR)
    elif action.body == "text":
        body = (action.text if action.text is not None else f"{status} {reason(status)}\n").encode()
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
    elif action.body == "html":
        text = action.text or _HTML.format(status=status, reason=reason(status))
        body = text.encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    else:
        body = b""
    if action.retry_after is not None:
        if action.retry_after_format == "http-date":
            value = formatdate(ctx.clock.now() + action.retry_after, usegmt=True)
        else:
            ra = action.retry_after
            value = str(int(ra)) if float(ra).is_integer() else f"{ra:g}"
        headers.append(("Retry-After", value))
    if action.www_authenticate is not None:
        headers.append(("WWW-Authenticate", _challenge(ctx, action.www_authenticate)))
    headers.extend(action.headers.items())
    if status in (204, 304):  # a response that never has a body (RFC 9110 15.3.5, 15.4.5)
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        return Resp(status, headers, [])
    headers.append(("Content-Length", str(len(body))))
    return Resp(status, headers, [body] if ctx.method != "HEAD" else [])


def _socket(ctx: Ctx) -> socket.socket | None:
    return ctx.environ.get("werkzeug.socket")


def _reset(ctx: Ctx, action: Reset | None, resp: Resp | None) -> Resp:
    sock = _socket(ctx)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raise CloseConnection("connection reset by a fault rule")


def _close(ctx: Ctx, action: Close, resp: Resp | None) -> Resp:
    raise CloseConnection("connection closed by a fault rule")


def _garbage(ctx: Ctx, action: Garbage, resp: Resp | None) -> Resp:
    ctx.damage.append("garbage")
    sock = _socket(ctx)
    if sock is not None:
        with contextlib.suppress(OSError):
            for chunk in garbage_chunks(action.size, action.seed):
                if ctx.interrupt.is_set():
                    break
                sock.sendall(chunk)
    raise CloseConnection("garbage sent by a fault rule")


# -- transforms of the response ------------------------------------------------------------
def _sized_body(resp: Resp) -> tuple[Iterable[bytes], int]:
    """The body and its length; a body with no declared length is read whole to learn it."""
    body, length = resp.body, resp.length
    if length is None:
        data = b"".join(body)
        body, length = [data], len(data)
    return body, length


def _headers(ctx: Ctx, action: Headers, resp: Resp | None) -> Resp:
    assert resp is not None
    declared = resp.length
    for name in action.remove:
        resp.remove(name)
    for name, value in action.set.items():
        resp.set(name, value)
    length = resp.length
    if length is not None and any(k.lower() == "content-length" for k in action.set):
        # a shorter length than the body's: send only that many bytes, as declared
        resp.body = closing(resp.body, _cut_to(ctx, resp.body, length, declared))
    return resp


def _cut_to(ctx: Ctx, body: Iterable[bytes], length: int, declared: int | None) -> Iterator[bytes]:
    """The first ``length`` bytes of ``body``; ``truncated`` when that cut the body (known at
    once from the length it declared before, else once the cut is reached)."""
    if declared is not None and length < declared and ctx.method != "HEAD":
        ctx.damage.append("truncated")
    cursor = Cursor(body)
    yield from cursor.take(length)
    if declared is None and ctx.method != "HEAD" and not cursor.at_end():
        ctx.damage.append("truncated")


def _wrong_digest(ctx: Ctx, action: WrongDigest, resp: Resp | None) -> Resp:
    assert resp is not None
    resp.set("Docker-Content-Digest", action.value())
    return resp


def _drip(ctx: Ctx, action: Drip, resp: Resp | None) -> Resp:
    assert resp is not None
    if ctx.method == "HEAD":
        return resp  # no body to drip
    body, length = _sized_body(resp)

    def drip() -> Iterator[bytes]:
        ctx.flush()
        n = max(1, min(action.chunks, length)) if length else 1
        base, extra = divmod(length or 0, n)
        sizes = [base + (1 if i < extra else 0) for i in range(n)]
        gap = action.seconds / n
        for piece in rechunk(body, sizes):
            if not ctx.clock.pause(gap, ctx.interrupt):
                raise CloseConnection("server stopping")
            if piece:
                yield piece

    resp.body = closing(resp.body, drip())
    return resp


def _truncate(ctx: Ctx, action: Truncate, resp: Resp | None) -> Resp:
    assert resp is not None
    cursor = Cursor(resp.body)

    def cut() -> Iterator[bytes]:
        ctx.flush()
        yield from cursor.take(action.after)
        if cursor.at_end():
            return  # the body was not longer than the cut: nothing to truncate
        ctx.damage.append("truncated")
        if action.reset:
            _reset(ctx, None, None)
        raise CloseConnection("response truncated by a fault rule")

    resp.body = closing(resp.body, cut())
    return resp


def _corrupt(ctx: Ctx, action: Corrupt, resp: Resp | None) -> Resp:
    assert resp is not None
    body, length = _sized_body(resp)
    if action.offset is None:
        start = length // 2
    elif action.offset < 0:
        start = max(0, length + action.offset)
    else:
        start = action.offset
    end = min(length, start + action.count)

    def flip() -> Iterator[bytes]:
        pos = 0
        for chunk in body:
            lo, hi = max(start, pos), min(end, pos + len(chunk))
            if lo < hi:
                if pos <= start:  # the first flipped byte
                    ctx.damage.append("corrupted")
                buf = bytearray(chunk)
                for i in range(lo - pos, hi - pos):
                    buf[i] ^= action.xor
                chunk = bytes(buf)
            pos += len(chunk)
            yield chunk

    resp.body = closing(resp.body, flip())
    return resp


def _cut(ctx: Ctx, cursor: Cursor) -> None:
    """Record ``truncated`` when closing now leaves body bytes unsent."""
    if not cursor.at_end():
        ctx.damage.append("truncated")


def _stall(ctx: Ctx, action: Stall, resp: Resp | None) -> Resp:
    assert resp is not None
    cursor = Cursor(resp.body)

    def stall() -> Iterator[bytes]:
        ctx.flush()
        yield from cursor.take(action.after)
        if action.seconds is None:
            ctx.interrupt.wait()
            _cut(ctx, cursor)
            raise CloseConnection("stall ended by server stop or mirror reset")
        if not ctx.clock.pause(action.seconds, ctx.interrupt) or action.then == "close":
            _cut(ctx, cursor)
            raise CloseConnection("stalled response closed")
        yield from cursor.rest()

    resp.body = closing(resp.body, stall())
    return resp


EFFECTS: dict[type, Effect] = {
    Pass: _pass,
    Delay: _delay,
    Status: _status,
    Reset: _reset,
    Close: _close,
    Garbage: _garbage,
    Headers: _headers,
    WrongDigest: _wrong_digest,
    Drip: _drip,
    Truncate: _truncate,
    Corrupt: _corrupt,
    Stall: _stall,
}

"""Body stream helpers for the fault effects: cutting, re-chunking and generating bodies
without holding them in memory."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

__all__ = ["GARBAGE_CHUNK", "Cursor", "closing", "garbage_chunks", "rechunk"]

GARBAGE_CHUNK = 1 << 16


def garbage_chunks(size: int, seed: int) -> Iterator[bytes]:
    """``size`` pseudo-random bytes from ``seed``, in pieces of at most 64 KiB."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(left, GARBAGE_CHUNK)
        left -= n
        yield rng.randbytes(n)


def closing(inner: Iterable[bytes], outer: Iterator[bytes]) -> Iterator[bytes]:
    """``outer`` (a transform of ``inner``) that closes ``inner`` when it ends or is closed,
    so a file the registry opened for a body is released whatever the fault did."""
    try:
        yield from outer
    finally:
        close = getattr(inner, "close", None)
        if close is not None:
            close()


def rechunk(body: Iterable[bytes], sizes: list[int]) -> Iterator[bytes]:
    """Yield pieces of exactly ``sizes`` (the last one gets whatever remains)."""
    buf = bytearray()
    it = iter(body)
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        while last or len(buf) < size:
            chunk = next(it, None)
            if chunk is None:
                break
            buf += chunk
        take = len(buf) if last else size
        piece, buf = bytes(buf[:take]), buf[take:]
        yield piece


class Cursor:
    """Reads a body stream in two parts: the first ``n`` bytes, then the rest."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self._it = iter(body)
        self._pending = b""

    def take(self, n: int) -> Iterator[bytes]:
        """Yield the next ``n`` bytes (fewer if the body ends first)."""
        sent = 0
        while sent < n:
            chunk = self._pending or next(self._it, None)
            self._pending = b""
            if chunk is None:
                return
            room = n - sent
            if len(chunk) > room:
                chunk, self._pending = chunk[:room], chunk[room:]
            sent += len(chunk)
            if chunk:
                yield chunk

    def at_end(self) -> bool:
        """Whether nothing is left to read (reads ahead one chunk to know)."""
        while not self._pending:
            chunk = next(self._it, None)
            if chunk is None:
                return True
            self._pending = chunk
        return False

    def rest(self) -> Iterator[bytes]:
        """Yield whatever is left."""
        if self._pending:
            yield self._pending
            self._pending = b""
        yield from self._it

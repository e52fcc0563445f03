"""Streaming compressors for layer blobs: gzip (zlib), zstd (raw-block frames), none.

All of them take an iterable of byte pieces and yield output pieces without ever holding the
whole stream. Output is deterministic: gzip headers carry mtime 0 and no file name.

zstd: Python 3.11's standard library has no zstd codec, so :func:`zstd_frames` writes a valid
zstd frame (RFC 8878) made of *raw* (stored) blocks. Any zstd decoder reads it; it is simply
not smaller than its input.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

__all__ = ["COMPRESSIONS", "compress_stream", "coalesce", "gzip_stream", "zstd_frames"]

#: Compression names accepted by the builders.
COMPRESSIONS = ("gzip", "zstd", "none")
#: Pieces smaller than this are joined before being yielded.
COALESCE_SIZE = 256 * 1024

_ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)
# Frame_Header_Descriptor 0: no content size, not single-segment, no checksum, no dictionary.
# Window_Descriptor 0x38: exponent 7 -> window 2**17 = 128 KiB = the largest block size.
_ZSTD_HEADER = _ZSTD_MAGIC + bytes([0x00, 0x38])
_ZSTD_BLOCK = 128 * 1024


def coalesce(pieces: Iterable[bytes], size: int = COALESCE_SIZE) -> Iterator[bytes]:
    """Join small pieces into chunks of at least ``size`` bytes (large pieces pass unchanged)."""
    buf: list[bytes] = []
    held = 0
    for piece in pieces:
        if not piece:
            continue
        if not buf and len(piece) >= size:
            yield piece
            continue
        buf.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buf)
            buf, held = [], 0
    if buf:
        yield b"".join(buf)


def gzip_stream(pieces: Iterable[bytes], level: int = 1) -> Iterator[bytes]:
    """gzip-compress a stream (wbits=31: gzip header with mtime 0, OS byte 'unknown')."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    for piece in pieces:
        out = c.compress(piece)
        if out:
            yield out
    yield c.flush()


def zstd_frames(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Wrap a stream in one zstd frame of raw blocks of at most 128 KiB."""
    yield _ZSTD_HEADER
    pending = bytearray()
    for piece in pieces:
        pending += piece
        # keep at least one byte back so the final block can carry the Last_Block flag
        while len(pending) > _ZSTD_BLOCK:
            block = bytes(pending[:_ZSTD_BLOCK])
            del pending[:_ZSTD_BLOCK]
            yield _zstd_block_header(len(block), last=False) + block
    yield _zstd_block_header(len(pending), last=True) + bytes(pending)


def _zstd_block_header(size: int, *, last: bool) -> bytes:
    # Block_Header: bit 0 Last_Block, bits 1-2 Block_Type (0 = Raw_Block), bits 3-23 Block_Size
    return (size << 3 | int(last)).to_bytes(3, "little")


def compress_stream(
    pieces: Iterable[bytes], compression: str, *, gzip_level: int = 1
) -> Iterator[bytes]:
    """Compress ``pieces`` with ``compression`` (one of :data:`COMPRESSIONS`), coalesced."""
    if compression == "gzip":
        return coalesce(gzip_stream(pieces, gzip_level))
    if compression == "zstd":
        return coalesce(zstd_frames(pieces))
    if compression == "none":
        return coalesce(pieces)
    raise ValueError(f"unknown compression {compression!r} (expected one of {COMPRESSIONS})")

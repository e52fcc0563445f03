"""Append-only byte buffers that move to disk past a small size, and blob contents.

A :class:`Spool` holds an upload in progress: bytes in memory until ``threshold``, then a file
in the store's directory, so a 1 GiB push never lives in memory. Between writes its file can be
closed (:meth:`Spool.park`), so an upload session waiting for its next chunk holds no file
descriptor. A finished spool becomes a :class:`Content` (in memory when small, else the file
itself, renamed into place).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator

__all__ = ["CHUNK", "MEMORY_THRESHOLD", "Content", "Spool"]

#: Size of the chunks blob bodies are streamed in.
CHUNK = 64 * 1024
#: Blobs and uploads up to this size stay in memory.
MEMORY_THRESHOLD = 1 << 20


class Spool:
    """An append-only buffer: memory first, a file in ``directory`` past ``threshold`` bytes.

    ``directory`` may be a callable, asked only when the data first moves to disk."""

    def __init__(
        self, directory: str | Callable[[], str], threshold: int = MEMORY_THRESHOLD
    ) -> None:
        self.directory = directory
        self.threshold = threshold
        self._mem: io.BytesIO | None = io.BytesIO()
        self._file: io.BufferedRandom | None = None
        self.path: str | None = None
        self.size = 0

    @property
    def on_disk(self) -> bool:
        """True once the data moved to a file."""
        return self._mem is None and self.path is not None

    def _opened(self) -> io.BufferedRandom:
        """The spool's file, opened again if it was parked."""
        if self._file is None:
            assert self.path is not None
            self._file = open(self.path, "r+b")  # noqa: SIM115 - closed by park/finish/discard
        return self._file

    def park(self) -> None:
        """Close the file until the next write (its content stays); no-op in memory."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        if not data:
            return
        if self._mem is not None and self.size + len(data) > self.threshold:
            where = self.directory() if callable(self.directory) else self.directory
            fd, self.path = tempfile.mkstemp(prefix="upload-", dir=where)
            self._file = os.fdopen(fd, "w+b")
            self._file.write(self._mem.getbuffer())
            self._mem = None
        if self._mem is None:
            f = self._opened()
            f.seek(0, os.SEEK_END)
            f.write(data)
        else:
            self._mem.write(data)
        self.size += len(data)

    def truncate(self, size: int) -> None:
        """Drop everything after ``size`` bytes (undo a chunk that did not arrive whole)."""
        if size >= self.size:
            return
        target = self._mem if self._mem is not None else self._opened()
        target.truncate(size)
        target.seek(size)
        self.size = size

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The content so far, in chunks (reads the file; does not move the write position)."""
        if self._mem is not None:
            view = self._mem.getbuffer()
            try:
                for start in range(0, self.size, chunk_size):
                    yield bytes(view[start : start + chunk_size])
            finally:
                view.release()
            return
        assert self.path is not None
        if self._file is not None:
            self._file.flush()
        with open(self.path, "rb") as f:
            left = self.size
            while left > 0:
                data = f.read(min(chunk_size, left))
                if not data:
                    break
                left -= len(data)
                yield data

    def finish(self, final_path: str | None) -> Content:
        """Turn the spool into a :class:`Content`; a file moves to ``final_path`` when given."""
        if self._mem is not None:
            data = self._mem.getvalue()
            self._mem = None
            return Content(len(data), data=data)
        assert self.path is not None
        self.park()
        path = self.path
        if final_path is not None:
            os.replace(path, final_path)
            path = final_path
        self.path = None
        return Content(self.size, path=path)

    def discard(self) -> None:
        """Free memory and delete the file, if any."""
        self._mem = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None


class Content:
    """The bytes of one blob: ``data`` in memory or a file at ``path``."""

    __slots__ = ("size", "data", "path", "repos")

    def __init__(self, size: int, *, data: bytes | None = None, path: str | None = None) -> None:
        self.size = size
        self.data = data
        self.path = path
        self.repos: set[str] = set()

    def open(
        self, start: int = 0, end: int | None = None, chunk_size: int = CHUNK
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` as an iterator of chunks. A file is opened now, so a later
        delete (unlink) does not break a download already under way."""
        end = self.size if end is None else min(end, self.size)
        start = max(0, start)
        if self.data is not None:
            return _memory_chunks(self.data, start, end, chunk_size)
        assert self.path is not None
        f = open(self.path, "rb")  # noqa: SIM115 - closed by the generator
        return _FileChunks(f, start, end, chunk_size)

    def remove(self) -> None:
        """Delete the backing file (readers that already opened it keep reading)."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _memory_chunks(data: bytes, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
    if start == 0 and end == len(data) and end <= chunk_size:
        if end:
            yield data
        return
    view = memoryview(data)
    for pos in range(start, end, chunk_size):
        yield bytes(view[pos : min(pos + chunk_size, end)])


class _FileChunks:
    """Iterator over part of an open file; ``close()`` (or exhaustion) closes the file."""

    def __init__(self, f: io.BufferedReader, start: int, end: int, chunk_size: int) -> None:
        self._f: io.BufferedReader | None = f
        f.seek(start)
        self._left = end - start
        self._chunk = chunk_size

    def __iter__(self) -> _FileChunks:
        return self

    def sendfile_span(self) -> tuple[io.BufferedReader, int, int]:
        """``(file, offset, count)`` of what is left, for a zero-copy ``sendfile``; the
        iterator is spent afterwards (the caller sends the bytes, then calls ``close``)."""
        if self._f is None:
            raise ValueError("file chunks already closed")
        offset, count = self._f.tell(), self._left
        self._left = 0
        return self._f, offset, count

    def __next__(self) -> bytes:
        f = self._f
        if f is None:
            raise StopIteration
        if self._left <= 0:
            self.close()
            raise StopIteration
        data = f.read(min(self._chunk, self._left))
        if not data:
            name = f.name
            self.close()
            raise OSError(f"blob file {name} ended {self._left} bytes early")
        self._left -= len(data)
        return data

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._f is not None:
            self._f.close()
            self._f = None

    def __del__(self) -> None:
        self.close()

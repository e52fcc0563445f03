"""Blob upload sessions: one spool per session, hashed as it grows."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable

from ..oci.digest import Digest, Hasher
from .spool import Spool

__all__ = ["Upload", "UploadTable"]


class Upload:
    """One upload session: ``repo``, ``uuid``, the bytes so far and a running sha256."""

    def __init__(
        self, repo: str, directory: str | Callable[[], str], algorithm: str = "sha256"
    ) -> None:
        self.repo = repo
        self.uuid = str(uuid.uuid4())
        self.spool = Spool(directory)
        self.algorithm = algorithm
        self.lock = threading.RLock()
        self._hasher: Hasher | None = Hasher(algorithm)
        self.closed = False

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self.spool.size

    def range_header(self) -> str:
        """The ``Range`` response value: ``0-<last byte>`` (``0-0`` when empty, as distribution)."""
        return f"0-{max(self.size - 1, 0)}"

    def write(self, data: bytes) -> None:
        """Append bytes."""
        self.spool.write(data)
        if self._hasher is not None:
            self._hasher.update(data)

    def write_stream(self, chunks: Iterable[bytes]) -> int:
        """Append every chunk; return how many bytes were added."""
        before = self.size
        for chunk in chunks:
            self.write(chunk)
        return self.size - before

    def rollback(self, size: int) -> None:
        """Forget everything after ``size`` bytes (a chunk that did not arrive whole)."""
        if size < self.size:
            self.spool.truncate(size)
            self._hasher = None  # recomputed from the spool when needed

    def digest(self, algorithm: str = "sha256") -> Digest:
        """Digest of the bytes so far."""
        if algorithm == self.algorithm and self._hasher is not None:
            return self._hasher.digest()
        h = Hasher(algorithm)
        for chunk in self.spool.chunks():
            h.update(chunk)
        if algorithm == self.algorithm:
            self._hasher = h
        return h.digest()

    def discard(self) -> None:
        """Free the spool."""
        self.closed = True
        self.spool.discard()


class UploadTable:
    """Live sessions by uuid; thread-safe."""

    def __init__(self, directory: str | Callable[[], str]) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._sessions: dict[str, Upload] = {}

    def start(self, repo: str, algorithm: str = "sha256") -> Upload:
        """Open a new session for ``repo``."""
        up = Upload(repo, self.directory, algorithm)
        with self._lock:
            self._sessions[up.uuid] = up
        return up

    def get(self, repo: str, upload_id: str) -> Upload | None:
        """The live session ``upload_id`` of ``repo``, or None."""
        up = self._sessions.get(upload_id)
        if up is None or up.repo != repo or up.closed:
            return None
        return up

    def end(self, upload_id: str) -> Upload | None:
        """Remove a session from the table (the caller commits or discards its spool)."""
        with self._lock:
            return self._sessions.pop(upload_id, None)

    def cancel(self, repo: str, upload_id: str) -> bool:
        """Cancel and discard a session; False when it does not exist."""
        with self._lock:
            up = self._sessions.get(upload_id)
            if up is None or up.repo != repo:
                return False
            del self._sessions[upload_id]
        with up.lock:
            up.discard()
        return True

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        """Discard every session."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for up in sessions:
            up.discard()

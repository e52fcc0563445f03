"""Blob upload sessions: one spool per session, hashed as it grows, and bounded.

What uploads may cost is a value, :class:`UploadLimits`: a session idle for ``idle_ttl``
seconds (wall time, like the server's socket timeouts) expires and its spool is deleted; a
session may hold ``max_session_bytes`` (more is ``413 SIZE_INVALID``) and all live sessions
together ``max_total_bytes`` (more is ``403 DENIED``, the harness's own limit, journaled as
such); a session keeps at most ``memory_bytes`` in memory, the rest goes to its spool file,
and all sessions together keep at most ``memory_total_bytes`` in memory (a session started
past that spools to disk from its first byte). A session's spool file is closed between
requests, so sessions waiting for their next chunk hold no file descriptors.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..oci.digest import Digest, Hasher
from .admission import monotonic
from .errors import RegistryError
from .spool import Spool

__all__ = ["DEFAULT_UPLOAD_LIMITS", "Upload", "UploadLimits", "UploadTable"]

GiB = 1 << 30


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on upload sessions (see the module docstring)."""

    idle_ttl: float = 600.0
    max_session_bytes: int = 16 * GiB
    max_total_bytes: int = 64 * GiB
    memory_bytes: int = 256 * 1024
    memory_total_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.idle_ttl < float("inf"):
            raise ValueError(
                f"UploadLimits.idle_ttl must be above 0 and finite, got {self.idle_ttl!r}"
            )
        for name in ("max_session_bytes", "max_total_bytes", "memory_bytes", "memory_total_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"UploadLimits.{name} must be an integer >= 0, got {value!r}")


#: The upload limits a store has unless given others.
DEFAULT_UPLOAD_LIMITS = UploadLimits()


class Upload:
    """One upload session: ``repo``, ``uuid``, the bytes so far and a running sha256."""

    def __init__(
        self,
        repo: str,
        directory: str | Callable[[], str],
        algorithm: str = "sha256",
        table: UploadTable | None = None,
        memory: int | None = None,
    ) -> None:
        self.repo = repo
        self.uuid = str(uuid.uuid4())
        self._table = table
        limits = table.limits if table is not None else DEFAULT_UPLOAD_LIMITS
        #: The memory this session holds reserved in its table (0 once its spool is on disk).
        self.memory = limits.memory_bytes if memory is None else memory
        self.spool = Spool(directory, self.memory)
        self.algorithm = algorithm
        self.lock = threading.RLock()
        self._hasher: Hasher | None = Hasher(algorithm)
        self.closed = False
        #: When the table last handed the session out (monotonic wall seconds).
        self.used = monotonic()

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self.spool.size

    def range_header(self) -> str:
        """The ``Range`` response value: ``0-<last byte>`` (``0-0`` when empty, as distribution)."""
        return f"0-{max(self.size - 1, 0)}"

    def write(self, data: bytes) -> None:
        """Append bytes (``RegistryError`` past the session's or the table's byte limit)."""
        self.write_stream((data,))

    def write_stream(self, chunks: Iterable[bytes]) -> int:
        """Append every chunk; return how many bytes were added. The spool's file is closed
        again afterwards, also when a chunk is refused or the stream fails."""
        before = self.size
        table = self._table
        try:
            for data in chunks:
                if table is not None:
                    table.reserve(self, len(data))
                self.spool.write(data)
                if self._hasher is not None:
                    self._hasher.update(data)
        finally:
            if self.memory and self.spool.on_disk:
                self._free_memory()
            self.spool.park()
        return self.size - before

    def _free_memory(self) -> None:
        """Give the session's memory reservation back to its table."""
        if self._table is not None and self.memory:
            self._table.release_memory(self.memory)
        self.memory = 0

    def rollback(self, size: int) -> None:
        """Forget everything after ``size`` bytes (a chunk that did not arrive whole)."""
        if size < self.size:
            if self._table is not None:
                self._table.release(self.size - size)
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
        if self._table is not None and not self.closed:
            self._table.release(self.size)
            self._free_memory()
        self.closed = True
        self.spool.discard()


class UploadTable:
    """Live sessions by uuid, least recently used first; thread-safe and bounded."""

    def __init__(
        self, directory: str | Callable[[], str], limits: UploadLimits | None = None
    ) -> None:
        self.directory = directory
        self.limits = limits if limits is not None else DEFAULT_UPLOAD_LIMITS
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Upload] = OrderedDict()
        #: Bytes held by live sessions.
        self.total_bytes = 0
        #: Sessions that expired idle (their spools deleted).
        self.expired = 0
        #: Memory reserved by sessions whose spools are still in memory.
        self.memory_reserved = 0

    def _expire(self, now: float) -> list[Upload]:
        """Drop the sessions idle past the TTL (under the lock); the caller discards them."""
        gone = []
        ttl = self.limits.idle_ttl
        while self._sessions:
            uid, up = next(iter(self._sessions.items()))
            if now - up.used < ttl:
                break
            del self._sessions[uid]
            gone.append(up)
        self.expired += len(gone)
        return gone

    def _discard(self, gone: list[Upload]) -> None:
        for up in gone:
            with up.lock:
                up.discard()

    def start(self, repo: str, algorithm: str = "sha256") -> Upload:
        """Open a new session for ``repo`` (sessions idle past the TTL expire first)."""
        with self._lock:
            now = monotonic()
            gone = self._expire(now)
            share = self.limits.memory_bytes
            if self.memory_reserved + share > self.limits.memory_total_bytes:
                share = 0  # the memory budget is spent: this one spools to disk at once
            self.memory_reserved += share
            up = Upload(repo, self.directory, algorithm, table=self, memory=share)
            up.used = now
            self._sessions[up.uuid] = up
        self._discard(gone)
        return up

    def get(self, repo: str, upload_id: str) -> Upload | None:
        """The live session ``upload_id`` of ``repo``, or None (an expired one is gone)."""
        with self._lock:
            gone = self._expire(monotonic())
            up = self._sessions.get(upload_id)
            if up is not None and up.repo == repo and not up.closed:
                self._sessions.move_to_end(upload_id)
                up.used = monotonic()
            else:
                up = None
        self._discard(gone)
        return up

    def reserve(self, up: Upload, n: int) -> None:
        """Count ``n`` more bytes for ``up``, or refuse them (413 for the session, 403 for
        the total: nothing is written)."""
        limits = self.limits
        if up.size + n > limits.max_session_bytes:
            raise RegistryError(
                "SIZE_INVALID",
                f"upload over {limits.max_session_bytes} bytes, this registry's limit per "
                "session (UploadLimits.max_session_bytes)",
                status=413,
            )
        with self._lock:
            if self.total_bytes + n > limits.max_total_bytes:
                raise RegistryError(
                    "DENIED",
                    f"uploads in progress hold {self.total_bytes} bytes; "
                    f"{limits.max_total_bytes} is this registry's limit "
                    "(UploadLimits.max_total_bytes)",
                    limit="uploads",
                )
            self.total_bytes += n

    def release(self, n: int) -> None:
        """Forget ``n`` bytes (a session discarded, committed or rolled back)."""
        with self._lock:
            self.total_bytes = max(0, self.total_bytes - n)

    def release_memory(self, n: int) -> None:
        """Give back ``n`` bytes of memory reserved by a session."""
        with self._lock:
            self.memory_reserved = max(0, self.memory_reserved - n)

    def end(self, upload_id: str) -> Upload | None:
        """Remove a session from the table (the caller commits or discards its spool)."""
        with self._lock:
            up = self._sessions.pop(upload_id, None)
            if up is not None:
                self.total_bytes = max(0, self.total_bytes - up.size)
                self.memory_reserved = max(0, self.memory_reserved - up.memory)
                up.memory = 0
                up._table = None  # its bytes are no longer the table's to count
        return up

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
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for up in sessions:
            up.discard()

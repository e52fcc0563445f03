"""Blobs: content with a media type, a digest and a size, readable as a stream of chunks.

:class:`BytesBlob` holds small content (configs, manifests). :class:`Layer` generates its bytes
on every :meth:`~Layer.chunks` call from a deterministic tar source and computes its digests
(compressed ``digest``/``size`` and uncompressed ``diff_id``/``uncompressed_size``) lazily in
one streaming pass, so a 1 GiB layer never sits in memory.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import mediatypes as mt
from .compress import COMPRESSIONS, compress_stream
from .digest import Digest, DigestMismatch, Hasher
from .model import Descriptor

__all__ = ["CACHE_LIMIT", "READ_LIMIT", "Blob", "BytesBlob", "Layer", "layer_media_type"]

#: :meth:`Blob.read` refuses blobs larger than this (stream them with ``chunks()``).
READ_LIMIT = 64 * 1024 * 1024
#: Layers whose compressed bytes fit in this many bytes keep them after the first pass.
CACHE_LIMIT = 1024 * 1024

_LAYER_TYPES = {
    ("oci", "gzip"): mt.OCI_LAYER_GZIP,
    ("oci", "zstd"): mt.OCI_LAYER_ZSTD,
    ("oci", "none"): mt.OCI_LAYER,
    ("docker", "gzip"): mt.DOCKER_LAYER,
    ("docker", "none"): mt.DOCKER_LAYER_UNCOMPRESSED,
}


def layer_media_type(flavor: str, compression: str) -> str:
    """The layer media type for ``flavor`` ("oci"/"docker") and ``compression``."""
    if flavor not in ("oci", "docker"):
        raise ValueError(f"unknown flavor {flavor!r} (expected 'oci' or 'docker')")
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r} (expected one of {COMPRESSIONS})")
    try:
        return _LAYER_TYPES[(flavor, compression)]
    except KeyError:
        raise ValueError(
            f"compression {compression!r} is not available for flavor {flavor!r}: "
            "Docker schema 2 has no zstd layer media type (use flavor='oci')"
        ) from None


class Blob(ABC):
    """Content addressed by digest. ``chunks()`` may be called any number of times."""

    media_type: str

    @property
    @abstractmethod
    def digest(self) -> Digest:
        """Digest of the bytes :meth:`chunks` yields."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Number of bytes :meth:`chunks` yields."""

    @abstractmethod
    def chunks(self) -> Iterator[bytes]:
        """The content, as a fresh iterator of byte chunks."""

    def read(self, limit: int = READ_LIMIT) -> bytes:
        """The whole content; refuses blobs larger than ``limit`` (use :meth:`chunks`)."""
        if self.size > limit:
            raise ValueError(
                f"blob {self.digest.short()} is {self.size} bytes, more than read() allows "
                f"({limit}); stream it with chunks()"
            )
        return b"".join(self.chunks())

    def descriptor(self, **fields: Any) -> Descriptor:
        """A descriptor of this blob (``fields`` adds e.g. ``annotations=``)."""
        return Descriptor(self.media_type, self.digest, self.size, **fields)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str) -> BytesBlob:
        """A blob holding ``data``."""
        return BytesBlob(data, media_type)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.media_type} {self.digest.short()} {self.size} B>"


class BytesBlob(Blob):
    """A small blob held in memory."""

    def __init__(self, data: bytes, media_type: str) -> None:
        self.data = bytes(data)
        self.media_type = media_type
        self._digest = Digest.of(self.data)

    @property
    def digest(self) -> Digest:
        """The sha256 digest of the bytes."""
        return self._digest

    @property
    def size(self) -> int:
        """The length of the bytes."""
        return len(self.data)

    def chunks(self) -> Iterator[bytes]:
        """The bytes as a single chunk."""
        yield self.data

    def read(self, limit: int = READ_LIMIT) -> bytes:
        """The bytes (``limit`` is not needed: they are already in memory)."""
        return self.data


class Layer(Blob):
    """A layer blob generated from a tar source.

    ``tar_source()`` must return a fresh iterable of the *uncompressed* tar bytes, identical on
    every call. The first access to ``digest``, ``size``, ``diff_id`` or ``uncompressed_size``
    runs one pass over the stream (thread-safe, cached). With ``verify=True`` every later
    :meth:`chunks` stream is re-hashed and raises :class:`DigestMismatch` at its end if the
    source changed (useful when the source is a directory on disk).
    """

    def __init__(
        self,
        tar_source: Callable[[], Iterable[bytes]],
        *,
        media_type: str = mt.OCI_LAYER_GZIP,
        compression: str = "gzip",
        gzip_level: int = 1,
        cache_limit: int = CACHE_LIMIT,
        verify: bool = False,
        description: str = "",
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(
                f"unknown compression {compression!r} (expected one of {COMPRESSIONS})"
            )
        if not 0 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be 0..9, got {gzip_level!r}")
        self.media_type = media_type
        self.compression = compression
        self.gzip_level = gzip_level
        self.description = description
        self._source = tar_source
        self._cache_limit = cache_limit
        self._verify = verify
        self._lock = threading.Lock()
        self._facts: tuple[Digest, int, Digest, int] | None = None
        self._cached: bytes | None = None

    def uncompressed_chunks(self) -> Iterator[bytes]:
        """The uncompressed tar stream (whose digest is :attr:`diff_id`)."""
        yield from self._source()

    def _compressed(self) -> Iterator[bytes]:
        return compress_stream(self._source(), self.compression, gzip_level=self.gzip_level)

    def _ensure(self) -> tuple[Digest, int, Digest, int]:
        facts = self._facts
        if facts is not None:
            return facts
        with self._lock:
            if self._facts is None:
                self._facts = self._measure()
            return self._facts

    def _measure(self) -> tuple[Digest, int, Digest, int]:
        diff = Hasher()

        def tee() -> Iterator[bytes]:
            for piece in self._source():
                diff.update(piece)
                yield piece

        blob = Hasher()
        kept: list[bytes] | None = []
        for chunk in compress_stream(tee(), self.compression, gzip_level=self.gzip_level):
            blob.update(chunk)
            if kept is not None:
                kept.append(chunk)
                if blob.size > self._cache_limit:
                    kept = None
        if kept is not None:
            self._cached = b"".join(kept)
        return blob.digest(), blob.size, diff.digest(), diff.size

    @property
    def digest(self) -> Digest:
        """Digest of the compressed blob."""
        return self._ensure()[0]

    @property
    def size(self) -> int:
        """Size of the compressed blob."""
        return self._ensure()[1]

    @property
    def diff_id(self) -> Digest:
        """Digest of the uncompressed tar (what the config's ``rootfs.diff_ids`` lists)."""
        return self._ensure()[2]

    @property
    def uncompressed_size(self) -> int:
        """Size of the uncompressed tar."""
        return self._ensure()[3]

    @property
    def measured(self) -> bool:
        """True once the digests have been computed."""
        return self._facts is not None

    def chunks(self) -> Iterator[bytes]:
        """The compressed blob, regenerated (or served from the small-layer cache)."""
        if self._cached is not None:
            yield self._cached
            return
        if not self._verify or self._facts is None:
            yield from self._compressed()
            return
        expected, size = self._facts[0], self._facts[1]
        h = Hasher(expected.algorithm)
        for chunk in self._compressed():
            h.update(chunk)
            yield chunk
        if h.size != size or h.digest() != expected:
            raise DigestMismatch(expected, h.digest(), what=f"layer {self.description or ''}")

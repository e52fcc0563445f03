"""Content digests: parse, validate, compute and verify while streaming.

A :class:`Digest` is a value (``sha256:<hex>``). Bad strings raise :class:`DigestError`
quoting the offending text, so a test failure names exactly what was wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "DIGEST_GRAMMAR",
    "Digest",
    "DigestError",
    "DigestMismatch",
    "Hasher",
    "SUPPORTED_ALGORITHMS",
    "verify_stream",
]

#: image-spec descriptor.md digest grammar, any algorithm. Use ``fullmatch`` (``$`` would
#: also match before a trailing newline).
DIGEST_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
SUPPORTED_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+")


class DigestError(ValueError):
    """A digest string that does not follow the grammar or uses an unsupported algorithm."""


class DigestMismatch(ValueError):
    """Content whose digest (or size) is not the one expected."""

    def __init__(self, expected: Digest, actual: Digest, *, what: str = "content") -> None:
        super().__init__(f"{what} digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest such as ``sha256:e3b0…``; ``str(d)`` gives the canonical text."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate ``text``; raise :class:`DigestError` quoting it when it is bad."""
        if not isinstance(text, str):
            raise DigestError(f"digest must be a string, got {type(text).__name__}: {text!r}")
        if not DIGEST_GRAMMAR.fullmatch(text):
            raise DigestError(f"invalid digest {text!r}: expected '<algorithm>:<hex>'")
        algorithm, _, encoded = text.partition(":")
        length = SUPPORTED_ALGORITHMS.get(algorithm)
        if length is None:
            raise DigestError(
                f"invalid digest {text!r}: unsupported algorithm {algorithm!r} "
                f"(supported: {', '.join(SUPPORTED_ALGORITHMS)})"
            )
        if len(encoded) != length or not _HEX.fullmatch(encoded):
            raise DigestError(
                f"invalid digest {text!r}: {algorithm} needs {length} lowercase hex characters"
            )
        return cls(algorithm, encoded)

    @classmethod
    def is_valid(cls, text: str) -> bool:
        """True when :meth:`parse` would accept ``text``."""
        try:
            cls.parse(text)
        except DigestError:
            return False
        return True

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Digest of ``data``."""
        h = Hasher(algorithm)
        h.update(data)
        return h.digest()

    @classmethod
    def of_stream(cls, chunks: Iterable[bytes], algorithm: str = "sha256") -> tuple[Digest, int]:
        """Digest and total size of a stream of chunks, read once."""
        h = Hasher(algorithm)
        for chunk in chunks:
            h.update(chunk)
        return h.digest(), h.size

    def hasher(self) -> Hasher:
        """A fresh hasher of this digest's algorithm."""
        return Hasher(self.algorithm)

    @property
    def encoded(self) -> str:
        """The part after the colon."""
        return self.hex

    def short(self, n: int = 12) -> str:
        """``sha256:0123456789ab`` for timelines and logs."""
        return f"{self.algorithm}:{self.hex[:n]}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"


class Hasher:
    """Incremental digest computation that also counts bytes."""

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise DigestError(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes) -> None:
        """Hash ``data`` and count its bytes."""
        self._h.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        """The digest of everything hashed so far."""
        return Digest(self.algorithm, self._h.hexdigest())


def verify_stream(
    chunks: Iterable[bytes], expected: Digest, size: int | None = None
) -> Iterator[bytes]:
    """Pass ``chunks`` through; at the end raise :class:`DigestMismatch` (or ``ValueError`` for
    a size mismatch) if the content was not what ``expected`` names."""
    h = expected.hasher()
    for chunk in chunks:
        h.update(chunk)
        if size is not None and h.size > size:
            raise ValueError(f"content for {expected} is longer than the expected {size} bytes")
        yield chunk
    if size is not None and h.size != size:
        raise ValueError(f"content for {expected} is {h.size} bytes, expected {size}")
    actual = h.digest()
    if actual != expected:
        raise DigestMismatch(expected, actual)

"""What the registry's store keeps of each pushed manifest: :class:`StoredManifest`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..oci.digest import Digest

__all__ = ["StoredManifest"]


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as pushed: the exact bytes, the media type, the digest, and what it names."""

    data: bytes
    media_type: str
    digest: Digest
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None
    #: Precomputed response headers for GET/HEAD (the hot path builds nothing per request).
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.headers:
            d = str(self.digest)
            object.__setattr__(
                self,
                "headers",
                (
                    ("Content-Type", self.media_type),
                    ("Content-Length", str(len(self.data))),
                    ("Docker-Content-Digest", d),
                    ("ETag", f'"{d}"'),
                ),
            )

    @property
    def size(self) -> int:
        """Length of :attr:`data`."""
        return len(self.data)

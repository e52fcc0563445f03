"""Where the mirror's content comes from: one small protocol, two adapters.

* :class:`InProcessUpstream` reads a :class:`~flakymirror.registry.Registry`'s (or a bare
  :class:`~flakymirror.registry.store.Store`'s) content directly — no HTTP, nothing copied.
* :class:`~flakymirror.mirror.http_upstream.HttpUpstream` is a true pull-through cache of a
  registry URL.

:class:`Upstream` is what every upstream does. What only some can do is named too, as
go-containerregistry names its optional blob-handler interfaces (``BlobStatHandler``...):
:class:`RepositoryChecker` (tell whether a repository exists) and :class:`BlobFetcher` (fetch a
blob once and know its size, instead of HEAD then GET). The mirror asks ``isinstance`` of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from flakymirror.registry import Registry
from flakymirror.registry.store import Store, StoredManifest

__all__ = ["BlobFetcher", "InProcessUpstream", "RepositoryChecker", "Upstream", "open_upstream"]


@runtime_checkable
class Upstream(Protocol):
    """What the mirror reads from upstream. Absent content is ``None``/``KeyError``, never an
    exception of another kind; an unreachable upstream behaves as far as possible like a cache
    that has only what it already fetched."""

    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """A manifest by tag or digest string."""

    def blob_size(self, repo: str, digest: str) -> int | None:
        """Size of a blob, or None when upstream does not have it."""

    def open_blob(
        self, repo: str, digest: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of a verified blob; ``KeyError`` when absent."""

    def tags(self, repo: str) -> list[str]:
        """Upstream tags of ``repo`` (sorted)."""

    def repositories(self) -> list[str]:
        """Upstream repositories."""

    def referrers(self, repo: str, digest: str) -> list[StoredManifest]:
        """Manifests whose subject is ``digest``."""

    def clear_cache(self) -> None:
        """Forget cached content (no-op for an in-process upstream)."""

    def close(self) -> None:
        """Release resources."""

    def describe(self) -> str:
        """A short human description for state reports."""


@runtime_checkable
class RepositoryChecker(Protocol):
    """An upstream that can tell whether it knows a repository. Without it the mirror assumes
    it does (a missing manifest is then ``MANIFEST_UNKNOWN``, never ``NAME_UNKNOWN``)."""

    def has_repository(self, repo: str) -> bool:
        """Whether upstream knows ``repo`` (True when it cannot tell)."""


@runtime_checkable
class BlobFetcher(Protocol):
    """An upstream that fetches a blob once and then knows its size: a client's blob GET costs
    one upstream GET, not a HEAD and then a GET. Without it the mirror asks
    :meth:`Upstream.blob_size` first."""

    def ensure_blob(self, repo: str, digest: str) -> int | None:
        """Make the blob readable (fetch it unless it is there); its size, or None when upstream
        does not have it."""


class InProcessUpstream:
    """Reads a registry's store directly; ``source`` is a ``Registry`` or a ``Store``."""

    def __init__(self, source: Registry | Store) -> None:
        if isinstance(source, Registry):
            store = source.store
        elif isinstance(source, Store):
            store = source
        else:
            raise TypeError(f"expected a Registry or a Store, got {source!r}")
        self.source = source
        self.store: Store = store

    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """The stored manifest by tag or digest, or None."""
        return self.store.get_manifest(repo, reference)

    def blob_size(self, repo: str, digest: str) -> int | None:
        """The blob's size, or None."""
        return self.store.blob_size(repo, digest)

    def open_blob(
        self, repo: str, digest: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob."""
        return self.store.open_blob(repo, digest, start, end)

    def tags(self, repo: str) -> list[str]:
        """The repository's tags, sorted."""
        return self.store.tags(repo)

    def has_repository(self, repo: str) -> bool:
        """Whether the store knows ``repo``."""
        return self.store.has_repository(repo)

    def repositories(self) -> list[str]:
        """The store's repositories."""
        return self.store.repositories()

    def referrers(self, repo: str, digest: str) -> list[StoredManifest]:
        """Manifests whose subject is ``digest``."""
        return self.store.referrers(repo, digest)

    def clear_cache(self) -> None:
        """Nothing is cached: the content is read in place."""

    def close(self) -> None:
        """The source belongs to whoever made it."""

    def describe(self) -> str:
        """``"in-process store"`` or ``"in-process registry [at <url>]"``."""
        if isinstance(self.source, Store):
            return "in-process store"
        if self.source.is_running():
            return f"in-process registry at {self.source.url}"
        return "in-process registry"


def open_upstream(
    upstream: Registry | Store | str | Upstream | None, credentials: tuple[str, str] | None = None
) -> tuple[Registry | Store | str | Upstream, Upstream]:
    """What a mirror given ``upstream`` keeps as its upstream, and the :class:`Upstream` it
    reads through: ``None`` makes a fresh in-process ``Registry`` (returned as the first
    value); a URL (its trailing ``/`` dropped) is read over HTTP with ``credentials``; a
    ``Registry`` or ``Store`` is read in place; an ``Upstream`` is used as it is."""
    if upstream is None:
        registry = Registry()
        return registry, InProcessUpstream(registry)
    if isinstance(upstream, str):
        from flakymirror.mirror.http_upstream import HttpUpstream

        url = upstream.rstrip("/")
        return url, HttpUpstream(url, credentials=credentials)
    if isinstance(upstream, Registry | Store):
        return upstream, InProcessUpstream(upstream)
    if isinstance(upstream, Upstream):
        return upstream, upstream
    raise TypeError(f"upstream must be a Registry, a Store, a URL or an Upstream, got {upstream!r}")

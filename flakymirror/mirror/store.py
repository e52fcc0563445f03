"""The store the mirror's :class:`~flakymirror.registry.RegistryApp` serves from: one view
per request.

:class:`MirrorStore` holds what is pushed *to* the mirror itself (``pushed``, a plain
:class:`~flakymirror.registry.store.Store`) and the :class:`~flakymirror.mirror.sync.SyncEngine`.
Each request gets a :class:`RequestStore` of its own (:meth:`MirrorStore.view`), which the
mirror hands to :meth:`RegistryApp.handle <flakymirror.registry.RegistryApp.handle>` as the
store of that one request. Its *read* side shows the sync view: a manifest lookup asks the
engine what the image looks like now, a blob lookup whether the blob has synced (for this
request's method), and the bytes come straight from upstream (or, for a cut config, from the
engine). Nothing is copied. Pushed content wins over the view; writes go to ``pushed``. What
the request saw (its sync label, the manifest served, where a ``Range`` body starts) is written
to the view's :class:`RequestState`, which the mirror reads back into the journal: the data
travels with the request, not beside it.

Because the registry app does auth, routing, ``Range``, ``ETag`` and error bodies itself, every
answer — including the sync modes' 404s and ``MANIFEST_BLOB_UNKNOWN`` — comes out exactly as a
registry would send it, after authentication.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from flakymirror.mirror.sync import Answer, SyncEngine
from flakymirror.mirror.upstream import BlobFetcher, RepositoryChecker
from flakymirror.oci.digest import Digest
from flakymirror.registry.errors import RegistryError
from flakymirror.registry.sessions import Upload, UploadTable
from flakymirror.registry.store import Store, StoredManifest

__all__ = ["MirrorStore", "RequestState", "RequestStore"]


@dataclass
class RequestState:
    """Per-request facts the store needs (the method) and reports (the sync label, and the
    manifest it handed out last: the one a manifest GET/HEAD serves)."""

    method: str = "GET"
    sync: str | None = None
    served: StoredManifest | None = None
    #: Where the blob body the store opened starts (a ``Range`` request's first byte).
    offset: int = 0
    #: Decisions taken once per request (a lookup repeated within it is not counted again).
    blobs: dict[tuple[str, str], tuple[bool, bytes | None]] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[Answer, str]] = field(default_factory=dict)


class MirrorStore:
    """Content pushed to the mirror (``pushed``) and ``engine``'s sync view over its upstream;
    :meth:`view` is the store one request reads."""

    def __init__(self, engine: SyncEngine, spool_dir: str | None = None) -> None:
        self.engine = engine
        self.pushed = Store(spool_dir)
        upstream = engine.upstream
        #: The upstream's optional capabilities (None: it has not got them).
        self.repository_checker = upstream if isinstance(upstream, RepositoryChecker) else None
        self.blob_fetcher = upstream if isinstance(upstream, BlobFetcher) else None

    def view(self, state: RequestState) -> RequestStore:
        """The store of one request, recording what it saw in ``state``."""
        return RequestStore(self, state)

    def close(self) -> None:
        """Drop the pushed content (the upstream belongs to whoever made it)."""
        self.pushed.close()


class RequestStore:
    """One request's store: the methods of :class:`~flakymirror.registry.store.Store` the
    registry endpoints call, reads showing the sync view for ``state.method`` (and recording
    into ``state``), writes going to the mirror's pushed content."""

    def __init__(self, mirror_store: MirrorStore, state: RequestState) -> None:
        self.state = state
        self.engine = mirror_store.engine
        self.pushed = mirror_store.pushed
        self._checker = mirror_store.repository_checker
        self._fetcher = mirror_store.blob_fetcher

    # -- repositories ----------------------------------------------------------------------
    def repositories(self) -> list[str]:
        """Repositories pushed to the mirror and those upstream lists."""
        upstream = self.engine.upstream.repositories()
        return sorted(set(self.pushed.repositories()) | set(upstream))

    def has_repository(self, repo: str) -> bool:
        """Whether the mirror or its upstream knows ``repo`` (an upstream that cannot tell is
        taken to know it)."""
        if self.pushed.has_repository(repo):
            return True
        return self._checker.has_repository(repo) if self._checker is not None else True

    # -- manifests -------------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """A pushed manifest, else what the sync view shows now (a ``RegistryError`` is raised)."""
        state = self.state
        local = self.pushed.get_manifest(repo, reference)
        if local is not None:
            state.served = local
            return local
        key = (repo, reference)
        decided = state.manifests.get(key)
        if decided is None:  # decided once per request, counted once
            decided = state.manifests[key] = self.engine.manifest(repo, reference)
        answer, state.sync = decided
        if isinstance(answer, RegistryError):
            raise answer
        if answer is not None:
            state.served = answer
        return answer

    def tags(self, repo: str) -> list[str]:
        """Pushed tags and the upstream tags whose image has fully synced."""
        return sorted(set(self.pushed.tags(repo)) | set(self.engine.tags(repo)))

    def referrers(self, repo: str, digest: Digest | str) -> list[StoredManifest]:
        """Pushed referrers and upstream's."""
        upstream = self.engine.upstream.referrers(repo, str(digest))
        return self.pushed.referrers(repo, digest) + upstream

    # -- blobs -----------------------------------------------------------------------------
    def _blob(self, repo: str, digest: str) -> tuple[bool, bytes | None]:
        state = self.state
        key = (repo, digest)
        decided = state.blobs.get(key)
        if decided is None:
            visible, generated, label = self.engine.blob(repo, digest, state.method)
            decided = state.blobs[key] = (visible, generated)
            state.sync = label
        return decided

    def has_blob(self, repo: str, digest: Digest | str) -> bool:
        """Whether the blob is visible to this request."""
        return self.blob_size(repo, digest) is not None

    def blob_size(self, repo: str, digest: Digest | str) -> int | None:
        """The size of a blob this request may see (None when hidden or absent)."""
        local = self.pushed.blob_size(repo, digest)
        if local is not None:
            return local
        visible, generated = self._blob(repo, str(digest))
        if not visible:
            return None
        if generated is not None:
            return len(generated)
        if self._fetcher is not None and self.state.method == "GET":
            # a GET fetches once, instead of HEAD then GET
            return self._fetcher.ensure_blob(repo, str(digest))
        return self.engine.upstream.blob_size(repo, str(digest))

    def open_blob(
        self, repo: str, digest: Digest | str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes of a visible blob: pushed, generated (a cut config) or from upstream."""
        self.state.offset = start
        if self.pushed.has_blob(repo, digest):
            return self.pushed.open_blob(repo, digest, start, end)
        visible, generated = self._blob(repo, str(digest))
        if not visible:
            raise KeyError(f"blob {digest} has not synced to the mirror yet")
        if generated is not None:
            return iter((generated[start:end],))
        return self.engine.upstream.open_blob(repo, str(digest), start, end)

    # -- writes: pushed to the mirror itself -------------------------------------------------
    @property
    def uploads(self) -> UploadTable:
        """Upload sessions of content pushed to the mirror."""
        return self.pushed.uploads

    def put_blob(
        self, repo: str, digest: Digest | str, data: bytes | Iterable[bytes] | IO[bytes]
    ) -> int:
        """Push a blob to the mirror itself (see :meth:`Store.put_blob`)."""
        return self.pushed.put_blob(repo, digest, data)

    def commit_upload(self, upload: Upload, digest: Digest) -> int:
        """Finish an upload to the mirror itself (see :meth:`Store.commit_upload`)."""
        return self.pushed.commit_upload(upload, digest)

    def mount_blob(self, from_repo: str, to_repo: str, digest: Digest | str) -> bool:
        """Mount a blob pushed to the mirror into another repository."""
        return self.pushed.mount_blob(from_repo, to_repo, digest)

    def delete_blob(self, repo: str, digest: Digest | str) -> bool:
        """Delete a blob pushed to the mirror (upstream content is not the mirror's to delete)."""
        return self.pushed.delete_blob(repo, digest)

    def put_manifest(
        self,
        repo: str,
        data: bytes,
        media_type: str,
        tags: Iterable[str] = (),
        *,
        check: bool = True,
        digest: Digest | None = None,
    ) -> Digest:
        """Push a manifest to the mirror itself (see :meth:`Store.put_manifest`): the blobs it
        names must have been pushed to the mirror too."""
        return self.pushed.put_manifest(repo, data, media_type, tags, check=check, digest=digest)

    def delete_manifest(self, repo: str, reference: str) -> bool:
        """Delete a manifest pushed to the mirror."""
        return self.pushed.delete_manifest(repo, reference)

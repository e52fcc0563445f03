"""The store the mirror's :class:`~flakymirror.registry.RegistryApp` serves from.

It is a :class:`~flakymirror.registry.store.Store` whose *read* side shows the sync view: a
manifest lookup asks the :class:`~flakymirror.mirror.sync.SyncEngine` what the image looks like
now, a blob lookup whether the blob has synced (for this request's method), and the bytes come
straight from upstream (or, for a cut config, from the engine). Nothing is copied. Content
pushed *to* the mirror is kept locally by the base class and wins over the view.

Because the registry app does auth, routing, ``Range``, ``ETag`` and error bodies itself, every
answer — including the sync modes' 404s and ``MANIFEST_BLOB_UNKNOWN`` — comes out exactly as a
registry would send it, after authentication.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flakymirror.mirror.sync import SyncEngine
from flakymirror.oci.digest import Digest
from flakymirror.registry.errors import RegistryError
from flakymirror.registry.store import Store, StoredManifest

__all__ = ["MirrorStore", "RequestState", "current_request"]


@dataclass
class RequestState:
    """Per-request facts the store needs (the method) and reports (the sync label, and the
    manifest it handed out last: the one a manifest GET/HEAD serves)."""

    method: str = "GET"
    sync: str | None = None
    served: StoredManifest | None = None
    #: Where the blob body the store opened starts (a ``Range`` request's first byte).
    offset: int = 0
    blobs: dict[tuple[str, str], tuple[bool, bytes | None]] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[Any, str]] = field(default_factory=dict)


current_request: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "flakymirror_mirror_request", default=None
)


def _state() -> RequestState:
    state = current_request.get()
    return state if state is not None else RequestState()


class MirrorStore(Store):
    """A :class:`Store` whose reads show ``engine``'s sync view over its upstream."""

    def __init__(self, engine: SyncEngine, spool_dir: str | None = None) -> None:
        super().__init__(spool_dir)
        self.engine = engine

    # -- repositories ----------------------------------------------------------------------
    def repositories(self) -> list[str]:
        """Repositories pushed to the mirror and those upstream lists."""
        return sorted(set(super().repositories()) | set(self.engine.upstream.repositories()))

    def has_repository(self, repo: str) -> bool:
        """Whether the mirror or its upstream knows ``repo``."""
        if super().has_repository(repo):
            return True
        has = getattr(self.engine.upstream, "has_repository", None)
        return bool(has(repo)) if has is not None else True

    # -- manifests -------------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """A pushed manifest, else what the sync view shows now (a ``RegistryError`` is raised)."""
        state = current_request.get()
        local = super().get_manifest(repo, reference)
        if local is not None:
            if state is not None:
                state.served = local
            return local
        key = (repo, reference)
        if state is not None and key in state.manifests:
            answer, label = state.manifests[key]  # decided once per request, counted once
        else:
            answer, label = self.engine.manifest(repo, reference)
        if state is not None:
            state.manifests[key] = (answer, label)
            state.sync = label
        if isinstance(answer, RegistryError):
            raise answer
        if state is not None and answer is not None:
            state.served = answer
        return answer

    def tags(self, repo: str) -> list[str]:
        """Pushed tags and the upstream tags whose image has fully synced."""
        return sorted(set(super().tags(repo)) | set(self.engine.tags(repo)))

    def referrers(self, repo: str, digest: Digest | str) -> list[StoredManifest]:
        """Pushed referrers and upstream's."""
        return super().referrers(repo, digest) + self.engine.upstream.referrers(repo, str(digest))

    # -- blobs -----------------------------------------------------------------------------
    def _blob(self, repo: str, digest: str) -> tuple[bool, bytes | None]:
        state = _state()
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
        local = super().blob_size(repo, digest)
        if local is not None:
            return local
        visible, generated = self._blob(repo, str(digest))
        if not visible:
            return None
        if generated is not None:
            return len(generated)
        upstream = self.engine.upstream
        ensure = getattr(upstream, "ensure_blob", None)
        if ensure is not None and _state().method == "GET":
            return ensure(repo, str(digest))  # a GET fetches once, instead of HEAD then GET
        return upstream.blob_size(repo, str(digest))

    def open_blob(
        self, repo: str, digest: Digest | str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes of a visible blob: pushed, generated (a cut config) or from upstream."""
        _state().offset = start
        if super().has_blob(repo, digest):
            return super().open_blob(repo, digest, start, end)
        visible, generated = self._blob(repo, str(digest))
        if not visible:
            raise KeyError(f"blob {digest} has not synced to the mirror yet")
        if generated is not None:
            return iter((generated[start:end],))
        return self.engine.upstream.open_blob(repo, str(digest), start, end)

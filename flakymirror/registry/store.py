"""The registry's content store: blobs, manifests, tags, referrers and upload sessions.

Blobs are content-addressed (one copy of the bytes) but belong to repositories: a repository
sees a blob only after it received or mounted it. Small blobs live in memory, large ones in
files under a private temporary directory (``Store.root``) removed by :meth:`Store.close`.

Thread safety: writes take one lock; reads are single dict lookups, atomic under the GIL, so
the manifest GET path never waits for a push.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..oci.digest import Digest, DigestMismatch, Hasher
from ..oci.reference import validate_repository
from .errors import RegistryError
from .manifest_check import ManifestInfo, inspect_manifest
from .sessions import Upload, UploadTable
from .spool import CHUNK, MEMORY_THRESHOLD, Content, Spool
from .stored import StoredManifest

__all__ = ["StoredManifest", "Store"]


class _Repo:
    __slots__ = ("blobs", "manifests", "tags", "referrers")

    def __init__(self) -> None:
        self.blobs: set[str] = set()
        self.manifests: dict[str, StoredManifest] = {}
        self.tags: dict[str, str] = {}
        self.referrers: dict[str, dict[str, None]] = {}


def _as_chunks(data: bytes | Iterable[bytes] | IO[bytes]) -> Iterable[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        return (bytes(data),)
    read = getattr(data, "read", None)
    if read is not None:
        return iter(lambda: read(CHUNK), b"")
    return data  # type: ignore[return-value]


class Store:
    """Thread-safe content store; see the module docstring. ``spool_dir`` is where the private
    temporary directory goes (default: the system temp dir)."""

    def __init__(
        self, spool_dir: str | None = None, *, memory_threshold: int = MEMORY_THRESHOLD
    ) -> None:
        self.spool_dir = spool_dir
        self.memory_threshold = memory_threshold
        self._root: str | None = None  # created on first use: most stores never touch disk
        self._lock = threading.RLock()
        self._blobs: dict[str, Content] = {}
        self._repos: dict[str, _Repo] = {}
        self.uploads = UploadTable(self._uploads_dir)
        self._finalizer: weakref.finalize | None = None

    @property
    def root(self) -> str:
        """The private temporary directory (created on first access)."""
        if self._root is None:
            with self._lock:
                if self._root is None:
                    root = tempfile.mkdtemp(prefix="flakymirror-store-", dir=self.spool_dir)
                    os.mkdir(os.path.join(root, "blobs"))
                    os.mkdir(os.path.join(root, "uploads"))
                    self._finalizer = weakref.finalize(self, shutil.rmtree, root, True)
                    self._root = root
        return self._root

    def _uploads_dir(self) -> str:
        return os.path.join(self.root, "uploads")

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Drop all content and remove the temporary directory."""
        self.uploads.close()
        with self._lock:
            self._blobs.clear()
            self._repos.clear()
        if self._finalizer is not None:
            self._finalizer()

    def clear(self) -> None:
        """Drop every repository, manifest and blob (their spool files too); unlike
        :meth:`close`, the store stays usable. Uploads in progress are not touched."""
        with self._lock:
            contents = list(self._blobs.values())
            self._blobs.clear()
            self._repos.clear()
        for content in contents:
            content.remove()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repo(self, name: str) -> _Repo:
        repo = self._repos.get(name)
        if repo is None:
            validate_repository(name)
            with self._lock:
                repo = self._repos.setdefault(name, _Repo())
        return repo

    # -- repositories ----------------------------------------------------------------------
    def repositories(self) -> list[str]:
        """Names of repositories that received anything, sorted."""
        return sorted(self._repos)

    def has_repository(self, repo: str) -> bool:
        """True once ``repo`` received a blob, mount or manifest."""
        return repo in self._repos

    # -- blobs -------------------------------------------------------------------------------
    def has_blob(self, repo: str, digest: Digest | str) -> bool:
        """True when ``repo`` holds the blob."""
        r = self._repos.get(repo)
        return r is not None and str(digest) in r.blobs

    def blob_size(self, repo: str, digest: Digest | str) -> int | None:
        """Size of the blob in ``repo``, or None when the repo does not hold it."""
        key = str(digest)
        r = self._repos.get(repo)
        if r is None or key not in r.blobs:
            return None
        content = self._blobs.get(key)
        return None if content is None else content.size

    def open_blob(
        self, repo: str, digest: Digest | str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of a blob as 64 KiB chunks; ``KeyError`` when absent."""
        key = str(digest)
        with self._lock:
            r = self._repos.get(repo)
            content = self._blobs.get(key) if r is not None and key in r.blobs else None
            if content is None:
                raise KeyError(f"blob {key} is not in repository {repo!r}")
            return content.open(start, end)

    def _content_path(self, digest: Digest) -> str:
        return os.path.join(self.root, "blobs", f"{digest.algorithm}-{digest.hex}")

    def _adopt(self, repo: str, digest: Digest, spool: Spool) -> None:
        """Make a verified spool the content of ``digest`` and add it to ``repo``."""
        key = str(digest)
        with self._lock:
            content = self._blobs.get(key)
            if content is None:
                content = spool.finish(self._content_path(digest))
                self._blobs[key] = content
            else:
                spool.discard()
            content.repos.add(repo)
            self._repo(repo).blobs.add(key)

    def put_blob(
        self, repo: str, digest: Digest | str, data: bytes | Iterable[bytes] | IO[bytes]
    ) -> int:
        """Store a blob in ``repo`` after checking its digest; return its size.

        Raises :class:`~flakymirror.oci.digest.DigestMismatch` when the bytes do not match.
        """
        d = Digest.parse(digest) if isinstance(digest, str) else digest
        spool = Spool(self._uploads_dir, self.memory_threshold)
        hasher = Hasher(d.algorithm)
        try:
            for chunk in _as_chunks(data):
                hasher.update(chunk)
                spool.write(chunk)
            actual = hasher.digest()
            if actual != d:
                raise DigestMismatch(d, actual, what="blob")
        except BaseException:
            spool.discard()
            raise
        self._adopt(repo, d, spool)
        return hasher.size

    def commit_upload(self, upload: Upload, digest: Digest) -> int:
        """Finish an upload session as blob ``digest`` (the caller verified the digest)."""
        self.uploads.end(upload.uuid)
        upload.closed = True
        size = upload.size
        self._adopt(upload.repo, digest, upload.spool)
        return size

    def mount_blob(self, from_repo: str, to_repo: str, digest: Digest | str) -> bool:
        """Add a blob ``from_repo`` holds to ``to_repo``; False when ``from_repo`` lacks it."""
        key = str(digest)
        with self._lock:
            src = self._repos.get(from_repo)
            content = self._blobs.get(key)
            if src is None or key not in src.blobs or content is None:
                return False
            content.repos.add(to_repo)
            self._repo(to_repo).blobs.add(key)
        return True

    def delete_blob(self, repo: str, digest: Digest | str) -> bool:
        """Remove a blob from ``repo``; the bytes go when no repository holds them."""
        key = str(digest)
        with self._lock:
            r = self._repos.get(repo)
            if r is None or key not in r.blobs:
                return False
            r.blobs.discard(key)
            content = self._blobs.get(key)
            if content is not None:
                content.repos.discard(repo)
                if not content.repos:
                    del self._blobs[key]
                    content.remove()
        return True

    # -- manifests -------------------------------------------------------------------------
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
        """Store a manifest (the exact bytes) and point ``tags`` at it; return its digest.

        ``media_type`` may be empty: the ``mediaType`` field decides. With ``check`` the
        manifest is validated (``MANIFEST_INVALID``) and every blob it names must be in the
        repository (``MANIFEST_BLOB_UNKNOWN``, 400, one error per blob), every child manifest
        of an index too (the same 400 ``MANIFEST_BLOB_UNKNOWN``, one error per child: the spec's
        end-7a code for any missing reference, and distribution 2.8's answer). A subject
        need not exist. ``digest`` stores it under another algorithm's digest (sha512 pushes).
        """
        data = bytes(data)
        try:
            info = inspect_manifest(data, media_type)
        except RegistryError:
            if check:
                raise
            info = ManifestInfo(media_type or "application/octet-stream", (), ())
        d = digest if digest is not None else Digest.of(data)
        with self._lock:
            r = self._repos.get(repo)
            if check:
                self._check_references(repo, r, info)
            r = self._repo(repo)
            stored = StoredManifest(
                data, info.media_type, d, info.subject, info.artifact_type, info.annotations
            )
            key = str(d)
            r.manifests[key] = stored
            if info.subject is not None:
                r.referrers.setdefault(str(info.subject), {})[key] = None
            for tag in tags:
                r.tags[tag] = key
        return d

    @staticmethod
    def _check_references(repo: str, r: _Repo | None, info: ManifestInfo) -> None:
        blobs = r.blobs if r is not None else set()
        manifests = r.manifests if r is not None else {}
        errors = [
            {
                "code": "MANIFEST_BLOB_UNKNOWN",
                "message": f"blob {d} is unknown to repository {repo!r}",
                "detail": {"digest": str(d)},
            }
            for d in info.blobs
            if str(d) not in blobs
        ]
        errors += [
            {
                "code": "MANIFEST_BLOB_UNKNOWN",
                "message": f"child manifest {d} of the index is unknown to repository {repo!r}",
                "detail": {"digest": str(d)},
            }
            for d in info.children
            if str(d) not in manifests
        ]
        if errors:
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN", errors[0]["message"], errors[0]["detail"], more=errors[1:]
            )

    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """A manifest by tag or digest string, or None."""
        r = self._repos.get(repo)
        if r is None:
            return None
        key = r.tags.get(reference, reference)
        return r.manifests.get(key)

    def resolve(self, repo: str, reference: str) -> Digest | None:
        """The digest a tag (or digest string) names in ``repo``, or None."""
        m = self.get_manifest(repo, reference)
        return None if m is None else m.digest

    def delete_manifest(self, repo: str, reference: str) -> bool:
        """Delete by tag (only the tag goes) or by digest (the manifest and every tag on it)."""
        with self._lock:
            r = self._repos.get(repo)
            if r is None:
                return False
            if ":" not in reference:
                return r.tags.pop(reference, None) is not None
            stored = r.manifests.pop(reference, None)
            if stored is None:
                return False
            for tag in [t for t, key in r.tags.items() if key == reference]:
                del r.tags[tag]
            if stored.subject is not None:
                refs = r.referrers.get(str(stored.subject))
                if refs is not None:
                    refs.pop(reference, None)
                    if not refs:
                        del r.referrers[str(stored.subject)]
        return True

    def tag(self, repo: str, tag: str, digest: Digest | str) -> None:
        """Point ``tag`` at a manifest already in ``repo`` (``KeyError`` otherwise)."""
        key = str(digest)
        with self._lock:
            r = self._repos.get(repo)
            if r is None or key not in r.manifests:
                raise KeyError(f"manifest {key} is not in repository {repo!r}")
            r.tags[tag] = key

    def untag(self, repo: str, tag: str) -> bool:
        """Remove a tag; False when it did not exist."""
        with self._lock:
            r = self._repos.get(repo)
            return r is not None and r.tags.pop(tag, None) is not None

    def tags(self, repo: str) -> list[str]:
        """The tags of ``repo``, sorted ASCIIbetically (Go's ``sort.Strings``)."""
        r = self._repos.get(repo)
        return sorted(r.tags) if r is not None else []

    def manifests(self, repo: str) -> list[StoredManifest]:
        """Every manifest of ``repo``."""
        r = self._repos.get(repo)
        return list(r.manifests.values()) if r is not None else []

    def referrers(self, repo: str, digest: Digest | str) -> list[StoredManifest]:
        """Manifests of ``repo`` whose ``subject`` is ``digest``, in push order."""
        r = self._repos.get(repo)
        if r is None:
            return []
        keys = list(r.referrers.get(str(digest), ()))
        return [m for m in (r.manifests.get(k) for k in keys) if m is not None]

    # -- seeding -----------------------------------------------------------------------------
    def push_image(self, image: Any, repo: str, tag: str | None = None) -> Digest:
        """Store an ``Image`` or ``ImageIndex`` (duck-typed) without HTTP; return its digest.

        An image needs ``.blobs()`` (items with ``.digest`` and ``.chunks()``),
        ``.manifest_bytes`` and ``.media_type``; an index needs ``.images`` and ``.index_bytes``.
        """
        tags = (tag,) if tag else ()
        if hasattr(image, "index_bytes"):
            for child in image.images:
                self.push_image(child, repo)
            return self.put_manifest(repo, image.index_bytes, image.media_type, tags)
        for blob in image.blobs():
            if not self.has_blob(repo, blob.digest):
                self.put_blob(repo, blob.digest, blob.chunks())
        return self.put_manifest(repo, image.manifest_bytes, image.media_type, tags)

"""Pushing an image like go-containerregistry's ``remote.Write`` (one call per tag).

The wire flow, as ggcr v0.21's ``repoWriter.writeManifest`` runs it:

1. ``GET /v2/`` (and a ``repository:<repo>:push,pull`` token under a Bearer challenge);
2. ``HEAD /v2/<repo>/manifests/<tag>``: the same digest means nothing to do; 404 or 403 means
   "not there"; anything else fails the push;
3. every layer and the config, at most ``jobs`` (4) at a time, each as one operation retried on
   temporary errors with the transport profile's backoff (ggcr's ``uploadOne``):
   ``HEAD /v2/<repo>/blobs/<d>`` (200 skip, 404 upload, else fail); a mountable blob (one that
   came from a run or previous image) from another repository of the same registry first adds
   ``repository:<src>:pull`` to the writer's scopes (ggcr's ``maybeUpdateScopes``: a new
   transport, so ``GET /v2/`` and, under Bearer, one token for all the scopes), then is mounted
   with
   ``POST …/blobs/uploads/?from=<repo>&mount=<d>&origin=<registry>`` (201 done, 202 + Location
   upload there; a failed mount logs ``retrying without mount`` and POSTs plainly); other blobs
   ``POST`` (202 + Location), ``PATCH`` the whole blob (``application/octet-stream``; 202, 204 or
   201 + Location), ``PUT <location>?digest=`` (201). A mountable blob that must be uploaded
   after all is first read from its source registry with ``GET /v2/<repo>/blobs/<d>``;
4. ``PUT /v2/<repo>/manifests/<tag>`` with the manifest's ``Content-Type`` (200/201/202),
   retried as a whole on temporary errors. The digest is computed locally.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from flakymirror.client.auth import PULL, PUSH, Credentials, Keychain, repository_scope
from flakymirror.client.errors import ClientError, TransportError
from flakymirror.client.goformat import go_query_encode, go_quote
from flakymirror.client.gohttp import recorder
from flakymirror.client.gojson import ggcr_config_bytes, ggcr_descriptor, ggcr_manifest_bytes
from flakymirror.client.pull import go_hash, parse_reference
from flakymirror.client.retry import RetryProfile
from flakymirror.client.transport import RequestRecord, Transport
from flakymirror.client.urls import blob_path, manifest_path, with_query
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest, verify_stream

__all__ = [
    "MountSource",
    "PushBlob",
    "PushResult",
    "ggcr_config_bytes",
    "ggcr_descriptor",
    "ggcr_manifest_bytes",
    "push_image",
]

_log = logging.getLogger("flakymirror.client.push")
_CHUNK = 256 * 1024
#: ggcr's ``name.DefaultRegistry``: Docker Hub, as ggcr spells it.
DEFAULT_REGISTRY = "index.docker.io"


def ggcr_registry(name: str) -> str:
    """A registry name as ggcr's ``name.NewRegistry`` keeps it: ``docker.io`` (and no name at
    all) become ``index.docker.io``; every other name, ``registry-1.docker.io`` included, stays."""
    return DEFAULT_REGISTRY if name in ("", "docker.io") else name


@dataclass(frozen=True)
class MountSource:
    """Where a blob already lives: ``registry``/``repository`` (for a cross-repo mount) and a
    transport to that registry (to read the blob when it has to be uploaded after all)."""

    registry: str
    repository: str
    transport: Transport | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PushBlob:
    """One blob of the image: a layer or the config.

    ``chunks`` yields local content (any number of times); ``source`` makes the blob mountable.
    At least one of them must be set.
    """

    digest: Digest
    size: int
    media_type: str
    chunks: Callable[[], Iterable[bytes]] | None = field(default=None, compare=False)
    source: MountSource | None = None

    def __post_init__(self) -> None:
        if self.chunks is None and self.source is None:
            raise ValueError(f"blob {self.digest}: needs local content or a mount source")

    def descriptor(self) -> dict[str, Any]:
        """The blob's descriptor (``mediaType``, ``size``, ``digest``) as a manifest holds it."""
        return {"mediaType": self.media_type, "size": self.size, "digest": str(self.digest)}

    def content(self) -> Iterator[bytes]:
        """The compressed bytes: local content, or a verified GET from the source registry."""
        if self.chunks is not None:
            yield from self.chunks()
            return
        assert self.source is not None
        if self.source.transport is None:
            raise ClientError(f"blob {self.digest}: no way to read it from {self.source.registry}")
        repo = self.source.repository
        resp = self.source.transport.request(
            "GET", blob_path(repo, self.digest), scope=repository_scope(repo), stream=True
        )
        try:
            yield from verify_stream(resp.iter_content(_CHUNK), self.digest, self.size)
        finally:
            resp.close()


@dataclass
class PushResult:
    """What one push did: ``existing`` (the tag already pointed at this digest, nothing was
    sent), and per blob digest ``existing``, ``mounted`` or ``pushed``."""

    reference: str
    digest: Digest
    size: int
    existing: bool = False
    blobs: dict[str, str] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)


class _SizedBody:
    """A re-readable request body of known length: requests then sends ``Content-Length``
    (as ggcr does when the layer size is known) instead of chunked encoding."""

    def __init__(self, blob: PushBlob) -> None:
        self._blob = blob

    def __len__(self) -> int:
        return self._blob.size

    def __iter__(self) -> Iterator[bytes]:
        return self._blob.content()


def _location(resp: Any, sent_to: str, *, required: bool) -> str:
    """ggcr ``getLocation``/``nextLocation``: Location resolved against the request URL
    (``sent_to`` when the response does not name it)."""
    request_url = resp.request.url or sent_to
    loc = resp.headers.get("Location")
    if not loc:
        if required:
            raise ClientError("missing Location header")
        return request_url
    return urljoin(request_url, loc)


class _Writer:
    """ggcr's ``writer`` for one repository.

    Its transport carries the writer's scopes (``repository:<repo>:push,pull`` first); a mount
    from another repository of the same registry adds that repository's pull scope and swaps in
    a new transport built for all the scopes, as ggcr's ``maybeUpdateScopes`` does. Requests in
    flight keep the transport they started on.
    """

    def __init__(
        self, make_transport: Callable[[], Transport], repository: str, logger: logging.Logger
    ) -> None:
        self._make_transport = make_transport
        self.t = make_transport()
        self.transports = [self.t]
        self.repo = repository
        self.scopes: tuple[str, ...] = (repository_scope(repository, PUSH),)
        self._client = (self.t, self.scopes)
        self.log = logger
        self.outcome: dict[str, str] = {}
        self._lock = threading.Lock()
        self._scope_lock = threading.Lock()

    def _set(self, digest: Digest, what: str) -> None:
        with self._lock:
            self.outcome[str(digest)] = what

    def close(self) -> None:
        """Close every transport the writer used."""
        for t in self.transports:
            t.close()

    def ping(self) -> None:
        """``transport.NewWithContext`` for the push scope: ``GET /v2/`` (+ token)."""
        self.t.ping(self.scopes)

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        transport, scopes = self._client
        return transport.request(method, url, scope=scopes, **kwargs)

    def maybe_update_scopes(self, source: MountSource) -> None:
        """ggcr ``maybeUpdateScopes``: before mounting from another repository of the same
        registry, ask for its pull scope too (once per repository), on a new transport."""
        if source.registry != self.t.registry or source.repository == self.repo:
            return
        scope = repository_scope(source.repository, PULL)
        with self._scope_lock:
            if scope in self.scopes:
                return
            self.scopes = (*self.scopes, scope)
            self.log.debug("Refreshing token to add scope %r", scope)
            transport = self._make_transport()
            self.transports.append(transport)
            transport.ping(self.scopes)
            self._client = (transport, self.scopes)

    # -- blobs ----------------------------------------------------------------------------------

    def blob_exists(self, digest: Digest) -> bool:
        resp = self._request(
            "HEAD",
            blob_path(self.repo, digest),
            ok=(200, 404),
            retry=False,
        )
        return resp.status_code == 200

    def initiate(self, blob: PushBlob | None) -> tuple[str | None, bool]:
        """POST an upload (a mount when ``blob`` has a source); (location, mounted)."""
        base = self.t.url(f"/v2/{self.repo}/blobs/uploads/")
        url = base
        src = blob.source if blob is not None else None
        if src is not None and blob is not None:
            target, origin = ggcr_registry(self.t.registry), ggcr_registry(src.registry)
            # ggcr uploadOne: no mount on Docker Hub of a blob from another registry (ggcr 1741)
            if not (target == DEFAULT_REGISTRY and origin != target):
                pairs = [("mount", str(blob.digest)), ("from", src.repository), ("origin", origin)]
                url = f"{base}?{go_query_encode(pairs)}"
        try:
            resp = self._request(
                "POST",
                url,
                headers={"Content-Type": "application/json"},
                ok=(201, 202),
                retry=False,
            )
        except ClientError as err:
            if url != base:
                self.log.warning("retrying without mount: %s", err)
                return self.initiate(None)
            raise
        if resp.status_code == 201:
            return None, True
        return _location(resp, url, required=True), False

    def upload_one(self, blob: PushBlob) -> None:
        def attempt() -> None:
            if self.blob_exists(blob.digest):
                self._set(blob.digest, "existing")
                return
            if blob.source is not None:
                self.maybe_update_scopes(blob.source)
            location, mounted = self.initiate(blob)
            if mounted:
                self._set(blob.digest, "mounted")
                return
            assert location is not None
            body: Any = _SizedBody(blob) if blob.size else b"".join(blob.content())
            resp = self._request(
                "PATCH",
                location,
                headers={"Content-Type": "application/octet-stream"},
                data=body,
                ok=(202, 204, 201),
                retry=False,
            )
            commit = _location(resp, location, required=False)
            self._request(
                "PUT",
                with_query(commit, {"digest": str(blob.digest)}),
                headers={"Content-Type": "application/octet-stream"},
                ok=(201,),
                retry=False,
            )
            self._set(blob.digest, "pushed")

        self.t.retry_operation(attempt)

    # -- manifests ------------------------------------------------------------------------------

    def manifest_digest(self, tag: str) -> Digest | None:
        """ggcr ``manifestExists`` HEAD: the digest under ``tag``, None for 404/403."""
        path = manifest_path(self.repo, tag)
        try:
            resp = self._request("HEAD", path, headers={"Accept": mt.GGCR_MANIFEST_ACCEPT})
        except TransportError as err:
            if err.status_code in (404, 403):
                return None
            raise
        length = resp.headers.get("Content-Length", "")
        if not length.isdigit():
            raise ClientError(f"strconv.ParseInt: parsing {go_quote(length)}: invalid syntax")
        return go_hash(resp.headers.get("Docker-Content-Digest", ""), "Docker-Content-Digest")

    def put_manifest(self, tag: str, manifest: bytes, media_type: str) -> None:
        def attempt() -> None:
            self._request(
                "PUT",
                manifest_path(self.repo, tag),
                headers={"Content-Type": media_type},
                data=manifest,
                ok=(200, 201, 202),
                retry=False,
            )

        self.t.retry_operation(attempt)


def push_image(
    reference: str,
    manifest: bytes,
    media_type: str,
    blobs: Sequence[PushBlob],
    *,
    insecure: bool = False,
    keychain: Keychain | Credentials | Mapping[str, Credentials] | None = None,
    profile: str | RetryProfile = "ggcr-v0.21.9",
    sleep: Callable[[float], None] | None = None,
    seed: int = 0,
    jobs: int = 4,
    record: list[RequestRecord] | None = None,
    logger: logging.Logger | None = None,
) -> PushResult:
    """Push one image manifest and its blobs (layers first, then the config) to ``reference``
    (``host/repo:tag``), ggcr-style (see the module docstring). Errors propagate as raised
    (:class:`TransportError`, :class:`NetworkError`, ...)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    ref = parse_reference(reference)
    tag = ref.identifier
    log: list[RequestRecord] = []
    note = recorder(log, record)

    digest = Digest.of(manifest)
    result = PushResult(f"{ref.name}:{tag}", digest, len(manifest), requests=log)

    def make_transport() -> Transport:
        return Transport(
            ref.registry or "",
            insecure=insecure,
            keychain=keychain,
            profile=profile,
            sleep=sleep,
            seed=seed,
            record=note,
        )

    writer = _Writer(make_transport, ref.repository, logger or _log)
    try:
        writer.ping()
        if ref.digest is None and writer.manifest_digest(tag) == digest:
            result.existing = True
            return result
        unique: dict[str, PushBlob] = {}
        for blob in blobs:
            unique.setdefault(str(blob.digest), blob)
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="push") as pool:
            futures = [pool.submit(writer.upload_one, b) for b in unique.values()]
            errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        writer.put_manifest(tag, manifest, media_type)
        result.blobs = dict(writer.outcome)
    finally:
        writer.close()
    return result

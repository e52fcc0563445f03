"""Opening a base image the way lifecycle does: imgutil's ``remote.NewImage(ref,
FromBaseImage(ref))`` on top of go-containerregistry's ``remote.Image``.

One :func:`new_remote_image` call is one open: a fresh :class:`Transport` (ping, token), the
manifest GET with ggcr's ``Accept`` list, the platform child of an index, the config GET checked
against digest and size. Like imgutil it turns a 404/401 carrying OCI JSON errors, or ``no child
with platform``, into an **empty image** (no layers), retries a bare ``io.EOF`` up to 3 times
(sleeping 100 ms × i), and wraps every other failure as ``connect to repo store "<ref>": <err>``.
Nothing is cached between opens: the result memoises what it fetched, so calling
:meth:`RemoteImage.top_layer` again never re-fetches (which is why lifecycle opens anew).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flakymirror.client.auth import Credentials, Keychain, repository_scope
from flakymirror.client.errors import (
    ClientError,
    GoEOF,
    ImageError,
    RemoteImageError,
    RepoStoreError,
    TransportError,
    go_decode_json,
)
from flakymirror.client.goformat import go_unmarshal_text
from flakymirror.client.gohttp import recorder
from flakymirror.client.pull import Pulled, go_hash, parse_reference, pull
from flakymirror.client.pull import fetch_config as fetch_config_blob
from flakymirror.client.retry import RetryProfile
from flakymirror.client.transport import RequestRecord, Transport
from flakymirror.client.urls import manifest_path
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.config import ImageConfig
from flakymirror.oci.digest import Digest
from flakymirror.oci.model import Descriptor, Manifest, Platform
from flakymirror.oci.reference import Reference

__all__ = [
    "DEFAULT_PLATFORM",
    "IMGUTIL_EOF_RETRIES",
    "RemoteImage",
    "new_remote_image",
    "parse_reference",
]

#: imgutil's default platform (``linux/<GOARCH>``; lifecycle runs on amd64 here).
DEFAULT_PLATFORM = Platform("linux", "amd64")
#: imgutil's ``maxRetries``: 1 try + 2 retries on an exact ``io.EOF``.
IMGUTIL_EOF_RETRIES = 2


@dataclass
class RemoteImage:
    """An opened base image (imgutil ``remote.Image`` semantics, memoised like ggcr).

    ``empty`` is True when imgutil substituted an empty image (404/401 with OCI errors, or no
    child for the platform); ``empty_reason`` is the error it swallowed. ``requests`` lists every
    HTTP exchange of this open, including imgutil's EOF retries. ``transport`` stays usable after
    the open (for layer GETs); its idle connections are closed when the open ends.

    The config (``config_bytes``, ``config_dict``) is fetched by the open, or, for an image
    opened with ``fetch_config=False``, on first use (once; ggcr's ``RawConfigFile``).
    """

    reference: str
    ref: Reference
    platform: Platform
    transport: Transport | None
    manifest_bytes: bytes
    media_type: str
    digest: Digest
    manifest_dict: Mapping[str, Any]
    empty: bool = False
    empty_reason: BaseException | None = None
    index_bytes: bytes | None = None
    index_media_type: str | None = None
    index_digest: Digest | None = None
    requests: list[RequestRecord] = field(default_factory=list)
    _config_bytes: bytes | None = field(default=None, repr=False)
    _config_dict: Mapping[str, Any] | None = field(default=None, repr=False)
    _fetch_config: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    _config_lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)
    _manifest: Manifest | None = field(default=None, repr=False)
    _config: ImageConfig | None = field(default=None, repr=False)

    @property
    def config_fetched(self) -> bool:
        """True once the config blob is here (always, unless the open deferred it)."""
        return self._config_dict is not None

    def _load_config(self) -> None:
        with self._config_lock:
            if self._config_dict is not None:
                return
            if self._fetch_config is None:
                raise RemoteImageError("image was opened without its config")
            data = self._fetch_config()
            self._config_dict = go_decode_json(data, "v1.ConfigFile")
            self._config_bytes = data

    @property
    def config_bytes(self) -> bytes:
        """The config blob as served (verified against the manifest's descriptor)."""
        self._load_config()
        assert self._config_bytes is not None
        return self._config_bytes

    @property
    def config_dict(self) -> Mapping[str, Any]:
        """The config blob decoded as Go's ``v1.ConfigFile`` decoding reads it."""
        self._load_config()
        assert self._config_dict is not None
        return self._config_dict

    def __repr__(self) -> str:
        state = "empty" if self.empty else f"digest={self.digest}"
        return f"RemoteImage({self.reference!r}, {state}, platform={self.platform})"

    @property
    def found(self) -> bool:
        """True when the registry served the image (not the empty substitute)."""
        return not self.empty

    @property
    def layer_digests(self) -> tuple[Digest, ...]:
        """The compressed layer digests of the manifest, in order (ggcr ``FSLayers``)."""
        layers = self.manifest_dict.get("layers") or []
        if not isinstance(layers, list):
            raise RemoteImageError(go_unmarshal_text("layers", "Go struct field Manifest.layers"))
        return tuple(
            go_hash(d.get("digest", "") if isinstance(d, Mapping) else "", "Descriptor.digest")
            for d in layers
        )

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        """``rootfs.diff_ids`` of the config."""
        rootfs = self.config_dict.get("rootfs")
        ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
        if not isinstance(ids, list):
            return ()
        return tuple(go_hash(d, "RootFS.diff_ids") for d in ids)

    def top_layer(self) -> str:
        """The diffID of the last layer (imgutil ``TopLayer``); no HTTP request.

        Raises :class:`ImageError` ``image has no layers`` or
        ``mismatched fs layers (N) and diff ids (M)`` (ggcr ``BlobToDiffID``)."""
        blobs = self.layer_digests
        if not blobs:
            raise ImageError("image has no layers")
        diff_ids = self.diff_ids
        if len(blobs) != len(diff_ids):
            raise ImageError(f"mismatched fs layers ({len(blobs)}) and diff ids ({len(diff_ids)})")
        last = blobs[-1]
        return str(diff_ids[blobs.index(last)])  # first match, as BlobToDiffID loops

    @property
    def manifest(self) -> Manifest:
        """The image manifest as an :class:`flakymirror.oci.Manifest` (parsed on first use)."""
        if self._manifest is None:
            self._manifest = Manifest.parse(self.manifest_bytes, self.media_type or None)
        return self._manifest

    @property
    def config(self) -> ImageConfig:
        """The image config as an :class:`flakymirror.oci.ImageConfig` (parsed on first use)."""
        if self._config is None:
            self._config = ImageConfig.parse(self.config_bytes)
        return self._config

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """The manifest's layer descriptors."""
        return self.manifest.layers

    @property
    def identifier(self) -> str:
        """``registry/repo@sha256:…`` of the image manifest (imgutil ``Identifier``)."""
        return f"{self.ref.name}@{self.digest}"

    def exists(self) -> bool:
        """imgutil ``Found()``: a fresh transport HEADs the manifest; any error means False."""
        try:
            self.head()
        except ClientError:
            return False
        return True

    def head(self) -> tuple[str, Digest, int]:
        """ggcr ``remote.Head``: (media type, digest, size) from a HEAD of the manifest, which
        must carry ``Content-Type``, ``Content-Length`` and ``Docker-Content-Digest``."""
        old = self.transport
        if old is None:
            raise RemoteImageError("image was opened without a transport")
        t = Transport(
            self.ref.registry or "",
            insecure=old.insecure,
            keychain=old.credentials,
            profile=old.profile,
            sleep=old.sleep,
            timeout=old.timeout,
            verify=old.session.verify,
            record=self.requests,
        )
        with t:
            path = manifest_path(self.ref.repository, self.ref.identifier)
            resp = t.request(
                "HEAD", path, scope=repository_scope(self.ref.repository),
                headers={"Accept": mt.GGCR_MANIFEST_ACCEPT},
            )  # fmt: skip
            url = t.url(path)
            ctype = resp.headers.get("Content-Type")
            if not ctype:
                raise RemoteImageError(f"HEAD {url}: response did not include Content-Type header")
            length = resp.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise RemoteImageError(f"GET {url}: response did not include Content-Length header")
            dh = resp.headers.get("Docker-Content-Digest")
            if not dh:
                raise RemoteImageError(
                    f"HEAD {url}: response did not include Docker-Content-Digest header"
                )
            return ctype, go_hash(dh, "Docker-Content-Digest"), int(length)


def _empty_image(
    reference: str, r: Reference, platform: Platform, reason: BaseException, transport: Transport
) -> RemoteImage:
    """imgutil ``emptyImage(platform)``: a config with no layers and empty diff_ids."""
    config_dict: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
    if platform.os_version:
        config_dict["os.version"] = platform.os_version
    config = ImageConfig(platform.os, platform.architecture, os_version=platform.os_version)
    config_bytes = config.to_bytes()
    manifest = Manifest(
        config=Descriptor(mt.DOCKER_CONFIG, Digest.of(config_bytes), len(config_bytes)),
        layers=(),
        media_type=mt.DOCKER_MANIFEST,
    )
    manifest_bytes = manifest.to_bytes()
    return RemoteImage(
        reference=reference,
        ref=r,
        platform=platform,
        transport=transport,
        manifest_bytes=manifest_bytes,
        media_type=mt.DOCKER_MANIFEST,
        digest=Digest.of(manifest_bytes),
        manifest_dict={"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST, "layers": []},
        _config_bytes=config_bytes,
        _config_dict=config_dict,
        empty=True,
        empty_reason=reason,
        _manifest=manifest,
        _config=config,
    )


def new_remote_image(
    ref: str | Reference,
    *,
    insecure: bool = False,
    keychain: Keychain | Credentials | Mapping[str, Credentials] | None = None,
    platform: str | Platform | None = None,
    profile: str | RetryProfile = "ggcr-v0.21.9",
    sleep: Callable[[float], None] | None = None,
    seed: int = 0,
    record: list[RequestRecord] | None = None,
    timeout: float | tuple[float, float] | None = 30.0,
    verify: bool | str = True,
    fetch_config: bool = True,
) -> RemoteImage:
    """Open ``ref`` as lifecycle opens a base image (see the module docstring).

    ``insecure=True`` means plain HTTP. ``platform`` defaults to ``linux/amd64``. ``profile``
    selects ggcr's transport retries; ``sleep`` receives every sleep (ggcr backoff and imgutil's
    100 ms × i); ``seed`` seeds the jitter. ``record`` (a list) also receives every request.
    Raises :class:`RepoStoreError` (``connect to repo store "<ref>": …``, the cause chained) for
    pull failures, or the bare error for config failures.

    ``fetch_config=False`` opens as imgutil's ``WithPreviousImage`` does: only the manifest (and
    the platform child of an index) now; the config is fetched when first used, and its errors
    surface there."""
    reference = str(ref)
    r = parse_reference(ref)
    plat = Platform.parse(platform) if platform is not None else DEFAULT_PLATFORM
    sleep_fn = sleep if sleep is not None else time.sleep
    log: list[RequestRecord] = []
    note = recorder(log, record)

    def make_transport() -> Transport:
        return Transport(
            r.registry or "",
            insecure=insecure,
            keychain=keychain,
            profile=profile,
            sleep=sleep_fn,
            seed=seed,
            timeout=timeout,
            verify=verify,
            record=note,
        )

    pulled: Pulled | None = None
    transport = make_transport()
    for attempt in range(IMGUTIL_EOF_RETRIES + 1):
        if attempt:
            sleep_fn(0.1 * attempt)
            transport.close()
            transport = make_transport()  # a new remote.Image call: new transport, new ping
        try:
            pulled = pull(transport, r, plat)
        except ClientError as err:
            if type(err) is GoEOF and attempt != IMGUTIL_EOF_RETRIES:
                continue
            missing = (
                isinstance(err, TransportError) and err.errors and err.status_code in (404, 401)
            )
            if missing or "no child with platform" in str(err):
                image = _empty_image(reference, r, plat, err, transport)
                transport.close()
                image.requests = log
                return image
            transport.close()
            wrapped = RepoStoreError(reference, err)
            wrapped.requests = log  # type: ignore[attr-defined]
            raise wrapped from err
        break
    assert pulled is not None
    try:
        manifest_dict = go_decode_json(pulled.manifest_bytes, "v1.Manifest")
    except ClientError as err:
        transport.close()
        err.requests = log  # type: ignore[attr-defined]
        raise
    opened = transport

    def get_config() -> bytes:
        try:
            return fetch_config_blob(opened, r, manifest_dict)
        finally:
            opened.close()

    image = RemoteImage(
        reference=reference,
        ref=r,
        platform=plat,
        transport=transport,
        manifest_bytes=pulled.manifest_bytes,
        media_type=pulled.media_type,
        digest=pulled.digest,
        manifest_dict=manifest_dict,
        index_bytes=pulled.index_bytes,
        index_media_type=pulled.index_media_type,
        index_digest=pulled.index_digest,
        _fetch_config=get_config,
    )
    if fetch_config:
        # imgutil's NewCNBImage reads the base image's config while NewImage runs
        try:
            image._load_config()
        except ClientError as err:
            transport.close()
            err.requests = log  # type: ignore[attr-defined]
            raise
    # idle keep-alive connections are not left to the garbage collector; the transport stays
    # usable (a later request opens a new connection)
    transport.close()
    image.requests = log
    return image

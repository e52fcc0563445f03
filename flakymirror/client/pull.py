"""go-containerregistry's ``remote.Image`` fetches, as imgutil calls them for a base image.

:func:`pull` pings, GETs the manifest with ggcr's ``Accept`` list (digest computed from the body,
checked when pulling by digest) and resolves an index to its platform child;
:func:`fetch_config` GETs the config blob and verifies it like ggcr's verifying reader. Errors
carry ggcr's texts; :mod:`flakymirror.client.remote` applies imgutil's rules on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flakymirror.client.auth import repository_scope
from flakymirror.client.errors import RemoteImageError, go_decode_json
from flakymirror.client.goformat import go_platform, go_quote, go_unmarshal_text
from flakymirror.client.transport import Transport
from flakymirror.client.urls import blob_path, manifest_path
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest, DigestError
from flakymirror.oci.model import Platform
from flakymirror.oci.reference import Reference

__all__ = ["Pulled", "fetch_config", "go_hash", "parse_reference", "pull"]

_SCHEMA1 = (mt.DOCKER_MANIFEST_V1, mt.DOCKER_MANIFEST_V1_SIGNED)


def parse_reference(ref: str | Reference) -> Reference:
    """A :class:`Reference` with ggcr's defaults: Docker Hub when no registry is named
    (``library/`` for one-component names)."""
    r = ref if isinstance(ref, Reference) else Reference.parse(ref)
    if r.registry is None:
        repo = r.repository if "/" in r.repository else f"library/{r.repository}"
        r = Reference("index.docker.io", repo, r.tag, r.digest)
    return r


def _ggcr_ref(r: Reference) -> str:
    """How ggcr prints a reference: ``host/repo:tag`` (``latest`` filled in) or ``host/repo@d``."""
    if r.digest is not None:
        return f"{r.name}@{r.digest}"
    return f"{r.name}:{r.tag or 'latest'}"


def go_hash(value: Any, where: str) -> Digest:
    """Parse a ``v1.Hash`` from decoded JSON, failing with Go's unmarshal texts."""
    if not isinstance(value, str):
        raise RemoteImageError(go_unmarshal_text(type(value).__name__, where, "v1.Hash"))
    try:
        return Digest.parse(value)
    except DigestError:
        raise RemoteImageError(f"cannot parse hash: {go_quote(value)}") from None


def _go_int(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise RemoteImageError(go_unmarshal_text(type(value).__name__, where, "int64"))
    return value


def _child_matches(child: Mapping[str, Any], wanted: Platform) -> bool:
    """ggcr ``matchesPlatform``; a child without a platform counts as linux/amd64."""
    plat = child.get("platform")
    if not isinstance(plat, Mapping):
        os_, arch, variant, os_version = "linux", "amd64", "", ""
    else:
        os_, arch = plat.get("os", ""), plat.get("architecture", "")
        variant, os_version = plat.get("variant", ""), plat.get("os.version", "")
    if arch != wanted.architecture or os_ != wanted.os:
        return False
    if wanted.os_version and os_version != wanted.os_version:
        return False
    return not (wanted.variant and variant != wanted.variant)


@dataclass
class Pulled:
    """What ggcr's ``remote.Image`` returned: the image manifest (after index resolution)."""

    manifest_bytes: bytes
    media_type: str
    digest: Digest
    index_bytes: bytes | None = None
    index_media_type: str | None = None
    index_digest: Digest | None = None


def _fetch_manifest(
    transport: Transport,
    r: Reference,
    identifier: str,
    accept: str,
    printable: str,
    expected: Digest | None,
) -> tuple[bytes, str, Digest]:
    """ggcr ``fetcher.fetchManifest``: GET, digest of the body, by-digest check."""
    resp = transport.request(
        "GET",
        manifest_path(r.repository, identifier),
        scope=repository_scope(r.repository),
        headers={"Accept": accept},
    )
    body = transport.read_body(resp)
    media_type = resp.headers.get("Content-Type", "")
    digest = Digest.of(body)
    header = resp.headers.get("Docker-Content-Digest", "")
    if media_type == mt.DOCKER_MANIFEST_V1_SIGNED and Digest.is_valid(header):
        digest = Digest.parse(header)
    if expected is not None and digest != expected:
        raise RemoteImageError(
            f"manifest digest: {go_quote(str(digest))} does not match requested digest: "
            f"{go_quote(str(expected))} for {go_quote(printable)}"
        )
    return body, media_type, digest


def pull(transport: Transport, r: Reference, platform: Platform) -> Pulled:
    """ggcr ``remote.Image(ref, WithPlatform(p))``: ping, manifest, platform child."""
    transport.ping(repository_scope(r.repository))
    printable = _ggcr_ref(r)
    body, media_type, digest = _fetch_manifest(
        transport, r, r.identifier, mt.GGCR_MANIFEST_ACCEPT, printable, r.digest
    )
    pulled = top = Pulled(body, media_type, digest)
    depth = 0
    while pulled.media_type in mt.INDEXES:
        depth += 1
        if depth > 8:
            raise RemoteImageError(f"index nesting deeper than 8 levels in {printable}")
        index = go_decode_json(pulled.manifest_bytes, "v1.IndexManifest")
        children = index.get("manifests") or []
        if not isinstance(children, list):
            raise RemoteImageError(
                go_unmarshal_text("manifests", "Go struct field IndexManifest.manifests")
            )
        child = next(
            (c for c in children if isinstance(c, Mapping) and _child_matches(c, platform)), None
        )
        if child is None:
            raise RemoteImageError(
                f"no child with platform {go_platform(platform)} in index {printable}"
            )
        child_digest = go_hash(child.get("digest"), "Descriptor.digest")
        child_type = child.get("mediaType") if isinstance(child.get("mediaType"), str) else ""
        printable = f"{r.name}@{child_digest}"
        child_body, _, child_dgst = _fetch_manifest(
            transport, r, str(child_digest), child_type, printable, child_digest
        )
        pulled = Pulled(child_body, child_type, child_dgst)
    if top is not pulled and top.media_type in mt.INDEXES:
        pulled.index_bytes, pulled.index_media_type = top.manifest_bytes, top.media_type
        pulled.index_digest = top.digest
    if pulled.media_type in _SCHEMA1:
        raise RemoteImageError(
            f"unsupported schema 1 manifest ({pulled.media_type}) for {printable}"
        )
    return pulled


def fetch_config(transport: Transport, r: Reference, manifest: Mapping[str, Any]) -> bytes:
    """ggcr ``RawConfigFile``: GET the config blob, check Content-Length, size and digest."""
    desc = manifest.get("config")
    desc = desc if isinstance(desc, Mapping) else {}
    digest = go_hash(desc.get("digest", ""), "Manifest.config.digest")
    size = _go_int(desc.get("size"), "Manifest.config.size")
    url = transport.url(blob_path(r.repository, digest))
    resp = transport.request("GET", url, scope=repository_scope(r.repository), stream=True)
    try:
        length = resp.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != size:
            raise RemoteImageError(
                f"GET {url}: Content-Length header {int(length)} does not match expected size {size}"
            )
        body = transport.read_body(resp)
    finally:
        resp.close()
    got = body[:size]
    if len(got) != size:
        raise RemoteImageError(f"error verifying size; got {len(got)}, want {size}")
    actual = Digest.of(got, digest.algorithm)
    if actual != digest:
        raise RemoteImageError(
            f"error verifying {digest.algorithm} checksum after reading {len(got)} bytes; "
            f"got {go_quote(actual.hex)}, want {go_quote(digest.hex)}"
        )
    return got

"""The OCI/Docker image data model: platforms, descriptors, manifests, indexes.

Every value is a frozen dataclass with ``to_dict()``, ``from_dict(d)``, ``to_bytes()`` (canonical
compact JSON: no spaces, fixed key order, unknown keys last in their original order) and
``parse(bytes)``. Parsing validates and raises :class:`ManifestError` naming the bad field, e.g.
``layers[2].digest: invalid digest 'sha256:zz' ...``. Unknown keys are kept in ``extra`` so a
parse → to_bytes round-trip is byte-identical for what :meth:`to_bytes` produces.

Derive variants with :func:`dataclasses.replace`. :class:`ImageConfig` (defined in :mod:`.config`)
is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from . import mediatypes as mt
from ._validate import (
    MAX_SIZE,
    ManifestError,
    canonical_json,
    check_media_type,
    check_object,
    check_schema_version,
    freeze_extra,
    load_json,
    opt_str,
    opt_str_list,
    opt_str_map,
    req_digest,
    req_str,
)
from .config import History, ImageConfig
from .digest import Digest, DigestError
from .platform import Platform

__all__ = [
    "Descriptor",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "ManifestError",
    "Platform",
    "canonical_json",
    "parse_manifest",
]


def _hash(obj: Any) -> int:
    return hash((type(obj).__name__, obj.to_bytes()))


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: media type, digest and size (plus optional metadata)."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = None
    platform: Platform | None = None
    urls: tuple[str, ...] | None = None
    artifact_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_media_type(self.media_type, "mediaType")
        if isinstance(self.digest, str):
            try:
                object.__setattr__(self, "digest", Digest.parse(self.digest))
            except DigestError as e:
                raise ManifestError(f"digest: {e}") from None
        elif not isinstance(self.digest, Digest):
            raise ManifestError(f"digest: must be a Digest, got {self.digest!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise ManifestError(f"size: must be an integer, got {self.size!r}")
        if not 0 <= self.size <= MAX_SIZE:
            raise ManifestError(f"size: must be between 0 and {MAX_SIZE}, got {self.size}")
        if self.annotations is not None:
            object.__setattr__(self, "annotations", dict(self.annotations))
        if self.urls is not None:
            object.__setattr__(self, "urls", tuple(self.urls))
        if isinstance(self.platform, str):
            object.__setattr__(self, "platform", Platform.parse(self.platform))
        if self.artifact_type is not None:
            check_media_type(self.artifact_type, "artifactType")
        object.__setattr__(self, "extra", freeze_extra(self.extra))

    __hash__ = _hash

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (image-spec key order)."""
        d: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls is not None:
            d["urls"] = list(self.urls)
        if self.annotations is not None:
            d["annotations"] = dict(self.annotations)
        if self.platform is not None:
            d["platform"] = self.platform.to_dict()
        if self.artifact_type is not None:
            d["artifactType"] = self.artifact_type
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> Descriptor:
        """Validate and build from a JSON object; errors name the field under ``path``."""
        check_object(d, path)
        p = f"{path}." if path else ""
        media_type = check_media_type(req_str(d, "mediaType", path), f"{p}mediaType")
        digest = req_digest(d, "digest", path)
        size = d.get("size")
        if "size" not in d:
            raise ManifestError(f"{p}size: required")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise ManifestError(f"{p}size: must be a non-negative integer, got {size!r}")
        platform = None
        if d.get("platform") is not None:
            platform = Platform.from_dict(d["platform"], f"{p}platform")
        urls = opt_str_list(d, "urls", path)
        artifact_type = opt_str(d, "artifactType", path)
        if artifact_type is not None:
            check_media_type(artifact_type, f"{p}artifactType")
        known = ("mediaType", "digest", "size", "urls", "annotations", "platform", "artifactType")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=opt_str_map(d, "annotations", path),
            platform=platform,
            urls=tuple(urls) if urls is not None else None,
            artifact_type=artifact_type,
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json(self.to_dict())


def _descriptors(d: Mapping[str, Any], key: str, path: str) -> tuple[Descriptor, ...]:
    p = f"{path}." if path else ""
    if key not in d:
        raise ManifestError(f"{p}{key}: required")
    items = d[key]
    if not isinstance(items, list):
        raise ManifestError(f"{p}{key}: must be a list, got {type(items).__name__}")
    return tuple(Descriptor.from_dict(item, f"{p}{key}[{i}]") for i, item in enumerate(items))


def _opt_descriptor(d: Mapping[str, Any], key: str) -> Descriptor | None:
    return Descriptor.from_dict(d[key], key) if d.get(key) is not None else None


class _TopLevel:
    """What :class:`Manifest` and :class:`Index` share: the bytes, the digest, ``parse`` and
    the fields both carry after their own (``subject``, ``annotations``, unknown keys).

    Subclasses are frozen dataclasses that define ``to_dict`` and ``from_dict``.
    """

    subject: Descriptor | None
    annotations: Mapping[str, str] | None
    extra: Mapping[str, Any]

    def _dict_tail(self, d: dict[str, Any]) -> dict[str, Any]:
        """``d`` with ``subject``, ``annotations`` and the unknown keys added, in that order."""
        if self.subject is not None:
            d["subject"] = self.subject.to_dict()
        if self.annotations is not None:
            d["annotations"] = dict(self.annotations)
        d.update(self.extra)
        return d

    @staticmethod
    def _fields_tail(
        d: Mapping[str, Any], known: tuple[str, ...], artifact_type: str | None
    ) -> dict[str, Any]:
        """The ``annotations``, ``subject``, ``artifact_type`` and ``extra`` arguments, checked
        in that order; ``known`` are the keys that do not go to ``extra``."""
        return {
            "annotations": opt_str_map(d, "annotations", ""),
            "subject": _opt_descriptor(d, "subject"),
            "artifact_type": check_media_type(artifact_type, "artifactType")
            if artifact_type
            else None,
            "extra": {k: v for k, v in d.items() if k not in known},
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (what a registry stores and digests)."""
        return canonical_json(self.to_dict())

    @classmethod
    def parse(cls, data: bytes, media_type: str | None = None) -> Self:
        """Parse and validate the bytes of this kind of manifest."""
        return cls.from_dict(load_json(data), media_type)

    @property
    def digest(self) -> Digest:
        """Digest of :meth:`to_bytes`."""
        return Digest.of(self.to_bytes())


@dataclass(frozen=True)
class Manifest(_TopLevel):
    """An image manifest: OCI (``media_type=OCI_MANIFEST``) or Docker schema 2."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mt.OCI_MANIFEST
    annotations: Mapping[str, str] | None = None
    subject: Descriptor | None = None
    artifact_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not mt.is_image_manifest(self.media_type):
            raise ManifestError(f"mediaType: {self.media_type!r} is not an image manifest type")
        if not isinstance(self.config, Descriptor):
            raise ManifestError(f"config: must be a Descriptor, got {self.config!r}")
        object.__setattr__(self, "layers", tuple(self.layers))
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Descriptor):
                raise ManifestError(f"layers[{i}]: must be a Descriptor, got {layer!r}")
        if self.annotations is not None:
            object.__setattr__(self, "annotations", dict(self.annotations))
        if self.artifact_type is not None:
            check_media_type(self.artifact_type, "artifactType")
        elif self.config.media_type == mt.OCI_EMPTY:
            raise ManifestError(f"artifactType: required when config.mediaType is {mt.OCI_EMPTY}")
        object.__setattr__(self, "extra", freeze_extra(self.extra))

    __hash__ = _hash

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (image-spec key order)."""
        d: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type is not None:
            d["artifactType"] = self.artifact_type
        d["config"] = self.config.to_dict()
        d["layers"] = [layer.to_dict() for layer in self.layers]
        return self._dict_tail(d)

    @classmethod
    def from_dict(cls, d: Any, media_type: str | None = None) -> Manifest:
        """Validate and build; ``media_type`` is used when the body has no ``mediaType``."""
        check_object(d, "")
        check_schema_version(d)
        body_type = opt_str(d, "mediaType", "")
        if body_type is not None and not mt.is_image_manifest(body_type):
            raise ManifestError(f"mediaType: {body_type!r} is not an image manifest type")
        if "manifests" in d:
            raise ManifestError("manifests: an image manifest has no 'manifests' (is it an index?)")
        if "config" not in d:
            raise ManifestError("config: required")
        known = ("schemaVersion", "mediaType", "artifactType", "config", "layers", "subject",
                 "annotations")  # fmt: skip
        artifact_type = opt_str(d, "artifactType", "")
        if body_type is None and media_type == mt.DOCKER_MANIFEST:
            raise ManifestError("mediaType: required in a Docker schema 2 manifest")
        return cls(
            config=Descriptor.from_dict(d["config"], "config"),
            layers=_descriptors(d, "layers", ""),
            media_type=body_type or media_type or mt.OCI_MANIFEST,
            **cls._fields_tail(d, known, artifact_type),
        )

    def references(self) -> tuple[Descriptor, ...]:
        """The blobs this manifest needs: config then layers."""
        return (self.config, *self.layers)


@dataclass(frozen=True)
class Index(_TopLevel):
    """An image index (OCI) or manifest list (Docker); children usually carry a platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mt.OCI_INDEX
    annotations: Mapping[str, str] | None = None
    subject: Descriptor | None = None
    artifact_type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not mt.is_index(self.media_type):
            raise ManifestError(f"mediaType: {self.media_type!r} is not an index type")
        object.__setattr__(self, "manifests", tuple(self.manifests))
        for i, child in enumerate(self.manifests):
            if not isinstance(child, Descriptor):
                raise ManifestError(f"manifests[{i}]: must be a Descriptor, got {child!r}")
        if self.annotations is not None:
            object.__setattr__(self, "annotations", dict(self.annotations))
        if self.artifact_type is not None:
            check_media_type(self.artifact_type, "artifactType")
        object.__setattr__(self, "extra", freeze_extra(self.extra))

    __hash__ = _hash

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (image-spec key order)."""
        d: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type is not None:
            d["artifactType"] = self.artifact_type
        d["manifests"] = [m.to_dict() for m in self.manifests]
        return self._dict_tail(d)

    @classmethod
    def from_dict(cls, d: Any, media_type: str | None = None) -> Index:
        """Validate and build; ``media_type`` is used when the body has no ``mediaType``."""
        check_object(d, "")
        check_schema_version(d)
        body_type = opt_str(d, "mediaType", "")
        if body_type is not None and not mt.is_index(body_type):
            raise ManifestError(f"mediaType: {body_type!r} is not an index type")
        known = ("schemaVersion", "mediaType", "artifactType", "manifests", "subject",
                 "annotations")  # fmt: skip
        artifact_type = opt_str(d, "artifactType", "")
        if body_type is None and media_type == mt.DOCKER_MANIFEST_LIST:
            raise ManifestError("mediaType: required in a Docker manifest list")
        if "layers" in d and "manifests" not in d:
            raise ManifestError("manifests: required (an index has no 'layers'; is it a manifest?)")
        return cls(
            manifests=_descriptors(d, "manifests", ""),
            media_type=body_type or media_type or mt.OCI_INDEX,
            **cls._fields_tail(d, known, artifact_type),
        )

    def references(self) -> tuple[Descriptor, ...]:
        """The child manifests this index needs."""
        return self.manifests

    def find(self, platform: Platform | str) -> Descriptor | None:
        """The first child whose platform matches ``platform``, or None."""
        for child in self.manifests:
            if child.platform is not None and child.platform.matches(platform):
                return child
        return None


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Parse manifest bytes served under ``/manifests/`` into a :class:`Manifest` or
    :class:`Index`, validating them.

    ``media_type`` is the Content-Type (parameters are ignored). When both it and the body's
    ``mediaType`` are present they must agree. Without either, the shape decides
    (``manifests`` → OCI index, else OCI manifest).
    """
    d = load_json(data)
    check_object(d, "")
    header = media_type.split(";", 1)[0].strip() if media_type else None
    body_type = d.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise ManifestError(f"mediaType: must be a string, got {body_type!r}")
    if header and body_type and header != body_type:
        raise ManifestError(
            f"mediaType: the body says {body_type!r} but the content type is {header!r}"
        )
    kind = body_type or header
    if kind is None:
        kind = mt.OCI_INDEX if "manifests" in d else mt.OCI_MANIFEST
    if mt.is_index(kind):
        return Index.from_dict(d, kind)
    if mt.is_image_manifest(kind):
        return Manifest.from_dict(d, kind)
    raise ManifestError(
        f"mediaType: unsupported manifest media type {kind!r} "
        f"(supported: {', '.join(sorted(mt.MANIFESTS))})"
    )

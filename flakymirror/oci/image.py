"""Images and image indexes assembled from blobs, with their manifests and digests.

An :class:`Image` ties layers, a config and a manifest together; the config's ``diff_ids`` and
the manifest's descriptors are derived from the layers, lazily, so building an image with 1 GiB
layers is instant and the layers are only streamed when a digest is first needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property

from . import mediatypes as mt
from .blobs import Blob, BytesBlob, Layer
from .config import ImageConfig
from .digest import Digest
from .model import Descriptor, Index, Manifest, Platform

__all__ = ["FLAVORS", "Image", "ImageIndex"]

#: Image flavours: OCI media types or Docker schema 2 media types.
FLAVORS = {
    "oci": (mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_INDEX),
    "docker": (mt.DOCKER_MANIFEST, mt.DOCKER_CONFIG, mt.DOCKER_MANIFEST_LIST),
}


def _flavor(flavor: str) -> tuple[str, str, str]:
    try:
        return FLAVORS[flavor]
    except KeyError:
        raise ValueError(f"unknown flavor {flavor!r} (expected 'oci' or 'docker')") from None


def _as_digest(digest: Digest | str) -> Digest:
    return digest if isinstance(digest, Digest) else Digest.parse(digest)


def _unique(blobs: Iterable[Blob]) -> list[Blob]:
    seen: set[Digest] = set()
    out = []
    for b in blobs:
        if b.digest not in seen:
            seen.add(b.digest)
            out.append(b)
    return out


class Image:
    """A single-platform image: layers + config + manifest.

    ``config`` gives everything but ``rootfs.diff_ids``, which always come from ``layers``.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        config: ImageConfig,
        *,
        flavor: str = "oci",
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self.manifest_media_type, self.config_media_type, _ = _flavor(flavor)
        self.flavor = flavor
        self.layers: tuple[Layer, ...] = tuple(layers)
        self.annotations = dict(annotations) if annotations is not None else None
        self._config_template = config

    @property
    def media_type(self) -> str:
        """The manifest media type."""
        return self.manifest_media_type

    @property
    def platform(self) -> Platform:
        """The platform the config declares (known without streaming any layer)."""
        return self._config_template.platform

    @cached_property
    def config(self) -> ImageConfig:
        """The image config, with ``diff_ids`` of the layers (streams unmeasured layers)."""
        return self._config_template.with_diff_ids(layer.diff_id for layer in self.layers)

    @cached_property
    def config_blob(self) -> BytesBlob:
        """The config blob; its bytes are ``config.to_bytes()``."""
        return BytesBlob(self.config.to_bytes(), self.config_media_type)

    @cached_property
    def manifest(self) -> Manifest:
        """The manifest pointing at the config blob and the layers."""
        return Manifest(
            config=self.config_blob.descriptor(),
            layers=tuple(layer.descriptor() for layer in self.layers),
            media_type=self.manifest_media_type,
            annotations=self.annotations,
        )

    @cached_property
    def manifest_bytes(self) -> bytes:
        """The canonical manifest bytes (what a registry serves)."""
        return self.manifest.to_bytes()

    @cached_property
    def digest(self) -> Digest:
        """``Digest.of(manifest_bytes)``."""
        return Digest.of(self.manifest_bytes)

    @property
    def size(self) -> int:
        """Length of the manifest bytes."""
        return len(self.manifest_bytes)

    def descriptor(self, *, with_platform: bool = True) -> Descriptor:
        """A descriptor of this image's manifest (as listed in an index)."""
        return Descriptor(
            self.manifest_media_type,
            self.digest,
            self.size,
            platform=self.config.platform if with_platform else None,
        )

    def blobs(self) -> list[Blob]:
        """Config blob then layers (each digest once)."""
        return _unique([self.config_blob, *self.layers])

    def blob(self, digest: Digest | str) -> Blob:
        """The blob with ``digest``; ``KeyError`` naming it when the image has none."""
        d = _as_digest(digest)
        for b in self.blobs():
            if b.digest == d:
                return b
        raise KeyError(f"image {self.digest.short()} has no blob {d}")

    def with_annotations(self, annotations: Mapping[str, str] | None) -> Image:
        """The same image (same layers and config) with other manifest annotations."""
        return Image(
            self.layers, self._config_template, flavor=self.flavor, annotations=annotations
        )

    def with_config(self, **changes: object) -> Image:
        """The same layers with ``dataclasses.replace(config, **changes)``."""
        config = dataclasses.replace(self._config_template, **changes)  # type: ignore[arg-type]
        return Image(self.layers, config, flavor=self.flavor, annotations=self.annotations)

    def __repr__(self) -> str:
        return f"<Image {self.platform} {self.flavor} {len(self.layers)} layers>"


class ImageIndex:
    """A multi-platform index (OCI) or manifest list (Docker) over several :class:`Image`."""

    def __init__(
        self,
        images: Sequence[Image],
        *,
        flavor: str = "oci",
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        _, _, self.media_type = _flavor(flavor)
        self.flavor = flavor
        self.images: tuple[Image, ...] = tuple(images)
        self.annotations = dict(annotations) if annotations is not None else None

    @cached_property
    def index(self) -> Index:
        """The index listing each image with its platform."""
        return Index(
            manifests=tuple(image.descriptor() for image in self.images),
            media_type=self.media_type,
            annotations=self.annotations,
        )

    @cached_property
    def index_bytes(self) -> bytes:
        """The canonical index bytes."""
        return self.index.to_bytes()

    @property
    def manifest_bytes(self) -> bytes:
        """Alias of :attr:`index_bytes` (what a registry serves for this index)."""
        return self.index_bytes

    @cached_property
    def digest(self) -> Digest:
        """``Digest.of(index_bytes)``."""
        return Digest.of(self.index_bytes)

    @property
    def size(self) -> int:
        """Length of the index bytes."""
        return len(self.index_bytes)

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms of the images, in index order."""
        return tuple(image.platform for image in self.images)

    def image_for(self, platform: Platform | str) -> Image:
        """The first image matching ``platform``; ``KeyError`` listing what exists otherwise."""
        for image in self.images:
            if image.platform.matches(platform):
                return image
        have = ", ".join(str(p) for p in self.platforms) or "none"
        raise KeyError(f"index has no image for platform {str(platform)!r} (has: {have})")

    def image(self, digest: Digest | str) -> Image:
        """The child image whose manifest digest is ``digest``."""
        d = _as_digest(digest)
        for image in self.images:
            if image.digest == d:
                return image
        raise KeyError(f"index {self.digest.short()} has no manifest {d}")

    def blobs(self) -> list[Blob]:
        """Every blob of every image (each digest once)."""
        return _unique(b for image in self.images for b in image.blobs())

    def blob(self, digest: Digest | str) -> Blob:
        """The blob with ``digest`` in any of the images."""
        d = _as_digest(digest)
        for b in self.blobs():
            if b.digest == d:
                return b
        raise KeyError(f"index {self.digest.short()} has no blob {d}")

    def __repr__(self) -> str:
        plats = ", ".join(str(p) for p in self.platforms)
        return f"<ImageIndex {self.flavor} [{plats}]>"

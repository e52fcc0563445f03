"""Media types of the OCI image spec and Docker schema 2, and how they group."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
#: Uncompressed Docker layer (not in the schema 2 text, but written by Docker and ggcr).
DOCKER_LAYER_UNCOMPRESSED = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

#: Single-image manifests.
IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Multi-platform indexes.
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
#: Everything a registry stores under ``/manifests/``.
MANIFESTS = IMAGE_MANIFESTS | INDEXES
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYERS = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_NONDIST,
        OCI_LAYER_NONDIST_GZIP,
        DOCKER_LAYER,
        DOCKER_LAYER_UNCOMPRESSED,
        DOCKER_FOREIGN_LAYER,
    }
)

#: SHA256 of the two-byte blob ``{}`` (the OCI empty descriptor).
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#: The exact ``Accept`` header go-containerregistry sends for a manifest GET (lifecycle).
GGCR_MANIFEST_ACCEPT = ",".join(
    [
        DOCKER_MANIFEST_V1,
        DOCKER_MANIFEST_V1_SIGNED,
        DOCKER_MANIFEST,
        OCI_MANIFEST,
        DOCKER_MANIFEST_LIST,
        OCI_INDEX,
    ]
)


def is_index(media_type: str) -> bool:
    """True for an OCI index or a Docker manifest list."""
    return media_type in INDEXES


def is_image_manifest(media_type: str) -> bool:
    """True for an OCI image manifest or a Docker schema2 manifest."""
    return media_type in IMAGE_MANIFESTS


def is_manifest(media_type: str) -> bool:
    """True for anything served under ``/manifests/``."""
    return media_type in MANIFESTS


def is_layer(media_type: str) -> bool:
    """True for a layer media type this module knows (OCI or Docker, any compression)."""
    return media_type in LAYERS


def is_config(media_type: str) -> bool:
    """True for an OCI or Docker image config."""
    return media_type in CONFIGS


def layer_compression(media_type: str) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``"none"`` for a known layer media type, else ``None``."""
    if media_type not in LAYERS:
        return None
    if media_type.endswith("+gzip") or media_type.endswith(".tar.gzip"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    return "none"

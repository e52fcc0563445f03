"""The OCI/Docker data model: digests, media types, manifests, configs, references, and
deterministic synthetic images. Pure data: no network, no registry."""

from .._deprecated import aliases
from . import mediatypes, protocol
from ._validate import canonical_json
from .blobs import Blob, BytesBlob, Layer, layer_media_type
from .challenge import Challenge, parse_challenges
from .config import History, ImageConfig
from .digest import (
    DIGEST_GRAMMAR,
    SUPPORTED_ALGORITHMS,
    Digest,
    DigestError,
    DigestMismatch,
    Hasher,
    verify_stream,
)
from .image import Image, ImageIndex
from .model import Descriptor, Index, Manifest, ManifestError, Platform, parse_manifest
from .policy import LIFECYCLE_POLICY, RETRY_PROFILES, OpenerPolicy
from .reference import (
    REPOSITORY_PATTERN,
    REPOSITORY_RE,
    TAG_PATTERN,
    TAG_RE,
    InvalidReferenceError,
    Reference,
    validate_host,
    validate_repository,
    validate_tag,
)
from .synthetic import (
    SYNTHETIC_CREATED,
    SYNTHETIC_EPOCH,
    build_image,
    build_index,
    image_from_directory,
)

__all__ = [
    "Challenge",
    "DIGEST_GRAMMAR",
    "LIFECYCLE_POLICY",
    "OpenerPolicy",
    "RETRY_PROFILES",
    "parse_challenges",
    "protocol",
    "SYNTHETIC_CREATED",
    "SYNTHETIC_EPOCH",
    "Blob",
    "BytesBlob",
    "Image",
    "ImageIndex",
    "Layer",
    "build_image",
    "build_index",
    "image_from_directory",
    "layer_media_type",
    "REPOSITORY_PATTERN",
    "REPOSITORY_RE",
    "TAG_PATTERN",
    "SUPPORTED_ALGORITHMS",
    "TAG_RE",
    "Descriptor",
    "Digest",
    "DigestError",
    "DigestMismatch",
    "Hasher",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "ManifestError",
    "Platform",
    "Reference",
    "InvalidReferenceError",
    "canonical_json",
    "mediatypes",
    "parse_manifest",
    "validate_host",
    "validate_repository",
    "validate_tag",
    "verify_stream",
]

__getattr__ = aliases(__name__, {"ReferenceError": InvalidReferenceError})

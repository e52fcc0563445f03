"""The OCI/Docker data model: digests, media types, manifests, configs, references, and
deterministic synthetic images. Pure data: no network, no registry."""

from . import mediatypes
from ._validate import canonical_json
from .config import History, ImageConfig
from .digest import SUPPORTED_ALGORITHMS, Digest, DigestError, DigestMismatch, Hasher, verify_stream
from .model import Descriptor, Index, Manifest, ManifestError, Platform, parse_manifest
from .reference import (
    REPOSITORY_RE,
    TAG_RE,
    Reference,
    ReferenceError,
    validate_host,
    validate_repository,
    validate_tag,
)

__all__ = [
    "REPOSITORY_RE",
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
    "ReferenceError",
    "canonical_json",
    "mediatypes",
    "parse_manifest",
    "validate_host",
    "validate_repository",
    "validate_tag",
    "verify_stream",
]

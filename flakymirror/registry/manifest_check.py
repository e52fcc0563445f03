"""Validate a pushed manifest and pull out what the store needs: references, subject, type.

Lenient where the spec and the conformance data sets are (unknown fields, ``data`` fields,
empty ``layers``, indexes of indexes, artifacts), strict where a registry must be: JSON object,
``schemaVersion`` 2, a known manifest media type that agrees with ``Content-Type``, and
well-formed descriptors. Every refusal is a ``MANIFEST_INVALID`` naming the field at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..oci import mediatypes as mt
from ..oci._validate import MAX_SIZE
from ..oci.digest import Digest, DigestError
from .errors import RegistryError

__all__ = ["ManifestInfo", "inspect_manifest", "normalize_media_type"]

_GENERIC = frozenset({"", "application/octet-stream", "application/json", "text/plain"})
_SCHEMA1 = frozenset({mt.DOCKER_MANIFEST_V1, mt.DOCKER_MANIFEST_V1_SIGNED})


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """What a valid manifest refers to."""

    media_type: str
    blobs: tuple[Digest, ...]
    children: tuple[Digest, ...]
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def normalize_media_type(value: str | None) -> str:
    """``application/x; charset=utf-8`` → ``application/x`` (parameters dropped, lowercased)."""
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _invalid(message: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", f"manifest invalid: {message}")


def _descriptor(value: Any, where: str) -> tuple[Digest, bool]:
    """Validate a descriptor; return its digest and whether it carries ``urls``."""
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object, got {type(value).__name__}")
    media = value.get("mediaType")
    if not isinstance(media, str) or not media:
        raise _invalid(f"{where}.mediaType must be a non-empty string")
    raw = value.get("digest")
    if not isinstance(raw, str):
        raise _invalid(f"{where}.digest must be a string")
    try:
        digest = Digest.parse(raw)
    except DigestError as exc:
        raise _invalid(f"{where}.digest: {exc}") from None
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise _invalid(f"{where}.size must be an integer from 0 to 2^63-1, got {size!r}")
    urls = value.get("urls")
    if urls is not None and (
        not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)
    ):
        raise _invalid(f"{where}.urls must be a list of strings")
    _annotations(value.get("annotations"), f"{where}.annotations")
    return digest, bool(urls)


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid(f"{where} must be an object of strings")
    return value


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = normalize_media_type(content_type)
    if declared in _SCHEMA1:
        raise _invalid(f"Docker schema 1 ({declared}) is not supported")
    if declared not in _GENERIC and declared not in mt.MANIFESTS:
        raise _invalid(f"unsupported manifest media type {declared!r} in Content-Type")
    body = doc.get("mediaType")
    if body is not None and not isinstance(body, str):
        raise _invalid("mediaType must be a string")
    if body and declared in mt.MANIFESTS and body != declared:
        raise _invalid(f"Content-Type {declared!r} does not match the mediaType field {body!r}")
    if declared in mt.MANIFESTS:
        return declared
    if body:
        if body not in mt.MANIFESTS:
            raise _invalid(f"unsupported mediaType {body!r}")
        return body
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc:
        return mt.OCI_MANIFEST
    raise _invalid("no media type: set Content-Type or the mediaType field")


def inspect_manifest(data: bytes, content_type: str | None) -> ManifestInfo:
    """Validate ``data`` pushed with ``content_type``; raise ``MANIFEST_INVALID`` when bad."""
    try:
        # Go's encoding/json reads UTF-8 only: no byte-order mark, no UTF-16 or UTF-32 (which
        # Python's json.loads of bytes would detect and accept), no NaN or Infinity
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            raise ValueError("it starts with a UTF-8 byte-order mark")
        doc = json.loads(text, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise _invalid("not valid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise _invalid(f"top level must be a JSON object, got {type(doc).__name__}")
    media_type = _media_type(doc, content_type)
    version = doc.get("schemaVersion")
    if version != 2 or isinstance(version, bool):
        raise _invalid(f"schemaVersion must be 2, got {version!r}")
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    annotations = _annotations(doc.get("annotations"), "annotations")
    subject = None
    if doc.get("subject") is not None:
        subject, _ = _descriptor(doc["subject"], "subject")
    blobs: list[Digest] = []
    children: list[Digest] = []
    if mt.is_index(media_type):
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise _invalid("manifests must be a list")
        for i, item in enumerate(manifests):
            digest, _ = _descriptor(item, f"manifests[{i}]")
            children.append(digest)
    else:
        if "config" not in doc:
            raise _invalid("config is required in an image manifest")
        config, _ = _descriptor(doc["config"], "config")
        blobs.append(config)
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers must be a list")
        for i, item in enumerate(layers):
            digest, has_urls = _descriptor(item, f"layers[{i}]")
            if not has_urls:  # non-distributable layers live elsewhere
                blobs.append(digest)
        if artifact_type is None:
            artifact_type = doc["config"]["mediaType"]
    return ManifestInfo(
        media_type=media_type,
        blobs=tuple(dict.fromkeys(blobs)),
        children=tuple(dict.fromkeys(children)),
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )

"""Pushes to a running registry with plain ``requests`` (blobs, manifests, descriptors) and the
OCI error codes of its answers."""

from __future__ import annotations

import json
from typing import Any

import requests

from flakymirror.oci import Digest
from flakymirror.oci import mediatypes as mt


def errors_of(resp: requests.Response) -> list[str]:
    """The OCI error codes in a response body."""
    return [e["code"] for e in resp.json()["errors"]]


def code_of(resp: requests.Response) -> str:
    """The first OCI error code of a response."""
    return errors_of(resp)[0]


def push_blob(url: str, repo: str, data: bytes, session: Any = requests) -> str:
    """Monolithic POST ?digest= push; returns the digest string."""
    d = str(Digest.of(data))
    r = session.post(f"{url}/v2/{repo}/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201, r.text
    return d


def push_default_blobs(url: str, repo: str) -> None:
    """Push the config (``{}``) and layer (``layer``) blobs :func:`manifest_bytes` names by default."""
    push_blob(url, repo, b"{}")
    push_blob(url, repo, b"layer")


def manifest_bytes(
    config: bytes = b"{}",
    layers: tuple[bytes, ...] = (b"layer",),
    *,
    media_type: str = mt.OCI_MANIFEST,
    config_type: str = mt.OCI_CONFIG,
    subject: dict[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """A manifest naming ``config`` and ``layers`` (as raw bytes)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [
            {"mediaType": mt.OCI_LAYER, "digest": str(Digest.of(layer)), "size": len(layer)}
            for layer in layers
        ],
    }
    if subject is not None:
        doc["subject"] = subject
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if annotations is not None:
        doc["annotations"] = annotations
    return json.dumps(doc).encode()


def push_manifest_with_blobs(
    url: str,
    repo: str,
    tag: str,
    config: bytes = b"{}",
    layers: tuple[bytes, ...] = (b"layer",),
    **kw: Any,
) -> tuple[str, bytes]:
    """Push blobs and a manifest under ``tag``; return (digest, manifest bytes)."""
    push_blob(url, repo, config)
    for layer in layers:
        push_blob(url, repo, layer)
    data = manifest_bytes(config, layers, **kw)
    media = kw.get("media_type", mt.OCI_MANIFEST)
    r = requests.put(f"{url}/v2/{repo}/manifests/{tag}", data=data, headers={"Content-Type": media})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], data


def descriptor(data: bytes, media_type: str) -> dict[str, Any]:
    """A descriptor for ``data``."""
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data)}

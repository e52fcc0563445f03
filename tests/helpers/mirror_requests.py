"""Requests to a running mirror the way the tests make them: go-containerregistry's manifest
Accept header, the usual repository, blob and manifest GETs, the control API."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from flakymirror.mirror import FlakyMirror
from flakymirror.oci.mediatypes import GGCR_MANIFEST_ACCEPT

ACCEPT = {"Accept": GGCR_MANIFEST_ACCEPT}
REPO = "lib/app"


def sha256(data: bytes) -> str:
    """The ``sha256:<hex>`` digest string of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_manifest(
    mirror: FlakyMirror, repo: str, ref: str, method: str = "GET", **kw: Any
) -> requests.Response:
    """A manifest request with go-containerregistry's Accept header."""
    headers = {**ACCEPT, **kw.pop("headers", {})}
    return requests.request(
        method, f"{mirror.url}/v2/{repo}/manifests/{ref}", headers=headers, timeout=10, **kw
    )


def control_api(
    mirror: FlakyMirror, method: str, path: str, *, timeout: float = 10, **kw: Any
) -> requests.Response:
    """A request to the mirror's control API under ``/_flakymirror/``; a write says
    ``Content-Type: application/json`` unless the caller gives another."""
    headers = dict(kw.pop("headers", None) or {})
    if method.upper() not in ("GET", "HEAD"):
        headers.setdefault("Content-Type", "application/json")
    return requests.request(
        method, f"{mirror.url}/_flakymirror/{path}", timeout=timeout, headers=headers, **kw
    )


def get_blob(
    mirror: FlakyMirror, repo: str, digest: str, method: str = "GET", **kw: Any
) -> requests.Response:
    """A blob request (10 s timeout unless given)."""
    kw.setdefault("timeout", 10)
    return requests.request(method, f"{mirror.url}/v2/{repo}/blobs/{digest}", **kw)

"""Shared pieces of the endpoint modules: the request context, small responses, ``GET /v2/``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..oci.digest import SUPPORTED_ALGORITHMS, Digest, DigestError
from .errors import RegistryError

if TYPE_CHECKING:
    from .app import RegistryApp
    from .auth import Identity
    from .store import Store

__all__ = [
    "API_VERSION",
    "Context",
    "empty",
    "json_response",
    "ping",
    "digest_for_lookup",
    "digest_for_push",
    "read_limited",
]

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


@dataclass
class Context:
    """What an endpoint handler gets: the app, the request, the repository and the caller."""

    app: RegistryApp
    request: Request
    repo: str
    identity: Identity

    @property
    def store(self) -> Store:
        """The app's content store."""
        return self.app.store


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """A response with no body (``Content-Length: 0``)."""
    resp = Response(b"", status=status)
    resp.headers.pop("Content-Type", None)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def json_response(
    doc: Any,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON body with the given content type."""
    resp = Response(
        json.dumps(doc, separators=(",", ":")), status=status, content_type=content_type
    )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def ping(ctx: Context) -> Response:
    """end-1 ``GET /v2/``: 200 and an empty JSON object."""
    return json_response({})


_GRAMMAR_BAD = "DIGEST_INVALID"
#: image-spec descriptor.md digest grammar (any algorithm).
DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


def digest_for_lookup(text: str, not_found: str) -> Digest:
    """Parse a digest in a GET/HEAD/DELETE path.

    Bad grammar → 400 ``DIGEST_INVALID``; a well-formed digest of an algorithm we do not
    store (e.g. ``blake3:…``) cannot name anything here → 404 ``not_found``.
    """
    try:
        return Digest.parse(text)
    except DigestError as exc:
        algorithm, sep, _ = text.partition(":")
        if sep and algorithm not in SUPPORTED_ALGORITHMS and DIGEST_GRAMMAR.match(text):
            raise RegistryError(not_found, f"unsupported digest algorithm in {text!r}") from None
        raise RegistryError(_GRAMMAR_BAD, str(exc), {"digest": text[:200]}) from None


def digest_for_push(text: str | None, what: str = "digest") -> Digest:
    """Parse a digest a client pushes with; anything unusable → 400 ``DIGEST_INVALID``."""
    if not text:
        raise RegistryError("DIGEST_INVALID", f"the {what} query parameter is required")
    try:
        return Digest.parse(text)
    except DigestError as exc:
        raise RegistryError("DIGEST_INVALID", str(exc), {"digest": text[:200]}) from None


def read_limited(request: Request, limit: int, what: str) -> bytes:
    """Read a whole (small) request body; more than ``limit`` bytes → 413."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise RegistryError(
            "MANIFEST_INVALID" if what == "manifest" else "SIZE_INVALID",
            f"{what} is {declared} bytes, over the {limit}-byte limit",
            status=413,
        )
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise RegistryError(
                "MANIFEST_INVALID" if what == "manifest" else "SIZE_INVALID",
                f"{what} is over the {limit}-byte limit",
                status=413,
            )
    return b"".join(parts)

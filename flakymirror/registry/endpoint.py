"""What every endpoint handler shares: the request context, small responses, body reads and
``GET /v2/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .._deprecated import aliases
from ..oci.protocol import API_VERSION_PAIR
from .errors import RegistryError

if TYPE_CHECKING:
    from .app import RegistryApp
    from .auth import Identity
    from .store import Store

__all__ = [
    "Context",
    "empty",
    "json_response",
    "ping",
    "read_limited",
]


@dataclass
class Context:
    """What an endpoint handler gets: the app, the request, the repository, the caller and
    the store this request reads and writes (the app's own unless the caller of
    :meth:`RegistryApp.handle` gave a per-request one)."""

    app: RegistryApp
    request: Request
    repo: str
    identity: Identity
    store: Store


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


#: ``API_VERSION`` was the header pair; it lives in :mod:`flakymirror.oci.protocol` now.
__getattr__ = aliases(__name__, {"API_VERSION": API_VERSION_PAIR})

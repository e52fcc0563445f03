"""Facts of the distribution protocol that both sides of the wire use, each stated once.

The registry, the mirror and its fault effects write these; the reference client and the
scenario files read them. Anything that needs one of them imports it from here (a test,
``tests/test_one_home.py``, fails if a copy appears elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = [
    "API_VERSION",
    "API_VERSION_HEADER",
    "API_VERSION_LINE",
    "API_VERSION_PAIR",
    "ENDPOINT_KINDS",
    "error_body",
    "error_entry",
]

#: The header every distribution (v2) response carries, and its value.
API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"
#: The same header as one raw HTTP/1.1 header line (no CRLF), for hand-written heads.
API_VERSION_LINE = f"{API_VERSION_HEADER}: {API_VERSION}"
#: The same as a ``(name, value)`` header pair, for WSGI ``start_response``.
API_VERSION_PAIR = (API_VERSION_HEADER, API_VERSION)

#: What a registry request can address, by the spec's endpoint families (end-1 … end-13) plus
#: the token service. The mirror's fault matcher adds its own kinds (``other``, ``tls-probe``).
ENDPOINT_KINDS = ("ping", "token", "manifest", "blob", "upload", "tags", "catalog", "referrers")


def error_entry(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """One ``{"code", "message"[, "detail"]}`` entry of an OCI error body, as given (no check
    that ``code`` is one of the spec's: a fault rule may send any code on purpose)."""
    entry: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        entry["detail"] = detail
    return entry


def error_body(entries: Iterable[dict[str, Any]]) -> bytes:
    """The OCI JSON error body ``{"errors": [...]}`` for ``entries``."""
    return json.dumps({"errors": list(entries)}).encode()

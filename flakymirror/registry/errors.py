"""OCI distribution error codes: each code maps to one status and one JSON body shape, here only.

Handlers raise :class:`RegistryError`; the app turns it into a response with
``{"errors":[{"code","message","detail"}]}`` and the status from :data:`STATUS`.

Deliberate exceptions, where real registries send a code with another status, are listed
in :data:`STATUS_EXCEPTIONS` and nowhere else; a :class:`RegistryError` with any other
``status`` is a ValueError:

- ``MANIFEST_INVALID`` / ``SIZE_INVALID`` with **413**: a manifest (or other bounded body)
  over the size limit. The spec lists 413 for end-7a and distribution answers it.
- ``UNSUPPORTED`` with **400**: the token endpoint got a malformed ``scope`` or an
  unsupported OAuth2 ``grant_type`` (a bad request, not a bad method; RFC 6749 5.2 uses 400).
- ``UNAVAILABLE`` with **502**: a mirror's upstream sent a blob that does not verify
  (a bad gateway, not an unavailable service).

Outside :class:`RegistryError`, ``UNKNOWN`` is the code of every refusal below the app, with
that refusal's own status: the HTTP gateway's 400/414/431/501/505 and werkzeug's HTTP errors
(e.g. 400 for a malformed chunked body). Fault rules build bodies with :func:`error_body` and
any status on purpose; they are not bound by this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from ..oci import protocol
from ..oci.protocol import API_VERSION, API_VERSION_HEADER

__all__ = [
    "CODES",
    "STATUS",
    "STATUS_EXCEPTIONS",
    "LimitResponse",
    "RegistryError",
    "error_body",
    "error_entry",
    "error_response",
]

#: code → (status, default message). Statuses follow distribution's errcode registry,
#: which is what clients expect in practice.
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "RANGE_INVALID": (416, "invalid content range"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "METHOD_UNKNOWN": (404, "unknown method"),
    "UNKNOWN": (500, "unknown error"),
    "UNAVAILABLE": (503, "service unavailable"),
}
STATUS: dict[str, int] = {code: status for code, (status, _) in CODES.items()}

#: The only (code, status) pairs a :class:`RegistryError` may carry besides :data:`STATUS`,
#: with the reason each exists (see the module docstring).
STATUS_EXCEPTIONS: dict[tuple[str, int], str] = {
    ("MANIFEST_INVALID", 413): "manifest over the size limit (spec end-7a, distribution)",
    ("SIZE_INVALID", 413): "request body over the size limit",
    ("UNSUPPORTED", 400): "token endpoint: malformed scope or unsupported grant_type",
    ("UNAVAILABLE", 502): "mirror: the upstream sent content that does not verify",
}


def error_entry(code: str, message: str | None = None, detail: Any = None) -> dict[str, Any]:
    """One ``{"code","message"[,"detail"]}`` entry of an OCI error body."""
    if code not in CODES:
        raise ValueError(f"unknown OCI error code {code!r}")
    return protocol.error_entry(code, message if message is not None else CODES[code][1], detail)


def error_body(
    code: str,
    message: str | None = None,
    detail: Any = None,
    more: list[dict[str, Any]] | None = None,
) -> bytes:
    """The OCI JSON error body for one error (plus ``more`` entries, e.g. one per missing blob)."""
    entries = [error_entry(code, message, detail)]
    for extra in more or ():
        entries.append(error_entry(extra["code"], extra.get("message"), extra.get("detail")))
    return protocol.error_body(entries)


@dataclass
class RegistryError(Exception):
    """An OCI protocol error; raise it from a handler to answer with the right status and body."""

    code: str
    message: str | None = None
    detail: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Further error entries (``{"code", "message", "detail"}`` dicts) in the same body.
    more: list[dict[str, Any]] = field(default_factory=list)
    #: The name of the harness's own cap that refused the request (``"tokens"``), when it is
    #: one: the answer is then a :class:`LimitResponse`, so the mirror's journal does not
    #: blame the client under test for it.
    limit: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown OCI error code {self.code!r}")
        if self.status is None:
            self.status = STATUS[self.code]
        elif self.status != STATUS[self.code] and (self.code, self.status) not in STATUS_EXCEPTIONS:
            raise ValueError(
                f"{self.code} answers {STATUS[self.code]}, not {self.status}: add the pair to "
                "errors.STATUS_EXCEPTIONS with its reason if the deviation is deliberate"
            )
        if self.message is None:
            self.message = CODES[self.code][1]
        super().__init__(f"{self.code}: {self.message}")

    def response(self) -> Response:
        """The werkzeug response for this error (a :class:`LimitResponse` for a cap)."""
        return error_response(
            self.code,
            self.message,
            self.detail,
            status=self.status,
            headers=self.headers,
            more=self.more,
            limit=self.limit,
        )


class LimitResponse(Response):
    """An answer the harness gave because one of its own caps was reached (the token table,
    an upload quota), not because of anything the protocol says about the request. ``limit``
    names the cap; the mirror journals such a request with outcome ``"limit"``."""

    limit: str = ""


def error_response(
    code: str,
    message: str | None = None,
    detail: Any = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    more: list[dict[str, Any]] | None = None,
    limit: str | None = None,
) -> Response:
    """A response carrying the OCI JSON error body for ``code`` (a :class:`LimitResponse`
    naming ``limit`` when the harness's own cap refused the request)."""
    resp = (Response if limit is None else LimitResponse)(
        error_body(code, message, detail, more),
        status=status if status is not None else STATUS[code],
        content_type="application/json; charset=utf-8",
    )
    if limit is not None:
        resp.limit = limit
    resp.headers[API_VERSION_HEADER] = API_VERSION
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp

"""Errors of the reference client, shaped like the Go errors lifecycle prints.

* :class:`TransportError` is go-containerregistry's ``transport.Error``: status code, parsed
  OCI diagnostics, the request, and ``str()`` in ggcr's exact forms.
* :class:`NetworkError` is Go's ``*url.Error`` around a connection failure
  (``Get "<url>": EOF``); :class:`GoEOF` is a bare ``io.EOF`` and :class:`UnexpectedEOF` a bare
  ``io.ErrUnexpectedEOF`` (what Go's JSON decoder returns for an empty or cut body).
* :class:`RepoStoreError` is imgutil's ``connect to repo store "<ref>": <err>`` wrapper; the
  wrapped error is its ``__cause__`` so :func:`find_transport_error` reaches it, like Go's
  ``errors.As``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flakymirror._deprecated import aliases
from flakymirror.client.goformat import (
    go_format,
    go_json_kind,
    go_status_text,
    go_unmarshal_text,
)
from flakymirror.client.goformat import go_quote as _go_quote
from flakymirror.client.urls import redact_url

__all__ = [
    "ClientError",
    "Diagnostic",
    "GoEOF",
    "ImageError",
    "NetworkError",
    "RemoteImageError",
    "RepoStoreError",
    "RequestInfo",
    "TEMPORARY_ERROR_CODES",
    "TEMPORARY_STATUS_CODES",
    "TEMPORARY_STATUS_CODES_V0_21_5",
    "TransportError",
    "UnexpectedEOF",
    "error_chain",
    "find_transport_error",
    "go_decode_json",
    "redact_url",
]

#: Body bytes ggcr's ``CheckError`` reads from an error response.
ERROR_BODY_LIMIT = 64 * 1024

#: ``temporaryStatusCodes`` of ggcr v0.21.9 (and every release since v0.21.6).
TEMPORARY_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
#: ``temporaryStatusCodes`` of ggcr v0.21.5: no 429.
TEMPORARY_STATUS_CODES_V0_21_5 = frozenset({408, 500, 502, 503, 504})
#: ``temporaryErrorCodes``: diagnostics that make an error temporary when *all* of them are.
TEMPORARY_ERROR_CODES = frozenset(
    {"BLOB_UPLOAD_INVALID", "TOOMANYREQUESTS", "UNKNOWN", "UNAVAILABLE"}
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One entry of an OCI error body (ggcr ``transport.Diagnostic``)."""

    code: str
    message: str = ""
    detail: Any = None

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.detail is not None:
            text = f"{text}; {go_format(self.detail)}"
        return text


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The request an error answers (method and full URL)."""

    method: str
    url: str


def _go_get(obj: Mapping[str, Any], name: str) -> Any:
    """Go's encoding/json field lookup: exact key first, then a case-insensitive match."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def parse_diagnostics(body: bytes) -> list[Diagnostic]:
    """Diagnostics from an error body, decoded with Go's ``json.Unmarshal`` leniency: a body
    that is not JSON gives none; a field of the wrong type is skipped, not fatal."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(doc, dict):
        return []
    entries = _go_get(doc, "errors")
    if not isinstance(entries, list):
        return []
    out: list[Diagnostic] = []
    for entry in entries:
        if not isinstance(entry, dict):
            out.append(Diagnostic(""))  # Go keeps a zero Diagnostic for null / bad entries
            continue
        code = _go_get(entry, "code")
        message = _go_get(entry, "message")
        out.append(
            Diagnostic(
                code if isinstance(code, str) else "",
                message if isinstance(message, str) else "",
                _go_get(entry, "detail"),
            )
        )
    return out


class ClientError(Exception):
    """Base class of every error the reference client raises."""


class TransportError(ClientError):
    """go-containerregistry's ``transport.Error``: an HTTP status the caller did not expect.

    ``errors`` are the parsed OCI diagnostics, ``request`` the method and URL (printed redacted),
    ``raw_body`` the first 64 KiB of the body. ``temporary()`` follows ggcr: forced by the retry
    layer, or no diagnostics and a temporary status, or every diagnostic code temporary.
    """

    def __init__(
        self,
        status_code: int,
        errors: list[Diagnostic] | None = None,
        request: RequestInfo | None = None,
        raw_body: bytes = b"",
        *,
        temporary_status_codes: frozenset[int] = TEMPORARY_STATUS_CODES,
        forced_temporary: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        self.errors: list[Diagnostic] = list(errors or [])
        self.request = request
        self.raw_body = bytes(raw_body)
        self.temporary_status_codes = frozenset(temporary_status_codes)
        self.forced_temporary = forced_temporary
        super().__init__(self._message())

    @classmethod
    def from_body(
        cls,
        status_code: int,
        body: bytes,
        request: RequestInfo | None = None,
        **kwargs: Any,
    ) -> TransportError:
        """ggcr's ``makeError``: parse diagnostics from ``body`` and keep it raw."""
        body = body[:ERROR_BODY_LIMIT]
        return cls(status_code, parse_diagnostics(body), request, body, **kwargs)

    @property
    def status_text(self) -> str:
        """Go's status text for the code."""
        return go_status_text(self.status_code)

    def _response_err(self) -> str:
        if not self.errors:
            if not self.raw_body:
                if self.request is not None and self.request.method == "HEAD":
                    return (
                        f"unexpected status code {self.status_code} {self.status_text} "
                        "(HEAD responses have no body, use GET for details)"
                    )
                return f"unexpected status code {self.status_code} {self.status_text}"
            body = self.raw_body.decode("utf-8", errors="replace")
            return f"unexpected status code {self.status_code} {self.status_text}: {body}"
        if len(self.errors) == 1:
            return str(self.errors[0])
        return "multiple errors returned: " + "; ".join(str(d) for d in self.errors)

    def _message(self) -> str:
        prefix = ""
        if self.request is not None:
            prefix = f"{self.request.method} {redact_url(self.request.url)}: "
        return prefix + self._response_err()

    def temporary(self) -> bool:
        """ggcr ``Error.Temporary()``."""
        if self.forced_temporary:
            return True
        if not self.errors:
            return self.status_code in self.temporary_status_codes
        return all(d.code in TEMPORARY_ERROR_CODES for d in self.errors)

    def __repr__(self) -> str:
        return f"TransportError({self.status_code}, {self.errors!r}, {self.request!r})"


class NetworkError(ClientError):
    """Go's ``*url.Error`` around a failure below HTTP: ``Get "<url>": EOF``.

    ``kind`` is one of ``eof`` (connection closed before a response), ``reset`` (ECONNRESET),
    ``broken-pipe``, ``refused``, ``timeout``, ``tls`` or ``other``. ggcr's retry predicate
    retries ``eof``, ``reset``, ``broken-pipe`` and ``timeout`` (see :meth:`retryable`).
    """

    def __init__(self, method: str, url: str, reason: str, kind: str = "other") -> None:
        self.method = method
        self.url = url
        self.reason = reason
        self.kind = kind
        op = method[:1].upper() + method[1:].lower()
        super().__init__(f"{op} {_go_quote(redact_url(url))}: {reason}")

    def retryable(self) -> bool:
        """ggcr's ``defaultRetryPredicate`` for this failure."""
        return self.kind in ("eof", "reset", "broken-pipe", "timeout")


class GoEOF(ClientError):
    """A bare Go ``io.EOF`` (``str()`` is ``EOF``): what Go's JSON decoder returns for an empty
    body. imgutil retries exactly this error (``err == io.EOF``) up to 3 times."""

    def __init__(self, message: str = "EOF") -> None:
        super().__init__(message)


class UnexpectedEOF(ClientError):
    """A bare Go ``io.ErrUnexpectedEOF`` (``unexpected EOF``): a body cut short."""

    def __init__(self, message: str = "unexpected EOF") -> None:
        super().__init__(message)


class RemoteImageError(ClientError):
    """A remote image could not be read (digest or size mismatch, bad JSON, ...)."""


class RepoStoreError(RemoteImageError):
    """imgutil's ``connect to repo store "<ref>": <err>``; the wrapped error is ``__cause__``."""

    def __init__(self, reference: str, cause: BaseException) -> None:
        self.reference = reference
        super().__init__(f"connect to repo store {_go_quote(reference)}: {cause}")
        self.__cause__ = cause


class ImageError(RemoteImageError):
    """An error of the image itself, such as ``image has no layers`` (plain ``errors.New`` in Go:
    no transport error in its chain, so lifecycle treats it as retryable)."""


def error_chain(err: BaseException | None) -> Iterator[BaseException]:
    """``err``, then what it wraps: ``__cause__``, ``__context__`` (unless suppressed) and the
    members of exception groups, depth first, each once."""
    seen: set[int] = set()
    stack: list[BaseException] = [err] if err is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested: list[BaseException] = []
        if current.__cause__ is not None:
            nested.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            nested.append(current.__context__)
        if isinstance(current, BaseExceptionGroup):
            nested.extend(current.exceptions)
        stack.extend(reversed(nested))


def find_transport_error(err: BaseException | None) -> TransportError | None:
    """The first :class:`TransportError` in ``err``'s chain (Go's ``errors.As``), or None."""
    for item in error_chain(err):
        if isinstance(item, TransportError):
            return item
    return None


def go_decode_json(data: bytes, go_type: str = "v1.Manifest") -> dict[str, Any]:
    """Decode one JSON object like Go's ``json.NewDecoder(r).Decode(&v)`` (what ggcr's
    ``ParseManifest``/``ParseIndexManifest``/``ParseConfigFile`` use), with Go's errors:
    an empty body is a bare ``io.EOF`` (:class:`GoEOF`), a cut one ``unexpected EOF``
    (:class:`UnexpectedEOF`); trailing bytes after the first value are ignored."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise GoEOF()
    try:
        value, _end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped.rstrip(" \t\r\n")):
            raise UnexpectedEOF() from None
        ch = stripped[exc.pos]
        where = "looking for beginning of value" if exc.pos == 0 else "in JSON value"
        raise RemoteImageError(f"invalid character {ch!r} {where}") from None
    if not isinstance(value, dict):
        if value is None:
            return {}  # Go: null into a struct is a no-op
        raise RemoteImageError(go_unmarshal_text(go_json_kind(value), "Go value", go_type))
    return value


#: Go formatting lives in :mod:`flakymirror.client.goformat`; the old name warns.
__getattr__ = aliases(__name__, {"go_quote": _go_quote})

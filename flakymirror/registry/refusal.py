"""Requests the HTTP gateway refuses before the app, and the WSGI app that answers them.

A refused request (a malformed request line, a bad ``Content-Length``, 414, 431, 501, 505, or a
TLS handshake on this plain-HTTP port) is described by a :class:`RejectedRequest`. The gateway
answers it by running a *refusal app*, an ordinary WSGI app that finds the
:class:`RejectedRequest` in ``environ[REFUSED]``; the connection closes after the answer.
:func:`refusal_app` is the default: the status the gateway chose, an OCI ``UNKNOWN`` error body
with the reason, ``Connection: close``. A server can hand refusals to another app
(:attr:`Server.refusal_app <flakymirror.registry.server.Server.refusal_app>`): the flaky mirror
journals them there and lets fault rules answer TLS probes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, NamedTuple

from ..oci.protocol import API_VERSION_PAIR
from .errors import error_body
from .request_head import path_and_query

__all__ = ["REFUSED", "REJECTED", "RejectedRequest", "refusal_app", "refusal_environ"]

#: The ``environ`` key holding the :class:`RejectedRequest` a refusal app answers.
REFUSED = "flakymirror.refused"
#: The kind of a refused request that is not a TLS probe.
REJECTED = "rejected"
#: Longest request target kept in a :class:`RejectedRequest` (the 414 case has ~64 KiB).
MAX_TARGET_KEPT = 8192


class RejectedRequest(NamedTuple):
    """A request the gateway refused before it reached the app (its status and why).

    ``method`` and ``target`` are what could be read of the request line (``""`` when
    nothing usable was sent); ``reason`` is the human message sent in the error body (always
    printable); ``kind`` is ``"rejected"`` or ``"tls-probe"`` (a TLS handshake on a plain-HTTP
    port, see :mod:`flakymirror.registry.tls_probe`).
    """

    method: str
    target: str
    status: int
    reason: str
    client: str
    kind: str = REJECTED


def refusal_environ(base: dict[str, Any], rejected: RejectedRequest) -> dict[str, Any]:
    """The WSGI environ a refusal app gets: ``base`` (the connection's) plus the request line
    as far as it was read, and the :class:`RejectedRequest` under :data:`REFUSED`."""
    environ = base.copy()
    path, query = path_and_query(rejected.target)
    environ["REQUEST_METHOD"] = rejected.method
    environ["PATH_INFO"] = path
    environ["QUERY_STRING"] = query
    environ["REQUEST_URI"] = environ["RAW_URI"] = rejected.target
    environ["SERVER_PROTOCOL"] = "HTTP/1.1"
    environ["CONTENT_LENGTH"] = "0"
    environ[REFUSED] = rejected
    return environ


def refusal_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The default answer to a refused request: its status, ``Connection: close`` and an OCI
    ``UNKNOWN`` error body carrying the reason (no body for a HEAD)."""
    rejected: RejectedRequest = environ[REFUSED]
    body = error_body("UNKNOWN", rejected.reason)
    try:
        phrase = HTTPStatus(rejected.status).phrase
    except ValueError:
        phrase = "Error"
    start_response(
        f"{rejected.status} {phrase}",
        [
            ("Content-Type", "application/json; charset=utf-8"),
            API_VERSION_PAIR,
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]

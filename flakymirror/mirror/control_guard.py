"""Who may drive the control API: the checks every ``/_flakymirror/`` request passes first.

A web page the developer has open can send a cross-origin ``text/plain`` POST to
``127.0.0.1``, and DNS rebinding can point a foreign name at it: without these checks either
could arm faults in a mirror a test suite shares. So:

* the ``Host`` header must name this mirror: the address the connection reached, or a loopback
  name (``localhost``, ``127.0.0.1``, ``[::1]``), with the port it reached, or the mirror's
  public URL (``serve --public-url``) (a request without ``Host``, HTTP/1.0, comes from no
  browser and passes);
* every write (any method but GET and HEAD, body-less ones included) says
  ``Content-Type: application/json`` (``application/toml`` too on ``/scenario``): a browser
  cannot send that cross-origin without a preflight the mirror never answers;
* with a control token (``FlakyMirror(control_token=...)``, ``serve --control-token``) every
  request carries it as ``X-Flakymirror-Token``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flakymirror.registry.own_url import LOCAL_ADDRESS, PUBLIC_URL, public_hosts, url_host

__all__ = [
    "LOOPBACK_NAMES",
    "TOKEN_HEADER",
    "WRITE_TYPES",
    "check_sender",
    "check_write",
    "is_loopback",
]

#: The header a control token travels in.
TOKEN_HEADER = "X-Flakymirror-Token"
#: Names that always mean this machine.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
#: The content types a write may carry, by endpoint (any other endpoint: JSON only).
WRITE_TYPES: Mapping[str, tuple[str, ...]] = {"scenario": ("application/json", "application/toml")}


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is one only this machine reaches."""
    return url_host(host.strip("[]").lower()) in LOOPBACK_NAMES


def _own_hosts(environ: Mapping[str, Any]) -> set[str]:
    local = environ.get(LOCAL_ADDRESS)
    host, port = local if local else (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT"))
    names = {*LOOPBACK_NAMES, url_host(str(host))}
    own = {f"{name}:{port}".lower() for name in names}
    public = environ.get(PUBLIC_URL)
    return (own | public_hosts(public)) if public else own


def check_sender(environ: Mapping[str, Any], token: str | None) -> tuple[str, str, int] | None:
    """``(field, message, status)`` when the request's ``Host`` or token refuses it (403,
    401), else None; checked before anything else."""
    host = environ.get("HTTP_HOST")
    if host is not None and host.lower() not in _own_hosts(environ):
        return (
            "Host",
            f"{host[:100]!r} is not this mirror's address: the control API answers only "
            "requests addressed to it (a loopback name or the address connected to, with its "
            "port, or its --public-url)",
            403,
        )
    if token is not None:
        given = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"), "")
        if not secrets.compare_digest(given.encode("latin-1"), token.encode()):
            return (TOKEN_HEADER, "missing or wrong control token", 401)
    return None


def check_write(method: str, endpoint: str, mimetype: str) -> tuple[str, str, int] | None:
    """``(field, message, 415)`` when a write to ``endpoint`` lacks its content type, else
    None; checked once the endpoint and method are known to exist."""
    if method not in ("GET", "HEAD"):
        allowed = WRITE_TYPES.get(endpoint, ("application/json",))
        if mimetype not in allowed:
            return (
                "Content-Type",
                f"a write needs Content-Type: {' or '.join(allowed)}"
                + (f", got {mimetype!r}" if mimetype else ""),
                415,
            )
    return None

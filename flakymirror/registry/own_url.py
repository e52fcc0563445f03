"""The server's own address, for the URLs it hands out (the Bearer challenge's ``realm``) and
the ``Host`` names the control API answers.

It is never read from the request's ``Host`` header, which the client writes: a foreign ``Host``
(a DNS-rebinding page, a confused proxy) would send the client's credentials to another host.
A server given a public URL (``Server(public_url=)``, ``serve --public-url``: the name clients
use behind a proxy or a DNS name of a build box) hands that out. Otherwise the gateway records
the local address each connection reached (for a server bound to ``0.0.0.0``, the address the
client used); under another WSGI server ``SERVER_NAME`` and ``SERVER_PORT`` stand in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "LOCAL_ADDRESS",
    "PUBLIC_URL",
    "check_public_url",
    "own_base_url",
    "public_hosts",
    "url_host",
]

#: The environ key holding ``(host, port)`` of the local end of the request's connection.
LOCAL_ADDRESS = "flakymirror.local_address"
#: The environ key holding the server's public URL (``scheme://host[:port]``), when it has one.
PUBLIC_URL = "flakymirror.public_url"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_public_url(url: str) -> str:
    """``url`` as ``scheme://host[:port]`` (no trailing ``/``); ``ValueError`` naming what is
    wrong when it is not an ``http``/``https`` URL of a host alone (a registry lives at the
    root of its host, so no path, query, fragment or user)."""
    if not isinstance(url, str):
        raise ValueError(f"public URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"public URL {url[:200]!r}: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"public URL {url[:200]!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"public URL {url[:200]!r} names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(
            f"public URL {url[:200]!r} must be scheme://host[:port] alone: a registry serves "
            "/v2/ at the root of its host"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"public URL {url[:200]!r} must not carry a user or password")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"public URL {url[:200]!r} contains a space or control character")
    host = url_host(parts.hostname)
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def public_hosts(url: str) -> frozenset[str]:
    """The ``Host`` values (lower case) that name the checked public ``url``: ``host:port``,
    and ``host`` alone when the port is the scheme's default or not given."""
    parts = urlsplit(url)
    host = url_host(parts.hostname or "")
    default = _DEFAULT_PORTS[parts.scheme]
    port = parts.port if parts.port is not None else default
    names = {f"{host}:{port}"}
    if port == default:
        names.add(host)
    return frozenset(names)


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: an IPv6 address in brackets (``[::1]``), others as given."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else host


def own_base_url(environ: Mapping[str, Any]) -> str:
    """``scheme://host[:port]`` of this server: its public URL when it has one, else as the
    request's connection reached it."""
    public = environ.get(PUBLIC_URL)
    if public:
        return public
    scheme = environ.get("wsgi.url_scheme", "http")
    local = environ.get(LOCAL_ADDRESS)
    host, port = local if local else (environ["SERVER_NAME"], environ["SERVER_PORT"])
    return f"{scheme}://{url_host(str(host))}:{port}"

"""The server's own address, for the URLs it hands out (the Bearer challenge's ``realm``).

It is never read from the request's ``Host`` header, which the client writes: a foreign ``Host``
(a DNS-rebinding page, a confused proxy) would send the client's credentials to another host.
The gateway records the local address each connection reached (for a server bound to
``0.0.0.0``, the address the client used); under another WSGI server ``SERVER_NAME`` and
``SERVER_PORT`` stand in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LOCAL_ADDRESS", "own_base_url", "url_host"]

#: The environ key holding ``(host, port)`` of the local end of the request's connection.
LOCAL_ADDRESS = "flakymirror.local_address"


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: an IPv6 address in brackets (``[::1]``), others as given."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else host


def own_base_url(environ: Mapping[str, Any]) -> str:
    """``scheme://host:port`` of this server as the request's connection reached it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    local = environ.get(LOCAL_ADDRESS)
    host, port = local if local else (environ["SERVER_NAME"], environ["SERVER_PORT"])
    return f"{scheme}://{url_host(str(host))}:{port}"

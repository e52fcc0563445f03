"""Map a request path to an endpoint, a repository name and the access it needs.

Repository names may contain ``/`` and even the words ``manifests`` or ``blobs``, so each
pattern takes the longest name that leaves a well-formed suffix (as distribution's router).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.wrappers import Response

from . import blobs, manifests, referrers, tags, uploads
from .endpoint import Context, ping
from .errors import RegistryError

__all__ = ["Route", "ROUTES", "match"]

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """One endpoint family: path pattern, handlers by method, action needed by method."""

    name: str
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]
    actions: dict[str, tuple[str, ...]]

    @property
    def allow(self) -> str:
        """The ``Allow`` header value for this route."""
        return ", ".join(self.handlers)


_PULL = ("pull",)
_PUSH = ("pull", "push")
_DELETE = ("delete",)

ROUTES: tuple[Route, ...] = (
    Route(
        "manifest",
        re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": manifests.get,
            "HEAD": manifests.get,
            "PUT": manifests.put,
            "DELETE": manifests.delete,
        },
        {"GET": _PULL, "HEAD": _PULL, "PUT": _PUSH, "DELETE": _DELETE},
    ),
    Route(
        "upload",
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?(?P<upload_id>[^/]*)$"),
        {
            "POST": uploads.post,
            "PATCH": uploads.patch,
            "PUT": uploads.put,
            "GET": uploads.status,
            "DELETE": uploads.cancel,
        },
        {"POST": _PUSH, "PATCH": _PUSH, "PUT": _PUSH, "GET": _PUSH, "DELETE": _PUSH},
    ),
    Route(
        "blob",
        re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$"),
        {"GET": blobs.get, "HEAD": blobs.get, "DELETE": blobs.delete},
        {"GET": _PULL, "HEAD": _PULL, "DELETE": _DELETE},
    ),
    Route(
        "tags",
        re.compile(r"^/v2/(?P<name>.+)/tags/list$"),
        {"GET": tags.list_tags, "HEAD": tags.list_tags},
        {"GET": _PULL, "HEAD": _PULL},
    ),
    Route(
        "referrers",
        re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$"),
        {"GET": referrers.get, "HEAD": referrers.get},
        {"GET": _PULL, "HEAD": _PULL},
    ),
)

PING = Route("ping", re.compile(r"^/v2/?$"), {"GET": ping, "HEAD": ping}, {"GET": (), "HEAD": ()})
CATALOG = Route(
    "catalog",
    re.compile(r"^/v2/_catalog$"),
    {"GET": tags.catalog, "HEAD": tags.catalog},
    {"GET": ("*",), "HEAD": ("*",)},
)


def match(path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``path`` and its parameters; unknown paths → 404 ``METHOD_UNKNOWN``."""
    if path in ("/v2/", "/v2"):
        return PING, {}
    if path == "/v2/_catalog":
        return CATALOG, {}
    if path.startswith("/v2/"):
        for route in ROUTES:
            m = route.pattern.match(path)
            if m is not None:
                return route, m.groupdict()
    raise RegistryError("METHOD_UNKNOWN", f"no endpoint at {path[:200]!r}", {"path": path[:200]})


__all__ += ["PING", "CATALOG", "Context"]

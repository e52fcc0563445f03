"""The manifest GET/HEAD hot path without werkzeug request/response objects.

Only the common success case runs here (anonymous auth, the plain :class:`Store`, no
``If-None-Match``, manifest found); everything else, including every error, falls through to the full app, so the two
paths cannot disagree on anything but speed. Headers come precomputed from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..oci.protocol import API_VERSION_PAIR
from .auth import AnonymousAuth
from .errors import RegistryError
from .store import Store

if TYPE_CHECKING:
    from .app import RegistryApp

__all__ = ["FastManifests"]

_MARK = "/manifests/"


class FastManifests:
    """Callable that serves a manifest GET/HEAD or returns None to defer to the full app."""

    def __init__(self, app: RegistryApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes] | None:
        """Serve a plain manifest GET/HEAD from the store, or return None to defer."""
        method = environ["REQUEST_METHOD"]
        if method != "GET" and method != "HEAD":
            return None
        path: str = environ.get("PATH_INFO", "")
        i = path.rfind(_MARK)
        if i < 4 or not path.startswith("/v2/") or "HTTP_IF_NONE_MATCH" in environ:
            return None
        app = self.app
        # only the plain store: a subclass (the mirror's sync view) may raise or count lookups
        if type(app.auth) is not AnonymousAuth or type(app.store) is not Store:
            return None
        reference = path[i + len(_MARK) :]
        if not reference or "/" in reference:
            return None
        stored = app.store.get_manifest(path[4:i], reference)
        if stored is None:
            return None
        if app.strict_accept:
            from .manifests import lookup

            try:
                stored = lookup(app, path[4:i], reference, environ.get("HTTP_ACCEPT"))
            except RegistryError:
                return None
        headers = list(stored.headers)
        headers.append(API_VERSION_PAIR)
        start_response("200 OK", headers)
        return [stored.data] if method == "GET" else []

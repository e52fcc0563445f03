"""The registry as a WSGI application: routing, auth, OCI errors around the endpoint modules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException
from werkzeug.wrappers import Request, Response

from ..oci.protocol import API_VERSION, API_VERSION_HEADER
from ..oci.reference import InvalidReferenceError, validate_repository
from .auth import AnonymousAuth, RegistryAuth, Scope
from .endpoint import Context
from .errors import RegistryError, error_response
from .fastpath import FastManifests
from .query import query_problem
from .routing import match
from .store import Store

__all__ = ["RegistryApp", "MANIFEST_LIMIT"]

#: Largest manifest accepted (the spec: registries should handle at least 4 MB).
MANIFEST_LIMIT = 4 * 1024 * 1024


class RegistryApp:
    """A conformant OCI distribution registry over ``store``.

    ``auth``: :class:`~flakymirror.registry.auth.AnonymousAuth` (default), ``BasicAuth`` or
    ``BearerAuth``. ``strict_accept``: answer manifest GETs like distribution 2.8 (an OCI
    manifest or index whose type is not in ``Accept`` is ``404 MANIFEST_UNKNOWN``).
    Call it as WSGI, or call :meth:`handle` with a werkzeug request to get a response.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        auth: RegistryAuth | None = None,
        strict_accept: bool = False,
        name: str = "flakymirror",
        manifest_limit: int = MANIFEST_LIMIT,
    ) -> None:
        self.store = store if store is not None else Store()
        self.auth: RegistryAuth = auth if auth is not None else AnonymousAuth()
        self.strict_accept = strict_accept
        self.name = name
        self.manifest_limit = manifest_limit
        # a subclass that overrides handle() must see every request: no shortcut then
        self._fast = FastManifests(self) if type(self).handle is RegistryApp.handle else None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """The WSGI entry point: a manifest fast path when it applies, else :meth:`handle`."""
        if self._fast is not None:
            fast = self._fast(environ, start_response)
            if fast is not None:
                return fast
        response = self.handle(Request(environ))
        return response(environ, start_response)

    def handle(self, request: Request, store: Store | None = None) -> Response:
        """Route, authorize and run one request; protocol errors become OCI error responses.

        ``store``: what this one request reads and writes instead of the app's own (a
        per-request view of it: the flaky mirror passes one carrying the request's sync
        decisions). Unexpected exceptions propagate (the server answers 500 and keeps them for
        ``check()``).
        """
        try:
            response = self._dispatch(request, self.store if store is None else store)
        except RegistryError as exc:
            response = exc.response()
        except ClientDisconnected:
            raise
        except HTTPException as exc:  # e.g. a malformed chunked body
            response = error_response(
                "UNSUPPORTED" if exc.code == 405 else "UNKNOWN",
                exc.description or exc.name,
                status=exc.code or 400,
            )
        response.headers[API_VERSION_HEADER] = API_VERSION
        return response

    def _dispatch(self, request: Request, store: Store) -> Response:
        problem = query_problem(request.query_string)
        if problem is not None:
            raise BadRequest(problem)
        path = request.path
        token_path = self.auth.token_path
        if token_path is not None and path == token_path:
            return self.auth.token_endpoint(request)
        route, params = match(path)
        method = request.method
        handler = route.handlers.get(method)
        if handler is None:
            raise RegistryError(
                "UNSUPPORTED",
                f"{method} is not supported on {route.name} endpoints",
                {"allowed": list(route.handlers)},
                headers={"Allow": route.allow},
            )
        repo = params.pop("name", "")
        if repo:
            try:
                validate_repository(repo)
            except InvalidReferenceError as exc:
                raise RegistryError("NAME_INVALID", str(exc), {"name": repo[:300]}) from None
        needed = self.scopes_for(route.name, method, repo, request)
        identity = self.auth.authenticate(request, needed)
        return handler(Context(self, request, repo, identity, store), **params)

    @staticmethod
    def scopes_for(route: str, method: str, repo: str, request: Request) -> list[Scope]:
        """The access a request needs, in token-scope form."""
        from .routing import CATALOG, PING, ROUTES

        if route == PING.name:
            return []
        if route == CATALOG.name:
            return [Scope("registry", "catalog", ("*",))]
        actions = next(r.actions[method] for r in ROUTES if r.name == route)
        scopes = [Scope("repository", repo, actions)]
        return scopes

"""Members :class:`~flakymirror.registry.server.Server` had from pytest-httpserver, for one release.

Until 0.1 ``Server`` subclassed pytest-httpserver's ``HTTPServerBase`` and so carried members it
never used or that only duplicated its own (``check_handler_errors`` for ``check``, an
``assertions`` list nothing filled, a ``server`` attribute that was always None...). Each one
below still answers, with a :class:`DeprecationWarning` naming what to use instead; they go in
the next release. The request-matcher members (``create_matcher``, ``respond_nohandler``) and
``no_handler_status_code`` are not kept: the server never matched requests, so they did nothing.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from .server import Server

__all__ = ["DEPRECATED_MEMBERS", "deprecated_member"]


def _check_handler_errors(server: Server) -> Callable[[], None]:
    return server.check


def _clear(server: Server) -> Callable[[], None]:
    def clear() -> None:
        server.clear_log()
        server.clear_handler_errors()

    return clear


def _with_check(server: Server) -> Callable[[], contextlib.AbstractContextManager[Server]]:
    @contextlib.contextmanager
    def with_check() -> Iterator[Server]:
        yield server
        server.check()

    return with_check


def _add_assertion(server: Server) -> Callable[[str | AssertionError], None]:
    def add_assertion(obj: str | AssertionError) -> None:
        error = obj if isinstance(obj, AssertionError) else AssertionError(obj)
        server.handler_errors.append(error)

    return add_assertion


def _dispatch(server: Server) -> Callable[[Request], Response]:
    def dispatch(request: Request) -> Response:
        from werkzeug.wrappers import Response

        return Response.from_app(server.app, request.environ)

    return dispatch


def _format_host(server: Server) -> Callable[[str], str]:
    from .server import url_host

    return url_host


def _accept_thread(server: Server) -> threading.Thread | None:
    loop = server._loop  # noqa: SLF001 - the old public name of its accept thread
    return None if loop is None else loop.thread


def _thread_target(server: Server) -> Callable[[], None]:
    loop = server._loop  # noqa: SLF001 - the old public name of what its accept thread runs
    if loop is None:
        return server.start
    return loop._run  # noqa: SLF001


#: Old member name → (what to use instead, a function of the server giving the member's value).
DEPRECATED_MEMBERS: dict[str, tuple[str, Callable[[Server], Any]]] = {
    "check_handler_errors": ("check()", _check_handler_errors),
    "check_assertions": ("check()", _check_handler_errors),
    "clear": ("clear_log() and clear_handler_errors()", _clear),
    "clear_assertions": ("clear_handler_errors()", lambda s: s.clear_handler_errors),
    "add_assertion": ("handler_errors.append()", _add_assertion),
    "assertions": ("handler_errors (this list was always empty)", lambda s: []),
    "with_check": ("check() after the block", _with_check),
    "dispatch": ("werkzeug's Response.from_app(server.app, environ)", _dispatch),
    "application": ("werkzeug's Response.from_app(server.app, environ)", _dispatch),
    "format_host": ("flakymirror.registry.server.url_host", _format_host),
    "server": ("is_running() (this attribute was always None)", lambda s: None),
    "server_thread": ("is_running()", _accept_thread),
    "thread_target": ("start()", _thread_target),
}


def deprecated_member(server: Server, name: str) -> Any:
    """The value of the old member ``name`` of ``server``, with a :class:`DeprecationWarning`;
    :class:`AttributeError` for any other name."""
    try:
        instead, get = DEPRECATED_MEMBERS[name]
    except KeyError:
        raise AttributeError(
            f"{type(server).__name__!r} object has no attribute {name!r}"
        ) from None
    warnings.warn(
        f"Server.{name} is deprecated and goes in the next release; use {instead}",
        DeprecationWarning,
        stacklevel=3,
    )
    return get(server)

"""Host any WSGI app on a real socket, start and stop in milliseconds.

:class:`Server` is a standalone threaded HTTP/1.1 server with a small interface of its own:

* addresses: :attr:`~Server.url`, :attr:`~Server.host` (``127.0.0.1:PORT``, as in image
  references), :attr:`~Server.port`, :attr:`~Server.bind_host`, :meth:`~Server.url_for`;
* lifecycle: :meth:`~Server.start`, :meth:`~Server.stop`, :meth:`~Server.is_running`, the
  context manager, :attr:`~Server.stopping`, :meth:`~Server.active_connections`;
* what happened: :attr:`~Server.log` (a bounded deque of :class:`LogEntry`),
  :attr:`~Server.handler_errors` and :meth:`~Server.check`, which raises the first exception a
  handler, a hook or the gateway recorded.

The accept thread and the table of open connections live in :mod:`.accept`, the connection
limits in :mod:`.admission`; ``stop()`` returns as soon as the threads are joined. Request
bodies reach the app as streams; :mod:`flakymirror.registry.http11` is the per-connection loop.

Three hooks serve fault injection: :attr:`Server.date_clock` makes the ``Date`` header follow
another clock (a mirror's virtual clock), :attr:`Server.on_reject` sees every request
the gateway refuses before the app (malformed request line, bad ``Content-Length``, 431,
501, 505, a TLS handshake on this plain-HTTP port...), as a :class:`RejectedRequest`, and
:attr:`Server.refusal_app` answers those requests (see :mod:`flakymirror.registry.refusal`).

Until 0.1 the server subclassed pytest-httpserver's ``HTTPServerBase``; the members that came
from there and are gone warn for one release (see :mod:`.server_deprecated`).
"""

from __future__ import annotations

import contextlib
import math
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import formatdate
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self

from .._deprecated import aliases
from .accept import Accepted, AcceptLoop
from .admission import DEFAULT_LIMITS, Limits
from .http11 import CloseConnection, Connection, LogEntry, RejectedRequest, http_date
from .own_url import LOCAL_ADDRESS, PUBLIC_URL, check_public_url, url_host
from .refusal import REFUSED, refusal_app
from .server_deprecated import deprecated_member
from .server_handle import ServerHandle

__all__ = [
    "CloseConnection",
    "LogEntry",
    "REFUSED",
    "RejectedRequest",
    "Server",
    "ServerHandle",
    "ServerStateError",
    "refusal_app",
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerStateError(RuntimeError):
    """:meth:`Server.start` on a running server, or :meth:`Server.stop` on a stopped one."""


class Server:
    """A threaded HTTP/1.1 server for one WSGI app, bound to ``host`` (port 0 = ephemeral).

    ``stopping`` is a :class:`threading.Event` set when :meth:`stop` begins: handlers that stall
    on purpose should wait on it (``environ["flakymirror.stopping"]`` is the same event) so a
    stop never hangs. :attr:`log` keeps the last ``log_size`` :class:`LogEntry` values (each
    with the wall-clock ``time`` it was logged), including requests the gateway refused before
    the app (with the status they were answered with). :attr:`handler_errors` holds what the
    app, a hook or the gateway raised, oldest first; :meth:`check` raises them one at a time.

    ``date_clock`` (also a settable attribute) returns epoch seconds; when set, every
    ``Date`` header is formatted from it instead of wall time. ``on_reject`` (a settable
    attribute, default None) is called with a :class:`RejectedRequest` for every request the
    gateway refuses, before the error response is sent. An exception from either hook is kept
    for :meth:`check` and never kills the connection (the ``Date`` falls back to wall time).
    ``refusal_app`` (a settable attribute, default :func:`refusal_app`: the status, an OCI
    error body, ``Connection: close``) is the WSGI app that answers a refused request; it
    finds the :class:`RejectedRequest` in ``environ[REFUSED]``.

    The app's ``environ`` also carries ``werkzeug.socket`` (the connection's socket, for fault
    injection that writes raw bytes or resets) and ``flakymirror.server`` (this server).
    ``public_url``: the URL clients know the server by behind a proxy or a DNS name
    (``http://buildbox:5000``); the Bearer ``realm`` and the control API's accepted ``Host``
    follow it (:mod:`.own_url`).
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: SSLContext | None = None,
        threaded: bool = True,
        *,
        log_size: int = 1000,
        join_timeout: float = 5.0,
        date_clock: Callable[[], float] | None = None,
        limits: Limits | None = None,
        public_url: str | None = None,
    ) -> None:
        #: The WSGI app served.
        self.app = app
        #: The address the listening socket binds (``host`` is ``bind_host:port``).
        self.bind_host = host
        #: The port; the ephemeral port chosen once :meth:`start` ran when given 0.
        self.port = port
        #: Serve HTTPS with this context (None: plain HTTP).
        self.ssl_context = ssl_context
        #: One thread per connection (False: connections are served one at a time).
        self.threaded = threaded
        #: How many entries :attr:`log` keeps.
        self.log_size = log_size
        #: Seconds :meth:`stop` waits for each thread before reporting it through :meth:`check`.
        self.join_timeout = join_timeout
        #: The URL clients know this server by (``scheme://host[:port]``; None: its own
        #: address), for the URLs it hands out; read by :meth:`start` (see :mod:`.own_url`).
        self.public_url = check_public_url(public_url) if public_url is not None else None
        #: Head-read timeouts, the connection cap, the EMFILE back-off (:mod:`.admission`).
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        #: Exceptions raised by the app, a hook or the gateway, oldest first (see :meth:`check`).
        self.handler_errors: list[Exception] = []
        #: The last ``log_size`` requests answered, oldest first.
        self.log: deque[LogEntry] = deque(maxlen=log_size)
        self.date_clock: Callable[[], float] | None = date_clock
        self.on_reject: Callable[[RejectedRequest], None] | None = None
        self.refusal_app: WSGIApp = refusal_app
        #: Set when :meth:`stop` begins; stalling handlers wait on it.
        self.stopping = threading.Event()
        self._date_cache: tuple[int, bytes] = (-1, b"")
        self._loop: AcceptLoop | None = None
        self._base_environ: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        """Members that came from pytest-httpserver's ``HTTPServerBase`` warn for one release."""
        return deprecated_member(self, name)

    # -- addresses -------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``host:port`` as it appears in image references, e.g. ``127.0.0.1:41234``."""
        return f"{url_host(self.bind_host)}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}"

    def url_for(self, suffix: str) -> str:
        """The absolute URL of ``suffix`` on this server (a leading ``/`` is optional)."""
        if not suffix.startswith("/"):
            suffix = "/" + suffix
        return self.url + suffix

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        """Start the server unless it is running already; the block's end stops it."""
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server if it is still running."""
        if self.is_running():
            self.stop()

    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loop is not None

    def start(self) -> None:
        """Bind, listen and start the accept thread; returns at once."""
        if self.is_running():
            raise ServerStateError("Server is already running")
        family = socket.AF_INET6 if ":" in self.bind_host.strip("[]") else socket.AF_INET
        listener = socket.create_server(
            (self.bind_host.strip("[]"), self.port), family=family, backlog=socket.SOMAXCONN
        )
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self.stopping.clear()
        self._base_environ = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": self.bind_host,
            "SERVER_PORT": str(self.port),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.ssl_context is not None else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.threaded,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "flakymirror.stopping": self.stopping,
            "flakymirror.server": self,
            PUBLIC_URL: self.public_url,
        }
        self._loop = AcceptLoop(
            listener,
            self._serve_connection,
            limits=lambda: self.limits,
            stopping=self.stopping,
            threaded=self.threaded,
            name=str(self.port),
        )
        self._loop.start()

    def _serve_connection(self, client: Accepted) -> None:
        sock = client.sock
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            except OSError:
                sock.close()
                return
            client.replace(sock)
            if self.stopping.is_set():
                sock.close()
                return
        addr = client.addr
        environ = self._base_environ.copy()
        environ["REMOTE_ADDR"] = addr[0]
        environ["REMOTE_PORT"] = str(addr[1])
        with contextlib.suppress(OSError):  # a connection already reset has no address
            environ[LOCAL_ADDRESS] = sock.getsockname()[:2]
        environ["werkzeug.socket"] = sock
        Connection(
            sock,
            self.app,
            environ,
            on_error=self._record_error,
            on_log=self._log,
            on_reject=self._rejected,
            refusal_app=self.refusal_app,
            date=self.http_date,
            arm=client.arm,
        ).serve()

    def _record_error(self, exc: BaseException) -> None:
        if isinstance(exc, Exception):
            self.handler_errors.append(exc)

    def _log(self, entry: LogEntry) -> None:
        self.log.append(entry)  # via self: clear_log() replaces the deque

    def _rejected(self, rejected: RejectedRequest) -> None:
        hook = self.on_reject
        if hook is not None:
            try:
                hook(rejected)
            except Exception as exc:  # noqa: BLE001 - the hook's bug goes to check()
                self.handler_errors.append(exc)

    def http_date(self) -> bytes:
        """The ``Date`` header value: from :attr:`date_clock` when set, else wall time."""
        clock = self.date_clock
        if clock is None:
            return http_date()
        try:
            second = math.floor(clock())
            cached = self._date_cache
            if cached[0] != second:
                cached = (second, formatdate(second, usegmt=True).encode())
                self._date_cache = cached
            return cached[1]
        except Exception as exc:  # noqa: BLE001 - a broken clock must not break responses
            self.handler_errors.append(exc)
            return http_date()

    def stop(self) -> None:
        """Stop accepting, close every connection, join every thread. Takes milliseconds.

        Handlers blocked in the app must return once :attr:`stopping` is set; a thread still
        alive after ``join_timeout`` is reported through :meth:`check`.
        """
        if not self.is_running():
            raise ServerStateError("Server is not running")
        self.stopping.set()
        loop, self._loop = self._loop, None
        assert loop is not None
        for name in loop.stop(self.join_timeout):
            self.handler_errors.append(
                RuntimeError(f"{name} did not finish within {self.join_timeout}s of stop()")
            )

    # -- what happened -----------------------------------------------------------------------
    def active_connections(self) -> int:
        """How many client connections are open right now."""
        loop = self._loop
        return 0 if loop is None else loop.count()

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self.log = deque(maxlen=self.log_size)

    def clear_handler_errors(self) -> None:
        """Forget the recorded handler errors without raising them."""
        self.handler_errors = []

    def check(self) -> None:
        """Raise (and forget) the oldest exception a handler, a hook or the gateway recorded.

        Each call raises the next one; with none recorded it returns. Tests call it after the
        requests they made, so a server-side bug fails the test that caused it.
        """
        if self.handler_errors:
            raise self.handler_errors.pop(0)


__getattr__ = aliases(__name__, {"HTTPServerError": ServerStateError})

"""Host any WSGI app on a real socket, start and stop in milliseconds.

:class:`Server` keeps pytest-httpserver's face (:class:`~pytest_httpserver.httpserver.HTTPServerBase`:
``url_for``, context manager, ``ssl_context``, ``check()`` re-raising handler errors in the test)
and replaces what would block: the accept loop waits on a selector together with a wake-up
socketpair, so ``stop()`` returns as soon as the threads are joined instead of after the stock
0.5 s poll; request bodies reach the app as streams (no ``request.get_data()`` up front); the
request log is a bounded deque. See :mod:`flakymirror.registry.http11` for the per-connection loop.

Three hooks serve fault injection: :attr:`Server.date_clock` makes the ``Date`` header follow
another clock (a mirror's virtual clock), :attr:`Server.on_reject` sees every request
the gateway refuses before the app (malformed request line, bad ``Content-Length``, 431,
501, 505, a TLS handshake on this plain-HTTP port...), as a :class:`RejectedRequest`, and
:attr:`Server.refusal_app` answers those requests (see :mod:`flakymirror.registry.refusal`).
"""

from __future__ import annotations

import contextlib
import math
import selectors
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import formatdate
from ssl import SSLContext
from typing import Any

from pytest_httpserver.httpserver import HTTPServerBase, HTTPServerError
from werkzeug.wrappers import Request, Response

from .http11 import CloseConnection, Connection, LogEntry, RejectedRequest, http_date
from .refusal import REFUSED, refusal_app
from .tls import ServerTLS

__all__ = [
    "CloseConnection",
    "LogEntry",
    "REFUSED",
    "RejectedRequest",
    "Server",
    "ServerHandle",
    "HTTPServerError",
    "refusal_app",
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Server(HTTPServerBase):
    """A threaded HTTP/1.1 server for one WSGI app, bound to ``host`` (port 0 = ephemeral).

    ``stopping`` is a :class:`threading.Event` set when :meth:`stop` begins: handlers that stall
    on purpose should wait on it (``environ["flakymirror.stopping"]`` is the same event) so a
    stop never hangs. :attr:`log` keeps the last ``log_size`` :class:`LogEntry` values (each
    with the wall-clock ``time`` it was logged), including requests the gateway refused before
    the app (with the status they were answered with).

    ``date_clock`` (also a settable attribute) returns epoch seconds; when set, every
    ``Date`` header is formatted from it instead of wall time. ``on_reject`` (a settable
    attribute, default None) is called with a :class:`RejectedRequest` for every request the
    gateway refuses, before the error response is sent. An exception from either hook is kept
    for :meth:`check` and never kills the connection (the ``Date`` falls back to wall time).
    ``refusal_app`` (a settable attribute, default :func:`refusal_app`: the status, an OCI
    error body, ``Connection: close``) is the WSGI app that answers a refused request; it
    finds the :class:`RejectedRequest` in ``environ[REFUSED]``.
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
    ) -> None:
        # HTTPServerBase.__init__ is not called: it would make ``host`` the bind address, but
        # our ``host`` is the "127.0.0.1:PORT" string clients put in image references.
        self.app = app
        self.bind_host = host
        self.port = port
        self.ssl_context = ssl_context
        self.threaded = threaded
        self.log_size = log_size
        self.join_timeout = join_timeout
        self.assertions: list[str | AssertionError] = []
        self.handler_errors: list[Exception] = []
        self.log: deque[LogEntry] = deque(maxlen=log_size)  # type: ignore[assignment]
        self.no_handler_status_code = 500
        self.date_clock: Callable[[], float] | None = date_clock
        self.on_reject: Callable[[RejectedRequest], None] | None = None
        self.refusal_app: WSGIApp = refusal_app
        self._date_cache: tuple[int, bytes] = (-1, b"")
        self.server = None
        self.server_thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._lock = threading.Lock()
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._next_id = 0
        self._base_environ: dict[str, Any] = {}

    # -- addresses -------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``host:port`` as it appears in image references, e.g. ``127.0.0.1:41234``."""
        return f"{self.format_host(self.bind_host)}:{self.port}"

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
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._listener is not None

    def start(self) -> None:
        """Bind, listen and start the accept thread; returns at once."""
        if self.is_running():
            raise HTTPServerError("Server is already running")
        family = socket.AF_INET6 if ":" in self.bind_host.strip("[]") else socket.AF_INET
        listener = socket.create_server(
            (self.bind_host.strip("[]"), self.port), family=family, backlog=256
        )
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
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
        }
        self._listener = listener
        self.server_thread = threading.Thread(
            target=self.thread_target, name=f"flakymirror-accept-{self.port}", daemon=True
        )
        self.server_thread.start()

    def thread_target(self) -> None:
        """Accept loop: wait for a client or the wake-up byte, never poll."""
        assert self._listener is not None and self._wake_r is not None
        listener, wake = self._listener, self._wake_r
        with selectors.DefaultSelector() as sel:
            sel.register(listener, selectors.EVENT_READ)
            sel.register(wake, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is wake:
                        return
                    self._accept(listener)

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self.stopping.is_set():
                sock.close()
                return
            cid = self._next_id
            self._next_id += 1
            self._conns[cid] = sock
            if self.threaded:
                if len(self._threads) >= 64:
                    self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(
                    target=self._serve_connection,
                    args=(cid, sock, addr),
                    name=f"flakymirror-conn-{self.port}-{cid}",
                    daemon=True,
                )
                self._threads.append(thread)
        if self.threaded:
            thread.start()
        else:
            self._serve_connection(cid, sock, addr)

    def _serve_connection(self, cid: int, sock: socket.socket, addr: Any) -> None:
        try:
            if self.ssl_context is not None:
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_side=True)
                except OSError:
                    sock.close()
                    return
                with self._lock:
                    self._conns[cid] = sock
                if self.stopping.is_set():
                    sock.close()
                    return
            environ = self._base_environ.copy()
            environ["REMOTE_ADDR"] = addr[0]
            environ["REMOTE_PORT"] = str(addr[1])
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
            ).serve()
        finally:
            with self._lock:
                self._conns.pop(cid, None)

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
            raise HTTPServerError("Server is not running")
        self.stopping.set()
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._shutdown_connections()  # also wakes a non-threaded accept loop busy with a client
        if self.server_thread is not None and self.server_thread is not threading.current_thread():
            self.server_thread.join(self.join_timeout)
        self._shutdown_connections()  # accepted just before the accept loop saw the wake-up
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(self.join_timeout)
                if thread.is_alive():
                    self.handler_errors.append(
                        RuntimeError(
                            f"{thread.name} did not finish within {self.join_timeout}s of stop()"
                        )
                    )
        for s in (self._listener, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._listener = self._wake_r = self._wake_w = None
        self.server_thread = None

    def _shutdown_connections(self) -> None:
        with self._lock:
            socks = list(self._conns.values())
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- pytest-httpserver hooks -------------------------------------------------------------
    def clear_log(self) -> None:
        """Forget the logged requests."""
        self.log = deque(maxlen=self.log_size)  # type: ignore[assignment]

    def dispatch(self, request: Request) -> Response:
        """Run the app in-process for ``request`` (no socket); used by tests and tools."""
        return Response.from_app(self.app, request.environ)

    def application(self, request: Request) -> Response:  # pragma: no cover - unused hook
        """Not used: the gateway calls the WSGI app directly so bodies stay streamed."""
        return self.dispatch(request)

    def active_connections(self) -> int:
        """How many client connections are open right now."""
        with self._lock:
            return len(self._conns)


class ServerHandle:
    """Addresses and health of the :class:`Server` an object serves on (its ``server``).

    For objects that wrap a server (:class:`~flakymirror.registry.Registry`,
    :class:`~flakymirror.mirror.FlakyMirror`) and answer for it.
    """

    server: Server
    #: The generated CA and certificate when made with ``tls=True`` (None otherwise).
    tls: ServerTLS | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with ``tls=True`` or an ``ssl_context``)."""
        return self.server.url

    @property
    def ca_pem(self) -> bytes | None:
        """The generated CA certificate (PEM) clients should trust; None without ``tls=True``."""
        return self.tls.ca_pem if self.tls is not None else None

    @property
    def ca_file(self) -> str | None:
        """The path of a file holding :attr:`ca_pem` (removed by ``close()``); None without
        ``tls=True``."""
        return self.tls.ca_file if self.tls is not None else None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return self.server.host

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.server.url_for(path)

    def is_running(self) -> bool:
        """True while the server accepts requests."""
        return self.server.is_running()

    def check(self) -> None:
        """Re-raise the first exception a request handler raised."""
        self.server.check()

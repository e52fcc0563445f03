"""Host any WSGI app on a real socket, start and stop in milliseconds.

:class:`Server` is a standalone threaded HTTP/1.1 server with a small interface of its own:

* addresses: :attr:`~Server.url`, :attr:`~Server.host` (``127.0.0.1:PORT``, as in image
  references), :attr:`~Server.port`, :attr:`~Server.bind_host`, :meth:`~Server.url_for`;
* lifecycle: :meth:`~Server.start`, :meth:`~Server.stop`, :meth:`~Server.is_running`, the
  context manager, :attr:`~Server.stopping`, :meth:`~Server.active_connections`;
* what happened: :attr:`~Server.log` (a bounded deque of :class:`LogEntry`),
  :attr:`~Server.handler_errors` and :meth:`~Server.check`, which raises the first exception a
  handler, a hook or the gateway recorded.

The accept loop waits on a selector together with a wake-up socketpair, so ``stop()`` returns
as soon as the threads are joined; request bodies reach the app as streams. See
:mod:`flakymirror.registry.http11` for the per-connection loop.

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
import errno
import math
import selectors
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
from .admission import DEFAULT_LIMITS, Deadlines, Limits, monotonic
from .http11 import CloseConnection, Connection, LogEntry, RejectedRequest, http_date
from .own_url import LOCAL_ADDRESS, url_host
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
        #: Head-read timeouts, the connection cap, the EMFILE back-off (:mod:`.admission`).
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self._deadlines = Deadlines()
        self._wake_at = math.inf  # when the accept thread wakes up unless woken earlier
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
        self._accept_thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._lock = threading.Lock()
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._next_id = 0
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
        return self._listener is not None

    def start(self) -> None:
        """Bind, listen and start the accept thread; returns at once."""
        if self.is_running():
            raise ServerStateError("Server is already running")
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
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"flakymirror-accept-{self.port}", daemon=True
        )
        self._accept_thread.start()

    def _accept_loop(self) -> None:
        """Accept clients while under the connection cap, cut off connections past their head
        deadline, and sleep until a client, a deadline or a wake-up byte: never poll."""
        assert self._listener is not None and self._wake_r is not None
        listener, wake = self._listener, self._wake_r
        paused_until = 0.0  # out of file descriptors: no accept() before then
        with selectors.DefaultSelector() as sel:
            sel.register(wake, selectors.EVENT_READ)
            listening = False
            while not self.stopping.is_set():
                now = monotonic()
                for cid in self._deadlines.due(now):
                    self._cut_off(cid)
                want = now >= paused_until and self.active_connections() < self.limits.max_connections
                if want != listening:
                    if want:
                        sel.register(listener, selectors.EVENT_READ)
                    else:
                        sel.unregister(listener)
                    listening = want
                wake_at = min(self._deadlines.next_at() or math.inf,
                              paused_until if now < paused_until else math.inf)  # fmt: skip
                self._wake_at = wake_at
                events = sel.select(None if wake_at == math.inf else max(0.0, wake_at - now))
                for key, _ in events:
                    if key.fileobj is wake:
                        with contextlib.suppress(OSError):
                            wake.recv(4096)
                    elif not self._accept(listener):
                        paused_until = monotonic() + self.limits.accept_backoff

    def _wake(self) -> None:
        """Have the accept thread look at its deadlines and the connection count again."""
        w = self._wake_w
        if w is not None:
            with contextlib.suppress(OSError):
                w.send(b"w")

    def _arm(self, cid: int, first: bool | None) -> None:
        """A connection starts (``first`` True/False) or ends (None) reading a request head."""
        if first is None:
            self._deadlines.disarm(cid)
            return
        limits = self.limits
        when = self._deadlines.arm(cid, limits.header_timeout if first else limits.idle_timeout)
        if when < self._wake_at:  # rare: the accept thread sleeps past this deadline
            self._wake()

    def _cut_off(self, cid: int) -> None:
        """A head that did not arrive in time: end the connection (its blocked read returns)."""
        with self._lock:
            sock = self._conns.get(cid)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> bool:
        """Accept one client; False when the process is out of file descriptors."""
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            return exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
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
        return True

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
                arm=lambda first: self._arm(cid, first),
            ).serve()
        finally:
            self._deadlines.disarm(cid)
            with self._lock:
                self._conns.pop(cid, None)
                was_full = len(self._conns) + 1 >= self.limits.max_connections
            if was_full:
                self._wake()  # the accept thread may take the next waiting client

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
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._shutdown_connections()  # also wakes a non-threaded accept loop busy with a client
        accept = self._accept_thread
        if accept is not None and accept is not threading.current_thread():
            accept.join(self.join_timeout)
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
        self._accept_thread = None

    def _shutdown_connections(self) -> None:
        with self._lock:
            socks = list(self._conns.values())
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- what happened -----------------------------------------------------------------------
    def active_connections(self) -> int:
        """How many client connections are open right now."""
        with self._lock:
            return len(self._conns)

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

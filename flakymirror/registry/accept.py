"""The accept thread of a :class:`~flakymirror.registry.server.Server` and its table of open
connections.

:class:`AcceptLoop` takes clients off one listening socket while the server is under its
connection cap, starts a thread per connection (or serves it in place), cuts off connections
whose request head is late (:class:`~.admission.Deadlines`), backs off when the process is out
of file descriptors, and shuts every connection down on :meth:`~AcceptLoop.stop`. It sleeps on a
selector until a client, a deadline or a wake-up byte arrives: it never polls.
"""

from __future__ import annotations

import contextlib
import errno
import math
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from .admission import Deadlines, Limits, monotonic

__all__ = ["AcceptLoop", "Accepted"]

#: accept() errors that mean "out of descriptors or buffers": back off instead of spinning
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Accepted:
    """One accepted client: its socket and address, and what its connection tells the loop."""

    __slots__ = ("_loop", "addr", "cid", "sock")

    def __init__(self, loop: AcceptLoop, cid: int, sock: socket.socket, addr: Any) -> None:
        self._loop = loop
        self.cid = cid
        self.sock = sock
        self.addr = addr

    def arm(self, first: bool | None) -> None:
        """A request head starts (``first``: the connection's first) or ends (None)."""
        self._loop.arm(self.cid, first)

    def replace(self, sock: socket.socket) -> None:
        """The connection now talks through ``sock`` (its TLS wrapper)."""
        self.sock = sock
        self._loop.replace(self.cid, sock)


class AcceptLoop:
    """Accept clients of ``listener`` and hand each to ``serve`` as an :class:`Accepted`.

    ``limits`` is called for the current :class:`~.admission.Limits` (the server's settable
    attribute). ``stopping`` is the server's event; once set, nothing new is accepted.
    ``threaded`` False serves each connection on the accept thread, one at a time. ``name``
    (the server's port) goes into the thread names: ``flakymirror-accept-NAME``,
    ``flakymirror-conn-NAME-ID``.
    """

    def __init__(
        self,
        listener: socket.socket,
        serve: Callable[[Accepted], None],
        *,
        limits: Callable[[], Limits],
        stopping: threading.Event,
        threaded: bool = True,
        name: str = "",
    ) -> None:
        self.listener = listener
        self._serve = serve
        self._limits = limits
        self._stopping = stopping
        self._threaded = threaded
        self._name = name
        self._deadlines = Deadlines()
        self._wake_at = math.inf  # when the accept thread wakes up unless woken earlier
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._next_id = 0
        self.thread = threading.Thread(
            target=self._run, name=f"flakymirror-accept-{name}", daemon=True
        )

    def start(self) -> None:
        """Start the accept thread."""
        self.thread.start()

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        """Accept while under the cap, cut off late heads, sleep until there is work."""
        listener, wake = self.listener, self._wake_r
        paused_until = 0.0  # out of file descriptors: no accept() before then
        with selectors.DefaultSelector() as sel:
            sel.register(wake, selectors.EVENT_READ)
            listening = False
            while not self._stopping.is_set():
                now = monotonic()
                for cid in self._deadlines.due(now):
                    self._cut_off(cid)
                limits = self._limits()
                want = now >= paused_until and self.count() < limits.max_connections
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
                    elif not self._accept():
                        paused_until = monotonic() + limits.accept_backoff

    def _accept(self) -> bool:
        """Accept one client; False when the process is out of file descriptors."""
        try:
            sock, addr = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            return exc.errno not in _EXHAUSTED
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return True
            cid = self._next_id
            self._next_id += 1
            self._conns[cid] = sock
            if self._threaded:
                if len(self._threads) >= 64:
                    self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(
                    target=self._serve_one,
                    args=(cid, sock, addr),
                    name=f"flakymirror-conn-{self._name}-{cid}",
                    daemon=True,
                )
                self._threads.append(thread)
        if self._threaded:
            thread.start()
        else:
            self._serve_one(cid, sock, addr)
        return True

    def _serve_one(self, cid: int, sock: socket.socket, addr: Any) -> None:
        try:
            self._serve(Accepted(self, cid, sock, addr))
        finally:
            self._deadlines.disarm(cid)
            with self._lock:
                self._conns.pop(cid, None)
                was_full = len(self._conns) + 1 >= self._limits().max_connections
            if was_full:
                self.wake()  # the accept thread may take the next waiting client

    # -- what a connection tells the loop -------------------------------------------------------
    def wake(self) -> None:
        """Have the accept thread look at its deadlines and the connection count again."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"w")

    def arm(self, cid: int, first: bool | None) -> None:
        """Connection ``cid`` starts (``first`` True/False) or ends (None) reading a head."""
        if first is None:
            self._deadlines.disarm(cid)
            return
        limits = self._limits()
        when = self._deadlines.arm(cid, limits.header_timeout if first else limits.idle_timeout)
        if when < self._wake_at:  # rare: the accept thread sleeps past this deadline
            self.wake()

    def replace(self, cid: int, sock: socket.socket) -> None:
        """Connection ``cid`` now talks through ``sock`` (its TLS wrapper)."""
        with self._lock:
            self._conns[cid] = sock

    def _cut_off(self, cid: int) -> None:
        """A head that did not arrive in time: end the connection (its blocked read returns)."""
        with self._lock:
            sock = self._conns.get(cid)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def count(self) -> int:
        """How many client connections are open right now."""
        with self._lock:
            return len(self._conns)

    # -- stopping ------------------------------------------------------------------------------
    def stop(self, join_timeout: float) -> list[str]:
        """Shut every connection down and join every thread; the names of those still alive
        after ``join_timeout`` each. The server's ``stopping`` event must be set first."""
        self.wake()
        self._shutdown_connections()  # also wakes a non-threaded loop busy with a client
        if self.thread is not threading.current_thread():
            self.thread.join(join_timeout)
        self._shutdown_connections()  # accepted just before the loop saw the wake-up
        with self._lock:
            threads, self._threads = self._threads, []
        late = []
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(join_timeout)
                if thread.is_alive():
                    late.append(thread.name)
        for s in (self.listener, self._wake_r, self._wake_w):
            s.close()
        return late

    def _shutdown_connections(self) -> None:
        with self._lock:
            socks = list(self._conns.values())
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

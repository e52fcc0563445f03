"""A loopback TCP proxy that can hold a response half-way (the upstream blocks on full socket
buffers) until released."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any


class HoldingProxy:
    """A TCP proxy on loopback in front of ``upstream`` ("host:port") that can *hold* a
    response: once ``hold_after`` bytes went downstream on one connection it stops reading from
    upstream (the upstream blocks with its socket buffers full) and sets ``held``, until
    :meth:`release`. Everything it started stops in :meth:`close`."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.hold_after: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # the accept loop notices close() within 0.1 s
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            self._spawn(self._pump, client, server, False)
            self._spawn(self._pump, server, client, True)

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        sent = 0
        try:
            while True:
                if downstream and self.hold_after is not None and sent >= self.hold_after:
                    self.held.set()
                    self._release.wait()
                    if self._closing.is_set():
                        return
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def release(self) -> None:
        """Stop holding: relay whatever upstream still sends."""
        self.hold_after = None
        self._release.set()

    def close(self) -> None:
        """Close the listener and every connection; join the threads."""
        self._closing.set()
        self._release.set()
        self.listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(5)

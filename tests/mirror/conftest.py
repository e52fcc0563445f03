"""Helpers for the mirror tests: mirrors that clean up, a wire-level client, image fixtures."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from flakymirror.mirror import FlakyMirror, VirtualClock
from flakymirror.oci import build_image, build_index
from flakymirror.oci.mediatypes import GGCR_MANIFEST_ACCEPT

ACCEPT = {"Accept": GGCR_MANIFEST_ACCEPT}
REPO = "lib/app"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock("2026-01-01T00:00:00Z")


@pytest.fixture
def make_mirror() -> Iterator[Callable[..., FlakyMirror]]:
    """``make_mirror(**kw)`` → a started FlakyMirror, closed (and checked) at teardown."""
    made: list[FlakyMirror] = []

    def make(**kw: Any) -> FlakyMirror:
        mirror = FlakyMirror(**kw).start()
        made.append(mirror)
        return mirror

    yield make
    for mirror in made:
        mirror.close()
    for mirror in made:
        mirror.check()


@pytest.fixture
def mirror(make_mirror, vclock, image) -> FlakyMirror:
    """A started mirror on the virtual clock; its in-process upstream has ``image`` as
    ``lib/app:1``."""
    m = make_mirror(clock=vclock)
    m.push_upstream(image, f"{REPO}:1")
    return m


@pytest.fixture
def image():
    return build_image(layers=3, seed=11, layer_size=2048)


@pytest.fixture
def index():
    return build_index(platforms=("linux/amd64", "linux/arm64"), seed=12, layers=2, layer_size=1024)


def get_manifest(
    mirror: FlakyMirror, repo: str, ref: str, method: str = "GET", **kw: Any
) -> requests.Response:
    """A manifest request with go-containerregistry's Accept header."""
    headers = {**ACCEPT, **kw.pop("headers", {})}
    return requests.request(
        method, f"{mirror.url}/v2/{repo}/manifests/{ref}", headers=headers, timeout=10, **kw
    )


def control_api(
    mirror: FlakyMirror, method: str, path: str, *, timeout: float = 10, **kw: Any
) -> requests.Response:
    """A request to the mirror's control API under ``/_flakymirror/``."""
    return requests.request(method, f"{mirror.url}/_flakymirror/{path}", timeout=timeout, **kw)


def get_blob(mirror: FlakyMirror, repo: str, digest: str, method: str = "GET", **kw: Any):
    kw.setdefault("timeout", 10)
    return requests.request(method, f"{mirror.url}/v2/{repo}/blobs/{digest}", **kw)


def raw_request(url_host: str, path: str, method: str = "GET", timeout: float = 5.0):
    """Send one request on a fresh socket and read until EOF or reset.

    Returns ``(data, error)`` where ``error`` is the name of the exception that ended the read
    (``None`` for a clean EOF), so tests see exactly what went over the wire.
    """
    host, port = url_host.rsplit(":", 1)
    data = bytearray()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {url_host}\r\nConnection: close\r\n\r\n".encode()
        )
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return bytes(data), None
                data += chunk
        except OSError as exc:
            return bytes(data), type(exc).__name__


def split_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


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

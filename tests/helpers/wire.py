"""Raw HTTP/1.1 over a socket, for tests that must see exactly what went over the wire (one
request, read until the peer closes), and the smallest WSGI app to serve."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from flakymirror.registry import Server


def raw_request(
    url_host: str, path: str, method: str = "GET", timeout: float = 5.0
) -> tuple[bytes, str | None]:
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
    """``(status, headers with lower-case names, body)`` of a raw HTTP/1.1 response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI app answering ``hello`` with a Content-Length."""
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def raw(server: Server, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection((server.bind_host, server.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # the server closed with our unread bytes pending
                return out
            if not chunk:
                return out
            out += chunk

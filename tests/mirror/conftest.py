"""Helpers for the mirror tests: mirrors that clean up, a wire-level client, image fixtures."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from flakymirror.mirror import FlakyMirror, VirtualClock
from flakymirror.oci import build_image, build_index
from flakymirror.oci.mediatypes import GGCR_MANIFEST_ACCEPT

ACCEPT = {"Accept": GGCR_MANIFEST_ACCEPT}


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


def get_blob(mirror: FlakyMirror, repo: str, digest: str, method: str = "GET", **kw: Any):
    return requests.request(method, f"{mirror.url}/v2/{repo}/blobs/{digest}", timeout=10, **kw)


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

"""Fixtures and helpers for the registry tests: a live registry and small push helpers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests

from flakymirror.oci import Digest
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import Registry, Server


@pytest.fixture
def registry() -> Iterator[Registry]:
    """A running anonymous registry; handler errors fail the test."""
    with Registry() as reg:
        yield reg
        reg.check()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as s:
        yield s


def errors_of(resp: requests.Response) -> list[str]:
    """The OCI error codes in a response body."""
    return [e["code"] for e in resp.json()["errors"]]


def code_of(resp: requests.Response) -> str:
    """The first OCI error code of a response."""
    return errors_of(resp)[0]


def push_blob(url: str, repo: str, data: bytes, session: Any = requests) -> str:
    """Monolithic POST ?digest= push; returns the digest string."""
    d = str(Digest.of(data))
    r = session.post(f"{url}/v2/{repo}/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201, r.text
    return d


def push_default_blobs(url: str, repo: str) -> None:
    """Push the config (``{}``) and layer (``layer``) blobs :func:`manifest_bytes` names by default."""
    push_blob(url, repo, b"{}")
    push_blob(url, repo, b"layer")


def manifest_bytes(
    config: bytes = b"{}",
    layers: tuple[bytes, ...] = (b"layer",),
    *,
    media_type: str = mt.OCI_MANIFEST,
    config_type: str = mt.OCI_CONFIG,
    subject: dict[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """A manifest naming ``config`` and ``layers`` (as raw bytes)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [
            {"mediaType": mt.OCI_LAYER, "digest": str(Digest.of(layer)), "size": len(layer)}
            for layer in layers
        ],
    }
    if subject is not None:
        doc["subject"] = subject
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if annotations is not None:
        doc["annotations"] = annotations
    return json.dumps(doc).encode()


def push_manifest_with_blobs(
    url: str,
    repo: str,
    tag: str,
    config: bytes = b"{}",
    layers: tuple[bytes, ...] = (b"layer",),
    **kw: Any,
) -> tuple[str, bytes]:
    """Push blobs and a manifest under ``tag``; return (digest, manifest bytes)."""
    push_blob(url, repo, config)
    for layer in layers:
        push_blob(url, repo, layer)
    data = manifest_bytes(config, layers, **kw)
    media = kw.get("media_type", mt.OCI_MANIFEST)
    r = requests.put(f"{url}/v2/{repo}/manifests/{tag}", data=data, headers={"Content-Type": media})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], data


def descriptor(data: bytes, media_type: str) -> dict[str, Any]:
    """A descriptor for ``data``."""
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data)}


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


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(i)`` for i in ``range(count)`` on as many threads at once; join them all."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

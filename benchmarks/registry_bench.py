"""Registry vs distribution: manifest GET by tag, 64 MiB blob GET, start+stop time.

:class:`Pair` runs flakymirror's :class:`~flakymirror.registry.Registry` (in this process) and a
distribution process side by side and pushes the same image to both over HTTP with
flakymirror's ggcr-style client push, then checks that both serve identical bytes before any
timing starts.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from benchmarks.load import LoadResult, download, median_download, run_load
from benchmarks.report import Row, at_least, at_most, no_worse_than_distribution
from flakymirror.client.push import PushBlob, push_image
from flakymirror.distribution import Distribution
from flakymirror.oci import Digest, Image, build_image
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import CloseConnection, Registry

__all__ = [
    "ACCEPT",
    "BLOB_SIZE",
    "REPO",
    "TAG",
    "Pair",
    "bench_image",
    "manifest_rows",
    "blob_rows",
    "startstop_rows",
    "push",
    "pair",
]

REPO = "bench/app"
TAG = "v1"
#: Uncompressed file content of the big layer; its tar blob is a few KiB larger.
BLOB_SIZE = 64 << 20
#: What lifecycle (ggcr) sends; distribution 2.8 needs the OCI type in it to serve OCI manifests.
ACCEPT = mt.GGCR_MANIFEST_ACCEPT


def bench_image(big: int = BLOB_SIZE) -> Image:
    """A deterministic OCI image: one uncompressed ~``big``-byte layer and two small ones."""
    return build_image(layer_sizes=[big, 4096, 4096], compression="none", seed="bench")


def push(image: Image, host: str, reference: str = f"{REPO}:{TAG}") -> float:
    """Push ``image`` to ``host`` over plain HTTP (ggcr's flow); return the seconds it took."""
    blobs = [PushBlob(b.digest, b.size, b.media_type, chunks=b.chunks) for b in image.blobs()]
    t0 = time.perf_counter()
    push_image(f"{host}/{reference}", image.manifest_bytes, image.media_type, blobs, insecure=True)
    return time.perf_counter() - t0


@dataclass
class Pair:
    """Both registries holding the same image under ``bench/app:v1``."""

    image: Image
    registry: Registry
    distribution: Distribution
    push_seconds: dict[str, float]

    def manifest_url(self, base: str) -> str:
        return f"{base}/v2/{REPO}/manifests/{TAG}"

    def big_blob(self):  # noqa: ANN201 - a flakymirror.oci Layer
        """The largest layer."""
        return max(self.image.layers, key=lambda b: b.size)

    def blob_url(self, base: str) -> str:
        return f"{base}/v2/{REPO}/blobs/{self.big_blob().digest}"


def _verify_manifest(url: str, image: Image) -> None:
    r = requests.get(url, headers={"Accept": ACCEPT}, timeout=10)
    if r.status_code != 200:
        raise RuntimeError(f"GET {url} answered {r.status_code}: {r.text[:300]}")
    if r.content != image.manifest_bytes:
        raise RuntimeError(f"GET {url} served different manifest bytes than were pushed")
    if r.headers.get("Docker-Content-Digest") != str(image.digest):
        raise RuntimeError(
            f"GET {url}: Docker-Content-Digest {r.headers.get('Docker-Content-Digest')!r} "
            f"is not {image.digest}"
        )


@contextlib.contextmanager
def pair(image: Image | None = None) -> Iterator[Pair]:
    """Start both registries, push the image to both, verify, yield; always stop both."""
    image = image if image is not None else bench_image()
    with Registry() as reg, Distribution() as dist:
        seconds = {"flakymirror": push(image, reg.host), "distribution": push(image, dist.host)}
        p = Pair(image, reg, dist, seconds)
        for base in (reg.url, dist.url):
            _verify_manifest(p.manifest_url(base), image)
            download(p.blob_url(base), expect=p.big_blob().digest)  # full, hashed
        yield p
        reg.check()


def _load_details(res: LoadResult) -> dict[str, object]:
    return res.to_dict()


def manifest_rows(p: Pair, *, seconds: float, warmup: float, tool: str = "auto") -> list[Row]:
    """Manifest GET by tag under load: requests/s, p50, p99 for both."""
    results: dict[str, LoadResult] = {}
    for name, base in (("flakymirror", p.registry.url), ("distribution", p.distribution.url)):
        url = p.manifest_url(base)
        if warmup > 0:
            run_load(url, ACCEPT, seconds=warmup, tool=tool)
        results[name] = run_load(url, ACCEPT, seconds=seconds, tool=tool)
    fm, dist = results["flakymirror"], results["distribution"]
    details = {"flakymirror": _load_details(fm), "distribution": _load_details(dist)}
    label = f"manifest GET by tag ({fm.tool}, {fm.threads}t/{fm.connections}c, {seconds:g}s)"
    return [
        Row(label + ": throughput", "req/s", fm.rps, dist.rps, at_least(1.5), details=details),
        Row("manifest GET by tag: p50 latency", "ms", fm.p50_ms, dist.p50_ms),
        Row(
            "manifest GET by tag: p99 latency",
            "ms",
            fm.p99_ms,
            dist.p99_ms,
            no_worse_than_distribution(),
        ),
    ]


def blob_rows(p: Pair, *, runs: int) -> list[Row]:
    """A ~64 MiB blob GET, streamed and discarded on a fresh connection: median MB/s of ``runs``."""
    size = p.big_blob().size
    fm_med, fm_all = median_download(p.blob_url(p.registry.url), runs)
    dist_med, dist_all = median_download(p.blob_url(p.distribution.url), runs)
    return [
        Row(
            f"{size / (1 << 20):.0f} MiB blob GET (median of {runs})",
            "MB/s",
            fm_med,
            dist_med,
            at_least(1.2),
            details={"bytes": size, "flakymirror_runs": fm_all, "distribution_runs": dist_all},
        )
    ]


def _registry_cycle() -> tuple[float, float]:
    """One fresh Registry: (start()+stop() seconds, construct+start+stop+close seconds)."""
    t0 = time.perf_counter()
    reg = Registry()
    try:
        t1 = time.perf_counter()
        reg.start()
        reg.stop()
        t2 = time.perf_counter()
    finally:
        reg.close()
    t3 = time.perf_counter()
    return t2 - t1, t3 - t0


def _served_cycle() -> float:
    """``with Registry()`` around one ``GET /v2/`` on a new connection: the fixture's real cost."""
    t0 = time.perf_counter()
    with Registry() as reg, requests.get(f"{reg.url}/v2/", timeout=5) as r:
        r.raise_for_status()
    return time.perf_counter() - t0


def _distribution_cycle() -> float:
    """distribution spawned, answering /v2/, terminated and reaped."""
    t0 = time.perf_counter()
    with Distribution():
        pass
    return time.perf_counter() - t0


#: The blob a stalled client starts to download in :func:`_stop_with_open_connections`.
STOP_BLOB = bytes(range(256)) * (8 << 12)  # 8 MiB: more than the socket buffers hold


def _stalling(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app``, except that ``/stall`` waits for the server's ``stopping`` event."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/stall":
            environ["flakymirror.stopping"].wait(30)
            raise CloseConnection()
        return app(environ, start_response)

    return wrapped


def _stop_with_open_connections() -> float:
    """Seconds :meth:`Server.stop` takes with 4 idle keep-alive connections, a client stalled
    1 byte into an 8 MiB blob, a client halfway through an upload and a handler waiting on
    ``stopping`` (each of which would hold a server that waits for its clients)."""
    digest = Digest.of(STOP_BLOB)
    reg = Registry()
    reg.server.app = _stalling(reg.app)
    sessions = [requests.Session() for _ in range(4)]
    socks: list[socket.socket] = []
    try:
        reg.start()
        reg.store.put_blob("big", digest, STOP_BLOB)
        for s in sessions:
            s.get(f"{reg.url}/v2/", timeout=5).raise_for_status()
        loc = sessions[0].post(f"{reg.url}/v2/big/blobs/uploads/", timeout=5).headers["Location"]
        address = (reg.server.bind_host, reg.server.port)
        socks = [socket.create_connection(address, timeout=5) for _ in range(3)]
        reader, writer, staller = socks
        reader.sendall(f"GET /v2/big/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        reader.recv(1)
        writer.sendall(
            f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"x" * 1000
        )
        staller.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 10
        while reg.server.active_connections() < 7:
            if time.monotonic() > deadline:
                raise RuntimeError("the 7 connections did not all open within 10 s")
            time.sleep(0.001)
        t0 = time.perf_counter()
        reg.stop()
        seconds = time.perf_counter() - t0
    finally:
        for sock in socks:
            sock.close()
        for s in sessions:
            s.close()
        reg.close()
    reg.check()
    return seconds


def startstop_rows(*, n: int, distribution_runs: int) -> list[Row]:
    """``Registry`` start+stop, median of ``n`` (and distribution's process lifecycle for scale)."""
    _registry_cycle()  # warm imports and the first thread start
    pure, whole = zip(*(_registry_cycle() for _ in range(n)), strict=True)
    served = [_served_cycle() for _ in range(n)]
    stops = [_stop_with_open_connections() for _ in range(max(3, n // 5))]
    dist: list[float] = []
    dist_error = None
    try:  # distribution's figure is context only: its failure must not cost the Registry rows
        dist = [_distribution_cycle() for _ in range(distribution_runs)]
    except Exception as exc:  # noqa: BLE001 - shown in the row's details
        dist_error = f"{type(exc).__name__}: {exc}"[:300]
    dist_ms = statistics.median(dist) * 1000 if dist else None
    ms = 1000.0
    return [
        Row(
            f"Registry start()+stop() (median of {n})",
            "ms",
            statistics.median(pure) * ms,
            target=at_most(5, "ms"),
            details={"max_ms": max(pure) * ms, "min_ms": min(pure) * ms},
        ),
        Row(
            f"`with Registry()` construct+start+stop+close (median of {n})",
            "ms",
            statistics.median(whole) * ms,
            target=at_most(5, "ms"),
            details={"max_ms": max(whole) * ms},
        ),
        Row(
            f"Server stop() with 7 open connections: 4 idle keep-alive, a stalled download, "
            f"a half-sent upload, a handler waiting on `stopping` (median of {len(stops)})",
            "ms",
            statistics.median(stops) * ms,
            target=at_most(50, "ms"),
            details={"max_ms": max(stops) * ms, "runs_ms": [x * ms for x in stops]},
        ),
        Row(
            f"`with Registry()` + one GET /v2/ (median of {n}); distribution: spawn → /v2/ 200 → "
            f"SIGTERM → reaped (median of {distribution_runs})",
            "ms",
            statistics.median(served) * ms,
            dist_ms,
            details={
                "distribution_runs_ms": [d * ms for d in dist],
                "distribution_error": dist_error,
            },
        ),
    ]

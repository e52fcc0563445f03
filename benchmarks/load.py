"""Load generators: ``wrk`` with a Lua script (preferred) or a bounded Python fallback, and a
streaming blob downloader.

Both generators answer with a :class:`LoadResult` (requests/s and latency percentiles) and fail
loudly when any response was not a 2xx/3xx: a benchmark of error pages is no benchmark.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from flakymirror.oci.digest import Digest, Hasher

__all__ = [
    "Download",
    "LoadError",
    "LoadResult",
    "download",
    "median_download",
    "python_load",
    "python_load_process",
    "run_load",
    "wrk_load",
]

# wrk's done() hook prints one line we parse; latency percentiles are in microseconds.
_LUA = """\
wrk.method = "GET"
wrk.headers["Accept"] = %(accept)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FMBENCH requests=%%d duration_us=%%d status_errors=%%d connect=%%d read=%%d write=%%d " ..
    "timeout=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
_LINE = re.compile(r"FMBENCH (.*)")


class LoadError(RuntimeError):
    """The load run failed or saw error responses."""


@dataclass(frozen=True)
class LoadResult:
    """One load run against one URL."""

    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    connections: int
    threads: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for the JSON results."""
        return asdict(self)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_load(
    url: str, accept: str, *, threads: int = 2, connections: int = 16, seconds: float = 10.0
) -> LoadResult:
    """Run ``wrk -t<threads> -c<connections> -d<seconds>s`` on ``url`` with ``Accept`` set."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk is not installed")
    with tempfile.TemporaryDirectory(prefix="fm-bench-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(_LUA % {"accept": _lua_string(accept)})
        duration = max(1, round(seconds))
        proc = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    m = _LINE.search(proc.stdout)
    if proc.returncode != 0 or m is None:
        raise LoadError(
            f"wrk failed (exit {proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}"
        )
    fields = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    errors = {k: fields[k] for k in ("status_errors", "connect", "read", "write", "timeout")}
    if any(errors.values()):
        raise LoadError(f"wrk saw errors against {url}: {errors}")
    secs = fields["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        requests=fields["requests"],
        seconds=secs,
        rps=fields["requests"] / secs,
        p50_ms=fields["p50_us"] / 1000,
        p90_ms=fields["p90_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        max_ms=fields["max_us"] / 1000,
        connections=connections,
        threads=threads,
    )


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def python_load(
    url: str, accept: str, *, connections: int = 16, seconds: float = 10.0
) -> LoadResult:
    """The fallback: ``connections`` threads, each with its own keep-alive ``requests.Session``,
    GET ``url`` until ``seconds`` are over. Client-bound under the GIL on small machines."""
    stop_at = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures: list[str] = []

    def worker(i: int) -> None:
        out = latencies[i]
        with requests.Session() as s:
            s.headers["Accept"] = accept
            while time.perf_counter() < stop_at and not failures:
                t0 = time.perf_counter()
                try:
                    r = s.get(url, timeout=10)
                except requests.RequestException as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    return
                out.append(time.perf_counter() - t0)
                if r.status_code >= 400:
                    failures.append(f"status {r.status_code}: {r.text[:200]}")
                    return

    start = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 30)
    elapsed = time.perf_counter() - start
    if failures:
        raise LoadError(f"python load generator saw errors against {url}: {failures[0]}")
    flat = sorted(x for per in latencies for x in per)
    return LoadResult(
        tool="python",
        requests=len(flat),
        seconds=elapsed,
        rps=len(flat) / elapsed,
        p50_ms=_percentile(flat, 50) * 1000,
        p90_ms=_percentile(flat, 90) * 1000,
        p99_ms=_percentile(flat, 99) * 1000,
        max_ms=(flat[-1] if flat else float("nan")) * 1000,
        connections=connections,
        threads=connections,  # one thread per connection
    )


def python_load_process(
    url: str, accept: str, *, connections: int = 16, seconds: float = 10.0
) -> LoadResult:
    """:func:`python_load` in a child interpreter, so the client does not share a GIL with an
    in-process server (``Registry`` and ``FlakyMirror`` run inside the benchmark process)."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", url, accept, str(seconds), str(connections)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=seconds + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise LoadError(f"python load generator failed: {proc.stderr.strip()[-800:]}")
    return LoadResult(**json.loads(proc.stdout))


def run_load(
    url: str, accept: str, *, seconds: float, connections: int = 16, tool: str = "auto"
) -> LoadResult:
    """``tool="auto"``: wrk when installed, else the Python fallback (same connection count and
    duration); ``"wrk"`` or ``"python"`` force one."""
    if tool not in ("auto", "wrk", "python"):
        raise ValueError(f"load tool must be auto, wrk or python, not {tool!r}")
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return wrk_load(url, accept, connections=connections, seconds=seconds)
    return python_load_process(url, accept, connections=connections, seconds=seconds)


@dataclass(frozen=True)
class Download:
    """One streamed GET of a blob."""

    size: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes)."""
        return self.size / self.seconds / 1e6


def download(url: str, *, expect: Digest | None = None, buffer: int = 1 << 20) -> Download:
    """GET ``url`` on a fresh connection, stream the body into a reused buffer and drop it.

    With ``expect`` the bytes are hashed and checked (slower: use it for a verification run,
    not for a timed one). Raises :class:`LoadError` on a non-200 or a short body.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    buf = bytearray(buffer)
    view = memoryview(buf)
    hasher = Hasher(expect.algorithm) if expect is not None else None
    try:
        t0 = time.perf_counter()
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        if resp.status != 200:
            raise LoadError(f"GET {url} answered {resp.status}: {resp.read(300)!r}")
        declared = int(resp.getheader("Content-Length", "-1"))
        got = 0
        while True:
            n = resp.readinto(view)
            if not n:
                break
            got += n
            if hasher is not None:
                hasher.update(view[:n])
        seconds = time.perf_counter() - t0
    finally:
        conn.close()
    if got != declared:
        raise LoadError(f"GET {url}: got {got} bytes, Content-Length said {declared}")
    if hasher is not None and expect is not None and hasher.digest() != expect:
        raise LoadError(f"GET {url}: body digest {hasher.digest()} is not {expect}")
    return Download(got, seconds)


def median_download(url: str, runs: int) -> tuple[float, list[float]]:
    """Median MB/s over ``runs`` timed downloads, and every run's figure."""
    figures = [download(url).mb_per_s for _ in range(runs)]
    return statistics.median(figures), figures


if __name__ == "__main__":  # the child side of python_load_process: URL ACCEPT SECONDS CONNECTIONS
    _url, _accept, _seconds, _conns = sys.argv[1:5]
    try:
        _res = python_load(_url, _accept, seconds=float(_seconds), connections=int(_conns))
    except LoadError as _exc:
        sys.exit(str(_exc))
    print(json.dumps(_res.to_dict()))

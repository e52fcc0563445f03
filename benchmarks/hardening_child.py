"""The servers under probe in ``benchmarks/hardening.py`` and the clients around them.

Each server is a process of its own, so its threads, RSS and file descriptors
(:func:`proc_status`, sampled by :class:`Sampler`) are its own. :func:`connect` and :func:`hold`
are the slow clients (idle and slowloris), :class:`NormalClient` the well-behaved one beside them.

:func:`serving` starts one afresh on ``127.0.0.1`` holding ``build_image(layers=1, seed=1)`` as
``lib/app:1`` and stops and reaps it on the way out, also on an exception or Ctrl-C:
distribution 2.8.2 through :class:`flakymirror.distribution.Distribution`, flakymirror as this
file run as a script (:class:`FlakyChild`)::

    python benchmarks/hardening_child.py [--header-timeout S]

The script runs a :class:`~flakymirror.registry.Registry` with the default
:class:`~flakymirror.registry.admission.Limits` (or another ``header_timeout``), prints
``{"port": P, "pid": PID, "header_timeout": S}`` on one line of stdout and serves until stdin
closes or SIGTERM arrives. It then stops the registry and prints ``{"handler_errors": N,
"first": [...]}``: the exceptions the app, a hook or the gateway recorded (what
``Registry.check()`` would raise).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``flakymirror`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flakymirror.oci import build_image  # noqa: E402
from flakymirror.registry import Registry  # noqa: E402
from flakymirror.registry.admission import DEFAULT_LIMITS  # noqa: E402

__all__ = [
    "FlakyChild",
    "NormalClient",
    "Sampler",
    "Served",
    "connect",
    "hold",
    "proc_status",
    "serving",
]

CHILD = Path(__file__).resolve()
#: a slowloris connection sends this at once, then a byte a second of never-ending headers
SLOW_HEAD, SLOW_TRICKLE = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: loris\r\n"
#: The image both servers hold during the probes, and where.
IMAGE_SEED, REPO, TAG = 1, "lib/app", "1"


def proc_status(pid: int) -> dict[str, float]:
    """``threads``, ``rss_mib`` (VmRSS) and ``fds`` (entries of /proc/PID/fd) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status)
    return {
        "threads": int(fields["Threads"]),
        "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


class Sampler(threading.Thread):
    """Samples :func:`proc_status` of ``pid`` every 0.1 s until :attr:`done`; keeps the peaks."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done, self.peak = pid, threading.Event(), proc_status(pid)

    def run(self) -> None:
        """Sample until :attr:`done` is set (a failed read, the process gone, is skipped)."""
        while not self.done.wait(0.1):
            with contextlib.suppress(OSError):
                now = proc_status(self.pid)
                self.peak = {k: max(v, self.peak[k]) for k, v in now.items()}


class NormalClient(threading.Thread):
    """``GET /v2/`` on a fresh connection every 50 ms until :attr:`done`; latencies, failures."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.done = port, threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        """Request until :attr:`done` is set."""
        while not self.done.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/v2/")
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    self.failures.append(f"status {resp.status}")
            except OSError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            finally:
                conn.close()
            self.latencies.append(time.perf_counter() - t0)
            self.done.wait(0.05)


def connect(port: int, first: bytes) -> socket.socket | None:
    """A non-blocking connection to ``127.0.0.1:port`` that has sent ``first``; None if that failed."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None
    try:
        sock.sendall(first)
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def hold(
    socks: dict[int, tuple[str, socket.socket]], t0: float, seconds: float
) -> dict[int, float]:
    """Keep ``socks`` (fd: kind, socket) until ``seconds`` after ``t0``, a byte a second on each
    ``"slowloris"`` one; when each one the server closed was closed (seconds after ``t0``)."""
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    closed: dict[int, float] = {}
    deadline, tick, step = t0 + seconds, t0 + 1.0, 0

    def gone(fd: int) -> None:
        closed[fd] = time.monotonic() - t0
        poller.unregister(fd)

    while (now := time.monotonic()) < deadline:
        for fd, _ in poller.poll(max(0.0, min(tick, deadline) - now) * 1000):
            try:
                if not socks[fd][1].recv(65536):  # an answer (a 408?) is read; EOF is a cut
                    gone(fd)
            except BlockingIOError:
                pass
            except OSError:
                gone(fd)
        if time.monotonic() >= tick:
            byte = SLOW_TRICKLE[step % len(SLOW_TRICKLE)].to_bytes(1, "big")
            step, tick = step + 1, tick + 1.0
            for fd, (kind, sock) in socks.items():
                if kind == "slowloris" and fd not in closed:
                    try:
                        sock.send(byte)
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone(fd)
    return closed


@dataclass
class Served:
    """A running server under probe; ``report`` is flakymirror's, filled in once it stopped."""

    name: str
    port: int
    pid: int
    header_timeout: float | None = None
    report: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def serving(name: str, header_timeout: float | None = None) -> Iterator[Served]:
    """``"flakymirror"`` or ``"distribution"`` running afresh, stopped and reaped on exit."""
    if name == "flakymirror":
        with FlakyChild(header_timeout) as child:
            srv = Served(name, child.port, child.pid, child.hello["header_timeout"])
            yield srv
        srv.report.update(child.report)
        return
    from flakymirror import distribution  # here: the flakymirror child does without requests

    if not distribution.available():
        raise RuntimeError(f"{distribution.BINARY} is not installed")
    with distribution.Distribution() as dist:
        dist.push(build_image(layers=1, seed=IMAGE_SEED), REPO, TAG)
        assert dist.pid is not None
        yield Served(name, dist.port, dist.pid)


class FlakyChild:
    """``benchmarks/hardening_child.py`` in a session of its own; ``.port``, ``.pid``, and
    ``.report`` (its handler errors) once stopped. Stopping closes its stdin, then kills."""

    def __init__(self, header_timeout: float | None = None) -> None:
        self.args = [] if header_timeout is None else ["--header-timeout", str(header_timeout)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.hello: dict[str, Any] = {}
        self.report: dict[str, Any] = {}

    @property
    def port(self) -> int:
        """The registry's port."""
        return int(self.hello["port"])

    @property
    def pid(self) -> int:
        """The child's process id."""
        return int(self.hello["pid"])

    def __enter__(self) -> FlakyChild:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=CHILD.parent.parent,
            start_new_session=True,  # Ctrl-C in a terminal reaches only us; we stop it
        )
        try:
            assert self.proc.stdout is not None
            if not select.select([self.proc.stdout], [], [], 30)[0]:
                raise RuntimeError("hardening_child.py did not start within 30 s")
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"hardening_child.py exited with {self.proc.wait()}")
            self.hello = json.loads(line)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close its stdin (it stops and reports), SIGKILL after 10 s; reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            out, _ = proc.communicate(timeout=10)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        lines = out.decode(errors="replace").strip().splitlines()
        with contextlib.suppress(ValueError, IndexError):
            self.report = json.loads(lines[-1])

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _emit(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes or SIGTERM; report the recorded handler errors."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--header-timeout", type=float, default=DEFAULT_LIMITS.header_timeout)
    args = ap.parse_args(argv)
    limits = dataclasses.replace(DEFAULT_LIMITS, header_timeout=args.header_timeout)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    signal.signal(signal.SIGINT, lambda signum, frame: done.set())

    def watch_stdin() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the parent closed its end (or died)
        done.set()

    registry = Registry()
    registry.server.limits = limits  # read by the accept loop; set before it starts
    with registry:
        registry.push(build_image(layers=1, seed=IMAGE_SEED), f"{REPO}:{TAG}")
        threading.Thread(target=watch_stdin, daemon=True).start()
        port, timeout = registry.server.port, limits.header_timeout
        _emit({"port": port, "pid": os.getpid(), "header_timeout": timeout})
        while not done.wait(0.5):
            pass
        registry.stop()
        errors = list(registry.server.handler_errors)
    _emit({"handler_errors": len(errors), "first": [repr(e)[:300] for e in errors[:5]]})
    return 0


if __name__ == "__main__":
    sys.exit(main())

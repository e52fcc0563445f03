"""Run the Debian ``docker-registry`` (distribution 2.8) as a child process on loopback.

The config is written by us into a private temporary directory (filesystem storage there too).
Access logs are off and the log level is ``error`` so distribution is measured at its best,
not while it writes a log line per request. Every process started here is stopped and reaped
in :meth:`Distribution.stop`, which :meth:`__exit__` always calls.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

__all__ = ["BINARY", "Distribution", "DistributionError", "free_port", "available"]

#: Where Debian's ``docker-registry`` package installs distribution.
BINARY = "/usr/bin/docker-registry"


class DistributionError(RuntimeError):
    """distribution could not be started (the message carries the tail of its log)."""


def available(binary: str = BINARY) -> bool:
    """True when the distribution binary exists and is executable."""
    return os.access(binary, os.X_OK)


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(root: Path, port: int, proxy: str | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root}",
        "  cache:",
        "    blobdescriptor: inmemory",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if proxy is not None:
        lines += ["proxy:", f"  remoteurl: {proxy}"]
    return "\n".join(lines) + "\n"


class Distribution:
    """One ``docker-registry`` process: ``with Distribution() as d: d.url``.

    ``proxy`` (a URL) makes it a pull-through cache of that registry (``proxy.remoteurl``).
    """

    def __init__(
        self, *, proxy: str | None = None, binary: str = BINARY, start_timeout: float = 15.0
    ) -> None:
        self.proxy = proxy
        self.binary = binary
        self.start_timeout = start_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` for image references."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Distribution:
        """Write the config, spawn the process and wait until ``GET /v2/`` answers 200."""
        if not available(self.binary):
            raise DistributionError(
                f"{self.binary} is not installed (apt-get install docker-registry)"
            )
        self._dir = tempfile.mkdtemp(prefix="fm-bench-distribution-")
        last: Exception | None = None
        for _ in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            try:
                self._spawn()
                return self
            except DistributionError as exc:
                last = exc
                self._kill()
        self.stop()
        assert last is not None
        raise last

    def _spawn(self) -> None:
        assert self._dir is not None
        root = Path(self._dir) / f"storage-{self.port}"
        root.mkdir()
        config = Path(self._dir) / f"config-{self.port}.yml"
        config.write_text(_config(root, self.port, self.proxy))
        self._log = Path(self._dir) / f"registry-{self.port}.log"
        with open(self._log, "wb") as log:
            # A session of its own: Ctrl-C in the terminal reaches only us; we stop it in finally.
            self.proc = subprocess.Popen(
                [self.binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        with requests.Session() as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise DistributionError(
                        f"docker-registry exited with {self.proc.returncode}: {self.log_tail()}"
                    )
                with contextlib.suppress(requests.RequestException):
                    if s.get(f"{self.url}/v2/", timeout=1).status_code == 200:
                        return
                time.sleep(0.01)
        raise DistributionError(
            f"docker-registry did not answer /v2/ within {self.start_timeout}s: {self.log_tail()}"
        )

    def log_tail(self, n: int = 2000) -> str:
        """The last ``n`` characters of the process output."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-n:]

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        else:
            proc.wait()

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 5 s), reap, and remove the temp directory."""
        self._kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Distribution:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

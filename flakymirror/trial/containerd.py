"""A private containerd for one run of ``ctr``: its own root, state and sockets, no service.

:class:`PrivateContainerd` writes a ``config.toml`` (the CRI plugin disabled) under a short
directory of its own (unix socket paths are limited to about 100 characters), starts
``containerd --config`` in its own process group, waits until its socket answers, and on
:meth:`stop` sends SIGTERM **to its pid**, waits, and sends SIGKILL as the last resort. The
content store then lives under ``<root>/io.containerd.content.v1.content``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

__all__ = ["ContainerdError", "PrivateContainerd", "short_tempdir"]

#: Seconds to wait for the daemon's socket to answer.
START_TIMEOUT = 15.0
#: Seconds to wait after SIGTERM before SIGKILL.
STOP_TIMEOUT = 10.0


class ContainerdError(RuntimeError):
    """The private containerd did not start (its log's tail is in the message)."""


def short_tempdir(prefix: str = "fm-") -> Path:
    """A new directory with a short path (``/tmp/fm-`` and eight random characters): podman
    refuses a runroot longer than 50 characters and unix sockets allow about 100."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def _config(base: Path) -> str:
    def q(path: Path) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return (
        "version = 2\n"
        f"root = {q(base / 'root')}\n"
        f"state = {q(base / 'state')}\n"
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f"[grpc]\n  address = {q(base / 'c.sock')}\n"
        f"[ttrpc]\n  address = {q(base / 'c.sock.ttrpc')}\n"
        f"[debug]\n  address = {q(base / 'debug.sock')}\n"
    )


class PrivateContainerd:
    """A containerd daemon of our own under ``base`` (a short directory; see
    :func:`short_tempdir`). Use as a context manager, or :meth:`start`/:meth:`stop`."""

    def __init__(self, base: Path, binary: str = "containerd") -> None:
        self.base = Path(base)
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        """The gRPC socket ``ctr -a`` takes."""
        return str(self.base / "c.sock")

    @property
    def root(self) -> Path:
        """The daemon's root (content store, metadata, snapshots)."""
        return self.base / "root"

    @property
    def content_blobs(self) -> Path:
        """The content store's ``blobs`` folder (``<alg>/<hex>`` files)."""
        return self.root / "io.containerd.content.v1.content" / "blobs"

    @property
    def ingest(self) -> Path:
        """Where unfinished downloads are kept."""
        return self.root / "io.containerd.content.v1.content" / "ingest"

    @property
    def log_file(self) -> Path:
        """The daemon's stdout and stderr."""
        return self.base / "containerd.log"

    def log_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` characters of the daemon's log."""
        try:
            return self.log_file.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def start(self, timeout: float = START_TIMEOUT) -> PrivateContainerd:
        """Start the daemon and wait until its socket accepts a connection."""
        exe = shutil.which(self.binary)
        if exe is None:
            raise ContainerdError(f"{self.binary} is not installed")
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "config.toml"
        config.write_text(_config(self.base))
        self._log = open(self.log_file, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [exe, "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.stop()
                raise ContainerdError(f"containerd exited with {code} at start:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise ContainerdError(f"containerd did not answer within {timeout:g}s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.address)
            except OSError:
                return False
        return True

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the daemon's pid, wait ``timeout``, then SIGKILL; idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PrivateContainerd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A Registry in a process of its own, so a test can read what it costs from ``/proc``.

``python -m tests.helpers.resource_server [--spool DIR] [--max-tokens N] [--idle-ttl S]
[--max-total-bytes B] [--header-timeout S]`` prints the port on its first line and serves until
its stdin closes. :class:`ResourceServer` starts it, reads its memory (``VmRSS``, and the peak
``VmHWM``, which :meth:`ResourceServer.reset_peak` sets back to now) and stops it by its pid.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

__all__ = ["ResourceServer", "dir_bytes"]

ROOT = Path(__file__).resolve().parents[2]


def dir_bytes(path: Path) -> int:
    """The bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class ResourceServer:
    """The child process (a context manager); ``port``, ``pid``, :meth:`kib`."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.resource_server", *argv],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"resource server did not start: {line!r}")
        self.port = int(line)
        self.pid = self.proc.pid

    def kib(self, field: str) -> int:
        """``VmRSS``/``VmHWM``/``Threads`` of the child from ``/proc/PID/status``."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def reset_peak(self) -> None:
        """Set the peak (``VmHWM``) back to the current RSS (``clear_refs`` 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def close(self) -> None:
        """Close its stdin (it stops), then wait; kill it if it does not."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ResourceServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    """Serve a Registry as the options say until stdin closes."""
    from flakymirror.registry import BearerAuth, Registry
    from flakymirror.registry.admission import Limits
    from flakymirror.registry.sessions import UploadLimits
    from flakymirror.registry.store import Store

    p = argparse.ArgumentParser()
    p.add_argument("--spool")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--idle-ttl", type=float, default=600.0)
    p.add_argument("--max-total-bytes", type=int, default=64 << 30)
    p.add_argument("--header-timeout", type=float, default=10.0)
    args = p.parse_args()
    auth = None
    if args.max_tokens is not None:
        auth = BearerAuth({"alice": "pw"}, max_tokens=args.max_tokens)
    store = Store(args.spool)
    store.uploads.limits = UploadLimits(
        idle_ttl=args.idle_ttl, max_total_bytes=args.max_total_bytes
    )
    with Registry(auth=auth, store=store) as reg:
        reg.server.limits = Limits(header_timeout=args.header_timeout)
        print(reg.server.port, flush=True)
        sys.stdin.read()
    store.close()


if __name__ == "__main__":
    main()

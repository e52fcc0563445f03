"""Run a client's command: no shell, its own process group, bounded output, a hard timeout.

:func:`run` starts ``argv`` in a new session (so the whole process group can be killed),
captures stdout and stderr keeping only their last :data:`OUTPUT_LIMIT` bytes each (a chatty
client cannot eat memory), and on the timeout sends the group SIGTERM, then SIGKILL after a
short grace: the result is ``Completed(exit_code=None, timed_out=True)``. Whatever the group
left running after its leader exits is killed too. A program that cannot be started (not
found, not executable) is reported in ``Completed.error`` with exit code 127/126, as a shell
would, never raised.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from flakymirror.trial.cell import Completed

__all__ = ["OUTPUT_LIMIT", "TailBuffer", "run"]

#: Bytes of stdout (and of stderr) kept per run: the tail, which holds the final error.
OUTPUT_LIMIT = 256 * 1024
#: Seconds between SIGTERM and SIGKILL when a run is stopped at its timeout.
GRACE = 1.0
#: Seconds to wait for the output pipes to close once the group is gone.
_DRAIN = 2.0


class TailBuffer:
    """The last ``limit`` bytes written to it, and how many bytes were dropped before them."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def write(self, data: bytes) -> None:
        """Keep ``data``, dropping the oldest bytes past the limit."""
        self._chunks.append(data)
        self._size += len(data)
        while self._size > self.limit:
            head = self._chunks.popleft()
            excess = self._size - self.limit
            if len(head) > excess:
                self._chunks.appendleft(head[excess:])
                self._size -= excess
                self.dropped += excess
            else:
                self._size -= len(head)
                self.dropped += len(head)

    def text(self) -> str:
        """The kept bytes as text (undecodable bytes replaced), with a note of what was dropped."""
        body = b"".join(self._chunks).decode("utf-8", errors="replace")
        if self.dropped:
            return f"[flakymirror: {self.dropped} earlier bytes dropped]\n{body}"
        return body


def _pump(stream: IO[bytes], sink: TailBuffer) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            sink.write(chunk)
    with contextlib.suppress(OSError):
        stream.close()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no member is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group, wait ``grace`` for the leader, SIGKILL whatever is left."""
    pgid = proc.pid
    if _signal_group(pgid, signal.SIGTERM):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    *,
    cwd: Path | str | None = None,
    limit: int = OUTPUT_LIMIT,
    grace: float = GRACE,
) -> Completed:
    """Run ``argv`` (no shell) with exactly ``env``; at most ``timeout`` real seconds."""
    argv = [str(a) for a in argv]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        reason = "not found" if code == 127 else (exc.strerror or str(exc))
        message = f"flakymirror: cannot run {argv[0]!r}: {reason}"
        return Completed(tuple(argv), code, "", message + "\n", 0.0, error=message)
    out, err = TailBuffer(limit), TailBuffer(limit)
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err), daemon=True),
    ]
    for t in pumps:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_group(proc, grace)
    finally:
        if proc.returncode is None:  # interrupted (KeyboardInterrupt): never leave it running
            _stop_group(proc, 0)
    wall = time.monotonic() - started
    _signal_group(proc.pid, signal.SIGKILL)  # members the leader left behind hold our pipes
    for t in pumps:
        t.join(_DRAIN)
    return Completed(
        argv=tuple(argv),
        exit_code=None if timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        wall=wall,
        timed_out=timed_out,
    )

"""Start-up of the command line: how long a ``flakymirror`` command takes from exec to exit,
median of N runs, each in a fresh interpreter (what a user or a CI step pays)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.report import Row, at_most

ROOT = Path(__file__).resolve().parent.parent
#: (label, arguments, target in seconds or None)
COMMANDS: tuple[tuple[str, tuple[str, ...], float | None], ...] = (
    ("flakymirror --help", ("--help",), 0.1),
    ("flakymirror scenarios (the library listed)", ("scenarios",), 0.1),
    ("flakymirror replay of one scenario", ("replay", "lifecycle-1674-empty-layers"), 0.25),
    ("flakymirror replay of the whole library", ("replay", "scenarios/"), None),
)


def command_seconds(args: tuple[str, ...], runs: int) -> list[float]:
    """Wall seconds of ``runs`` runs of the ``flakymirror`` script (after one warm-up run).

    The runs may write ``.pyc`` files whatever the caller's environment says, as a user's
    do: without them every run would compile the modules it imports again.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [str(Path(sys.executable).parent / "flakymirror"), *args]
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        # A blocking wait: Popen.wait(timeout=) polls with sleeps of up to 50 ms, which would
        # be measured too. A timer kills a run that hangs instead.
        watchdog = threading.Timer(120, proc.kill)
        watchdog.start()
        try:
            code = proc.wait()
        finally:
            watchdog.cancel()
        elapsed = time.perf_counter() - t0
        if code != 0:
            raise subprocess.CalledProcessError(code, command)
        if i:  # the first run warms the file cache and the .pyc files
            times.append(elapsed)
    return times


def startup_rows(*, runs: int) -> list[Row]:
    """One row per command: the median wall time of ``runs`` runs."""
    rows = []
    for label, args, target in COMMANDS:
        times = command_seconds(args, runs)
        rows.append(
            Row(
                f"{label} (median of {runs})",
                "s",
                statistics.median(times),
                target=at_most(target, "s") if target is not None else None,
                details={"seconds": times},
            )
        )
    return rows

"""Start-up of the command line: how long a ``flakymirror`` command takes from exec to exit,
median of N runs, each in a fresh interpreter (what a user or a CI step pays)."""

from __future__ import annotations

import statistics
import subprocess
import sys
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
    """Wall seconds of ``runs`` runs of the ``flakymirror`` script (after one warm-up run)."""
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "flakymirror"), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=120,
        )
        if i:  # the first run warms the file cache and the .pyc files
            times.append(time.perf_counter() - t0)
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

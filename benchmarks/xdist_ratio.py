"""How much faster ``make test`` is on 2 cores with pytest-xdist: the whole suite with ``-n 0``
and with ``-n 2``, N times each (interleaved), and the median of the per-pair ratios.

    .venv/bin/python benchmarks/xdist_ratio.py --runs 5     # minutes: each pair runs the suite twice
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import Row, Target

ROOT = Path(__file__).resolve().parent.parent


def suite_seconds(workers: int) -> float:
    """Wall seconds of one whole-suite run with ``-n workers``; a failing suite is an error.

    The run may write ``.pyc`` files and pytest's rewritten test modules whatever the caller's
    environment says, as a developer's ``make test`` does: without them every process (each
    xdist worker too) would rewrite every test module's asserts again, about 1.5 s each here.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", str(workers), "-p", "no:randomly"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=1800,
        env=env,
    )
    return time.perf_counter() - t0


def xdist_rows(*, runs: int) -> list[Row]:
    """One row: the median speed-up of ``-n 2`` over ``-n 0``, with every pair's times."""
    pairs = []
    for _ in range(runs):
        serial, parallel = suite_seconds(0), suite_seconds(2)
        pairs.append((serial, parallel))
    ratios = [s / p for s, p in pairs]
    return [
        Row(
            f"make test speed-up with -n 2 over -n 0 on this machine (median of {runs} pairs)",
            "×",
            statistics.median(ratios),
            target=Target("≥ 1.7×", lambda r: r.flakymirror is not None and r.flakymirror >= 1.7),
            details={"pairs_s": pairs, "ratios": ratios},
        )
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the row; ``--runs`` pairs (default 5)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    (row,) = xdist_rows(runs=args.runs)
    pairs = ", ".join(f"{s:.1f}/{p:.1f}" for s, p in row.details["pairs_s"])
    print(f"{row.measure}: {row.flakymirror:.2f}× ({row.verdict}); -n 0/-n 2 seconds: {pairs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

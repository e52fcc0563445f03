"""Result rows, targets and verdicts, and the Markdown / JSON output of a benchmark run."""

from __future__ import annotations

import contextlib
import json
import math
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Row", "Target", "at_least", "at_most", "markdown", "machine", "write_results"]


@dataclass(frozen=True)
class Target:
    """A target: its printed form and the check applied to a row."""

    text: str
    check: Callable[[Row], bool] = field(compare=False, repr=False)


def _ratio_at_least(factor: float) -> Target:
    return Target(
        f"≥ {factor:g}× distribution", lambda r: r.ratio is not None and r.ratio >= factor
    )


def at_least(factor: float) -> Target:
    """flakymirror ÷ distribution ≥ ``factor`` (for throughputs)."""
    return _ratio_at_least(factor)


def at_most(limit: float, unit: str) -> Target:
    """flakymirror's own figure ≤ ``limit``."""
    return Target(
        f"≤ {limit:g} {unit}", lambda r: r.flakymirror is not None and r.flakymirror <= limit
    )


def no_worse_than_distribution() -> Target:
    """flakymirror's figure ≤ distribution's (for latencies)."""
    return Target(
        "≤ distribution",
        lambda r: (
            r.flakymirror is not None
            and r.distribution is not None
            and r.flakymirror <= r.distribution
        ),
    )


@dataclass
class Row:
    """One line of the results table. ``ratio`` is flakymirror ÷ distribution unless given."""

    measure: str
    unit: str
    flakymirror: float | None
    distribution: float | None = None
    target: Target | None = None
    ratio: float | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (
            self.ratio is None
            and self.flakymirror is not None
            and self.distribution not in (None, 0)
        ):
            assert self.distribution is not None
            self.ratio = self.flakymirror / self.distribution

    @property
    def verdict(self) -> str:
        """``PASS``/``MISS`` against the target, ``ERROR`` when the measure failed, else ``—``."""
        if self.error is not None:
            return "ERROR"
        if self.target is None:
            return "—"
        return "PASS" if self.target.check(self) else "MISS"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "measure": self.measure,
            "unit": self.unit,
            "flakymirror": _finite(self.flakymirror),
            "distribution": _finite(self.distribution),
            "ratio": _finite(self.ratio),
            "target": self.target.text if self.target else None,
            "verdict": self.verdict,
            "error": self.error,
            "details": self.details,
        }


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else x


def _num(x: float | None, unit: str) -> str:
    if x is None or math.isnan(x):
        return "—"
    if abs(x) >= 1000:
        text = f"{x:,.0f}"
    elif abs(x) >= 10:
        text = f"{x:.1f}"
    else:
        text = f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"
    return f"{text} {unit}".strip()


def markdown(rows: Sequence[Row]) -> str:
    """The results as a Markdown table (measure, flakymirror, distribution, ratio, target, verdict)."""
    out = [
        "| measure | flakymirror | distribution | ratio | target | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        fm = f"error: {r.error}" if r.error is not None else _num(r.flakymirror, r.unit)
        out.append(
            f"| {r.measure} | {fm} | {_num(r.distribution, r.unit)} | {ratio} | "
            f"{r.target.text if r.target else '—'} | {r.verdict} |"
        )
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os
    import shutil
    import subprocess

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(Exception):
        info["cpu_model"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    registry = shutil.which("docker-registry")
    if registry:
        with contextlib.suppress(Exception):
            info["distribution"] = subprocess.run(
                [registry, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
    wrk = shutil.which("wrk")
    if wrk:
        with contextlib.suppress(Exception):
            proc = subprocess.run(
                [wrk, "-v"], capture_output=True, text=True, timeout=10, check=False
            )
            info["wrk"] = (proc.stdout or proc.stderr).splitlines()[0].strip()
    return info


#: How to read the table.
LEGEND = (
    "ratio = flakymirror ÷ distribution: above 1 is better for throughputs, below 1 is better "
    "for latencies and times. Replay rows: the value is virtual seconds ÷ wall seconds."
)


def _loads(meta: dict[str, Any]) -> str:
    def fmt(key: str) -> str:
        v = meta.get(key)
        return "?" if not v else "/".join(f"{x:.1f}" for x in v)

    return f"{fmt('loadavg_before')} → {fmt('loadavg_after')}"


def write_results(rows: Sequence[Row], directory: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``latest.md`` and ``latest.json`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / "latest.md"
    json_path = directory / "latest.json"
    lines = [
        "# flakymirror benchmark results",
        "",
        f"Run at {meta.get('started', '?')} — {meta.get('mode', 'full')} mode; "
        f"machine: {meta.get('machine', {}).get('cpus', '?')} CPUs, "
        f"Python {meta.get('machine', {}).get('python', '?')}, "
        f"{meta.get('machine', {}).get('distribution', 'distribution not found')}.",
        f"Load average (1/5/15 min) before → after: {_loads(meta)}.",
        "",
        markdown(rows),
        "",
        LEGEND,
        "",
    ]
    md_path.write_text("\n".join(lines))
    json_path.write_text(
        json.dumps({"meta": meta, "results": [r.to_dict() for r in rows]}, indent=2) + "\n"
    )
    return md_path, json_path

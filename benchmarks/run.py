"""Run the flakymirror benchmarks side by side with distribution and print a Markdown table.

    .venv/bin/python benchmarks/run.py            # the full run (~1–2 minutes)
    .venv/bin/python benchmarks/run.py --quick    # a short smoke version
    .venv/bin/python benchmarks/run.py --only manifest,blob

Measures: ``startstop`` (Registry start+stop), ``replay`` (virtual-clock backoff replay),
``manifest`` and ``blob`` (Registry vs distribution), ``mirror`` (FlakyMirror vs distribution's
pull-through cache). Results go to ``benchmarks/results/latest.md`` and ``latest.json``.
Everything listens on 127.0.0.1 only; every process started is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``flakymirror`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import LEGEND, Row, machine, markdown, write_results  # noqa: E402
from flakymirror import distribution  # noqa: E402

MEASURES = ("startstop", "replay", "startup", "manifest", "blob", "mirror", "xdist")
#: measures that run only when named (xdist runs the whole suite ten times: minutes)
OPT_IN = frozenset({"xdist"})
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Settings:
    """Durations and repetitions of one run."""

    mode: str
    load_seconds: float
    warmup_seconds: float
    blob_runs: int
    startstop_n: int
    distribution_cycles: int
    replay_runs: int
    load_tool: str = "auto"
    startup_runs: int = 7
    xdist_pairs: int = 5


FULL = Settings("full", 10.0, 2.0, 7, 50, 5, 7, startup_runs=7, xdist_pairs=5)
QUICK = Settings("quick", 1.0, 0.0, 2, 10, 1, 2, startup_runs=1, xdist_pairs=1)


def parse_only(values: Sequence[str] | None) -> list[str]:
    """``--only a,b --only c`` → ``["a", "b", "c"]`` in the canonical order; unknown names fail."""
    if not values:
        return [m for m in MEASURES if m not in OPT_IN]
    wanted = {name.strip() for v in values for name in v.split(",") if name.strip()}
    unknown = sorted(wanted - set(MEASURES))
    if unknown:
        raise SystemExit(
            f"--only: unknown measure(s) {', '.join(unknown)}; pick from {', '.join(MEASURES)}"
        )
    return [m for m in MEASURES if m in wanted]


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _failed(measure: str, exc: BaseException) -> Row:
    _log(f"{measure} failed:\n{traceback.format_exc()}")
    return Row(measure, "", None, error=f"{type(exc).__name__}: {exc}"[:300])


def _guard(name: str, fn: Callable[[], list[Row]]) -> list[Row]:
    """Run one measure; an exception becomes an ERROR row (Ctrl-C still stops the run)."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - reported in the table, the run goes on
        return [_failed(name, exc)]


def run(selected: Sequence[str], s: Settings) -> list[Row]:
    """Run the selected measures with settings ``s``; return the table rows."""
    rows: list[Row] = []
    have_dist = distribution.available()
    if "startstop" in selected:
        from benchmarks.registry_bench import startstop_rows

        _log(f"startstop: {s.startstop_n} Registry start+stop cycles")
        rows += _guard(
            "startstop",
            lambda: startstop_rows(
                n=s.startstop_n, distribution_runs=s.distribution_cycles if have_dist else 0
            ),
        )
    if "replay" in selected:
        from benchmarks.mirror_bench import replay_rows

        _log(f"replay: {s.replay_runs} virtual-clock replays of each outcome")
        rows += _guard("replay", lambda: replay_rows(runs=s.replay_runs))
    if "startup" in selected:
        from benchmarks.startup import startup_rows

        _log(f"startup: {s.startup_runs} runs of each command")
        rows += _guard("startup", lambda: startup_rows(runs=s.startup_runs))
    if "xdist" in selected:
        from benchmarks.xdist_ratio import xdist_rows

        _log(f"xdist: the whole suite {s.xdist_pairs} times with -n 0 and with -n 2 (minutes)")
        rows += _guard("xdist", lambda: xdist_rows(runs=s.xdist_pairs))
    pair_measures = [m for m in ("manifest", "blob") if m in selected]
    if pair_measures or "mirror" in selected:
        if not have_dist:
            return rows + [
                Row(m, "", None, error=f"{distribution.BINARY} is not installed")
                for m in [*pair_measures, *(["mirror"] if "mirror" in selected else [])]
            ]
        if s.load_tool == "auto" and not shutil.which("wrk"):
            _log("wrk is not installed: using the Python load generator (client-bound)")
    if pair_measures:
        rows += _guard("registry vs distribution", lambda: _pair(pair_measures, s))
    if "mirror" in selected:
        rows += _guard("mirror vs distribution proxy", lambda: _mirror(s))
    return rows


def _pair(measures: Sequence[str], s: Settings) -> list[Row]:
    from benchmarks.registry_bench import blob_rows, manifest_rows, pair

    out: list[Row] = []
    _log("starting Registry and distribution, pushing the benchmark image to both")
    with pair() as p:
        _log(
            f"pushed in {p.push_seconds['flakymirror']:.2f}s / {p.push_seconds['distribution']:.2f}s"
        )
        if "manifest" in measures:
            _log(f"manifest GET by tag: {s.load_seconds:g}s of load on each")
            out += _guard(
                "manifest",
                lambda: manifest_rows(
                    p, seconds=s.load_seconds, warmup=s.warmup_seconds, tool=s.load_tool
                ),
            )
        if "blob" in measures:
            _log(f"blob GET: {s.blob_runs} runs on each")
            out += _guard("blob", lambda: blob_rows(p, runs=s.blob_runs))
    return out


def _mirror(s: Settings) -> list[Row]:
    from benchmarks.mirror_bench import mirror_rows, mirrors

    _log("starting distribution upstream + proxy and FlakyMirrors")
    with mirrors() as m:
        _log(f"synced mirror manifest GET by tag: {s.load_seconds:g}s of load on each")
        return mirror_rows(m, seconds=s.load_seconds, warmup=s.warmup_seconds, tool=s.load_tool)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; exit 0 when the run completed (1 with ``--strict`` on a MISS)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="short smoke version (seconds, not minutes)"
    )
    ap.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"comma-separated subset of: {', '.join(MEASURES)}",
    )
    ap.add_argument(
        "--duration", type=float, help="seconds of load per target (default 10, quick 1)"
    )
    ap.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where latest.md/latest.json go"
    )
    ap.add_argument(
        "--page",
        type=Path,
        help="also write the results page here (make bench: docs/results/benchmarks.md)",
    )
    ap.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed or a measure failed"
    )
    ap.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or force one",
    )
    args = ap.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every ``with`` block stops what it started.
    signal.signal(signal.SIGTERM, _terminate)
    selected = parse_only(args.only)
    s = QUICK if args.quick else FULL
    if args.duration is not None:
        if not 0 < args.duration <= 600:
            ap.error(f"--duration must be in (0, 600] seconds, got {args.duration:g}")
        s = dataclasses.replace(s, load_seconds=args.duration)
    s = dataclasses.replace(s, load_tool=args.load)
    meta = {
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": s.mode,
        "settings": s.__dict__,
        "measures": selected,
        "machine": machine(),
        "loadavg_before": os.getloadavg(),
    }
    t0 = time.perf_counter()
    try:
        rows = run(selected, s)
    except KeyboardInterrupt as exc:
        _log(f"interrupted ({exc or 'Ctrl-C'}): everything started was stopped; no results written")
        return 130
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    meta["loadavg_after"] = os.getloadavg()
    table = markdown(rows)
    print(table)
    print(f"\n{LEGEND}")
    md, js = write_results(rows, args.results_dir, meta)
    _log(f"wrote {md} and {js} ({meta['seconds']}s)")
    if args.page is not None:
        args.page.parent.mkdir(parents=True, exist_ok=True)
        args.page.write_text(md.read_text())
        _log(f"wrote {args.page}")
    bad = [r for r in rows if r.verdict in ("MISS", "ERROR")]
    return 1 if args.strict and bad else 0


if __name__ == "__main__":
    sys.exit(main())

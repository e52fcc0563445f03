"""Hardening probes: flakymirror's Registry side by side with distribution 2.8.2, same probes.

    .venv/bin/python benchmarks/hardening.py [--quick] [--cases N] [--slow N] [--hold S] ...
    make bench-hardening       # the full run, and the page docs/results/hardening.md

Each probe runs on each server afresh, one server at a time, each a child process on 127.0.0.1
(``benchmarks/hardening_child.py``): ``bad`` sends both the same seeded bad requests
(``tests/helpers/bad_requests.py``) and classifies what its ``check_answer`` says; ``slow`` holds
N idle and N slowloris connections while a normal client keeps making ``GET /v2/`` and reads the
server's threads, RSS and fds from ``/proc``; ``uploads`` starts N blob uploads, feeds each
64 KiB and abandons it. Results: ``benchmarks/results/latest-hardening.md`` and ``.json``.
Exit 1 when a probe failed (with ``--strict`` also on a flakymirror finding: a 500, an
unexpected 5xx or a non-OCI body, a slow connection not cut, a failure of the normal client).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import http.client
import json
import resource
import shlex
import signal
import socket
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # a script: make benchmarks, flakymirror and tests importable
    sys.path.insert(0, str(ROOT))

from benchmarks.hardening_child import (  # noqa: E402
    SLOW_HEAD,
    NormalClient,
    Sampler,
    Served,
    connect,
    hold,
    proc_status,
    serving,
)
from benchmarks.report import machine  # noqa: E402
from tests.helpers.bad_requests import REGISTRY_TARGETS, bad_requests, check_answer, send  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SERVERS = ("flakymirror", "distribution")
PROBES = ("bad", "slow", "uploads")
CHUNK = b"\x5a" * 65536


@dataclass(frozen=True)
class Settings:
    """What one run does; every field is printed on the page."""

    mode: str = "full"
    cases: int = 10_000
    seed: int = 1
    slow: int = 200
    hold: float = 15.0
    settle: float = 2.0
    uploads: int = 1000
    header_timeout: float | None = None  # flakymirror's Limits.header_timeout (None: its default)


QUICK = Settings("quick", cases=200, slow=10, hold=2.0, settle=0.5, uploads=20)


def _log(msg: str) -> None:
    print(f"[hardening {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- probe 1: bad requests ----------------------------------------------------------------------
def classify(problem: str | None) -> str:
    """The figure a case counts in, from what ``check_answer`` said about its answer."""
    if problem is None:
        return "ok"
    if problem == "500":
        return "status_500"
    if problem.startswith("unexpected "):
        return "unexpected_5xx"
    return "no_answer" if problem.startswith("no HTTP response") else "non_oci"


def _final_status(answer: bytes) -> str:
    """The status of the final response (after any ``100 Continue``), or ``"none"``."""
    while answer[9:10] == b"1":
        answer = answer.partition(b"\r\n\r\n")[2]
    return answer[9:12].decode(errors="replace") or "none"


def bad_probe(srv: Served, s: Settings) -> dict[str, Any]:
    """Send every seeded case on a fresh connection and classify what ``check_answer`` says."""
    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    for request in bad_requests(s.seed, s.cases, REGISTRY_TARGETS):
        try:
            answer = send(srv.port, request)
            problem = check_answer(request, answer)
        except OSError as exc:
            answer, problem = b"", f"no HTTP response: {type(exc).__name__}"
        statuses[_final_status(answer)] += 1
        kind = classify(problem)
        counts[kind] += 1
        if kind != "ok" and len(examples.setdefault(kind, [])) < 3:
            examples[kind].append(f"{problem} for {request!r}")
    kinds = ("status_500", "unexpected_5xx", "non_oci", "no_answer")
    return {"tried": s.cases, **{k: counts[k] for k in kinds}} | {
        "seconds": round(time.perf_counter() - t0, 1),
        "statuses": dict(sorted(statuses.items())),
        "examples": examples,
    }


# -- probe 2: slow clients ----------------------------------------------------------------------
def slow_probe(srv: Served, s: Settings) -> dict[str, Any]:
    """Hold ``s.slow`` idle + ``s.slow`` slowloris connections for ``s.hold`` s under watch."""
    for _ in range(3):  # warm up: the baseline is a server that has answered
        with contextlib.suppress(OSError):
            send(srv.port, b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    time.sleep(0.5)
    base = proc_status(srv.pid)
    sampler, client = Sampler(srv.pid), NormalClient(srv.port)
    sampler.start()
    client.start()
    socks: dict[int, tuple[str, socket.socket]] = {}
    slowest = 0.0
    try:
        t0 = time.monotonic()
        for kind, first in (("idle", b""), ("slowloris", SLOW_HEAD)):
            for _ in range(s.slow):
                t = time.monotonic()
                sock = connect(srv.port, first)
                slowest = max(slowest, time.monotonic() - t)
                if sock is not None:
                    socks[sock.fileno()] = (kind, sock)
        opened_s = round(time.monotonic() - t0, 2)
        closed = hold(socks, t0, s.hold)
        client.done.set()
        client.join(15)
        peak = sampler.peak
    finally:
        client.done.set()
        sampler.done.set()
        for _, sock in socks.values():
            sock.close()
    time.sleep(s.settle)
    after = proc_status(srv.pid)
    lat, cut = sorted(client.latencies), Counter(socks[fd][0] for fd in closed)
    when = {"base": base, "peak": peak, "after": after}
    return {f"{k}_{w}": v[k] for w, v in when.items() for k in v} | {
        "header_timeout_s": srv.header_timeout,
        "connect_failures": 2 * s.slow - len(socks),
        "opened_s": opened_s,
        "connect_max_ms": round(slowest * 1000, 1),
        "idle_cut": cut["idle"],
        "slowloris_cut": cut["slowloris"],
        "last_cut_s": round(max(closed.values()), 1) if closed else None,
        "client_requests": len(lat),
        "client_p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
        "client_max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "client_failures": len(client.failures),
        "client_failure_examples": client.failures[:3],
    }


# -- probe 3: aborted uploads -------------------------------------------------------------------
def uploads_probe(srv: Served, s: Settings) -> dict[str, Any]:
    """Start ``s.uploads`` uploads (POST), feed each one 64 KiB (PATCH), never finish them."""
    before = proc_status(srv.pid)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    statuses: Counter[str] = Counter()
    try:
        for _ in range(s.uploads):
            conn.request("POST", "/v2/lib/app/blobs/uploads/", headers={"Content-Length": "0"})
            resp = conn.getresponse()
            resp.read()
            statuses[f"POST {resp.status}"] += 1
            if resp.status == 202 and (url := urlsplit(resp.getheader("Location") or "")).path:
                target = url.path + (f"?{url.query}" if url.query else "")
                conn.request("PATCH", target, CHUNK, {"Content-Type": "application/octet-stream"})
                resp = conn.getresponse()
                resp.read()
                statuses[f"PATCH {resp.status}"] += 1
    finally:
        conn.close()
    time.sleep(s.settle)
    after = proc_status(srv.pid)
    return {f"{k}_before": v for k, v in before.items()} | {
        **{f"{k}_after": v for k, v in after.items()},
        "started": statuses["POST 202"],
        "fed": statuses["PATCH 202"],
        "rss_growth_mib": round(after["rss_mib"] - before["rss_mib"], 1),
        "statuses": dict(statuses),
    }


# -- the run and its page -----------------------------------------------------------------------
PROBE_FUNCS = {"bad": bad_probe, "slow": slow_probe, "uploads": uploads_probe}
TITLES = {"bad": "Bad requests", "slow": "Slow clients", "uploads": "Aborted uploads"}
_HANDLER = ("handler_errors", "handler exceptions recorded (flakymirror only)")
#: Per probe: (JSON key, label) of each row of its table, ``{n}`` etc. filled from the settings.
FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "bad": (
        ("tried", "bad requests tried"), ("status_500", "answers with 500"),
        ("unexpected_5xx", "other unexpected 5xx (not 501/503/505)"),
        ("non_oci", "error answers without an OCI error body (non-OCI bodies)"),
        ("no_answer", "no answer / no HTTP response"),
        _HANDLER, ("seconds", "wall time, s"),
    ),
    "slow": tuple(
        (f"{k}_{w}", f"{label}: {when}")
        for k, label in (("threads", "threads"), ("rss_mib", "RSS, MiB"), ("fds", "open fds"))
        for w, when in (("base", "baseline"), ("peak", "peak while held"), ("after", "{settle} s after release"))
    ) + (
        ("header_timeout_s", "header timeout configured, s"),
        ("connect_failures", "slow connections that failed to open (of {both})"),
        ("opened_s", "time to open them all, s"), ("connect_max_ms", "slowest connect, ms"),
        ("idle_cut", "idle connections closed by the server within the hold (of {n})"),
        ("slowloris_cut", "slowloris connections closed by the server within the hold (of {n})"),
        ("last_cut_s", "last of those closed, s after opening"),
        ("client_requests", "normal client: GET /v2/ requests during the hold"),
        ("client_p50_ms", "normal client: median latency, ms"),
        ("client_max_ms", "normal client: worst latency, ms"),
        ("client_failures", "normal client: failures"), _HANDLER,
    ),
    "uploads": (
        ("started", "uploads started (of {uploads})"), ("fed", "uploads fed 64 KiB (PATCH 202)"),
        ("rss_mib_before", "RSS before, MiB"), ("rss_mib_after", "RSS {settle} s after the last, MiB"),
        ("rss_growth_mib", "RSS growth, MiB"), ("fds_before", "open fds before"),
        ("fds_after", "open fds after"), ("threads_after", "threads after"), _HANDLER,
    ),
}  # fmt: skip
#: The kinds of bad answer whose first example (the exact request bytes) goes on the page.
SHOWN = ("status_500", "unexpected_5xx", "non_oci", "no_answer")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def page(results: dict[str, dict[str, Any]], meta: dict[str, Any], s: Settings) -> str:
    """The Markdown page: what ran, where, and a table per probe."""
    m = meta["machine"]
    settings = ", ".join(f"`{k}={v}`" for k, v in dataclasses.asdict(s).items())
    lines = [
        "# Hardening probes: flakymirror vs distribution 2.8.2",
        "",
        f"Generated by `{meta['command']}` at {meta['started']} in {meta['seconds']} s; "
        "do not edit, run it again. What each figure means: "
        "[Hardening probes](../benchmarks.md#hardening-probes).",
        "",
        f"Machine: {m.get('cpus', '?')} CPUs ({m.get('cpu_model', '?')}), "
        f"{m.get('platform', '?')}, Python {m.get('python', '?')}, "
        f"{m.get('distribution', 'distribution not found')}. Settings: {settings}.",
    ]
    fill = {"n": s.slow, "both": 2 * s.slow, "uploads": s.uploads, "settle": f"{s.settle:g}"}
    for probe in (p for p in FIGURES if p in results):
        cols = [results[probe].get(name, {}) for name in SERVERS]
        lines += ["", f"## {TITLES[probe]}", "", "| figure | flakymirror | distribution 2.8.2 |"]
        lines.append("|---|---:|---:|")
        if any("error" in c for c in cols):
            errors = (c.get("error", "—").replace("|", "\\|") for c in cols)
            lines.append("| probe failed | " + " | ".join(errors) + " |")
        for k, label in FIGURES[probe]:
            cells = " | ".join(_cell(c.get(k)) for c in cols)
            lines.append(f"| {label.format_map(fill)} | {cells} |")
        for name, col in zip(SERVERS, cols, strict=True):
            for kind in (k for k in SHOWN if col.get("examples", {}).get(k)):
                example = col["examples"][kind][0].replace("`", "\\x60")  # a code span
                lines += ["", f"{name}, first of {kind}: `` {example} ``"]
    return "\n".join(lines) + "\n"


def strict_problems(results: dict[str, dict[str, Any]], s: Settings) -> list[str]:
    """What ``--strict`` fails on: flakymirror's bad answers, uncut slow clients, client failures
    (the cuts only when the hold outlasts the header timeout by 2 s)."""
    bad = results.get("bad", {}).get("flakymirror", {})
    out = [f"bad: {k}={bad[k]}" for k in ("status_500", "unexpected_5xx", "non_oci") if bad.get(k)]
    slow = results.get("slow", {}).get("flakymirror", {})
    if slow.get("client_failures"):
        out.append(f"slow: the normal client failed {slow['client_failures']} times")
    if slow.get("header_timeout_s") is not None and s.hold > slow["header_timeout_s"] + 2:
        cuts = ("idle_cut", "slowloris_cut")
        out += [f"slow: {k}={slow[k]} of {s.slow}" for k in cuts if slow[k] < s.slow]
    return out


def run_probe(name: str, probe: Callable[[Served, Settings], dict[str, Any]], s: Settings) -> dict[str, Any]:  # fmt: skip
    """Start server ``name`` afresh, run ``probe`` on it, stop it; the figures."""
    with serving(name, s.header_timeout) as srv:
        figures = probe(srv, s) | {"pid": srv.pid}
    if name == "flakymirror":
        figures["handler_errors"] = srv.report.get("handler_errors")
        figures["handler_error_examples"] = srv.report.get("first")
    return figures


#: The options that override a :class:`Settings` field: flag, type, help.
OPTIONS = (
    ("cases", int, "bad requests per server"), ("seed", int, "seed of the bad requests"),
    ("slow", int, "idle and slowloris connections, each"),
    ("hold", float, "seconds the slow connections are held"),
    ("settle", float, "seconds before the 'after' figures"),
    ("uploads", int, "aborted uploads per server"),
    ("header-timeout", float, "flakymirror's Limits.header_timeout (None: its default, 10 s)"),
)  # fmt: skip


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring for the exit status)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help=f"short smoke version: {QUICK}")
    for flag, kind, text in OPTIONS:
        default = getattr(Settings, flag.replace("-", "_"))
        ap.add_argument(f"--{flag}", type=kind, help=f"{text} (default {default})")
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(PROBES)}")
    ap.add_argument("--results-dir", type=Path, default=RESULTS, help="for latest-hardening.*")
    ap.add_argument("--page", type=Path, help="also write the page here")
    ap.add_argument("--strict", action="store_true", help="exit 1 on a flakymirror finding too")
    args = ap.parse_args(argv)
    given = {f: getattr(args, f) for f in (o[0].replace("-", "_") for o in OPTIONS)}
    s = QUICK if args.quick else Settings()
    s = dataclasses.replace(s, **{k: v for k, v in given.items() if v is not None})
    if min(s.cases, s.slow, s.uploads, s.settle) < 0 or s.hold <= 0:
        ap.error("counts and --settle must be >= 0, --hold > 0")
    probes = [p.strip() for p in (args.only or ",".join(PROBES)).split(",") if p.strip()]
    if unknown := sorted(set(probes) - set(PROBES)):
        ap.error(f"--only: unknown probe(s) {', '.join(unknown)}; pick from {', '.join(PROBES)}")
    signal.signal(signal.SIGTERM, _terminate)  # unwinds like Ctrl-C: every child is stopped
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # the slow probe holds 2 × --slow sockets at once
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    exe = Path(sys.executable)
    exe_text = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else exe.name
    meta: dict[str, Any] = {
        "command": shlex.join([exe_text, "benchmarks/hardening.py", *(argv or sys.argv[1:])]),
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "settings": dataclasses.asdict(s),
        "probes": probes,
    }
    results: dict[str, dict[str, Any]] = {}
    failed, t0 = False, time.perf_counter()
    try:
        meta["machine"] = machine()
        for probe in (p for p in PROBES if p in probes):
            for name in SERVERS:
                _log(f"{probe}: {name}")
                try:
                    figures = run_probe(name, PROBE_FUNCS[probe], s)
                except Exception as exc:  # noqa: BLE001 - reported on the page, the run goes on
                    _log(f"{probe} on {name} failed:\n{traceback.format_exc()}")
                    figures, failed = {"error": f"{type(exc).__name__}: {exc}"[:300]}, True
                results.setdefault(probe, {})[name] = figures
    except KeyboardInterrupt as exc:
        _log(f"interrupted ({str(exc) or 'Ctrl-C'}): every process started was stopped; no results")
        return 130
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    text = page(results, meta, s)
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "latest-hardening.md").write_text(text)
    doc = json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    (args.results_dir / "latest-hardening.json").write_text(doc)
    if args.page is not None:
        args.page.parent.mkdir(parents=True, exist_ok=True)
        args.page.write_text(text)
    _log(f"wrote {args.results_dir}/latest-hardening.md and .json ({meta['seconds']} s)")
    problems = strict_problems(results, s)
    for problem in problems:
        _log(f"flakymirror finding: {problem}")
    return 1 if failed or (args.strict and problems) else 0


if __name__ == "__main__":
    sys.exit(main())

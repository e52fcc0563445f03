"""Render replay results: a timeline per scenario, a summary table, or JSON.

Works from :class:`~flakymirror.scenario.result.ScenarioResult` values only::

    == lifecycle-1674-empty-layers: manifest served before its layers [buildpacks/lifecycle#1674]
       open cnb/run:jammy  profile ggcr-v0.21.9  clock virtual
      +0.000s  attempt 1  GET /v2/                                200
      +0.000s  attempt 1  GET /v2/cnb/run/manifests/jammy         200  layers 0/3
               sleep 100ms (opener)
      ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from flakymirror.scenario.result import Event, ScenarioResult

__all__ = [
    "duration",
    "printable",
    "render_json",
    "render_result",
    "render_summary",
    "render_timeline",
]

_DIGEST = re.compile(r"(sha256|sha512):([0-9a-f]{12})[0-9a-f]+")


def duration(seconds: float) -> str:
    """Go-style short duration: ``100ms``, ``1s``, ``1.0394s``, ``0s``."""
    if seconds == 0:
        return "0s"
    if abs(seconds) < 1:
        ms = round(seconds * 1000, 3)
        return f"{ms:g}ms"
    return f"{round(seconds, 4):g}s"


def printable(text: str) -> str:
    """``text`` on one line: control characters (the LF ending Docker Hub's HAP429 body)
    shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(path: str) -> str:
    return _DIGEST.sub(lambda m: f"{m.group(1)}:{m.group(2)}…", path)


def _request_line(e: Event, verbose: bool, width: int) -> str:
    path = e.path or ""
    if not verbose:
        path = _short(path)
    parts = [f"{e.method} {path}".ljust(width), str(e.status if e.status is not None else "-")]
    if e.sync:
        parts.append(e.sync)
    if e.fault:
        parts.append(f"fault: {e.fault}")
    if verbose and e.bytes is not None:
        parts.append(f"{e.bytes} B")
    return "  ".join(parts)


def render_timeline(result: ScenarioResult, *, verbose: bool = False) -> str:
    """The scenario's timeline: requests, attempts and sleeps in order, then its verdict.

    ``verbose`` adds the client's log lines, full digests and byte counts.
    """
    sources = ", ".join(result.source)
    lines = [
        f"== {result.name}: {result.description} [{sources}]",
        f"   {result.action} {result.image}  profile {result.profile}  clock {result.clock}",
    ]
    requests = [e for e in result.events if e.type == "request"]
    width = max(
        (len(f"{e.method} {e.path if verbose else _short(e.path or '')}") for e in requests),
        default=0,
    )
    width = min(width, 72)
    for e in result.events:
        stamp = f"+{e.time:.3f}s"
        if e.type == "request":
            attempt = f"attempt {e.attempt}" if e.attempt else "         "
            lines.append(f"  {stamp:>9}  {attempt}  {_request_line(e, verbose, width)}")
        elif e.type == "sleep":
            lines.append(f"  {'':>9}  sleep {duration(e.duration or 0.0)} ({e.source})")
        elif e.type == "log" and verbose:
            lines.append(f"  {stamp:>9}  log {e.level}: {printable(e.text or '')}")
    if result.journal_dropped:
        lines.append(
            f"   ({result.journal_dropped} requests are missing from this timeline: the journal "
            "keeps the newest entries only; raise [mirror] journal_size to see them all. "
            "Request counts are exact.)"
        )
    lines.append(f"   outcome: {printable(result.outcome_text())}")
    extra = []
    if result.exit_code is not None:
        extra.append(f"exit code {result.exit_code}")
    if result.status is not None:
        extra.append(f"status {result.status}")
    tail = f" ({', '.join(extra)})" if extra else ""
    lines.append(
        f"   attempts {result.attempts}, backoff {duration(result.backoff_total)}"
        f" (opener {duration(sum(result.opener_sleeps))},"
        f" transport {duration(sum(result.transport_sleeps))}),"
        f" mirror clock {result.elapsed:.3f}s, wall {result.wall:.3f}s{tail}"
    )
    if result.failures:
        lines.append("   verdict: FAIL")
        lines.extend(f"     - {printable(str(failure))}" for failure in result.failures)
    elif not result.checked:
        lines.append("   verdict: pass (no [expect]: nothing checked)")
    else:
        lines.append("   verdict: pass")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    """Long errors keep their end, where the specific part of a wrapped Go error is."""
    if len(text) <= width:
        return text
    head = "error: " if text.startswith("error: ") else ""
    return head + "…" + text[len(text) - (width - len(head) - 1) :]


def render_summary(results: Sequence[ScenarioResult]) -> str:
    """A table: scenario, outcome, attempts, backoff total, verdict; then the totals."""
    headers = ("scenario", "outcome", "attempts", "backoff", "verdict")
    rows = [
        (
            r.name,
            _clip(_short(printable(r.outcome_text())), 60),
            str(r.attempts),
            duration(r.backoff_total),
            r.verdict.upper() if r.failures else (r.verdict if r.checked else "unchecked"),
        )
        for r in results
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    failed = sum(1 for r in results if r.failures)
    unchecked = sum(1 for r in results if not r.checked)
    passed = len(results) - failed - unchecked
    # a scenario without [expect] (an incident for any client) replays but checks nothing
    extra = f", {unchecked} unchecked" if unchecked else ""
    out.append(f"{len(results)} scenarios, {passed} passed{extra}, {failed} failed")
    return "\n".join(out)


def render_result(results: Sequence[ScenarioResult], *, verbose: bool = False) -> str:
    """Every timeline, then the summary table."""
    blocks = [render_timeline(r, verbose=verbose) for r in results]
    blocks.append(render_summary(results))
    return "\n\n".join(blocks)


def render_json(results: Sequence[ScenarioResult]) -> str:
    """The same information as JSON: ``{"scenarios": [...], "summary": {...}}``; the summary
    has ``unchecked`` (scenarios without ``[expect]``) when there are any."""
    failed = sum(1 for r in results if r.failures)
    unchecked = sum(1 for r in results if not r.checked)
    doc = {
        "scenarios": [r.to_dict() for r in results],
        "summary": {
            "total": len(results),
            "passed": len(results) - failed - unchecked,
            "failed": failed,
            "rows": [
                {
                    "scenario": r.name,
                    "outcome": r.outcome,
                    "error": r.error,
                    "attempts": r.attempts,
                    "backoff_total": round(r.backoff_total, 6),
                    "verdict": r.verdict,
                }
                for r in results
            ],
        },
    }
    if unchecked:
        doc["summary"]["unchecked"] = unchecked
    return json.dumps(doc, indent=2, ensure_ascii=False)

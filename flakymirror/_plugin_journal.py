"""The mirror journals the pytest plugin shows in the report of a failed test: which mirrors a
test used, and each one's state and request timeline as text."""

from __future__ import annotations

from typing import Any

import pytest

#: Title of the report section holding the journals of a failed test's mirrors.
JOURNAL_SECTION = "flakymirror journal"
MIRRORS = pytest.StashKey[list[tuple[str, Any]]]()
INI_JOURNAL_LINES = "flakymirror_journal_lines"


def remember(node: pytest.Item, label: str, mirror: Any) -> None:
    """Note that the test ``node`` used ``mirror`` (shown as ``label`` if the test fails)."""
    node.stash.setdefault(MIRRORS, []).append((label, mirror))


def render_journal(mirror: Any, label: str = "mirror", max_lines: int = 200) -> str:
    """A mirror's state and journal as text: a heading (URL, clock, sleeps, plans, fault
    rules with their counters), then the timeline's last ``max_lines`` requests."""
    from flakymirror.mirror.clock import elapsed

    clock = mirror.clock
    t = elapsed(clock.now(), mirror.epoch)
    kind = "virtual" if getattr(clock, "virtual", False) else "real"
    lines = [f"{label} {mirror.url} ({kind} clock, t={t:.3f}s)"]
    sleeps = getattr(clock, "sleeps", None)
    if sleeps is not None:
        lines.append(f"client sleeps: {', '.join(f'{s:g}' for s in sleeps) or 'none'}")
    for plan in mirror.plans:
        lines.append(f"plan: {plan!r}")
    for i, (rule, count) in enumerate(
        zip(mirror.faults.rules, mirror.faults.counters(), strict=False)
    ):
        lines.append(
            f"fault #{i}: {rule.to_dict()} (saw {count['seen']}, fired {count['applied']})"
        )
    timeline = mirror.journal.timeline().splitlines()
    head, body = timeline[:1], timeline[1:]
    if len(body) > max_lines:
        hidden = len(body) - max_lines
        body = [f"({hidden} earlier lines not shown; see {INI_JOURNAL_LINES})", *body[-max_lines:]]
    return "\n".join(lines + head + body)

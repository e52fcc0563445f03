"""One cell of the incident × client matrix, as a plain value (no live objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialResult"]


@dataclass(frozen=True)
class TrialResult:
    """How one client fared against one incident.

    ``verdict`` is what happened, ``expected`` the ideal verdict for the incident, ``baseline``
    the known verdict checked in for this scenario × client (None: none); the cell *holds* when
    the verdict equals the baseline, or the ideal when there is no baseline entry. ``attempts``
    counts the opener's attempts for the reference client and GETs of the image's manifest
    (HEADs and TLS probes excluded) for the others; ``gaps`` are the seconds between them;
    ``wall_s`` real seconds from start to exit; ``exit_code`` is None for a hung or reference
    cell. ``reason`` says in a few words why the verdict was given; ``error`` what went wrong for
    ``harness-error``/``n/a``; ``note`` anything else worth a line (e.g. a result reused from an
    identical incident).
    """

    scenario: str
    client: str
    verdict: str
    expected: str
    baseline: str | None = None
    baseline_reason: str | None = None
    reason: str = ""
    exit_code: int | None = None
    attempts: int | None = None
    gaps: tuple[float, ...] = ()
    wall_s: float | None = None
    origin_requests: int | None = None
    fell_back_at: float | None = None
    kept_partial: bool = False
    requests: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    artifacts: str | None = None
    note: str | None = None
    command: tuple[str, ...] | None = None
    repeats: tuple[str, ...] = ()
    #: The merged mirror/origin timeline, one line per request (not in the JSON row).
    timeline: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: The tail of the client's stderr and stdout (not in the JSON row).
    output: str = field(default="", compare=False, repr=False)

    @property
    def wanted(self) -> str:
        """The verdict this cell must have: the baseline's, else the ideal one."""
        return self.baseline if self.baseline is not None else self.expected

    @property
    def holds(self) -> bool:
        """True when every run's verdict is the one wanted."""
        return all(v == self.wanted for v in (self.verdict, *self.repeats))

    @property
    def flaky(self) -> bool:
        """True when repeated runs gave different verdicts."""
        return len(set((self.verdict, *self.repeats))) > 1

    def to_row(self) -> dict[str, Any]:
        """The JSON row of ``flakymirror matrix --json``."""
        return {
            "scenario": self.scenario,
            "client": self.client,
            "verdict": self.verdict,
            "expected": self.expected,
            "baseline": self.baseline,
            "holds": self.holds,
            "exit_code": self.exit_code,
            "attempts": self.attempts,
            "gaps": list(self.gaps),
            "wall_s": None if self.wall_s is None else round(self.wall_s, 3),
            "origin_requests": self.origin_requests,
            "fell_back_at": self.fell_back_at,
            "kept_partial": self.kept_partial,
            "reason": self.reason,
            "baseline_reason": self.baseline_reason,
            "requests": self.requests,
            "error": self.error,
            "note": self.note,
            "repeats": list(self.repeats),
            "flaky": self.flaky,
            "artifacts": self.artifacts,
        }

"""What a replay observed, as plain values: timeline events, failed expectations, the result.

These values hold no live objects (no mirror, no exceptions), so they can be rendered, compared,
pickled across xdist workers and printed as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "Failure", "ScenarioResult"]


def _round(x: float) -> float:
    return float(round(x, 6))


@dataclass(frozen=True)
class Event:
    """One line of a timeline.

    ``type`` is ``"attempt"`` (an opener attempt starts), ``"request"`` (a journal entry),
    ``"sleep"`` (``source`` ``opener`` or ``transport``) or ``"log"`` (a client log line).
    ``time`` is seconds on the mirror clock since the action started.
    """

    time: float
    type: str
    attempt: int | None = None
    method: str | None = None
    path: str | None = None
    endpoint: str | None = None
    status: int | None = None
    fault: str | None = None
    sync: str | None = None
    bytes: int | None = None
    duration: float | None = None
    source: str | None = None
    level: str | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``None`` fields left out)."""
        d: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                d[name] = _round(value) if isinstance(value, float) else value
        return d


@dataclass(frozen=True)
class Failure:
    """An expectation that did not hold: its key in the file, what was expected and seen."""

    key: str
    expected: Any
    actual: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "key": self.key,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of replaying one scenario and the verdict on its expectations."""

    name: str
    description: str
    source: tuple[str, ...]
    path: str | None
    action: str
    image: str
    profile: str
    clock: str
    outcome: str  # "success" | "error"
    error: str | None
    error_type: str | None
    status: int | None
    exit_code: int | None
    attempts: int
    opener_sleeps: tuple[float, ...]
    transport_sleeps: tuple[float, ...]
    requests: tuple[tuple[str, int], ...]
    elapsed: float
    wall: float
    events: tuple[Event, ...]
    logs: tuple[str, ...]
    failures: tuple[Failure, ...]
    top_layer: str | None = None
    digest: str | None = None
    #: False when the scenario has no ``[expect]``: the replay ran, nothing was checked.
    checked: bool = True
    #: Journal entries of this replay the bounded journal dropped: the timeline misses that
    #: many requests (the counts in ``requests`` are exact all the same).
    journal_dropped: int = 0

    @property
    def verdict(self) -> str:
        """``"pass"`` when every expectation held, else ``"fail"``."""
        return "fail" if self.failures else "pass"

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures

    @property
    def backoff_total(self) -> float:
        """Seconds slept in total: the opener's delays plus ggcr's transport retries."""
        return sum(self.opener_sleeps) + sum(self.transport_sleeps)

    def request_count(self, key: str) -> int:
        """Journal entries for ``"kind"`` or ``"METHOD kind"`` (e.g. ``"HEAD blob"``)."""
        method, _, kind = key.rpartition(" ")
        total = 0
        for k, n in self.requests:
            m, _, endpoint = k.partition(" ")
            if endpoint == kind and (not method or m == method):
                total += n
        return total

    def outcome_text(self) -> str:
        """``success`` or ``error: <text>``."""
        return "success" if self.outcome == "success" else f"error: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form, including the timeline and the failed expectations."""
        return {
            "name": self.name,
            "description": self.description,
            "source": list(self.source),
            "path": self.path,
            "action": self.action,
            "image": self.image,
            "profile": self.profile,
            "clock": self.clock,
            "verdict": self.verdict,
            "checked": self.checked,
            "outcome": self.outcome,
            "error": self.error,
            "error_type": self.error_type,
            "status": self.status,
            "exit_code": self.exit_code,
            "attempts": self.attempts,
            "opener_sleeps": [_round(s) for s in self.opener_sleeps],
            "transport_sleeps": [_round(s) for s in self.transport_sleeps],
            "backoff_total": _round(self.backoff_total),
            "requests": dict(self.requests),
            "journal_dropped": self.journal_dropped,
            "elapsed": _round(self.elapsed),
            "wall": _round(self.wall),
            "top_layer": self.top_layer,
            "digest": self.digest,
            "logs": list(self.logs),
            "failures": [f.to_dict() for f in self.failures],
            "timeline": [e.to_dict() for e in self.events],
        }

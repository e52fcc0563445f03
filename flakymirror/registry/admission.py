"""What one client may cost the server: :class:`Limits` (a value you can print and compare)
and :class:`Deadlines`, the head-read deadlines the accept thread enforces.

Socket timeouts run on wall time, the one exception to "the mirror has one clock": a slow
client holds a real thread and a real socket whatever the mirror's clock says.

* A new connection must send its first request head, complete, within ``header_timeout``
  seconds; a kept-alive connection its next one within ``idle_timeout`` of the previous
  answer. The deadline covers the whole head, so a client that trickles one byte at a time
  (slowloris) is cut off as surely as a silent one. Once a head is read the app runs without a
  deadline (a stall is a fault the harness injects on purpose).
* At most ``max_connections`` connections are served at once; more wait in the listen backlog
  (the accept thread stops accepting until one closes: it never spins).
* When the process runs out of file descriptors (``EMFILE``), the accept thread stops
  accepting for ``accept_backoff`` seconds instead of retrying at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._realtime import Real

__all__ = ["DEFAULT_LIMITS", "Deadlines", "Limits", "monotonic"]


def monotonic() -> float:
    """Real monotonic seconds, even while time is frozen for a client under test."""
    return Real.monotonic()


@dataclass(frozen=True)
class Limits:
    """The server's per-client bounds (see the module docstring); seconds are wall time."""

    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 512
    accept_backoff: float = 0.1

    def __post_init__(self) -> None:
        for name in ("header_timeout", "idle_timeout", "accept_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Limits.{name} must be a number of seconds, got {value!r}")
            if not (0 < value < math.inf):
                raise ValueError(f"Limits.{name} must be above 0 and finite, got {value!r}")
        n = self.max_connections
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Limits.max_connections must be an integer >= 1, got {n!r}")


#: The limits a server has unless given others.
DEFAULT_LIMITS = Limits()


class Deadlines:
    """When each connection's head must be read by; safe across threads.

    :meth:`arm` and :meth:`disarm` are called by connection threads around every request head,
    so they are one dict store or pop each (atomic under the GIL, no lock); :meth:`due` and
    :meth:`next_at` are the accept thread's, which scans the (at most ``max_connections``)
    entries when it wakes, at the earliest deadline.
    """

    def __init__(self) -> None:
        self._when: dict[int, float] = {}

    def arm(self, cid: int, seconds: float) -> float:
        """Connection ``cid`` must have its head read within ``seconds``; returns the moment
        (:func:`monotonic`)."""
        when = self._when[cid] = Real.monotonic() + seconds
        return when

    def disarm(self, cid: int) -> None:
        """The head is read (or the connection is gone): no deadline for ``cid``."""
        self._when.pop(cid, None)

    def due(self, now: float) -> list[int]:
        """The connections whose deadline has passed (each reported once)."""
        out = []
        for cid, when in list(self._when.items()):
            if when <= now and self._when.get(cid) == when:  # not re-armed meanwhile
                self._when.pop(cid, None)
                out.append(cid)
        return out

    def next_at(self) -> float | None:
        """The earliest armed deadline, or None."""
        return min(list(self._when.values()), default=None)

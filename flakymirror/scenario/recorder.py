"""What the replay runner records while the client runs: attempts, sleeps and log lines.

Every mark is pinned to the mirror journal's position at that moment, so the timeline can
interleave marks with the journal's requests in the order they really happened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flakymirror.scenario.result import Event

__all__ = ["Mark", "Recorder", "lifecycle_log_line"]

_OPENER_WARNING = "Failed to open remote image (attempt "
_PREFIX = {"WARNING": "Warning: ", "ERROR": "ERROR: ", "CRITICAL": "ERROR: "}


def lifecycle_log_line(record: logging.LogRecord) -> str:
    """A log record as lifecycle's default logger prints it (``Warning: …``, ``ERROR: …``)."""
    return _PREFIX.get(record.levelname, "") + record.getMessage()


@dataclass(frozen=True)
class Mark:
    """An event that happened after the journal's ``position``-th request had arrived."""

    position: int
    event: Event


class _Capture(logging.Handler):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__(logging.DEBUG)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        self.recorder.log(record)


class Recorder:
    """Collects marks for one replay.

    ``now`` reads the mirror clock, ``position`` the number of journal entries opened so far,
    ``t0`` is the clock time the action started at, and ``sleep`` is the clock's sleep (virtual:
    advances time at once; real: really sleeps).
    """

    def __init__(
        self,
        *,
        now: Callable[[], float],
        position: Callable[[], int],
        sleep: Callable[[float], None],
    ) -> None:
        self._now = now
        self._position = position
        self._sleep = sleep
        self._lock = threading.Lock()
        self.t0 = now()
        self.marks: list[Mark] = []
        self.attempts = 0
        self.opener_sleeps: list[float] = []
        self.transport_sleeps: list[float] = []
        self.logs: list[str] = []
        self._opener_sleep_next = False
        self.logger = logging.Logger("flakymirror.scenario.replay", logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(_Capture(self))

    def elapsed(self) -> float:
        """Seconds on the mirror clock since the action started."""
        return round(self._now() - self.t0, 6)

    def _mark(self, type_: str, **fields: Any) -> None:
        with self._lock:
            event = Event(self.elapsed(), type_, **fields)
            self.marks.append(Mark(self._position(), event))

    def attempt(self, *, mark: bool = True) -> int:
        """An opener attempt starts; returns its 1-based number. ``mark=False`` counts it
        without a timeline mark (when its start cannot be observed)."""
        with self._lock:
            self.attempts += 1
            number = self.attempts
        if mark:
            self._mark("attempt", attempt=number)
        return number

    def opener_sleep(self, seconds: float) -> None:
        """The retrying opener's sleep (lifecycle's delays)."""
        self._mark("sleep", duration=float(seconds), source="opener")
        with self._lock:
            self.opener_sleeps.append(float(seconds))
        self._sleep(seconds)

    def transport_sleep(self, seconds: float) -> None:
        """Sleeps below the opener: ggcr's retry backoff (and imgutil's EOF retry)."""
        self._mark("sleep", duration=float(seconds), source="transport")
        with self._lock:
            self.transport_sleeps.append(float(seconds))
        self._sleep(seconds)

    def log(self, record: logging.LogRecord) -> None:
        """A client log line."""
        line = lifecycle_log_line(record)
        message = record.getMessage()
        with self._lock:
            self.logs.append(line)
            if message.startswith(_OPENER_WARNING):
                self._opener_sleep_next = True
        self._mark("log", level=record.levelname, text=message)

    def sleep(self, seconds: float) -> None:
        """One sleep function for clients that take only one (export, rebase).

        The retrying opener logs its warning and then sleeps at once, so the sleep right after
        that warning is the opener's (and the next attempt starts after it); every other sleep
        is the transport's.
        """
        with self._lock:
            opener, self._opener_sleep_next = self._opener_sleep_next, False
        if not opener:
            self.transport_sleep(seconds)
            return
        self.opener_sleep(seconds)
        self.attempt()

"""The mirror's one clock: everything that depends on time reads it, clients sleep through it.

* :class:`RealClock` — wall time; ``sleep`` really sleeps.
* :class:`VirtualClock` — time stands still until someone sleeps or advances it. A client's
  ``clock.sleep(d)`` returns at once, moves time forward by ``d`` and is recorded in
  ``clock.sleeps``, so a 3.8 s backoff replays in microseconds and the mirror's sync progresses
  exactly as the client sleeps. :meth:`VirtualClock.patch` freezes ``time``/``datetime``
  globally with freezegun at the virtual time (freezegun's factory is then the clock's time
  source) and swaps ``time.sleep`` for :meth:`VirtualClock.sleep`, for clients you cannot change.

Server-side waits (fault delays, drips, stalls with a duration) go through :meth:`pause`: a real
clock waits (and wakes early when the server stops), a virtual clock just advances.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from flakymirror._realtime import Real
from flakymirror.mirror.forms import MAX_SECONDS, Form, FormError

__all__ = ["Clock", "RealClock", "VirtualClock", "clock_from_dict", "elapsed"]

_UTC = _dt.UTC
DEFAULT_VIRTUAL_START = "2026-01-01T00:00:00+00:00"
#: A virtual clock never passes this moment, so a time plus any allowed duration (ten years)
#: still formats as an HTTP date.
LATEST = _dt.datetime(9000, 1, 1)


class _Moment:
    """A held naive-UTC time with freezegun's factory interface (``()``, ``tick``, ``move_to``).

    The clock's time source outside :meth:`VirtualClock.patch`: freezegun (and the asyncio and
    dateutil it loads) is imported only when time is frozen globally, so a command that merely
    replays a scenario does not pay for it.
    """

    __slots__ = ("time_to_freeze",)

    def __init__(self, moment: _dt.datetime) -> None:
        self.time_to_freeze = moment

    def __call__(self) -> _dt.datetime:
        return self.time_to_freeze

    def tick(self, delta: _dt.timedelta) -> _dt.datetime:
        self.time_to_freeze += delta
        return self.time_to_freeze

    def move_to(self, moment: _dt.datetime) -> None:
        self.time_to_freeze = moment


def elapsed(now: float, since: float) -> float:
    """``now - since`` rounded to the microsecond, so virtual-time sums compare exactly."""
    return round(now - since, 6)


@runtime_checkable
class Clock(Protocol):
    """What the mirror needs from a clock."""

    virtual: bool

    def now(self) -> float:
        """Seconds since the epoch on this clock."""

    def sleep(self, seconds: float) -> None:
        """Sleep for clients (recorded by a virtual clock)."""

    def pause(self, seconds: float, interrupt: threading.Event | None = None) -> bool:
        """Server-side wait; False when ``interrupt`` was set before the time was up."""

    def reset(self) -> None:
        """Back to the clock's initial state."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form."""


class RealClock:
    """Wall-clock time."""

    virtual = False

    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        return Real.time()

    def sleep(self, seconds: float) -> None:
        """Really sleep (``ValueError`` for a negative duration or one over ten years)."""
        Real.sleep(_duration(seconds))

    def pause(self, seconds: float, interrupt: threading.Event | None = None) -> bool:
        """Wait ``seconds`` for real; False when ``interrupt`` was set before the time was up."""
        if seconds <= 0:
            return not (interrupt is not None and interrupt.is_set())
        if interrupt is None:
            Real.sleep(seconds)
            return True
        return not interrupt.wait(seconds)

    def reset(self) -> None:
        """Nothing to reset: wall time goes on."""

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "real"}``."""
        return {"kind": "real"}

    @classmethod
    def from_dict(cls, data: Any) -> RealClock:
        """``{"kind": "real"}``."""
        clock = clock_from_dict(data)
        if not isinstance(clock, RealClock):
            raise FormError(("clock", "kind"), "expected 'real'")
        return clock

    def __repr__(self) -> str:
        return "RealClock()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RealClock)

    def __hash__(self) -> int:
        return hash(RealClock)


def _parse_start(start: float | str | _dt.datetime | None) -> _dt.datetime:
    if start is None:
        start = DEFAULT_VIRTUAL_START
    if isinstance(start, _dt.datetime):
        moment = start
    elif isinstance(start, int | float) and not isinstance(start, bool):
        try:
            moment = _dt.datetime.fromtimestamp(float(start), _UTC)
        except (OverflowError, OSError, ValueError):
            raise FormError("start", f"epoch seconds out of range, got {start!r}") from None
    elif isinstance(start, str):
        try:
            moment = _dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FormError("start", f"not an ISO 8601 time: {start!r}") from exc
    else:
        raise FormError("start", f"expected epoch seconds or an ISO 8601 string, got {start!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    # freezegun's factories hold naive UTC datetimes
    try:
        naive = moment.astimezone(_UTC).replace(tzinfo=None)
    except OverflowError:
        raise FormError("start", f"out of range, got {start!r}") from None
    if naive >= LATEST:
        raise FormError("start", f"must be before {LATEST.year}-01-01, got {start!r}")
    return naive


class VirtualClock:
    """Time that moves only when slept through or advanced. Thread-safe.

    ``VirtualClock(start="2026-01-01T00:00:00Z")`` (epoch seconds or a datetime work too).
    ``sleep(d)`` advances and records ``d``; ``advance(d)`` advances without recording;
    ``sleeps`` is the list of recorded client sleeps; ``slept`` their sum.
    """

    virtual = True

    def __init__(self, start: float | str | _dt.datetime | None = None) -> None:
        self._start = _parse_start(start)
        self._lock = threading.Lock()
        self._factory: Any = _Moment(self._start)
        self._sleeps: list[float] = []

    # -- reading -------------------------------------------------------------------------
    def now(self) -> float:
        """Virtual seconds since the epoch."""
        with self._lock:
            moment = self._factory()
        return moment.replace(tzinfo=_UTC).timestamp()

    def datetime(self) -> _dt.datetime:
        """The current virtual time as an aware UTC datetime."""
        with self._lock:
            return self._factory().replace(tzinfo=_UTC)

    @property
    def sleeps(self) -> list[float]:
        """The client sleeps recorded so far (a copy)."""
        with self._lock:
            return list(self._sleeps)

    @property
    def slept(self) -> float:
        """Total of the recorded sleeps, rounded to the microsecond."""
        with self._lock:
            return round(sum(self._sleeps), 6)

    @property
    def start(self) -> float:
        """Epoch seconds of the initial virtual time."""
        return self._start.replace(tzinfo=_UTC).timestamp()

    # -- moving ---------------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """A client's sleep: returns at once, advances time by ``seconds``, records it."""
        seconds = _duration(seconds)
        with self._lock:
            _check_room(self._factory(), seconds)
            self._sleeps.append(seconds)
            self._factory.tick(_dt.timedelta(seconds=seconds))

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` without recording a sleep; return the new now.

        ``ValueError`` when ``seconds`` is over ten years or the clock would pass year 9000.
        """
        seconds = _duration(seconds)
        with self._lock:
            _check_room(self._factory(), seconds)
            moment = self._factory.tick(_dt.timedelta(seconds=seconds))
        return moment.replace(tzinfo=_UTC).timestamp()

    def pause(self, seconds: float, interrupt: threading.Event | None = None) -> bool:
        """Server-side wait under virtual time: advance, never block (and never fail: at the
        clock's last moment, year 9000, time stops)."""
        if interrupt is not None and interrupt.is_set():
            return False
        if seconds > 0:
            with self._lock:
                room = (LATEST - self._factory()).total_seconds()
                self._factory.tick(_dt.timedelta(seconds=min(seconds, room, MAX_SECONDS)))
        return True

    def reset(self) -> None:
        """Back to the start time; recorded sleeps cleared."""
        with self._lock:
            self._factory.move_to(self._start)
            self._sleeps.clear()

    # -- global patching --------------------------------------------------------------------
    @contextlib.contextmanager
    def patch(self, *, ignore: tuple[str, ...] = ()) -> Iterator[VirtualClock]:
        """Freeze ``time``/``datetime`` globally at this clock's time and route ``time.sleep``
        to :meth:`sleep`, for clients that cannot be handed a sleep function.

        Only ``time.sleep`` looked up at call time is replaced (``from time import sleep``
        done before the patch keeps the real one). Nesting is allowed.
        """
        from freezegun import freeze_time  # loads asyncio and dateutil: only when patching

        with self._lock:
            freezer = freeze_time(self._factory(), ignore=list(ignore))
            factory = freezer.start()
            # Share freezegun's factory: the globally frozen time *is* this clock from now on.
            factory.move_to(self._factory())
            self._factory = factory
        try:
            from unittest import mock  # only patch() needs it (and it loads asyncio)

            with mock.patch("time.sleep", self.sleep):
                yield self
        finally:
            with self._lock:
                freezer.stop()
                self._factory = _Moment(self._factory())

    # -- forms ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "virtual", "start": <ISO 8601 start time>}``."""
        return {"kind": "virtual", "start": self._start.replace(tzinfo=_UTC).isoformat()}

    @classmethod
    def from_dict(cls, data: Any) -> VirtualClock:
        """``{"kind": "virtual", "start": "2026-01-01T00:00:00Z"}`` (a fresh clock there)."""
        clock = clock_from_dict(data)
        if not isinstance(clock, VirtualClock):
            raise FormError(("clock", "kind"), "expected 'virtual'")
        return clock

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.datetime().isoformat()!r}, sleeps={len(self.sleeps)})"


def _duration(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"a duration in seconds must be a number, got {seconds!r}")
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"sleep length must be non-negative, got {seconds!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"a duration must be <= {MAX_SECONDS} seconds (ten years), got {seconds!r}"
        )
    return float(seconds)


def _check_room(now: _dt.datetime, seconds: float) -> None:
    if (LATEST - now).total_seconds() < seconds:
        raise ValueError(
            f"the virtual clock cannot move past {LATEST.year}-01-01 "
            f"(now {now.isoformat()}Z, asked to advance {seconds:g}s)"
        )


def clock_from_dict(data: Any, path: Any = "clock") -> RealClock | VirtualClock:
    """``{"kind": "real"}`` or ``{"kind": "virtual", "start": "2026-01-01T00:00:00Z"}``."""
    form = Form(data, path, allowed={"kind", "start"})
    kind = form.string("kind", "real", choices=("real", "virtual"))
    if kind == "real":
        if form.has("start"):
            raise FormError(form.key("start"), "only a virtual clock takes a start time")
        return RealClock()
    start = form.raw("start", None)
    try:
        return VirtualClock(start)
    except FormError as exc:
        raise exc.within(form.path) from exc

"""Sync schedules: how many units of an image have synced after ``t`` seconds or ``n``
requests. Values (frozen dataclasses with a dict form); :class:`~flakymirror.mirror.plans.SyncPlan`
pairs one with a mode. Each schedule answers three questions: :meth:`synced` (units synced
now), :meth:`scaled` (the same schedule run ``factor`` times faster) and :meth:`settles` (when
every unit is in: a :class:`~flakymirror.mirror.settle.Settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from flakymirror.mirror.forms import (
    Form,
    FormError,
    integer,
    kind_from_dict,
    number,
)
from flakymirror.mirror.scaling import time_factor
from flakymirror.mirror.settle import Settle

__all__ = [
    "AtOnce",
    "Bandwidth",
    "Interval",
    "Requests",
    "Schedule",
    "Timeline",
    "schedule_from_dict",
]

_EPS = 1e-7


def _reached(elapsed: float, at: float) -> bool:
    return elapsed + _EPS >= at


def _count(sizes: Sequence[int] | int) -> int:
    """How many units ``sizes`` stands for (their sizes, or just the count)."""
    if isinstance(sizes, bool) or not isinstance(sizes, int | Sequence):
        raise TypeError(f"expected unit sizes or a unit count, got {sizes!r}")
    n = sizes if isinstance(sizes, int) else len(sizes)
    if n < 0:
        raise ValueError(f"a unit count cannot be negative, got {n}")
    return n


class _Schedule:
    """Common to every schedule: the dict form by kind, and the ``scaled``/``settles`` contract.

    ``scaled(factor)`` is the same schedule run ``factor`` times faster (times divided,
    a bandwidth multiplied; ``scaled(1)`` returns the schedule itself). ``settles(sizes)`` is
    when every one of the units (their sizes, or how many there are) has synced, counted from
    the plan's start: a :class:`~flakymirror.mirror.settle.Settle` (no units: at once).
    """

    kind: ClassVar[str]

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> Any:
        """Read this schedule's dict form (``kind`` may be omitted)."""
        return kind_from_dict(cls, data, path, schedule_from_dict)


@dataclass(frozen=True)
class AtOnce(_Schedule):
    """Everything synced ``after`` seconds from the start (default 0: synced at once)."""

    after: float = 0.0
    kind: ClassVar[str] = "at-once"

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", number(self.after, "after", minimum=0))

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int) -> int:
        """All units once ``after`` seconds have passed, none before."""
        if elapsed is None:
            return 0
        return len(sizes) if _reached(elapsed, self.after) else 0

    def scaled(self, factor: float) -> AtOnce:
        """``after`` divided by ``factor``."""
        f = time_factor(factor)
        return self if f == 1 else AtOnce(self.after / f)

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """``seconds=after`` (0 without units)."""
        return Settle(seconds=self.after if _count(sizes) else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "at-once", "after": ...}``."""
        return {"kind": self.kind, "after": self.after}


@dataclass(frozen=True)
class Interval(_Schedule):
    """One more layer every ``every`` seconds; layer 1 at ``first`` (default: ``every``)."""

    every: float = 1.0
    first: float | None = None
    kind: ClassVar[str] = "interval"

    def __post_init__(self) -> None:
        object.__setattr__(self, "every", number(self.every, "every", minimum=0))
        if self.first is not None:
            object.__setattr__(self, "first", number(self.first, "first", minimum=0))

    def layer_time(self, i: int) -> float:
        """Seconds after the start at which layer ``i`` (1-based) has synced."""
        first = self.every if self.first is None else self.first
        return round(first + (i - 1) * self.every, 6)

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int) -> int:
        """The units whose :meth:`layer_time` has passed."""
        if elapsed is None:
            return 0
        return sum(1 for i in range(1, len(sizes) + 1) if _reached(elapsed, self.layer_time(i)))

    def scaled(self, factor: float) -> Interval:
        """``every`` and ``first`` divided by ``factor``."""
        f = time_factor(factor)
        if f == 1:
            return self
        return Interval(self.every / f, None if self.first is None else self.first / f)

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """``seconds`` = the time of the last unit, ``first + (n - 1) * every``."""
        n = _count(sizes)
        return Settle(seconds=self.layer_time(n) if n else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "interval", "every": ...}`` (with ``first`` when set)."""
        d: dict[str, Any] = {"kind": self.kind, "every": self.every}
        if self.first is not None:
            d["first"] = self.first
        return d


@dataclass(frozen=True)
class Bandwidth(_Schedule):
    """Layers complete in manifest order as ``bytes_per_second`` of transfer fill them."""

    bytes_per_second: float = 1_000_000.0
    kind: ClassVar[str] = "bandwidth"

    def __post_init__(self) -> None:
        bps = number(self.bytes_per_second, "bytes_per_second")
        if bps <= 0:
            raise FormError("bytes_per_second", f"must be > 0, got {bps:g}")
        object.__setattr__(self, "bytes_per_second", bps)

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int) -> int:
        """The units whose cumulative size fits in ``elapsed`` seconds of bandwidth."""
        if elapsed is None:
            return 0
        done, total = 0, 0
        for size in sizes:
            total += size
            if not _reached(elapsed, round(total / self.bytes_per_second, 6)):
                break
            done += 1
        return done

    def scaled(self, factor: float) -> Bandwidth:
        """``bytes_per_second`` multiplied by ``factor``."""
        f = time_factor(factor)
        return self if f == 1 else Bandwidth(self.bytes_per_second * f)

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """``seconds`` = total size / bandwidth; ``known=False`` when only a count is given."""
        n = _count(sizes)
        if n and isinstance(sizes, int):
            return Settle.unknown()
        total = sum(sizes) if not isinstance(sizes, int) else 0
        return Settle(seconds=round(total / self.bytes_per_second, 6))

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "bandwidth", "bytes_per_second": ...}``."""
        return {"kind": self.kind, "bytes_per_second": self.bytes_per_second}


@dataclass(frozen=True)
class Requests(_Schedule):
    """Synced after ``count`` requests for the image (``per_layer``: a layer every ``count``).

    The requests counted are the ones *before* the current one: with ``count=2`` the first two
    requests see the image unsynced and the third sees it synced.
    """

    count: int = 1
    per_layer: bool = False
    kind: ClassVar[str] = "requests"

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", integer(self.count, "count", minimum=0))
        if not isinstance(self.per_layer, bool):
            raise FormError("per_layer", f"expected true or false, got {self.per_layer!r}")

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int) -> int:
        """All units (or one per ``count``) once enough earlier requests were counted."""
        if elapsed is None:
            return 0
        if not self.per_layer:
            return len(sizes) if requests >= self.count else 0
        if self.count == 0:
            return len(sizes)
        return min(len(sizes), requests // self.count)

    def scaled(self, factor: float) -> Requests:
        """Unchanged: counts of requests do not scale with time."""
        time_factor(factor)
        return self

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """``requests=count`` (``per_layer``: ``count`` × units): the requests for the image
        the mirror saw before the one that finds it synced."""
        n = _count(sizes)
        if not n:
            return Settle(seconds=0.0)
        return Settle(requests=self.count * n if self.per_layer else self.count)

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "requests", "count": ..., "per_layer": ...}``."""
        return {"kind": self.kind, "count": self.count, "per_layer": self.per_layer}


@dataclass(frozen=True)
class Timeline(_Schedule):
    """An explicit step function: at ``t`` seconds, ``n`` units have synced (``-1``: all).

    ``Timeline(points=((0, 0), (1.5, 2), (4, -1)))``; ``Timeline.per_layer([0.5, 1, 4])`` gives
    layer ``i`` at the ``i``-th time. Units beyond the last point stay unsynced forever, which
    is how a scenario outlasts a client's retry budget.
    """

    points: tuple[tuple[float, int], ...] = ()
    kind: ClassVar[str] = "timeline"

    def __post_init__(self) -> None:
        points = []
        for i, point in enumerate(self.points):
            if isinstance(point, str | bytes) or len(point) != 2:
                raise FormError(("points", i), f"expected [seconds, n_layers], got {point!r}")
            t = number(point[0], ("points", i, 0), minimum=0)
            n = integer(point[1], ("points", i, 1), minimum=-1)
            points.append((t, n))
        points.sort(key=lambda p: p[0])
        object.__setattr__(self, "points", tuple(points))

    @classmethod
    def per_layer(cls, times: Sequence[float]) -> Timeline:
        """Layer ``i`` (1-based) synced at ``times[i-1]`` seconds."""
        return cls(points=tuple((t, i) for i, t in enumerate(times, start=1)))

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int) -> int:
        """The unit count of the last point reached (``-1``: all)."""
        if elapsed is None:
            return 0
        n = 0
        for t, count in self.points:
            if _reached(elapsed, t):
                n = len(sizes) if count < 0 else max(n, count)
        return min(n, len(sizes))

    def scaled(self, factor: float) -> Timeline:
        """Every point's time divided by ``factor``."""
        f = time_factor(factor)
        return self if f == 1 else replace(self, points=tuple((t / f, n) for t, n in self.points))

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """``seconds`` = the first point with every unit in (``-1`` or at least n);
        ``never`` when no point reaches them all."""
        n = _count(sizes)
        if not n:
            return Settle(seconds=0.0)
        for t, count in self.points:
            if count < 0 or count >= n:
                return Settle(seconds=t)
        return Settle.unbounded()

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": "timeline", "points": [[t, n], ...]}``."""
        return {"kind": self.kind, "points": [[t, n] for t, n in self.points]}


Schedule = AtOnce | Interval | Bandwidth | Requests | Timeline
_SCHEDULES: dict[str, type] = {c.kind: c for c in (AtOnce, Interval, Bandwidth, Requests, Timeline)}
_SCHEDULE_KEYS: dict[str, set[str]] = {
    "at-once": {"after"},
    "interval": {"every", "first"},
    "bandwidth": {"bytes_per_second"},
    "requests": {"count", "per_layer"},
    "timeline": {"points", "layers"},
}


def schedule_from_dict(data: Any, path: Any = "") -> Schedule:
    """Read a schedule's dict form (``{"kind": "interval", "every": 0.5}``)."""
    probe = Form(data, path, allowed=set(data) if isinstance(data, dict) else ())
    kind = probe.string("kind", choices=tuple(_SCHEDULES))
    try:  # read relative to the schedule, reported at ``path``
        form = Form(data, allowed={"kind", *_SCHEDULE_KEYS[kind]})
        kwargs = {k: v for k, v in data.items() if k != "kind"}
        if kind == "timeline":
            if "layers" in kwargs and "points" in kwargs:
                raise FormError("layers", "give either 'points' or 'layers', not both")
            if "layers" in kwargs:
                layers = form.array("layers")
                return Timeline.per_layer(
                    [number(t, ("layers", i), minimum=0) for i, t in enumerate(layers)]
                )
            points = form.array("points", None, ())
            return Timeline(points=tuple(tuple(p) if isinstance(p, list) else p for p in points))
        return _SCHEDULES[kind](**kwargs)
    except FormError as exc:
        raise exc.within(path) from exc
    except TypeError as exc:
        raise FormError(path, str(exc)) from exc

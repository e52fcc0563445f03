"""Sync plans: for each image and each moment on the mirror clock, how much has synced.

A plan is a value: a *schedule* (how many units have synced after ``t`` seconds or ``n``
requests) plus a *mode* (how a not-yet-synced image looks to a client) and which images it is
for (``repo``/``tag`` globs). Units are the image's layers, in manifest order (for the
``partial-index`` mode: the index's children, in index order).

Schedules:

==============  ==========================================================================
``at-once``     everything after ``after`` seconds (0: already synced)
``interval``    one more layer every ``every`` seconds (first one at ``first``, default
                ``every``)
``bandwidth``   layers complete in order as ``bytes_per_second`` fills them
``requests``    everything after ``count`` requests for the image (``per_layer``: one more
                layer every ``count`` requests)
``timeline``    explicit ``points`` ``[[t, n_layers], ...]`` (a step function; ``n`` may
                be ``-1`` for "all"); ``layers=[t1, t2, ...]`` is per-layer times
==============  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flakymirror.mirror._forms import (
    Form,
    FormError,
    glob_match,
    integer,
    join,
    kind_from_dict,
    number,
)

__all__ = [
    "MODES",
    "AtOnce",
    "Bandwidth",
    "Interval",
    "Requests",
    "Schedule",
    "SyncPlan",
    "Timeline",
    "plans_from_dict",
    "schedule_from_dict",
    "select_plan",
]

#: The six ways an image that is still syncing can look to a client.
MODES = (
    "partial",  # manifest lists only the synced layers (config diff_ids "full" or "cut")
    "empty",  # manifest with "layers": [] until fully synced
    "missing",  # 404 MANIFEST_UNKNOWN until fully synced
    "blobs-404",  # full manifest; unsynced blobs 404 BLOB_UNKNOWN on GET and/or HEAD
    "manifest-blob-unknown",  # 400 MANIFEST_BLOB_UNKNOWN (detail = digest) until synced
    "partial-index",  # index whose unsynced children 404 ("missing-child") or are not listed
)
_EPS = 1e-7


def _reached(elapsed: float, at: float) -> bool:
    return elapsed + _EPS >= at


class _Schedule:
    kind: ClassVar[str]

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> Any:
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
                raise FormError(f"points[{i}]", f"expected [seconds, n_layers], got {point!r}")
            t = number(point[0], f"points[{i}][0]", minimum=0)
            n = integer(point[1], f"points[{i}][1]", minimum=-1)
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


def schedule_from_dict(data: Any, path: str = "") -> Schedule:
    """Read a schedule's dict form (``{"kind": "interval", "every": 0.5}``)."""
    kind = Form(data, path, allowed=set(data) if isinstance(data, dict) else ()).str(
        "kind", choices=tuple(_SCHEDULES)
    )
    if kind is None:
        raise FormError(join(path, "kind"), "missing required key")
    form = Form(data, path, allowed={"kind", *_SCHEDULE_KEYS[kind]})
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    try:
        if kind == "timeline":
            if "layers" in kwargs and "points" in kwargs:
                raise FormError("layers", "give either 'points' or 'layers', not both")
            if "layers" in kwargs:
                layers = form.list("layers")
                return Timeline.per_layer(
                    [number(t, f"layers[{i}]", minimum=0) for i, t in enumerate(layers)]
                )
            points = form.list("points")
            return Timeline(points=tuple(tuple(p) if isinstance(p, list) else p for p in points))
        return _SCHEDULES[kind](**kwargs)
    except FormError as exc:
        raise FormError(join(path, exc.path), exc.reason) from exc
    except TypeError as exc:
        raise FormError(path, str(exc)) from exc


@dataclass(frozen=True)
class SyncPlan:
    """How images matching ``repo``/``tag`` (globs) sync through the mirror.

    ``diff_ids`` ("cut" or "full") applies to the ``partial`` and ``empty`` modes: "full" keeps
    the config's complete ``rootfs.diff_ids``, which makes go-containerregistry fail with
    ``mismatched fs layers (N) and diff ids (M)``. ``blobs`` ("get", "head" or "both") is which
    methods answer 404 in ``blobs-404`` mode (Harbor #22609 failed HEAD only). ``index``
    ("missing-child" or "unlisted") is the ``partial-index`` variant. ``start_at`` is ``None``
    (start when the mirror first sees a request for the image) or seconds after the mirror's
    epoch (its creation or last reset).
    """

    schedule: Schedule = field(default_factory=AtOnce)
    mode: str = "partial"
    diff_ids: str = "cut"
    blobs: str = "both"
    index: str = "missing-child"
    start_at: float | None = None
    repo: str = "*"
    tag: str = "*"

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, AtOnce | Interval | Bandwidth | Requests | Timeline):
            raise FormError("schedule", f"expected a schedule value, got {self.schedule!r}")
        _choice(self.mode, "mode", MODES)
        _choice(self.diff_ids, "diff_ids", ("cut", "full"))
        _choice(self.blobs, "blobs", ("get", "head", "both"))
        _choice(self.index, "index", ("missing-child", "unlisted"))
        if self.start_at is not None:
            object.__setattr__(self, "start_at", number(self.start_at, "start_at", minimum=0))
        for name in ("repo", "tag"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise FormError(name, f"expected a non-empty glob, got {getattr(self, name)!r}")

    # shortcuts -----------------------------------------------------------------------------
    @classmethod
    def immediate(cls, **kw: Any) -> SyncPlan:
        """Everything synced from the first request (the default)."""
        return cls(AtOnce(), **kw)

    @classmethod
    def layer_every(cls, seconds: float, mode: str = "partial", **kw: Any) -> SyncPlan:
        """One layer every ``seconds``."""
        return cls(Interval(seconds), mode=mode, **kw)

    def matches(self, repo: str, reference: str) -> bool:
        """Whether this plan is for ``repo`` at ``reference`` (a tag or a digest string)."""
        return glob_match(self.repo, repo) and glob_match(self.tag, reference)

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int = 0) -> int:
        """Units synced out of ``len(sizes)``; ``elapsed`` None means "not started"."""
        return self.schedule.synced(sizes, elapsed, requests)

    def to_dict(self) -> dict[str, Any]:
        """The dict form with every field (``start_at`` only when set)."""
        d: dict[str, Any] = {
            "schedule": self.schedule.to_dict(),
            "mode": self.mode,
            "diff_ids": self.diff_ids,
            "blobs": self.blobs,
            "index": self.index,
            "repo": self.repo,
            "tag": self.tag,
        }
        if self.start_at is not None:
            d["start_at"] = self.start_at
        return d

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> SyncPlan:
        """Read the dict form; unknown keys and bad values raise ``FormError`` naming them."""
        form = Form(
            data,
            path,
            allowed={"schedule", "mode", "diff_ids", "blobs", "index", "start_at", "repo", "tag"},
        )
        kw: dict[str, Any] = {}
        if form.has("schedule"):
            kw["schedule"] = schedule_from_dict(data["schedule"], form.at("schedule"))
        for key, choices in (
            ("mode", MODES),
            ("diff_ids", ("cut", "full")),
            ("blobs", ("get", "head", "both")),
            ("index", ("missing-child", "unlisted")),
        ):
            if form.has(key):
                kw[key] = form.str(key, choices=choices)
        for key in ("repo", "tag"):
            if form.has(key):
                kw[key] = form.str(key)
        if form.has("start_at") and data["start_at"] is not None:
            kw["start_at"] = form.number("start_at", minimum=0)
        try:
            return cls(**kw)
        except FormError as exc:
            raise FormError(form.at(exc.path), exc.reason) from exc


def _choice(value: Any, name: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise FormError(name, f"{value!r} is not one of {', '.join(map(repr, choices))}")


def plans_from_dict(data: Any, path: str = "") -> tuple[SyncPlan, ...]:
    """One plan (a table) or several (a list of tables, first match wins)."""
    if isinstance(data, list | tuple):
        if not data:
            raise FormError(path, "expected at least one plan")
        return tuple(SyncPlan.from_dict(d, f"{path}[{i}]") for i, d in enumerate(data))
    return (SyncPlan.from_dict(data, path),)


def select_plan(plans: Sequence[SyncPlan], repo: str, reference: str) -> SyncPlan:
    """The first plan matching ``repo``/``reference``; the immediate plan when none does."""
    for plan in plans:
        if plan.matches(repo, reference):
            return plan
    return _DEFAULT


_DEFAULT = SyncPlan()

"""Hypothesis strategies for sync plans, and the retry schedules they race against: when an
opener's attempts start and which sync plans it must converge on at a known attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from flakymirror.mirror.plans import (
    MODES,
    AtOnce,
    Bandwidth,
    Interval,
    Requests,
    SyncPlan,
    Timeline,
)
from flakymirror.oci.policy import LIFECYCLE_POLICY

#: Sync modes in which a not-yet-synced image makes an open fail (so it is retried) until every
#: layer is there: ``empty`` and ``missing`` fail with ``image has no layers``, ``partial`` with
#: full diff_ids fails with ``mismatched fs layers``.
CONVERGING_MODES = ("empty", "missing", "partial-full")

#: Whole milliseconds up to 5 s, as seconds (sync-plan starts, fault-matcher clock windows).
_ms = st.integers(min_value=0, max_value=5000).map(lambda n: n / 1000)


# -- sync plans -----------------------------------------------------------------------------
def schedules(*, max_seconds: float = 5.0, max_requests: int = 6) -> st.SearchStrategy[Any]:
    """Every schedule kind: at once, interval, bandwidth, request count, explicit timeline.
    Times are whole milliseconds up to ``max_seconds``."""
    secs = st.integers(min_value=0, max_value=int(max_seconds * 1000)).map(lambda n: n / 1000)
    positive = st.integers(min_value=1, max_value=int(max_seconds * 1000)).map(lambda n: n / 1000)
    return st.one_of(
        st.builds(AtOnce, after=secs),
        st.builds(Interval, every=positive, first=st.none() | secs),
        st.builds(Bandwidth, bytes_per_second=st.integers(min_value=256, max_value=1 << 20)),
        st.builds(
            Requests,
            count=st.integers(min_value=0, max_value=max_requests),
            per_layer=st.booleans(),
        ),
        st.lists(secs, max_size=5).map(lambda ts: Timeline.per_layer(sorted(ts))),
        st.lists(st.tuples(secs, st.integers(min_value=-1, max_value=5)), max_size=4).map(
            lambda ps: Timeline(points=tuple(ps))
        ),
    )


def sync_plans(
    *,
    modes: Sequence[str] = MODES,
    schedule: st.SearchStrategy[Any] | None = None,
    start_at: bool = True,
) -> st.SearchStrategy[SyncPlan]:
    """Sync plans over ``modes`` with every variant knob (``diff_ids``, ``blobs``, ``index``);
    ``start_at=False`` keeps the default "start at the first request"."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown sync modes {sorted(unknown)} (known: {', '.join(MODES)})")
    return st.builds(
        SyncPlan,
        schedule=schedule if schedule is not None else schedules(),
        mode=st.sampled_from(tuple(modes)),
        diff_ids=st.sampled_from(("cut", "full")),
        blobs=st.sampled_from(("get", "head", "both")),
        index=st.sampled_from(("missing-child", "unlisted")),
        start_at=(st.none() | _ms) if start_at else st.none(),
    )


# -- schedules ------------------------------------------------------------------------------
def attempt_starts(delays: Sequence[float] = LIFECYCLE_POLICY.delays) -> tuple[float, ...]:
    """When each attempt of an opener with ``delays`` starts on a virtual clock, counting from
    the first: ``(0, 0.1, 0.3, 0.8, 1.8, 3.8)`` for lifecycle. Rounded to the microsecond."""
    out, total = [0.0], 0.0
    for d in delays:
        if d < 0:
            raise ValueError(f"delays must be non-negative, got {d!r}")
        total = round(total + d, 6)
        out.append(total)
    return tuple(out)


def attempt_seeing(t: float, delays: Sequence[float] = LIFECYCLE_POLICY.delays) -> int | None:
    """The 0-based index of the first attempt that starts at or after ``t`` seconds (``None``
    when ``t`` lies beyond the last attempt)."""
    for i, start in enumerate(attempt_starts(delays)):
        if start + 1e-7 >= t:
            return i
    return None


@dataclass(frozen=True)
class Convergence:
    """A sync plan drawn by :func:`converging_plans`, what it was built from, and its verdict:
    ``attempt`` is the 0-based attempt at which every layer has synced (``None``: never within
    the opener's budget), ``layer_times`` when each layer syncs (seconds after the first
    request for the image)."""

    plan: SyncPlan
    layers: int
    layer_times: tuple[float, ...]
    attempt: int | None

    @property
    def attempts(self) -> int | None:
        """How many attempts a successful open makes (``attempt + 1``)."""
        return None if self.attempt is None else self.attempt + 1


def converging_plans(
    *,
    max_layers: int = 4,
    modes: Sequence[str] = CONVERGING_MODES,
    delays: Sequence[float] = LIFECYCLE_POLICY.delays,
    never: bool = True,
) -> st.SearchStrategy[Convergence]:
    """A per-layer timeline plan in a mode that fails opens until the image is whole, drawn so
    that the last layer lands between two attempts (or exactly on one): the open must succeed at
    exactly :attr:`Convergence.attempt`. With ``never`` some plans finish after the last
    attempt. ``modes`` are :data:`CONVERGING_MODES` (``partial-full`` is ``partial`` with full
    diff_ids)."""
    unknown = set(modes) - set(CONVERGING_MODES)
    if unknown:
        raise ValueError(f"modes must be among {CONVERGING_MODES}, got {sorted(unknown)}")
    starts = attempt_starts(delays)
    # in milliseconds: the last layer lands in (starts[k-1], starts[k]]
    bounds = [(0, 0)] + [
        (round(starts[k - 1] * 1000) + 1, round(starts[k] * 1000)) for k in range(1, len(starts))
    ]
    if never:
        bounds.append((round(starts[-1] * 1000) + 1, round(starts[-1] * 1000) + 3000))

    @st.composite
    def draw(data: st.DrawFn) -> Convergence:
        n = data(st.integers(min_value=1, max_value=max_layers))
        k = data(st.integers(min_value=0, max_value=len(bounds) - 1))
        lo, hi = bounds[k]
        last = data(st.integers(min_value=lo, max_value=hi))
        earlier = data(st.lists(st.integers(0, last), min_size=n - 1, max_size=n - 1))
        times = tuple(t / 1000 for t in (*sorted(earlier), last))
        mode = data(st.sampled_from(tuple(modes)))
        plan = SyncPlan(
            Timeline.per_layer(times),
            mode="partial" if mode == "partial-full" else mode,
            diff_ids="full" if mode == "partial-full" else "cut",
        )
        return Convergence(plan, n, times, k if k < len(starts) else None)

    return draw()

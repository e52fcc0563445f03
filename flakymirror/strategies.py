"""Hypothesis strategies for flakymirror values: images, sync plans, fault plans, and the retry
schedules they race against.

Everything here draws only from Hypothesis' own randomness (no ``random`` module, no clock), so
a failing example shrinks and replays like any other::

    from hypothesis import given
    from flakymirror import strategies as fst

    @given(image=fst.images(), plan=fst.sync_plans(), faults=fst.fault_plans())
    def test_my_client_survives(flaky_mirror, image, plan, faults): ...

Images are kept small (a few layers of at most a few KiB) so that building, pushing and pulling
them costs milliseconds. Fault plans leave out actions that would block a client for real time
(stalls without an end): under a virtual clock every wait they contain passes instantly.

Schedule helpers work on an opener's delay list (lifecycle's ``0.1, 0.2, 0.5, 1, 2`` by default):
:func:`attempt_starts` is when each attempt begins on a virtual clock, :func:`attempt_seeing`
which attempt is the first to see a moment, and :func:`converging_plans` draws a sync plan
together with the attempt at which an opener must succeed against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from flakymirror.client.opener import LIFECYCLE_DELAYS
from flakymirror.mirror.actions import (
    Close,
    Corrupt,
    Delay,
    Drip,
    Garbage,
    Headers,
    Pass,
    Reset,
    Stall,
    Status,
    Truncate,
    WrongDigest,
)
from flakymirror.mirror.faults import FaultRule
from flakymirror.mirror.faults import Sequence as ActionSequence
from flakymirror.mirror.match import Match
from flakymirror.mirror.plans import (
    MODES,
    AtOnce,
    Bandwidth,
    Interval,
    Requests,
    SyncPlan,
    Timeline,
)
from flakymirror.oci import Image, ImageIndex, build_image, build_index

__all__ = [
    "ACTION_KINDS",
    "BODY_SHAPES",
    "CONVERGING_MODES",
    "NON_RETRYABLE_STATUSES",
    "Convergence",
    "attempt_seeing",
    "attempt_starts",
    "converging_plans",
    "fault_actions",
    "fault_plans",
    "fault_rules",
    "image_params",
    "images",
    "indexes",
    "matches",
    "non_retryable_answers",
    "retryable_answers",
    "schedules",
    "sync_plans",
]

#: Fault action kinds :func:`fault_actions` draws from by default (every kind the mirror has).
ACTION_KINDS = (
    "status",
    "reset",
    "close",
    "garbage",
    "delay",
    "headers",
    "drip",
    "truncate",
    "corrupt",
    "wrong-digest",
    "stall",
    "pass",
)
BODY_SHAPES = ("oci", "text", "html", "empty")
#: The statuses lifecycle's ``isRetryable`` refuses.
NON_RETRYABLE_STATUSES = (400, 401, 403, 405, 429)
#: Sync modes in which a not-yet-synced image makes an open fail (so it is retried) until every
#: layer is there: ``empty`` and ``missing`` fail with ``image has no layers``, ``partial`` with
#: full diff_ids fails with ``mismatched fs layers``.
CONVERGING_MODES = ("empty", "missing", "partial-full")

_ms = st.integers(min_value=0, max_value=5000).map(lambda n: n / 1000)


# -- images ---------------------------------------------------------------------------------
def image_params(
    *,
    max_layers: int = 4,
    min_layers: int = 1,
    max_layer_size: int = 2048,
    flavors: Sequence[str] = ("oci", "docker"),
    compressions: Sequence[str] = ("gzip", "none", "zstd"),
    platforms: Sequence[str] = ("linux/amd64",),
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for :func:`flakymirror.oci.build_image`: per-layer sizes, seed, flavor,
    compression and platform. Docker-flavored images are only drawn with gzip layers (Docker
    schema 2 has no media type for the others)."""
    if min_layers < 0 or max_layers < min_layers:
        raise ValueError(f"need 0 <= min_layers <= max_layers, got {min_layers}, {max_layers}")

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        flavor = data(st.sampled_from(tuple(flavors)))
        allowed = tuple(c for c in compressions if flavor == "oci" or c == "gzip") or ("gzip",)
        sizes = data(
            st.lists(
                st.integers(min_value=0, max_value=max_layer_size),
                min_size=min_layers,
                max_size=max_layers,
            )
        )
        return {
            "layer_sizes": sizes,
            "layers": len(sizes),
            "seed": data(st.integers(min_value=0, max_value=2**16)),
            "flavor": flavor,
            "compression": data(st.sampled_from(allowed)),
            "platform": data(st.sampled_from(tuple(platforms))),
        }

    return draw()


def images(**params: Any) -> st.SearchStrategy[Image]:
    """Small synthetic images (:func:`build_image` of :func:`image_params`; same keywords)."""
    return image_params(**params).map(lambda kw: build_image(**kw))


def indexes(
    *,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"),
    max_platforms: int = 3,
    max_layers: int = 3,
    max_layer_size: int = 1024,
) -> st.SearchStrategy[ImageIndex]:
    """Small multi-platform indexes: 1..``max_platforms`` distinct platforms, same layer count."""
    return st.builds(
        lambda plats, n, size, seed, flavor: build_index(
            plats, seed=seed, flavor=flavor, layers=n, layer_size=size
        ),
        st.lists(
            st.sampled_from(tuple(platforms)), min_size=1, max_size=max_platforms, unique=True
        ),
        st.integers(min_value=1, max_value=max_layers),
        st.integers(min_value=0, max_value=max_layer_size),
        st.integers(min_value=0, max_value=2**16),
        st.sampled_from(("oci", "docker")),
    )


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


# -- faults ---------------------------------------------------------------------------------
def matches(
    *,
    kinds: Sequence[str] = ("ping", "manifest", "blob"),
    methods: Sequence[str] = ("GET", "HEAD"),
) -> st.SearchStrategy[Match]:
    """Matchers on endpoint kind and method, with ``times``, ``nth``, a clock window or a seeded
    probability now and then."""
    return st.builds(
        Match,
        method=st.none() | st.sampled_from(tuple(methods)),
        kind=st.none() | st.sampled_from(tuple(kinds)),
        nth=st.none() | st.integers(min_value=1, max_value=4),
        times=st.none() | st.integers(min_value=1, max_value=4),
        window=st.none()
        | st.tuples(_ms, st.none() | _ms).map(
            lambda w: (w[0], None if w[1] is None else max(w[0], w[1]))
        ),
        probability=st.none() | st.sampled_from((0.25, 0.5, 1.0)),
        seed=st.integers(min_value=0, max_value=1000),
    )


def _statuses(codes: Sequence[int], bodies: Sequence[str]) -> st.SearchStrategy[Status]:
    return st.builds(
        Status,
        status=st.sampled_from(tuple(codes)),
        body=st.sampled_from(tuple(bodies)),
        retry_after=st.none() | st.integers(min_value=0, max_value=120).map(float),
    )


def non_retryable_answers() -> st.SearchStrategy[Status]:
    """Answers lifecycle's opener must not retry: 400, 403, 405 or 429 with any body shape, and
    401 without a JSON body (a 401 *with* OCI errors becomes imgutil's empty image, which is
    retried). No ``WWW-Authenticate`` challenge is sent."""
    return st.one_of(
        _statuses((400, 403, 405, 429), BODY_SHAPES),
        _statuses((401,), ("text", "html", "empty")),
    )


def retryable_answers() -> st.SearchStrategy[Status]:
    """Answers the opener retries: 404 in any shape, 401 with OCI errors, and 5xx."""
    return st.one_of(
        _statuses((404,), BODY_SHAPES),
        _statuses((401,), ("oci",)),
        _statuses((408, 500, 502, 503, 504), BODY_SHAPES),
    )


def _action(kind: str) -> st.SearchStrategy[Any]:
    small = st.integers(min_value=0, max_value=64)
    secs = st.integers(min_value=0, max_value=2000).map(lambda n: n / 1000)
    return {
        "status": non_retryable_answers() | retryable_answers(),
        "reset": st.just(Reset()),
        "close": st.just(Close()),
        "garbage": st.builds(
            Garbage, size=st.integers(min_value=1, max_value=64), seed=st.integers(0, 100)
        ),
        "delay": st.builds(Delay, seconds=secs),
        "headers": st.sampled_from(
            (
                Headers(remove=("Docker-Content-Digest",)),
                Headers(set={"Retry-After": "1"}),
                Headers(set={"Content-Type": "application/octet-stream"}),
            )
        ),
        "drip": st.builds(Drip, chunks=st.integers(min_value=1, max_value=4), seconds=secs),
        "truncate": st.builds(Truncate, after=small, reset=st.booleans()),
        "corrupt": st.builds(
            Corrupt,
            offset=st.none() | st.integers(min_value=-64, max_value=64),
            count=st.integers(min_value=1, max_value=3),
            xor=st.integers(min_value=1, max_value=255),
        ),
        "wrong-digest": st.just(WrongDigest()),
        # always bounded: an open-ended stall would hold a client until its own timeout
        "stall": st.builds(
            Stall, after=small, seconds=secs, then=st.sampled_from(("resume", "close"))
        ),
        "pass": st.just(Pass()),
    }[kind]


def fault_actions(kinds: Sequence[str] = ACTION_KINDS) -> st.SearchStrategy[Any]:
    """One fault action of the given ``kinds`` (see :data:`ACTION_KINDS`)."""
    unknown = set(kinds) - set(ACTION_KINDS)
    if unknown:
        raise ValueError(
            f"unknown action kinds {sorted(unknown)} (known: {', '.join(ACTION_KINDS)})"
        )
    return st.one_of(*(_action(k) for k in kinds))


def fault_rules(
    *,
    kinds: Sequence[str] = ACTION_KINDS,
    match: st.SearchStrategy[Match] | None = None,
    max_steps: int = 4,
) -> st.SearchStrategy[FaultRule]:
    """A rule: a matcher with one action, or a sequence of up to ``max_steps`` actions followed
    by normal behaviour, a repeat of the last step, or a cycle."""
    actions = fault_actions(kinds)
    sequences = st.builds(
        ActionSequence,
        steps=st.lists(actions.map(lambda a: (a,)), min_size=1, max_size=max_steps).map(tuple),
        then=st.sampled_from(("pass", "repeat-last", "cycle")),
    )
    return st.builds(
        FaultRule, match=match if match is not None else matches(), action=actions | sequences
    )


def fault_plans(
    *, max_rules: int = 3, kinds: Sequence[str] = ACTION_KINDS, **rule_kw: Any
) -> st.SearchStrategy[tuple[FaultRule, ...]]:
    """0..``max_rules`` fault rules (applied in order, as the mirror applies them)."""
    return st.lists(fault_rules(kinds=kinds, **rule_kw), max_size=max_rules).map(tuple)


# -- schedules ------------------------------------------------------------------------------
def attempt_starts(delays: Sequence[float] = LIFECYCLE_DELAYS) -> tuple[float, ...]:
    """When each attempt of an opener with ``delays`` starts on a virtual clock, counting from
    the first: ``(0, 0.1, 0.3, 0.8, 1.8, 3.8)`` for lifecycle. Rounded to the microsecond."""
    out, total = [0.0], 0.0
    for d in delays:
        if d < 0:
            raise ValueError(f"delays must be non-negative, got {d!r}")
        total = round(total + d, 6)
        out.append(total)
    return tuple(out)


def attempt_seeing(t: float, delays: Sequence[float] = LIFECYCLE_DELAYS) -> int | None:
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
    delays: Sequence[float] = LIFECYCLE_DELAYS,
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

"""Hypothesis strategies for fault plans: request matchers, fault actions, rules and the
answers lifecycle's opener must or must not retry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from flakymirror.mirror.actions import (
    BODY_SHAPES,
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
from flakymirror.mirror.match import REFERENCE_TYPES, Match
from flakymirror.oci.policy import LIFECYCLE_POLICY
from flakymirror.strategies.plans import _ms

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
#: The statuses lifecycle's ``isRetryable`` refuses.
NON_RETRYABLE_STATUSES = LIFECYCLE_POLICY.non_retryable


def matches(
    *,
    kinds: Sequence[str] = ("ping", "manifest", "blob"),
    methods: Sequence[str] = ("GET", "HEAD"),
) -> st.SearchStrategy[Match]:
    """Matchers on endpoint kind, method and reference type (tag or digest), with ``times``,
    ``nth``, a clock window or a seeded probability now and then."""
    return st.builds(
        Match,
        method=st.none() | st.sampled_from(tuple(methods)),
        kind=st.none() | st.sampled_from(tuple(kinds)),
        reference_type=st.none() | st.sampled_from(REFERENCE_TYPES),
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
        _statuses(tuple(s for s in NON_RETRYABLE_STATUSES if s != 401), BODY_SHAPES),
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

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

from flakymirror.strategies.faults import (
    ACTION_KINDS,
    BODY_SHAPES,
    NON_RETRYABLE_STATUSES,
    fault_actions,
    fault_plans,
    fault_rules,
    matches,
    non_retryable_answers,
    retryable_answers,
)
from flakymirror.strategies.images import image_params, images, indexes
from flakymirror.strategies.plans import (
    CONVERGING_MODES,
    Convergence,
    attempt_seeing,
    attempt_starts,
    converging_plans,
    schedules,
    sync_plans,
)

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

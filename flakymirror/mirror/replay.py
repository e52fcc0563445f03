"""Deprecated: the demo mirrors are :mod:`flakymirror.mirror.demo`, and the client that polls
them is :func:`flakymirror.scenario.backoff.replay_backoff` (lifecycle's opener). This module
(whose name collided with ``flakymirror replay``) goes in the next release."""

from __future__ import annotations

import warnings

from flakymirror.mirror.demo import DEMO_REF, Attempt, filling_mirror, synced_mirror
from flakymirror.oci.policy import LIFECYCLE_POLICY

__all__ = ["DEMO_REF", "LIFECYCLE_DELAYS", "Attempt", "filling_mirror", "synced_mirror"]

#: lifecycle's delays: ``flakymirror.oci.policy.LIFECYCLE_POLICY.delays``.
LIFECYCLE_DELAYS = LIFECYCLE_POLICY.delays

warnings.warn(
    "flakymirror.mirror.replay is deprecated and goes in the next release; use "
    "flakymirror.mirror.demo (filling_mirror, synced_mirror) and "
    "flakymirror.scenario.backoff.replay_backoff",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> object:
    if name == "replay_backoff":  # the mirror may not import the client it drove
        raise AttributeError(
            "flakymirror.mirror.replay.replay_backoff is now "
            "flakymirror.scenario.backoff.replay_backoff (lifecycle's opener, the reference client)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

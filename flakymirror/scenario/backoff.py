"""Lifecycle's backoff against a demo mirror, attempt by attempt: the reference client's
retrying opener (:func:`flakymirror.client.open_remote_image`) sleeping on the mirror's clock,
and what the mirror served each attempt, read from its journal.

>>> from flakymirror.mirror.demo import filling_mirror
>>> with filling_mirror(fill_at=3.8) as mirror:
...     attempts = replay_backoff(mirror)
>>> [a.t for a in attempts], attempts[-1].layers
([0.0, 0.1, 0.3, 0.8, 1.8, 3.8], 3)
"""

from __future__ import annotations

import contextlib
from typing import Any

from flakymirror.client import (
    ClientError,
    OpenerPolicy,
    RemoteImage,
    new_remote_image,
    open_remote_image,
)
from flakymirror.mirror.clock import elapsed
from flakymirror.mirror.demo import DEMO_REF, Attempt
from flakymirror.oci.policy import LIFECYCLE_POLICY

__all__ = ["replay_backoff"]


def replay_backoff(
    mirror: Any, reference: str = DEMO_REF, policy: OpenerPolicy = LIFECYCLE_POLICY
) -> list[Attempt]:
    """Open ``reference`` on ``mirror`` with the opener of ``policy`` (lifecycle's), every sleep
    on the mirror's clock; one :class:`Attempt` per attempt: when it started (mirror clock),
    the status of its manifest GET, the number of layers served and the digest. The open's
    outcome is the last attempt's: it ends early when an attempt sees the layers."""
    ref = f"{mirror.host}/{reference}"
    attempts: list[Attempt] = []

    def new_image() -> RemoteImage:
        t = elapsed(mirror.clock.now(), mirror.epoch)
        seen = len(mirror.journal.filter(kind="manifest", method="GET"))
        image: RemoteImage | None = None
        try:
            image = new_remote_image(ref, insecure=True, sleep=mirror.clock.sleep)
            return image
        finally:
            gets = mirror.journal.filter(kind="manifest", method="GET")[seen:]
            status = gets[-1].status if gets else 0
            layers = None
            if image is not None and not image.empty:
                layers = len(
                    image.manifest_dict.get("layers", image.manifest_dict.get("manifests", []))
                )
            attempts.append(Attempt(t, status, layers, gets[-1].digest if gets else None))

    with contextlib.suppress(ClientError):  # the retries ran out: the attempts say how
        open_remote_image(new_image, sleep=mirror.clock.sleep, policy=policy)
    return attempts

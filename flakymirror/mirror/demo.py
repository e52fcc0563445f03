"""Ready-made mirrors for demos and benchmarks: one that fills in on a virtual clock, one fully
synced. (The client that polls them is the reference client's opener:
:func:`flakymirror.scenario.backoff.replay_backoff`.)

>>> with filling_mirror(fill_at=3.8) as mirror:
...     mirror.clock.advance(1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flakymirror.mirror.clock import VirtualClock
from flakymirror.mirror.mirror import FlakyMirror
from flakymirror.mirror.plans import SyncPlan, Timeline

__all__ = ["DEMO_REF", "Attempt", "filling_mirror", "synced_mirror"]

#: The reference the demo mirrors serve their image at.
DEMO_REF = "lib/app:1"


@dataclass(frozen=True)
class Attempt:
    """One manifest GET of a replay: mirror-clock time, status, layer count, served digest."""

    t: float
    status: int
    layers: int | None
    digest: str | None


def filling_mirror(
    layers: int = 3,
    fill_at: float = 3.8,
    mode: str = "empty",
    clock: VirtualClock | None = None,
    reference: str = DEMO_REF,
    **kw: Any,
) -> FlakyMirror:
    """A started mirror on a virtual clock whose image (``layers`` layers, at ``reference``)
    is complete ``fill_at`` seconds after the first request and shown in ``mode`` before."""
    from flakymirror.oci import build_image

    plan = SyncPlan(Timeline(((fill_at, -1),)), mode=mode)
    mirror = FlakyMirror(clock=clock or VirtualClock(), plan=plan, **kw)
    mirror.push_upstream(build_image(layers=layers, seed=0), reference)
    return mirror.start()


def synced_mirror(layers: int = 3, reference: str = DEMO_REF, **kw: Any) -> FlakyMirror:
    """A started mirror whose image is fully synced (no plan, no faults): the fast path."""
    from flakymirror.oci import build_image

    mirror = FlakyMirror(**kw)
    mirror.push_upstream(build_image(layers=layers, seed=0), reference)
    return mirror.start()

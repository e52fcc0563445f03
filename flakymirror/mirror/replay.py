"""Ready-made pieces for demos and benchmarks: a mirror that fills in on a virtual clock, and
a client loop that polls it with lifecycle's backoff (0.1, 0.2, 0.5, 1, 2 s = 3.8 s of sleep).

>>> with filling_mirror(fill_at=3.8) as mirror:
...     attempts = replay_backoff(mirror)
>>> [a.t for a in attempts], attempts[-1].layers
([0.0, 0.1, 0.3, 0.8, 1.8, 3.8], 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from flakymirror.mirror.clock import VirtualClock, elapsed
from flakymirror.mirror.mirror import FlakyMirror
from flakymirror.mirror.plans import SyncPlan, Timeline
from flakymirror.oci.mediatypes import GGCR_MANIFEST_ACCEPT
from flakymirror.oci.policy import LIFECYCLE_POLICY

__all__ = ["LIFECYCLE_DELAYS", "Attempt", "filling_mirror", "replay_backoff", "synced_mirror"]

#: lifecycle's OpenRemoteImage delays (phase/retry.go).
LIFECYCLE_DELAYS = LIFECYCLE_POLICY.delays
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


def _has_layers(attempt: Attempt) -> bool:
    return attempt.status == 200 and bool(attempt.layers)


def replay_backoff(
    mirror: FlakyMirror,
    reference: str = DEMO_REF,
    delays: Sequence[float] = LIFECYCLE_DELAYS,
    *,
    done: Callable[[Attempt], bool] = _has_layers,
    session: requests.Session | None = None,
) -> list[Attempt]:
    """GET the manifest, sleeping ``delays`` on the mirror's clock between attempts, until
    ``done(attempt)`` (default: a 200 listing at least one layer, as lifecycle's ``TopLayer``
    needs) or the delays run out."""
    repo, _, tag = reference.rpartition(":")
    url = f"{mirror.url}/v2/{repo}/manifests/{tag}"
    http = session or requests.Session()
    attempts: list[Attempt] = []
    try:
        for i in range(len(delays) + 1):
            r = http.get(url, headers={"Accept": GGCR_MANIFEST_ACCEPT}, timeout=30)
            layers = None
            if r.status_code == 200:
                body = r.json()
                layers = len(body.get("layers", body.get("manifests", [])))
            attempt = Attempt(
                elapsed(mirror.clock.now(), mirror.epoch),
                r.status_code,
                layers,
                r.headers.get("Docker-Content-Digest"),
            )
            attempts.append(attempt)
            if done(attempt) or i == len(delays):
                break
            mirror.clock.sleep(delays[i])
    finally:
        if session is None:
            http.close()
    return attempts

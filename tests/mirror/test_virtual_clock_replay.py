"""A client that sleeps lifecycle's 0.1/0.2/0.5/1/2 s backoff sees layers appear exactly on
schedule, and the whole 3.8 s replay takes a fraction of a second of real time."""

from __future__ import annotations

import time

import requests

from flakymirror.mirror import FlakyMirror, SyncPlan, Timeline, VirtualClock
from flakymirror.oci import build_image
from tests.mirror.conftest import ACCEPT

DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)


def test_backoff_replay_sees_layers_on_schedule(make_mirror) -> None:
    clock = VirtualClock()
    # layer 1 at 0.3 s, layer 2 at 0.8 s, layer 3 at 3.8 s after the first request
    plan = SyncPlan(Timeline.per_layer([0.3, 0.8, 3.8]))
    mirror = make_mirror(clock=clock, plan=plan)
    mirror.push_upstream(build_image(layers=3, seed=5), "lib/run:1")
    wall = time.perf_counter()
    seen = []
    session = requests.Session()
    for attempt in range(len(DELAYS) + 1):
        doc = session.get(f"{mirror.url}/v2/lib/run/manifests/1", headers=ACCEPT, timeout=5).json()
        seen.append(len(doc["layers"]))
        if attempt < len(DELAYS):
            clock.sleep(DELAYS[attempt])
    wall = time.perf_counter() - wall
    # attempts at t = 0, 0.1, 0.3, 0.8, 1.8, 3.8
    assert seen == [0, 0, 1, 2, 2, 3]
    assert clock.sleeps == list(DELAYS) and clock.slept == 3.8
    assert [e.t for e in mirror.journal.filter(kind="manifest")] == [0, 0.1, 0.3, 0.8, 1.8, 3.8]
    assert wall < 1.0, f"the 3.8 s replay took {wall:.3f}s of real time"


def test_patched_time_sleep_drives_an_unmodified_client(make_mirror) -> None:
    clock = VirtualClock()
    mirror: FlakyMirror = make_mirror(clock=clock, plan=SyncPlan(Timeline.per_layer([1, 2])))
    mirror.push_upstream(build_image(layers=2, seed=6), "lib/x:1")

    def naive_client() -> list[int]:  # knows nothing of the virtual clock
        out = []
        for _ in range(3):
            r = requests.get(f"{mirror.url}/v2/lib/x/manifests/1", headers=ACCEPT, timeout=5)
            out.append(len(r.json()["layers"]))
            time.sleep(1)
        return out

    wall = time.perf_counter()
    with clock.patch():
        assert naive_client() == [0, 1, 2]
    assert time.perf_counter() - wall < 2
    assert clock.sleeps == [1, 1, 1]


def test_replay_helpers_for_benchmarks() -> None:
    from flakymirror.mirror.replay import filling_mirror, replay_backoff, synced_mirror

    wall = time.perf_counter()
    with filling_mirror(fill_at=3.8) as mirror:
        attempts = replay_backoff(mirror)
    wall = time.perf_counter() - wall
    assert [a.t for a in attempts] == [0, 0.1, 0.3, 0.8, 1.8, 3.8]
    assert [a.layers for a in attempts] == [0, 0, 0, 0, 0, 3]
    assert wall < 1.0
    with filling_mirror(fill_at=10, mode="missing") as mirror:
        attempts = replay_backoff(mirror)  # outlasts the budget: retries exhausted
    assert [a.status for a in attempts] == [404] * 6
    with synced_mirror() as mirror:
        assert [a.layers for a in replay_backoff(mirror)] == [3]

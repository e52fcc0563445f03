"""A client that sleeps lifecycle's 0.1/0.2/0.5/1/2 s backoff sees layers appear exactly on
schedule, and the whole 3.8 s replay sleeps for nothing real (its real-time cost is a row of
the benchmark table: ``benchmarks/mirror_bench.py``, the virtual-clock replay)."""

from __future__ import annotations

import time

import pytest
import requests

from flakymirror.mirror import FlakyMirror, SyncPlan, Timeline, VirtualClock
from flakymirror.oci import build_image
from tests.helpers.mirror_requests import ACCEPT

DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)


def test_backoff_replay_sees_layers_on_schedule(make_mirror, real_sleeps) -> None:
    clock = VirtualClock()
    # layer 1 at 0.3 s, layer 2 at 0.8 s, layer 3 at 3.8 s after the first request
    plan = SyncPlan(Timeline.per_layer([0.3, 0.8, 3.8]))
    mirror = make_mirror(clock=clock, plan=plan)
    mirror.push_upstream(build_image(layers=3, seed=5), "lib/run:1")
    seen = []
    session = requests.Session()
    for attempt in range(len(DELAYS) + 1):
        doc = session.get(f"{mirror.url}/v2/lib/run/manifests/1", headers=ACCEPT, timeout=5).json()
        seen.append(len(doc["layers"]))
        if attempt < len(DELAYS):
            clock.sleep(DELAYS[attempt])
    # attempts at t = 0, 0.1, 0.3, 0.8, 1.8, 3.8
    assert seen == [0, 0, 1, 2, 2, 3]
    assert clock.sleeps == list(DELAYS) and clock.slept == 3.8
    assert [e.t for e in mirror.journal.filter(kind="manifest")] == [0, 0.1, 0.3, 0.8, 1.8, 3.8]
    assert real_sleeps.calls == [], "the 3.8 s replay slept for real"


def test_patched_time_sleep_drives_an_unmodified_client(make_mirror, real_sleeps) -> None:
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

    with clock.patch():
        assert naive_client() == [0, 1, 2]
    assert real_sleeps.calls == []
    assert clock.sleeps == [1, 1, 1]


def test_replay_helpers_for_benchmarks(real_sleeps) -> None:
    from flakymirror.mirror.demo import filling_mirror, synced_mirror
    from flakymirror.scenario.backoff import replay_backoff

    with filling_mirror(fill_at=3.8) as mirror:
        attempts = replay_backoff(mirror)
    assert [a.t for a in attempts] == [0, 0.1, 0.3, 0.8, 1.8, 3.8]
    assert [a.layers for a in attempts] == [0, 0, 0, 0, 0, 3]
    assert real_sleeps.calls == []
    with filling_mirror(fill_at=10, mode="missing") as mirror:
        attempts = replay_backoff(mirror)  # outlasts the budget: retries exhausted
    assert [a.status for a in attempts] == [404] * 6
    with synced_mirror() as mirror:
        assert [a.layers for a in replay_backoff(mirror)] == [3]


def test_the_old_replay_module_warns_and_points_at_the_new_homes():
    import importlib
    import sys

    sys.modules.pop("flakymirror.mirror.replay", None)
    with pytest.warns(DeprecationWarning, match="flakymirror.mirror.demo"):
        old = importlib.import_module("flakymirror.mirror.replay")
    from flakymirror.mirror.demo import filling_mirror

    assert old.filling_mirror is filling_mirror
    assert old.LIFECYCLE_DELAYS == (0.1, 0.2, 0.5, 1.0, 2.0)
    with pytest.raises(AttributeError, match="flakymirror.scenario.backoff.replay_backoff"):
        old.replay_backoff  # noqa: B018

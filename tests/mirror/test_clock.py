"""Clocks: the virtual clock advances only when slept through, records sleeps, is thread-safe."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from flakymirror.mirror.clock import RealClock, VirtualClock, clock_from_dict, elapsed
from flakymirror.mirror.forms import FormError
from tests.helpers.sleeps import RecordingEvent


def test_virtual_clock_sleep_advances_and_records() -> None:
    clock = VirtualClock("2026-01-01T00:00:00Z")
    t0 = clock.now()
    for d in (0.1, 0.2, 0.5, 1.0, 2.0):
        clock.sleep(d)
    assert clock.sleeps == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert clock.slept == 3.8
    assert elapsed(clock.now(), t0) == 3.8
    clock.advance(10)
    assert clock.sleeps == [0.1, 0.2, 0.5, 1.0, 2.0]  # advance is not a client sleep
    assert elapsed(clock.now(), t0) == 13.8


def test_virtual_clock_start_forms_and_reset() -> None:
    assert VirtualClock(0).now() == 0.0
    aware = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    assert VirtualClock(aware).now() == aware.timestamp()
    clock = VirtualClock()
    start = clock.now()
    clock.sleep(5)
    clock.reset()
    assert clock.now() == start and clock.sleeps == []
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        VirtualClock("yesterday")
    with pytest.raises(ValueError, match="non-negative"):
        clock.sleep(-1)
    with pytest.raises(TypeError):
        clock.sleep("1")  # type: ignore[arg-type]


def test_virtual_clock_pause_never_blocks_and_respects_interrupt(real_sleeps) -> None:
    clock = VirtualClock(0)
    ev = RecordingEvent()
    assert clock.pause(3600, ev) is True
    assert ev.waits == [] and real_sleeps.calls == []  # nothing waited for real
    assert clock.now() == 3600.0 and clock.sleeps == []
    ev.set()
    assert clock.pause(5, ev) is False


def test_virtual_clock_is_thread_safe() -> None:
    clock = VirtualClock(0)

    def work() -> None:
        for _ in range(500):
            clock.sleep(0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(clock.sleeps) == 2000
    assert round(clock.now(), 6) == 2.0


def test_patch_freezes_time_and_routes_time_sleep(real_sleeps) -> None:
    clock = VirtualClock("2026-03-04T05:06:07Z")
    with clock.patch():
        before = time.time()
        assert before == clock.now()
        assert dt.datetime.now(dt.UTC).year == 2026
        time.sleep(30)  # an unmodified client
        assert time.time() == before + 30
        clock.advance(1)
        assert time.time() == before + 31
    assert clock.sleeps == [30]
    assert real_sleeps.calls == []
    assert time.time() > 1.7e9 and abs(time.time() - clock.now()) > 1  # real time again
    assert clock.now() == before + 31


def test_real_clock() -> None:
    clock = RealClock()
    assert abs(clock.now() - time.time()) < 1
    ev = threading.Event()
    ev.set()
    assert clock.pause(10, ev) is False  # interrupted at once
    assert clock.pause(0.01) is True
    assert clock == RealClock() and not clock.virtual


def test_clock_dict_forms() -> None:
    assert clock_from_dict({"kind": "real"}) == RealClock()
    v = clock_from_dict({"kind": "virtual", "start": "2026-01-01T00:00:00Z"})
    assert isinstance(v, VirtualClock) and v.to_dict()["start"].startswith("2026-01-01T00:00:00")
    assert clock_from_dict(v.to_dict()).now() == v.now()
    with pytest.raises(FormError, match=r"clock.kind: 'fake' is not one of"):
        clock_from_dict({"kind": "fake"})
    with pytest.raises(FormError, match=r"clock.start: not an ISO 8601"):
        clock_from_dict({"kind": "virtual", "start": "soon"})
    with pytest.raises(FormError, match=r"clock.tick: unknown key"):
        clock_from_dict({"kind": "virtual", "tick": 1})

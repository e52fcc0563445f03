"""The suite's own helpers (tests/helpers): polling, and the recorders that let a virtual-clock
test assert that nothing waited for real."""

from __future__ import annotations

import itertools
import time

import pytest

from flakymirror.mirror import RealClock, VirtualClock
from tests.helpers.sleeps import RecordingEvent, record_real_sleeps
from tests.helpers.waiting import wait_until


def test_wait_until_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, [], "ready", "later"])
    assert wait_until(lambda: next(answers), interval=0) == "ready"
    assert next(answers) == "later"  # polled no further than needed


def test_wait_until_gives_up_with_the_message() -> None:
    calls = itertools.count()
    with pytest.raises(AssertionError, match=r"not within 0.05 s: still 'no'"):
        wait_until(lambda: next(calls) < 0, timeout=0.05, message=lambda: "still 'no'")
    assert next(calls) >= 2  # it polled, then gave up


def test_real_sleeps_are_recorded_instead_of_slept(monkeypatch: pytest.MonkeyPatch) -> None:
    real = record_real_sleeps(monkeypatch)
    RealClock().sleep(7)
    assert RealClock().pause(8) is True
    time.sleep(9)
    assert real.calls == [7, 8, 9]  # each returned at once: these tests would take 24 s


def test_virtual_sleeps_are_not_real_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    real = record_real_sleeps(monkeypatch)
    clock = VirtualClock(0)
    clock.sleep(5)
    with clock.patch():
        time.sleep(6)
    assert clock.sleeps == [5, 6] and real.calls == []


def test_a_recording_event_records_timed_waits_without_blocking() -> None:
    ev = RecordingEvent()
    assert RealClock().pause(3600, ev) is True  # would block an hour on a real event
    ev.set()
    assert ev.wait(1) is True
    assert ev.waits == [3600, 1]


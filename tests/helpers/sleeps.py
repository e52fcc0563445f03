"""A recorded sleep, and the sleeps go-containerregistry's backoff makes (for asserting a
client's whole sleep schedule without sleeping); real sleeps recorded instead of slept (for
asserting that a virtual-clock test waited for nothing real)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from flakymirror._realtime import Real


class Sleeps:
    """A sleep function that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


def ggcr_sleeps(n: int, seed: int = 0, *, draws: random.Random | None = None) -> list[float]:
    """The ggcr backoff sleeps a transport with ``seed`` makes for ``n`` exhausted requests
    (1 s and 3 s, each plus up to 10 % jitter drawn in order from ``random.Random(seed)``)."""
    rng = draws if draws is not None else random.Random(seed)
    out: list[float] = []
    for _ in range(n):
        for base_ns in (1_000_000_000, 3_000_000_000):
            out.append((base_ns + int(rng.random() * 0.1 * base_ns)) / 1e9)
    return out


def record_real_sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Make every real sleep record its duration and return at once: ``time.sleep`` and the
    one door through which flakymirror's clocks wait for real (``RealClock.sleep`` and
    ``pause``). A virtual-clock test asserts the recorder stays empty: its seconds passed on
    the virtual clock only, whatever the machine's speed. (``VirtualClock.patch`` still
    routes ``time.sleep`` to the virtual clock inside its block.)"""
    real = Sleeps()
    monkeypatch.setattr(time, "sleep", real)
    monkeypatch.setattr(Real, "sleep", real)
    return real


class RecordingEvent(threading.Event):
    """An interrupt event whose timed waits record their timeout and return at once (the
    event's state) instead of blocking: hand it to a server-side pause to see whether it
    waited for real."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        """Record ``timeout``; return whether the event is set, without blocking."""
        self.waits.append(timeout)
        return self.is_set()

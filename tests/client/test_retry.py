"""RetryProfile: the ggcr retry layer as a value (printable, comparable, dict form, schedule)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from flakymirror.client import PROFILES, RetryProfile, resolve_profile
from flakymirror.client.retry import retry_call
from tests.helpers.sleeps import Sleeps


def test_the_three_profiles():
    v5, v9, none = PROFILES["ggcr-v0.21.5"], PROFILES["ggcr-v0.21.9"], PROFILES["none"]
    assert v5.status_codes == (408, 500, 502, 503, 504, 499, 522)
    assert v9.status_codes == (408, 429, 500, 502, 503, 504, 499, 522)
    assert set(v9.status_codes) - set(v5.status_codes) == {429}
    for p in (v5, v9):
        assert (p.duration, p.factor, p.jitter, p.steps) == (1.0, 3.0, 0.1, 3)
        assert p.tries == 3 and p.retry_network
    assert 429 not in v5.temporary_status_codes and 429 in v9.temporary_status_codes
    assert v5.restore_body is False and v9.restore_body is True
    assert none.tries == 1 and none.status_codes == () and not none.retry_network


def test_profiles_are_values():
    v9 = PROFILES["ggcr-v0.21.9"]
    assert v9 == RetryProfile.from_dict(v9.to_dict())
    assert hash(v9) == hash(RetryProfile.from_dict(v9.to_dict()))
    assert repr(v9).startswith("RetryProfile(name='ggcr-v0.21.9', status_codes=(408, 429,")
    custom = dataclasses.replace(v9, name="fast", duration=0.01, jitter=0)
    assert custom != v9 and custom.schedule() == [0.01, 0.03]
    with pytest.raises(dataclasses.FrozenInstanceError):
        v9.steps = 5  # type: ignore[misc]


def test_bad_profiles_are_named():
    with pytest.raises(ValueError, match="unknown key\\(s\\) retries"):
        RetryProfile.from_dict({"name": "x", "retries": 3})
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        RetryProfile("x", steps=0)
    with pytest.raises(ValueError, match="status_codes must hold HTTP status codes"):
        RetryProfile("x", status_codes=(700,))
    with pytest.raises(ValueError, match="unknown retry profile 'ggcr-v1'"):
        resolve_profile("ggcr-v1")
    assert resolve_profile(None) is PROFILES["ggcr-v0.21.9"]


def test_schedule_is_1s_then_3s_with_up_to_10_percent_jitter():
    for seed in range(50):
        first, second = PROFILES["ggcr-v0.21.9"].schedule(seed)
        assert 1.0 <= first <= 1.1 and 3.0 <= second <= 3.3
    assert PROFILES["ggcr-v0.21.9"].schedule(7) == PROFILES["ggcr-v0.21.9"].schedule(7)
    rng = random.Random(0)
    expected = [(10**9 + int(rng.random() * 0.1 * 10**9)) / 1e9]
    expected.append((3 * 10**9 + int(rng.random() * 0.1 * 3 * 10**9)) / 1e9)
    assert PROFILES["ggcr-v0.21.9"].schedule(0) == expected
    assert PROFILES["none"].schedule() == []


def test_retry_call_runs_steps_tries_and_returns_or_raises_the_last_outcome():
    sleeps = Sleeps()
    calls = []

    def fn():
        calls.append(1)
        raise OSError(f"try {len(calls)}")

    with pytest.raises(OSError, match="try 3"):
        retry_call(
            fn, lambda _r, e: True, PROFILES["ggcr-v0.21.9"], sleep=sleeps, rng=random.Random(0)
        )
    assert len(calls) == 3 and sleeps.calls == PROFILES["ggcr-v0.21.9"].schedule(0)

    results = iter([1, 2, 3])
    out = retry_call(
        lambda: next(results),
        lambda r, _e: r < 2,
        PROFILES["ggcr-v0.21.5"],
        sleep=sleeps,
        rng=random.Random(0),
    )
    assert out == 2

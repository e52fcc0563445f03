"""OpenerPolicy: lifecycle's opener policy as one value the client, scenarios and strategies use."""

from __future__ import annotations

import pytest

from flakymirror.client import (
    LIFECYCLE_DELAYS,
    NON_RETRYABLE_STATUSES,
    PROFILES,
    TransportError,
    is_retryable,
    open_remote_image,
)
from flakymirror.oci.policy import LIFECYCLE_POLICY, RETRY_PROFILES, OpenerPolicy
from flakymirror.scenario.model import LIFECYCLE_DELAYS as SCENARIO_DELAYS
from flakymirror.strategies import NON_RETRYABLE_STATUSES as STRATEGY_STATUSES


def test_lifecycle_policy_is_pr_1675():
    assert OpenerPolicy() == LIFECYCLE_POLICY
    assert LIFECYCLE_POLICY.delays == (0.1, 0.2, 0.5, 1.0, 2.0)
    assert LIFECYCLE_POLICY.attempts == 6
    assert LIFECYCLE_POLICY.non_retryable == (400, 401, 403, 405, 429)
    assert repr(LIFECYCLE_POLICY) == (
        "OpenerPolicy(delays=(0.1, 0.2, 0.5, 1.0, 2.0), non_retryable=(400, 401, 403, 405, 429))"
    )


def test_every_public_name_reads_the_one_policy():
    assert LIFECYCLE_DELAYS == SCENARIO_DELAYS == LIFECYCLE_POLICY.delays
    assert set(NON_RETRYABLE_STATUSES) == set(STRATEGY_STATUSES) == {400, 401, 403, 405, 429}
    assert tuple(PROFILES) == RETRY_PROFILES


def test_a_policy_is_a_value_that_round_trips():
    policy = OpenerPolicy(delays=[1, 2], non_retryable=[429, 400, 429])
    assert policy.delays == (1.0, 2.0) and policy.non_retryable == (400, 429)
    assert OpenerPolicy.from_dict(policy.to_dict()) == policy
    assert hash(policy) == hash(OpenerPolicy.from_dict(policy.to_dict()))
    assert OpenerPolicy.from_dict({}) == LIFECYCLE_POLICY
    assert policy.retries(404) and policy.retries(None) and not policy.retries(429)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delays": [0.1, -1]}, r"delays\[1\] must not be negative, got -1"),
        ({"delays": [0.1, "2s"]}, r"delays\[1\] must be a number of seconds, got '2s'"),
        ({"delays": [float("nan")]}, r"delays\[0\] must be a number"),
        ({"delays": "0.1"}, r"delays must be a sequence, got '0.1'"),
        ({"non_retryable": [99]}, r"non_retryable: 99 is not an HTTP status"),
        ({"non_retryable": [True]}, r"non_retryable: True is not an HTTP status"),
    ],
)
def test_bad_policies_name_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OpenerPolicy(**kwargs)


def test_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown opener policy key\(s\) attempts"):
        OpenerPolicy.from_dict({"attempts": 3})


def test_the_opener_follows_a_policy():
    policy = OpenerPolicy(delays=(0.5, 0.25), non_retryable=(404,))
    assert not is_retryable(TransportError(404), policy)
    assert is_retryable(TransportError(429), policy)
    slept: list[float] = []
    calls = []

    class Image:
        def top_layer(self) -> str:
            calls.append(1)
            raise TransportError(429)

    with pytest.raises(TransportError):
        open_remote_image(Image, policy=policy, sleep=slept.append)
    assert (len(calls), slept) == (3, [0.5, 0.25])
    calls.clear()

    class Missing(Image):
        def top_layer(self) -> str:
            calls.append(1)
            raise TransportError(404)

    with pytest.raises(TransportError):
        open_remote_image(Missing, policy=policy, sleep=slept.append)
    assert len(calls) == 1  # 404 is not retried under this policy

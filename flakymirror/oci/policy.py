"""lifecycle's retrying opener as a value: how long to wait between attempts, and which
statuses end the retrying at once (``phase/retry.go``, PR #1675).

:data:`LIFECYCLE_POLICY` is that policy; the reference client's opener, the scenario files'
defaults, the Hypothesis strategies and the docs all use this one object.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LIFECYCLE_POLICY", "RETRY_PROFILES", "OpenerPolicy"]

#: The names of go-containerregistry's transport retry profiles the reference client speaks
#: (``flakymirror.client.retry.PROFILES`` holds one :class:`RetryProfile` per name).
RETRY_PROFILES = ("ggcr-v0.21.5", "ggcr-v0.21.9", "none")


@dataclass(frozen=True)
class OpenerPolicy:
    """A retrying opener's policy: ``delays`` (seconds slept before each retry, so
    ``len(delays) + 1`` attempts) and the HTTP statuses that are never retried.

    The defaults are lifecycle's (``topLayerDelays`` and ``isRetryable``):

    >>> OpenerPolicy()
    OpenerPolicy(delays=(0.1, 0.2, 0.5, 1.0, 2.0), non_retryable=(400, 401, 403, 405, 429))
    >>> OpenerPolicy().attempts
    6
    """

    delays: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0)
    non_retryable: tuple[int, ...] = (400, 401, 403, 405, 429)

    def __post_init__(self) -> None:
        delays = _sequence("delays", self.delays)
        for i, d in enumerate(delays):
            if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
                raise ValueError(f"delays[{i}] must be a number of seconds, got {d!r}")
            if d < 0:
                raise ValueError(f"delays[{i}] must not be negative, got {d!r}")
        statuses = _sequence("non_retryable", self.non_retryable)
        for s in statuses:
            if isinstance(s, bool) or not isinstance(s, int) or not 100 <= s <= 599:
                raise ValueError(f"non_retryable: {s!r} is not an HTTP status (100-599)")
        object.__setattr__(self, "delays", tuple(float(d) for d in delays))
        object.__setattr__(self, "non_retryable", tuple(sorted(set(statuses))))

    @property
    def attempts(self) -> int:
        """How many times the opener tries: one more than there are delays."""
        return len(self.delays) + 1

    def retries(self, status: int | None) -> bool:
        """Whether a failure with this HTTP ``status`` (None: no HTTP answer) is retried."""
        return status not in self.non_retryable

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (round-trips through :meth:`from_dict`)."""
        return {"delays": list(self.delays), "non_retryable": list(self.non_retryable)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpenerPolicy:
        """A policy from :meth:`to_dict`'s form; missing keys take lifecycle's values."""
        unknown = set(data) - {"delays", "non_retryable"}
        if unknown:
            raise ValueError(
                f"unknown opener policy key(s) {', '.join(sorted(unknown))} "
                "(known: delays, non_retryable)"
            )
        return cls(**dict(data))


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    return tuple(value)


#: lifecycle's policy (PR #1675): 100ms, 200ms, 500ms, 1s, 2s between six attempts; no retry
#: on 400, 401, 403, 405 or 429.
LIFECYCLE_POLICY = OpenerPolicy()

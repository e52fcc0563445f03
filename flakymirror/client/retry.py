"""go-containerregistry's transport retry layer as a value: :class:`RetryProfile`.

ggcr's ``remote`` package wraps every request (ping, token, manifest GET/HEAD, blob GET) in a
retry transport: a response whose status is in the profile's list, or a temporary network
failure (EOF, connection reset, timeout), is tried again after a k8s-style exponential backoff
(``wait.ExponentialBackoff``: ``steps`` tries, ``steps - 1`` sleeps of ``duration * factor**i``
plus up to ``jitter`` of random extra). Jitter draws from a seeded :class:`random.Random`, so a
schedule is reproducible; sleeps go through the caller's sleep function.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from flakymirror.client.errors import (
    TEMPORARY_STATUS_CODES,
    TEMPORARY_STATUS_CODES_V0_21_5,
    GoEOF,
    NetworkError,
    TransportError,
    UnexpectedEOF,
)

__all__ = [
    "Backoff",
    "PROFILES",
    "RetryProfile",
    "ggcr_retry_predicate",
    "resolve_profile",
    "retry_call",
]

T = TypeVar("T")
_NS = 1_000_000_000


@dataclass(frozen=True)
class RetryProfile:
    """One ggcr release's transport retry behaviour.

    ``status_codes``: response statuses the transport retries (``defaultRetryStatusCodes``).
    ``duration``/``factor``/``jitter``/``steps``: ``defaultRetryBackoff`` (seconds).
    ``temporary_status_codes``: what :meth:`TransportError.temporary` accepts without diagnostics.
    ``restore_body``: False reproduces v0.21.5, whose retry layer consumed the body of a retried
    response, so the final error had no body and no diagnostics.
    ``retry_network``: retry EOF / connection reset / timeouts (``defaultRetryPredicate``).
    """

    name: str
    status_codes: tuple[int, ...] = ()
    duration: float = 1.0
    factor: float = 3.0
    jitter: float = 0.1
    steps: int = 3
    temporary_status_codes: tuple[int, ...] = field(
        default_factory=lambda: tuple(sorted(TEMPORARY_STATUS_CODES))
    )
    restore_body: bool = True
    retry_network: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"RetryProfile.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"RetryProfile.steps must be an integer >= 1, got {self.steps!r}")
        for label in ("duration", "factor", "jitter"):
            value = getattr(self, label)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"RetryProfile.{label} must be a number >= 0, got {value!r}")
        for label in ("status_codes", "temporary_status_codes"):
            codes = getattr(self, label)
            if not all(isinstance(c, int) and 100 <= c <= 599 for c in codes):
                raise ValueError(f"RetryProfile.{label} must hold HTTP status codes, got {codes!r}")
            object.__setattr__(self, label, tuple(codes))

    @property
    def tries(self) -> int:
        """How many times one request is sent at most."""
        return self.steps

    def retries_status(self, status: int) -> bool:
        """True when a response with ``status`` is retried."""
        return status in self.status_codes

    def backoff(self, rng: random.Random | None = None) -> Backoff:
        """A fresh backoff state for one operation."""
        return Backoff(self, rng if rng is not None else random.Random(0))

    def schedule(self, seed: int = 0) -> list[float]:
        """The sleeps (seconds) of one request that fails every try, for a given jitter seed."""
        b = self.backoff(random.Random(seed))
        return [b.step() for _ in range(self.steps - 1)]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (lists for tuples), the inverse of :meth:`from_dict`."""
        d = asdict(self)
        d["status_codes"] = list(self.status_codes)
        d["temporary_status_codes"] = list(self.temporary_status_codes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RetryProfile:
        """Build from :meth:`to_dict` output; unknown keys raise ``ValueError`` naming them."""
        if not isinstance(d, Mapping):
            raise ValueError(f"retry profile must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"retry profile: unknown key(s) {', '.join(unknown)}")
        kw = dict(d)
        for key in ("status_codes", "temporary_status_codes"):
            if key in kw:
                if not isinstance(kw[key], list | tuple):
                    raise ValueError(f"retry profile: {key} must be a list of status codes")
                kw[key] = tuple(kw[key])
        return cls(**kw)


class Backoff:
    """k8s ``wait.Backoff`` state as ggcr uses it: each :meth:`step` returns the next sleep."""

    def __init__(self, profile: RetryProfile, rng: random.Random) -> None:
        self.steps = profile.steps
        self._duration_ns = int(profile.duration * _NS)
        self._factor = profile.factor
        self._jitter = profile.jitter
        self._rng = rng

    def step(self) -> float:
        """The next sleep in seconds (Go truncates each product to whole nanoseconds)."""
        self.steps -= 1
        duration = self._duration_ns
        if self._factor:
            self._duration_ns = int(self._duration_ns * self._factor)
        if self._jitter > 0:
            duration = duration + int(self._rng.random() * self._jitter * duration)
        return duration / _NS


def retry_call(
    fn: Callable[[], T],
    should_retry: Callable[[T | None, BaseException | None], bool],
    profile: RetryProfile,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> T:
    """Run ``fn`` like ggcr's ``retry.Retry``: up to ``profile.steps`` tries while
    ``should_retry(result, error)`` says so, sleeping the backoff between tries. The last
    outcome is returned or raised unchanged."""
    backoff = profile.backoff(rng)
    while True:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - the predicate decides
            error = exc
        if backoff.steps <= 1 or not should_retry(result, error):
            if error is not None:
                raise error
            return result  # type: ignore[return-value]
        sleep(backoff.step())


def ggcr_retry_predicate(err: BaseException | None) -> bool:
    """ggcr's ``defaultRetryPredicate``: temporary errors, EOF, unexpected EOF, EPIPE,
    ECONNRESET (and timeouts, which Go's net errors report as temporary)."""
    if err is None:
        return False
    if isinstance(err, TransportError):
        return err.temporary()
    if isinstance(err, NetworkError):
        return err.retryable()
    return isinstance(err, GoEOF | UnexpectedEOF)


_BASE_CODES = (408, 500, 502, 503, 504, 499, 522)

#: The selectable profiles, by name.
PROFILES: dict[str, RetryProfile] = {
    "ggcr-v0.21.5": RetryProfile(
        name="ggcr-v0.21.5",
        status_codes=_BASE_CODES,
        temporary_status_codes=tuple(sorted(TEMPORARY_STATUS_CODES_V0_21_5)),
        restore_body=False,
    ),
    "ggcr-v0.21.9": RetryProfile(
        name="ggcr-v0.21.9",
        status_codes=(408, 429, 500, 502, 503, 504, 499, 522),
    ),
    "none": RetryProfile(name="none", status_codes=(), steps=1, retry_network=False),
}


def resolve_profile(profile: str | RetryProfile | None) -> RetryProfile:
    """A :class:`RetryProfile` from a name (``ggcr-v0.21.5``, ``ggcr-v0.21.9``, ``none``), a
    profile value, or None (``ggcr-v0.21.9``)."""
    if profile is None:
        return PROFILES["ggcr-v0.21.9"]
    if isinstance(profile, RetryProfile):
        return profile
    if isinstance(profile, str) and profile in PROFILES:
        return PROFILES[profile]
    raise ValueError(f"unknown retry profile {profile!r}; choose one of {', '.join(PROFILES)}")

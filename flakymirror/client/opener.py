"""lifecycle's retrying opener (``phase/retry.go``, PR #1675).

:func:`open_remote_image` calls ``new_image()`` for a **fresh** image on every attempt and
sniffs it with ``top_layer()``; a transport error with status 400, 401, 403, 405 or 429 anywhere
in the exception chain stops at once; any other failure logs a warning and sleeps the next delay
(100ms, 200ms, 500ms, 1s, 2s); the last failure is raised unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

from flakymirror.client.errors import find_transport_error
from flakymirror.client.goformat import go_duration
from flakymirror.oci.policy import LIFECYCLE_POLICY, OpenerPolicy

__all__ = [
    "LIFECYCLE_DELAYS",
    "LIFECYCLE_POLICY",
    "NON_RETRYABLE_STATUSES",
    "OpenerPolicy",
    "is_retryable",
    "open_remote_image",
]

#: ``topLayerDelays``: 5 retries, so 6 attempts in all, 3.8 s of sleeps at most.
LIFECYCLE_DELAYS: tuple[float, ...] = LIFECYCLE_POLICY.delays
#: Statuses ``isRetryable`` refuses (numeric check only; diagnostics are not looked at).
NON_RETRYABLE_STATUSES = frozenset(LIFECYCLE_POLICY.non_retryable)


def is_retryable(err: BaseException, policy: OpenerPolicy = LIFECYCLE_POLICY) -> bool:
    """lifecycle ``isRetryable``: False only when a :class:`TransportError` in the chain has
    one of ``policy``'s non-retryable statuses (lifecycle's: 400, 401, 403, 405 and 429);
    every other error (plain ones included) is retryable."""
    terr = find_transport_error(err)
    if terr is None:
        return True
    return policy.retries(terr.status_code)


class _HasTopLayer(Protocol):
    def top_layer(self) -> str: ...


I = TypeVar("I", bound=_HasTopLayer)  # noqa: E741 - mirrors imgutil.Image


def open_remote_image(
    new_image: Callable[[], I],
    *,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
    delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] | None = None,
    policy: OpenerPolicy = LIFECYCLE_POLICY,
) -> I:
    """lifecycle ``OpenRemoteImage``: ``policy.attempts`` attempts of ``new_image()`` followed
    by ``.top_layer()`` on the result (``delays``, when given, replaces the policy's delays).

    A non-retryable error (:func:`is_retryable`) is raised at once, with no sleep and no log.
    Otherwise a WARNING ``Failed to open remote image (attempt 1/6): <err>, retrying in 100ms``
    is logged and ``sleep(delay)`` called; the last attempt's error is raised unchanged. A success
    after failures logs INFO ``Successfully opened remote image after N retries``.
    """
    log = logger if logger is not None else logging.getLogger("flakymirror.client")
    sleep_fn = sleep if sleep is not None else time.sleep
    if delays is not None:
        policy = replace(policy, delays=tuple(delays))
    delays = policy.delays
    last_err: BaseException | None = None
    for attempt in range(len(delays) + 1):
        try:
            img = new_image()
            img.top_layer()
        except Exception as err:  # noqa: BLE001 - lifecycle treats every error alike
            last_err = err
            if not is_retryable(err, policy):
                raise
            if attempt < len(delays):
                log.warning(
                    "Failed to open remote image (attempt %d/%d): %s, retrying in %s",
                    attempt + 1,
                    len(delays) + 1,
                    err,
                    go_duration(delays[attempt]),
                )
                sleep_fn(delays[attempt])
            continue
        if attempt > 0:
            log.info("Successfully opened remote image after %d retries", attempt)
        return img
    assert last_err is not None
    raise last_err

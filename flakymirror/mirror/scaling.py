"""Running a value faster or slower: the arithmetic every ``scaled(factor)`` shares.

A scenario run with ``--time-scale F`` divides every time in it by ``F`` (so an incident that
takes minutes runs in seconds): durations are divided, bandwidths multiplied, request counts
kept. ``Retry-After`` carries whole seconds, so it is rounded *up*.
"""

from __future__ import annotations

import math
from typing import Any

from flakymirror.mirror.forms import MAX_SECONDS, FormError, number

__all__ = ["scale_headers", "scale_retry_after", "scale_seconds", "time_factor"]


def time_factor(value: Any, path: str = "factor") -> float:
    """A time-scale factor: a finite number > 0 (2 = twice as fast, 0.5 = half as fast)."""
    f = number(value, path)
    if f <= 0:
        raise FormError(path, f"must be > 0, got {f:g}")
    return f


def scale_seconds(value: float, factor: float) -> float:
    """A bounded duration ``value`` divided by ``factor``, ten years at most (a slowed-down
    ten-year wait is still "forever")."""
    return value if factor == 1 else min(value / factor, MAX_SECONDS)


def scale_retry_after(value: float, factor: float) -> float:
    """A ``Retry-After`` of ``value`` seconds divided by ``factor`` and rounded *up* to a whole
    second (at least 1 when it was at least 1), ten years at most."""
    if factor == 1:
        return value
    out = float(math.ceil(value / factor - 1e-9))
    return min(max(out, 1.0 if value >= 1 else 0.0), float(MAX_SECONDS))


def scale_headers(headers: dict[str, str], factor: float) -> dict[str, str]:
    """``headers`` with a ``Retry-After`` in whole seconds scaled by :func:`scale_retry_after`
    (an HTTP-date, or any other header, is kept as it is)."""
    out = {}
    for name, value in headers.items():
        if factor != 1 and name.lower() == "retry-after" and value.isdigit():
            value = str(int(scale_retry_after(min(int(value), MAX_SECONDS), factor)))
        out[name] = value
    return out

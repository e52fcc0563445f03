"""The real time functions, out of freezegun's reach.

``VirtualClock.patch()`` freezes time for a client under test with freezegun, which re-points
every module-level name that is a real time function. The server must keep real time under
it (a frozen monotonic clock would cut every connection off, a frozen sleep would never end),
so the functions it needs are kept here as attributes of a class, which freezegun leaves alone.
"""

from __future__ import annotations

import time as _time

__all__ = ["Real"]


class Real:
    """``Real.time()``, ``Real.monotonic()``, ``Real.sleep(s)``: always the real ones."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)
    sleep = staticmethod(_time.sleep)

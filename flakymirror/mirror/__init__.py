"""The flaky mirror: sync plans, fault rules, clocks, journal, upstream adapters, control API.

>>> from flakymirror.mirror import FlakyMirror, SyncPlan, Interval, VirtualClock
>>> from flakymirror.oci import build_image
>>> clock = VirtualClock()
>>> with FlakyMirror(clock=clock, plan=SyncPlan(Interval(0.5))) as mirror:
...     _ = mirror.push_upstream(build_image(layers=3), "lib/app:1")
"""

from flakymirror.mirror._forms import FormError
from flakymirror.mirror.actions import (
    Close,
    Corrupt,
    Delay,
    Drip,
    Garbage,
    Headers,
    Pass,
    Reset,
    Stall,
    Status,
    Truncate,
    WrongDigest,
    action_from_dict,
)
from flakymirror.mirror.clock import Clock, RealClock, VirtualClock, clock_from_dict
from flakymirror.mirror.faults import FaultRule, Faults, Sequence, fail, rules_from_dict
from flakymirror.mirror.journal import Journal, JournalEntry, JournalQueryError
from flakymirror.mirror.match import KINDS, Endpoint, Match, classify
from flakymirror.mirror.mirror import FlakyMirror
from flakymirror.mirror.plans import (
    MODES,
    AtOnce,
    Bandwidth,
    Interval,
    Requests,
    SyncPlan,
    Timeline,
    plans_from_dict,
    schedule_from_dict,
)
from flakymirror.mirror.presets import hap429, html_403, pull_rate_limit
from flakymirror.mirror.settle import Settle
from flakymirror.mirror.upstream import InProcessUpstream, Upstream


def plan_from_dict(data: object) -> SyncPlan | tuple[SyncPlan, ...]:
    """A plan from its dict form (a table → one :class:`SyncPlan`, a list → a tuple of them).

    Errors are :class:`FormError` (a ``ValueError``) whose message starts with the key path.
    """
    plans = plans_from_dict(data)
    return plans if isinstance(data, list) else plans[0]


def fault_from_dict(data: object) -> FaultRule:
    """A fault rule from its dict form (alias of :meth:`FaultRule.from_dict`)."""
    return FaultRule.from_dict(data)


__all__ = [
    "KINDS",
    "MODES",
    "AtOnce",
    "Bandwidth",
    "Clock",
    "Close",
    "Corrupt",
    "Delay",
    "Drip",
    "Endpoint",
    "FaultRule",
    "Faults",
    "FlakyMirror",
    "FormError",
    "Garbage",
    "Headers",
    "InProcessUpstream",
    "Interval",
    "Journal",
    "JournalEntry",
    "JournalQueryError",
    "Match",
    "Pass",
    "RealClock",
    "Requests",
    "Reset",
    "Sequence",
    "Settle",
    "Stall",
    "Status",
    "SyncPlan",
    "Timeline",
    "Truncate",
    "Upstream",
    "VirtualClock",
    "WrongDigest",
    "action_from_dict",
    "classify",
    "clock_from_dict",
    "fail",
    "fault_from_dict",
    "hap429",
    "html_403",
    "plan_from_dict",
    "plans_from_dict",
    "pull_rate_limit",
    "rules_from_dict",
    "schedule_from_dict",
]

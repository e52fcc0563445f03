"""The flaky mirror: sync plans, fault rules, clocks, journal, upstream adapters, control API.

>>> from flakymirror.mirror import FlakyMirror, SyncPlan, Interval, VirtualClock
>>> from flakymirror.oci import build_image
>>> clock = VirtualClock()
>>> with FlakyMirror(clock=clock, plan=SyncPlan(Interval(0.5))) as mirror:
...     _ = mirror.push_upstream(build_image(layers=3), "lib/app:1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flakymirror._lazy import lazy

if TYPE_CHECKING:
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
    from flakymirror.mirror.core import MirrorCore
    from flakymirror.mirror.faults import FaultRule, Faults, Sequence, fail, rules_from_dict
    from flakymirror.mirror.forms import FormError
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
    from flakymirror.mirror.upstream import (
        BlobFetcher,
        InProcessUpstream,
        RepositoryChecker,
        Upstream,
    )

#: public name → the module that holds it; imported on first use, so that reading a scenario
#: file (plans, fault rules) does not load the server side (werkzeug, requests)
_HOME = {
    "Close": "actions",
    "Corrupt": "actions",
    "Delay": "actions",
    "Drip": "actions",
    "Garbage": "actions",
    "Headers": "actions",
    "Pass": "actions",
    "Reset": "actions",
    "Stall": "actions",
    "Status": "actions",
    "Truncate": "actions",
    "WrongDigest": "actions",
    "action_from_dict": "actions",
    "Clock": "clock",
    "RealClock": "clock",
    "VirtualClock": "clock",
    "clock_from_dict": "clock",
    "MirrorCore": "core",
    "FaultRule": "faults",
    "Faults": "faults",
    "Sequence": "faults",
    "fail": "faults",
    "rules_from_dict": "faults",
    "FormError": "forms",
    "Journal": "journal",
    "JournalEntry": "journal",
    "JournalQueryError": "journal",
    "KINDS": "match",
    "Endpoint": "match",
    "Match": "match",
    "classify": "match",
    "FlakyMirror": "mirror",
    "MODES": "plans",
    "AtOnce": "plans",
    "Bandwidth": "plans",
    "Interval": "plans",
    "Requests": "plans",
    "SyncPlan": "plans",
    "Timeline": "plans",
    "plans_from_dict": "plans",
    "schedule_from_dict": "plans",
    "hap429": "presets",
    "html_403": "presets",
    "pull_rate_limit": "presets",
    "Settle": "settle",
    "BlobFetcher": "upstream",
    "InProcessUpstream": "upstream",
    "RepositoryChecker": "upstream",
    "Upstream": "upstream",
}

__all__ = [
    "KINDS",
    "MODES",
    "AtOnce",
    "Bandwidth",
    "BlobFetcher",
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
    "MirrorCore",
    "Pass",
    "RealClock",
    "RepositoryChecker",
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
    "hap429",
    "html_403",
    "plans_from_dict",
    "pull_rate_limit",
    "rules_from_dict",
    "schedule_from_dict",
]

__getattr__, __dir__ = lazy(__name__, _HOME, __all__)

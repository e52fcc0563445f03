"""When a mirror value stops misbehaving: the :class:`Settle` fact that
:meth:`SyncPlan.settles <flakymirror.mirror.plans.SyncPlan.settles>` and
:meth:`FaultRule.settles <flakymirror.mirror.faults.FaultRule.settles>` return.

Each value states only its own part; combining the parts of an incident (the latest time, the
most requests) is the scenario layer's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flakymirror.mirror.forms import Form, FormError, integer, number, one_of

__all__ = ["SINCE", "Settle"]

#: What a :attr:`Settle.seconds` counts from.
SINCE = ("epoch", "first-request")


@dataclass(frozen=True)
class Settle:
    """When a value behaves normally from then on.

    * ``seconds``: once this many seconds have passed on the mirror clock, counted from
      ``since``: ``"epoch"`` (the mirror's creation or last reset) or ``"first-request"`` (the
      first request for the image, where a sync plan without ``start_at`` starts);
    * ``requests``: once this many requests have been counted (what is counted depends on the
      value: see ``SyncPlan.settles`` and ``FaultRule.settles``);
    * both ``None`` (and ``never`` false): it never misbehaves at all;
    * ``never``: it misbehaves for as long as the mirror runs (or it may: a rule that fires by
      ``probability`` has no bound), and ``known=False``: it cannot be told from the value
      alone (a bandwidth plan asked without the unit sizes).

    When both ``seconds`` and ``requests`` are given, both have been reached by then; where
    either alone would do (a rule bounded by ``times`` and by a ``window``), the pair is an
    upper bound.
    """

    seconds: float | None = None
    requests: int | None = None
    never: bool = False
    known: bool = True
    since: str = "epoch"

    def __post_init__(self) -> None:
        if self.seconds is not None:
            object.__setattr__(self, "seconds", number(self.seconds, "seconds", minimum=0))
        if self.requests is not None:
            object.__setattr__(self, "requests", integer(self.requests, "requests", minimum=0))
        for name in ("never", "known"):
            if not isinstance(getattr(self, name), bool):
                raise FormError(name, f"expected true or false, got {getattr(self, name)!r}")
        one_of(self.since, SINCE, "since")
        if (self.never or not self.known) and (
            self.seconds is not None or self.requests is not None
        ):
            raise FormError("never", "a value that never settles (or is unknown) has no bound")

    @classmethod
    def at_once(cls) -> Settle:
        """Never misbehaves."""
        return cls()

    @classmethod
    def unbounded(cls) -> Settle:
        """Misbehaves for as long as the mirror runs (``never=True``)."""
        return cls(never=True)

    @classmethod
    def unknown(cls) -> Settle:
        """Cannot be told from the value alone (``known=False``)."""
        return cls(known=False)

    def __str__(self) -> str:
        if not self.known:
            return "unknown"
        if self.never:
            return "never"
        parts = []
        if self.seconds is not None:
            origin = "" if self.since == "epoch" else " after the first request"
            parts.append(f"{self.seconds:g} s{origin}")
        if self.requests is not None:
            parts.append(f"{self.requests} request{'s' if self.requests != 1 else ''}")
        return " and ".join(parts) if parts else "at once"

    def to_dict(self) -> dict[str, Any]:
        """The dict form, leaving out fields at their defaults."""
        d: dict[str, Any] = {}
        if self.seconds is not None:
            d["seconds"] = self.seconds
        if self.requests is not None:
            d["requests"] = self.requests
        if self.never:
            d["never"] = True
        if not self.known:
            d["known"] = False
        if self.since != "epoch":
            d["since"] = self.since
        return d

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> Settle:
        """Read the dict form; errors name the key path."""
        form = Form(data, path, allowed={"seconds", "requests", "never", "known", "since"})
        try:
            return cls(**dict(form.data))
        except FormError as exc:
            raise exc.within(form.path) from exc

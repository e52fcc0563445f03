"""Fault rules (matcher + action), sequences, the "fail N times, then" shortcut, and the
thread-safe runtime that decides which rules fire for a request.

>>> rule = fail(2, Status(503), kind="manifest").then(hap429())
>>> [type(a).__name__ for a in rule.action.steps[2]]
['Status']
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from flakymirror.mirror.actions import Action, Pass, _Base, action_from_dict
from flakymirror.mirror.forms import MAX_STEPS, Form, FormError, integer, join, one_of
from flakymirror.mirror.match import Endpoint, Match
from flakymirror.mirror.scaling import time_factor
from flakymirror.mirror.settle import Settle

__all__ = ["FaultRule", "Faults", "Sequence", "fail", "rules_from_dict"]

Step = tuple[Action, ...]


def _as_step(value: Any, path: Any) -> Step:
    if isinstance(value, _Base) and not isinstance(value, Sequence):
        return (value,)  # type: ignore[return-value]
    if (
        isinstance(value, tuple | list)
        and value
        and all(isinstance(a, _Base) and not isinstance(a, Sequence) for a in value)
    ):
        return tuple(value)
    raise FormError(path, f"expected an action or a non-empty list of actions, got {value!r}")


@dataclass(frozen=True)
class Sequence(_Base):
    """Responses in order, one step per matching request (WireMock's scenario idiom).

    Each step is one action or several applied together (e.g. a delay and a status). After the
    last step: ``then="pass"`` behaves normally, ``"repeat-last"`` keeps the last step,
    ``"cycle"`` starts over.
    At most 10000 steps (``times`` counted); for longer runs use ``"repeat-last"`` or
    ``Match(times=...)``.
    """

    steps: tuple[Step, ...] = ()
    then: str = "pass"
    kind: ClassVar[str] = "sequence"
    stage: ClassVar[str] = "sequence"

    def __post_init__(self) -> None:
        if not isinstance(self.steps, tuple | list) or not self.steps:
            raise FormError("steps", "expected a non-empty list of steps")
        _check_steps(len(self.steps), "steps")
        steps = tuple(_as_step(s, ("steps", i)) for i, s in enumerate(self.steps))
        object.__setattr__(self, "steps", steps)
        one_of(self.then, ("pass", "repeat-last", "cycle"), "then")

    def step(self, i: int) -> Step:
        """The actions for the ``i``-th (0-based) application."""
        if i < len(self.steps):
            return self.steps[i]
        if self.then == "repeat-last":
            return self.steps[-1]
        if self.then == "cycle":
            return self.steps[i % len(self.steps)]
        return (Pass(),)

    def scaled(self, factor: float) -> Sequence:
        """Every step's actions run ``factor`` times faster."""
        f = time_factor(factor)
        if f == 1:
            return self
        return replace(self, steps=tuple(tuple(a.scaled(f) for a in s) for s in self.steps))

    def misbehaving_steps(self) -> int | None:
        """How many applications may misbehave: up to the last step that is not all ``pass``
        (None: no bound, a ``repeat-last`` or ``cycle`` that keeps misbehaving)."""
        bad = [i for i, step in enumerate(self.steps) if not _is_pass(step)]
        if not bad:
            return 0
        if self.then == "cycle" or (self.then == "repeat-last" and bad[-1] == len(self.steps) - 1):
            return None
        return bad[-1] + 1

    def to_dict(self) -> dict[str, Any]:
        """The dict form; runs of equal steps are written once with ``times``."""
        out: list[Any] = []
        for step in self.steps:
            form = _step_dict(step)
            if out and isinstance(out[-1], dict) and out[-1].get("action") == form:
                out[-1]["times"] += 1
            else:
                out.append({"times": 1, "action": form})
        steps = [s["action"] if s["times"] == 1 else s for s in out]
        return {"kind": self.kind, "steps": steps, "then": self.then}


def _is_pass(step: Step) -> bool:
    return all(isinstance(a, Pass) for a in step)


def _check_steps(n: int, path: Any) -> None:
    if n > MAX_STEPS:
        raise FormError(
            path,
            f"a sequence holds at most {MAX_STEPS} steps, got {n} (for longer runs use "
            "then='repeat-last' or match.times)",
        )


def _step_dict(step: Step) -> Any:
    return step[0].to_dict() if len(step) == 1 else [a.to_dict() for a in step]


def _step_from_dict(data: Any, path: Any) -> list[Step]:
    if isinstance(data, dict) and "times" in data:
        form = Form(data, path, allowed={"times", "action"})
        times = form.integer("times", minimum=1, maximum=MAX_STEPS)
        return [_step_from_dict(form.raw("action"), form.key("action"))[0]] * times
    if isinstance(data, list):
        if not data:
            raise FormError(path, "expected at least one action")
        return [tuple(action_from_dict(a, join(path, i)) for i, a in enumerate(data))]
    return [(action_from_dict(data, path),)]


@dataclass(frozen=True)
class FaultRule:
    """A matcher and what to do: one action, several applied together, or a :class:`Sequence`."""

    match: Match = field(default_factory=Match)
    action: Any = field(default_factory=Pass)
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.match, Match):
            raise FormError("match", f"expected a Match, got {self.match!r}")
        if not isinstance(self.action, Sequence):
            object.__setattr__(self, "action", _as_step(self.action, "action"))

    def actions(self, applied: int) -> Step:
        """The actions for the ``applied``-th (0-based) time this rule fires."""
        if isinstance(self.action, Sequence):
            return self.action.step(applied)
        return self.action

    def scaled(self, factor: float) -> FaultRule:
        """This rule run ``factor`` times faster (``factor`` > 0): its ``window`` and every
        action's durations divided (``Retry-After`` rounded up to whole seconds); counts stay.
        ``scaled(1)`` is this rule."""
        f = time_factor(factor)
        if f == 1:
            return self
        if isinstance(self.action, Sequence):
            action: Any = self.action.scaled(f)
        else:
            action = tuple(a.scaled(f) for a in self.action)
        return FaultRule(self.match.scaled(f), action, self.name)

    def settles(self) -> Settle:
        """When this rule stops misbehaving, from the rule alone.

        ``requests`` counts the requests its static fields match (method, kind, repo,
        reference, reference type: HEAD and GET alike unless ``method`` says otherwise)
        inside its window: ``times=N`` → N; ``nth`` → the last occurrence that can still
        misbehave (``max(nth)`` at most); a sequence ending in ``then="pass"`` → its steps up to
        the last one that is not ``pass``. ``seconds`` is the end of its ``window`` (from the
        epoch). A rule whose actions are all ``pass`` never misbehaves (``Settle()``). With
        neither bound (an open window, or only a ``probability``) it is ``never``.
        """
        m = self.match
        if isinstance(self.action, Sequence):
            applied = self.action.misbehaving_steps()
        else:
            applied = 0 if _is_pass(self.action) else None
        if m.times is not None:
            applied = m.times if applied is None else min(applied, m.times)
        if applied == 0 or m.probability == 0:
            return Settle.at_once()
        certain = m.probability is None or m.probability == 1
        requests: int | None = None
        if m.nth is not None:
            nth = sorted(m.nth)  # with a probability, any of them may be the last one applied
            last = applied is None or not certain
            requests = nth[-1] if last else nth[min(applied, len(nth)) - 1]
        elif applied is not None and certain:
            requests = applied
        end = m.window[1] if m.window is not None else None
        if requests is None and end is None:
            return Settle.unbounded()
        return Settle(seconds=end, requests=requests)

    def then(self, action: Any, times: int = 1) -> FaultRule:
        """This rule's steps followed by ``action`` ``times`` times, then normal behaviour."""
        steps = self.action.steps if isinstance(self.action, Sequence) else (self.action,)
        times = integer(times, "times", minimum=1, maximum=MAX_STEPS)
        _check_steps(len(steps) + times, "times")
        new = Sequence((*steps, *([_as_step(action, "action")] * times)), then="pass")
        return FaultRule(self.match, new, self.name)

    def to_dict(self) -> dict[str, Any]:
        """The dict form: ``name`` (if any), ``match``, ``action``."""
        d: dict[str, Any] = {}
        if self.name is not None:
            d["name"] = self.name
        d["match"] = self.match.to_dict()
        if isinstance(self.action, Sequence):
            d["action"] = self.action.to_dict()
        else:
            d["action"] = _step_dict(self.action)
        return d

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> FaultRule:
        """Read ``{"match": {...}, "action": {...} | [...], "name": ...}``."""
        form = Form(data, path, allowed={"match", "action", "name"})
        match = Match.from_dict(form.raw("match", {}), form.key("match"))
        raw = form.raw("action")
        apath = form.key("action")
        if isinstance(raw, dict) and raw.get("kind") == "sequence":
            sform = Form(raw, apath, allowed={"kind", "steps", "then"})
            steps: list[Step] = []
            for i, step in enumerate(sform.array("steps", None, ())):
                steps.extend(_step_from_dict(step, sform.key("steps") + (i,)))
                _check_steps(len(steps), sform.key("steps"))
            try:
                action: Any = Sequence(tuple(steps), then=sform.string("then", "pass"))
            except FormError as exc:
                raise exc.within(apath) from exc
        else:
            action = _step_from_dict(raw, apath)[0]
        return cls(match, action, form.string("name", None))


def fail(times: int, action: Any, *, match: Match | None = None, **match_kw: Any) -> FaultRule:
    """``action`` for the first ``times`` matching requests, then normal behaviour.

    ``fail(2, Status(503), kind="manifest")``; chain ``.then(other)`` for longer sequences.
    """
    times = integer(times, "times", minimum=1, maximum=MAX_STEPS)
    if match is None:
        match = Match(**match_kw)
    elif match_kw:
        raise TypeError("give either match= or matcher keywords, not both")
    return FaultRule(match, Sequence((_as_step(action, "action"),) * times, then="pass"))


def rules_from_dict(data: Any, path: Any = "") -> tuple[FaultRule, ...]:
    """One rule (a table) or a list of rules."""
    if isinstance(data, list):
        return tuple(FaultRule.from_dict(d, join(path, i)) for i, d in enumerate(data))
    return (FaultRule.from_dict(data, path),)


@dataclass
class _State:
    seen: int = 0
    applied: int = 0
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Fired:
    """A rule that fired for a request: its index, the rule and the actions to run."""

    index: int
    rule: FaultRule
    actions: Step

    def label(self) -> str:
        names = "+".join(a.kind for a in self.actions)
        return f"{self.rule.name or f'#{self.index}'}:{names}"


class Faults:
    """The mirror's active rules with their counters; thread-safe."""

    def __init__(self, rules: Iterable[FaultRule] = ()) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, _State]] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: FaultRule) -> FaultRule:
        """Append ``rule`` with fresh counters (and its own seeded random source)."""
        if not isinstance(rule, FaultRule):
            raise TypeError(f"expected a FaultRule, got {rule!r}")
        with self._lock:
            self._rules.append((rule, _State(rng=random.Random(rule.match.seed))))
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def __bool__(self) -> bool:
        return bool(self._rules)

    @property
    def rules(self) -> list[FaultRule]:
        """The rules in the order they fire (a copy)."""
        with self._lock:
            return [r for r, _ in self._rules]

    def counters(self) -> list[dict[str, int]]:
        """Per rule: how many requests it saw (``seen``) and how often it fired (``applied``)."""
        with self._lock:
            return [{"seen": s.seen, "applied": s.applied} for _, s in self._rules]

    def fire(self, method: str, endpoint: Endpoint, t: float) -> list[Fired]:
        """Decide, in rule order, which rules fire for this request (``t``: mirror seconds)."""
        fired: list[Fired] = []
        with self._lock:
            for i, (rule, state) in enumerate(self._rules):
                m = rule.match
                if not m.static_match(method, endpoint) or not m.in_window(t):
                    continue
                state.seen += 1
                if m.nth is not None and state.seen not in m.nth:
                    continue
                if m.times is not None and state.applied >= m.times:
                    continue
                if m.probability is not None and state.rng.random() >= m.probability:
                    continue
                actions = rule.actions(state.applied)
                state.applied += 1
                fired.append(Fired(i, rule, actions))
        return fired

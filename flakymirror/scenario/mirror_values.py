"""The bridge to the mirror's own values: sync plans and fault rules in their dict form.

A scenario's ``[mirror]`` tables are exactly what the mirror's ``from_dict`` functions accept
(``SyncPlan.from_dict`` and ``FaultRule.from_dict``); this module calls them and maps their
``FormError`` (a ``ValueError`` carrying the key path) back to a path inside the table.
"""

from __future__ import annotations

import re
from typing import Any

from flakymirror.mirror.faults import FaultRule
from flakymirror.mirror.plans import SyncPlan
from flakymirror.scenario.fields import suggest

__all__ = ["fault_from_dict", "plans_from_dict", "split_error"]

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def plans_from_dict(data: Any) -> tuple[Any, ...]:
    """The mirror's sync plans for one table or a list of tables (first match wins)."""
    if isinstance(data, list):
        if not data:
            raise ValueError("expected at least one plan")
        out = []
        for i, item in enumerate(data):
            try:
                out.append(SyncPlan.from_dict(item, ""))
            except ValueError as e:
                raise _Prefixed(i, e) from e
        return tuple(out)
    return (SyncPlan.from_dict(data, ""),)


def fault_from_dict(data: Any) -> FaultRule:
    """The mirror's fault rule for ``data`` (raises the mirror's ``ValueError``)."""
    return FaultRule.from_dict(data, "")


class _Prefixed(ValueError):
    """A mirror error inside element ``index`` of a list of tables."""

    def __init__(self, index: int, err: ValueError) -> None:
        super().__init__(str(err))
        self.index = index
        self.err = err


def split_error(err: Exception) -> tuple[tuple[str | int, ...], str]:
    """Split the mirror's error into (key path relative to the table, reason).

    The mirror's ``FormError`` carries ``.path`` ("schedule.kind", "action.steps[1].status")
    and ``.reason``; any other error keeps its whole text and no path.
    """
    prefix: tuple[str | int, ...] = ()
    if isinstance(err, _Prefixed):
        prefix, err = (err.index,), err.err
    path = getattr(err, "path", None)
    reason = getattr(err, "reason", None)
    if not isinstance(path, str) or not isinstance(reason, str):
        return prefix, str(err)
    parts: list[str | int] = []
    for name, index in _PART.findall(path):
        parts.append(int(index) if index else name)
    got, choices = getattr(err, "got", None), getattr(err, "choices", None)
    hint = suggest(got, choices) if got is not None and choices else ""
    return prefix + tuple(parts), reason + hint

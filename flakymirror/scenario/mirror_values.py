"""The bridge to the mirror's own values: sync plans and fault rules in their dict form.

A scenario's ``[mirror]`` tables are exactly what the mirror's ``from_dict`` functions accept
(``SyncPlan.from_dict`` and ``FaultRule.from_dict``); this module calls them and maps their
``FormError`` (a ``ValueError`` carrying the key path) back to a path inside the table.
"""

from __future__ import annotations

import re
from typing import Any

from flakymirror.scenario.fields import suggest

__all__ = ["Unavailable", "fault_from_dict", "mirror_name", "plans_from_dict", "split_error"]

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Unavailable(RuntimeError):
    """The mirror package (or the name needed from it) cannot be imported."""


def mirror_name(name: str, module: str) -> Any:
    """``flakymirror.mirror.<name>``, or ``flakymirror.mirror.<module>.<name>`` if the package
    does not re-export it."""
    try:
        import flakymirror.mirror as package

        if hasattr(package, name):
            return getattr(package, name)
        import importlib

        return getattr(importlib.import_module(f"flakymirror.mirror.{module}"), name)
    except (ImportError, AttributeError) as e:  # pragma: no cover - a broken install
        raise Unavailable(f"cannot read mirror settings: flakymirror.mirror.{name}: {e}") from e


def plans_from_dict(data: Any) -> tuple[Any, ...]:
    """The mirror's sync plans for one table or a list of tables (first match wins)."""
    if isinstance(data, list):
        plan = mirror_name("SyncPlan", "plans")
        if not data:
            raise ValueError("expected at least one plan")
        out = []
        for i, item in enumerate(data):
            try:
                out.append(plan.from_dict(item, ""))
            except ValueError as e:
                raise _Prefixed(i, e) from e
        return tuple(out)
    return (mirror_name("SyncPlan", "plans").from_dict(data, ""),)


def fault_from_dict(data: Any) -> Any:
    """The mirror's fault rule for ``data`` (raises the mirror's ``ValueError``)."""
    return mirror_name("FaultRule", "faults").from_dict(data, "")


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
    return prefix + tuple(parts), reason + _did_you_mean(reason)


_UNKNOWN = re.compile(r"^unknown key '([^']*)' \(allowed: ([^)]*)\)")
_CHOICE = re.compile(r"^'([^']*)' is not one of (.*)$")
_KIND = re.compile(r"^unknown [\w ]+ '([^']*)' \(known: ([^)]*)\)")


def _did_you_mean(reason: str) -> str:
    """Add a "did you mean" to the mirror's unknown-key and bad-choice messages."""
    for pattern in (_UNKNOWN, _CHOICE, _KIND):
        m = pattern.match(reason)
        if m:
            choices = [c.strip().strip("'") for c in m.group(2).split(",")]
            return suggest(m.group(1), choices)
    return ""

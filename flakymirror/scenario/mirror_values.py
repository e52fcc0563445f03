"""The bridge to the mirror's own values: sync plans and fault rules in their dict form.

A scenario's ``[mirror]`` tables are exactly what the mirror's ``from_dict`` functions accept;
this module calls them and maps their ``ValueError`` back to a key path inside the table.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Unavailable", "fault_from_dict", "plan_from_dict", "split_error"]

# "match.times: must be ..." / "action['status']: ..." / "'kind': ..." at the start of a message
_LEADING_PATH = re.compile(
    r"^\s*([A-Za-z_][\w-]*(?:(?:\.[A-Za-z_][\w-]*)|\[\d+\])*)\s*:\s*(.*)$", re.S
)


class Unavailable(RuntimeError):
    """The mirror package (or the name needed from it) cannot be imported."""


def _mirror() -> Any:
    try:
        import flakymirror.mirror as mirror
    except ImportError as e:  # pragma: no cover - only while the mirror is being written
        raise Unavailable(
            f"cannot read mirror settings: flakymirror.mirror is unavailable ({e})"
        ) from e
    return mirror


def plan_from_dict(data: dict[str, Any]) -> Any:
    """The mirror's sync plan value for ``data`` (raises the mirror's ``ValueError``)."""
    mirror = _mirror()
    return (
        mirror.plan_from_dict(data)
        if hasattr(mirror, "plan_from_dict")
        else mirror.SyncPlan.from_dict(data)
    )


def fault_from_dict(data: dict[str, Any]) -> Any:
    """The mirror's fault rule value for ``data`` (raises the mirror's ``ValueError``)."""
    return _mirror().FaultRule.from_dict(data)


def split_error(err: Exception, data: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """Split the mirror's error into (key path inside ``data``, message).

    The mirror names the offending key path at the start of its message; the path is kept only
    when its first key really is in ``data`` (so a message like ``"invalid: …"`` stays whole).
    """
    message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    m = _LEADING_PATH.match(message)
    if not m:
        return (), message
    parts: list[str | int] = []
    for name, index in re.findall(r"([A-Za-z_][\w-]*)|\[(\d+)\]", m.group(1)):
        parts.append(int(index) if index else name)
    if not parts or not isinstance(parts[0], str) or parts[0] not in data:
        return (), message
    return tuple(parts), m.group(2)

"""Renamed public names keep their old name for one release, with a warning.

A module that renamed something ends with ``__getattr__ = aliases(__name__, {"Old": New})``:
``from module import Old`` still works and warns :class:`DeprecationWarning` naming the new
name, while ``Old`` no longer shadows anything inside the module itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["aliases"]


def aliases(module: str, renamed: Mapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that answers each old name in ``renamed`` with a warning."""
    table = dict(renamed)

    def __getattr__(name: str) -> Any:
        try:
            new = table[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        new_name = getattr(new, "__qualname__", None) or getattr(new, "__name__", repr(new))
        warnings.warn(
            f"{module}.{name} is deprecated and goes in the next release; use {new_name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return new

    return __getattr__

"""Typed, path-aware reading of a parsed TOML table.

:class:`Table` wraps one ``dict`` from ``tomllib`` together with its key path. Each getter checks
the type (and range/choices) of one key and raises :class:`Invalid` naming the full path; at the
end :meth:`Table.done` rejects any key nobody asked for, suggesting the nearest known one. The
loader turns :class:`Invalid` into a :class:`~flakymirror.scenario.errors.ScenarioError` with the
file and line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from flakymirror.scenario.errors import format_key

__all__ = ["Invalid", "Table", "describe", "suggest"]

KeyPath = tuple[str | int, ...]
T = TypeVar("T")
_MISSING = object()


class Invalid(Exception):
    """A bad value at ``path`` (internal: the loader adds file and line)."""

    def __init__(self, path: Sequence[str | int], message: str) -> None:
        super().__init__(f"{format_key(path)}: {message}")
        self.path: KeyPath = tuple(path)
        self.message = message


def describe(value: Any) -> str:
    """A short TOML-flavoured description of a value's type and the value itself."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    name = names.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{name} ({text if len(text) <= 40 else text[:37] + '...'})"


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Table:
    """One TOML table being validated; remembers which keys were read."""

    def __init__(self, data: Any, path: Sequence[str | int] = ()) -> None:
        self.path: KeyPath = tuple(path)
        if not isinstance(data, dict):
            raise Invalid(self.path, f"expected a table, got {describe(data)}")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str | int) -> KeyPath:
        """The full path of ``name`` in this table."""
        return (*self.path, name)

    def has(self, name: str) -> bool:
        """True when the key is present."""
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value as parsed, marking the key as known; required when no default is given."""
        self.seen.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            # a misspelt required key is better reported as the typo than as a missing key
            unread = [k for k in self.data if k not in self.seen]
            typo = difflib.get_close_matches(name, unread, n=1, cutoff=0.8)
            if typo:
                raise Invalid(self.key(typo[0]), f"unknown key (did you mean {name!r}?)")
            raise Invalid(self.key(name), "is required but missing")
        return default

    def string(
        self, name: str, default: Any = _MISSING, *, choices: Sequence[str] | None = None
    ) -> Any:
        """A string key, optionally one of ``choices``."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        if not isinstance(value, str):
            raise Invalid(self.key(name), f"expected a string, got {describe(value)}")
        if choices is not None and value not in choices:
            raise Invalid(
                self.key(name),
                f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
                + suggest(value, choices),
            )
        return value

    def integer(self, name: str, default: Any = _MISSING, *, minimum: int | None = 0) -> Any:
        """An integer key (booleans are not integers here), at least ``minimum``."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        return check_int(value, self.key(name), minimum)

    def number(self, name: str, default: Any = _MISSING, *, minimum: float | None = 0.0) -> Any:
        """A float or integer key (returned as float), finite and at least ``minimum``."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        return check_number(value, self.key(name), minimum)

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        """A boolean key."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        if not isinstance(value, bool):
            raise Invalid(self.key(name), f"expected true or false, got {describe(value)}")
        return value

    def array(
        self,
        name: str,
        item: Callable[[Any, KeyPath], T],
        default: Any = _MISSING,
        *,
        accept_single: bool = False,
    ) -> Any:
        """An array key whose items are checked by ``item(value, path)``; returns a tuple."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        if accept_single and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise Invalid(self.key(name), f"expected an array, got {describe(value)}")
        return tuple(item(v, self.key(name) + (i,)) for i, v in enumerate(value))

    def table(self, name: str, *, required: bool = False) -> Table | None:
        """A sub-table (``None`` when absent and not required)."""
        if name not in self.data and not required:
            self.seen.add(name)
            return None
        return Table(self.raw(name), self.key(name))

    def done(self) -> None:
        """Reject keys that were never read, suggesting the closest known key."""
        known = self.seen
        for name in self.data:
            if name not in known:
                raise Invalid(
                    self.key(name),
                    "unknown key"
                    + (
                        suggest(name, sorted(known)) or f" (known keys: {', '.join(sorted(known))})"
                    ),
                )


def check_int(value: Any, path: KeyPath, minimum: int | None = 0) -> int:
    """Validate one integer value at ``path``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(path, f"expected an integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise Invalid(path, f"must be >= {minimum}, got {value}")
    return value


def check_number(value: Any, path: KeyPath, minimum: float | None = 0.0) -> float:
    """Validate one number (int or float) at ``path``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(path, f"expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise Invalid(path, f"must be >= {minimum:g}, got {value:g}")
    return float(value)


def check_str(value: Any, path: KeyPath) -> str:
    """Validate one string value at ``path``."""
    if not isinstance(value, str):
        raise Invalid(path, f"expected a string, got {describe(value)}")
    return value

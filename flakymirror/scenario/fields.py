"""Typed, path-aware reading of a parsed TOML table.

:class:`Table` wraps one ``dict`` from ``tomllib`` together with its key path. Each getter checks
the type (and range/choices) of one key and raises :class:`Invalid` naming the full path; at the
end :meth:`Table.done` rejects any key nobody asked for, suggesting the nearest known one. The
loader turns :class:`Invalid` into a :class:`~flakymirror.scenario.errors.ScenarioError` with the
file and line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from flakymirror.scenario.errors import format_key

__all__ = ["Invalid", "Table", "describe", "suggest", "toml_value"]

KeyPath = tuple[str | int, ...]
T = TypeVar("T")
_MISSING = object()


class Invalid(Exception):
    """A bad value at ``path`` (internal: the loader adds file and line)."""

    def __init__(
        self,
        path: Sequence[str | int],
        message: str,
        *,
        also: Sequence[Sequence[str | int]] = (),
    ) -> None:
        super().__init__(f"{format_key(path)}: {message}")
        self.path: KeyPath = tuple(path)
        self.message = message
        #: Other key paths whose line can stand for this error when ``path`` is not written
        #: in the file (a default value contradicted by another table).
        self.also: tuple[KeyPath, ...] = tuple(tuple(p) for p in also)


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """``value`` spelled as TOML would write it: ``true``, ``"text"``, ``inf``, ``[1, 2]``,
    ``{ a = 1 }``, ``1979-05-27``; what an error message shows of the user's input."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # a finite float's repr ("0.1", "1e+20") is a TOML float
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (
            f"{k if _BARE_KEY.fullmatch(k) else _toml_string(k)} = {toml_value(v)}"
            for k, v in value.items()
        )
        return "{ " + ", ".join(pairs) + " }" if value else "{}"
    return repr(value)  # not a TOML value: only reachable from Python callers


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dt.datetime):
        return "a date-time"
    for kind, name in ((int, "an integer"), (float, "a float"), (str, "a string"),
                       (dt.date, "a date"), (dt.time, "a time")):  # fmt: skip
        if isinstance(value, kind):
            return name
    return type(value).__name__


def describe(value: Any) -> str:
    """A short description of a value's TOML type and the value itself, spelled as TOML:
    ``a boolean (true)``, ``a string ("two")``; arrays and tables by type only."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    text = toml_value(value)
    return f"{_type_name(value)} ({text if len(text) <= 40 else text[:37] + '...'})"


def suggest(word: str, choices: Iterable[str], *, spell: Callable[[str], str] = repr) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else an empty string;
    ``spell`` writes the choice (``repr`` for key names, :func:`toml_value` for values)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {spell(close[0])}?)" if close else ""


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
                f"must be one of {', '.join(toml_value(c) for c in choices)}, "
                f"got {toml_value(value)}" + suggest(value, choices, spell=toml_value),
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

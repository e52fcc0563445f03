"""Helpers for the plain dict forms of the mirror's values (JSON, TOML scenario files).

Every ``from_dict`` reports bad input as :class:`FormError` (a ``ValueError``) whose message starts
with the key path of the offending value, e.g. ``faults[0].action.status: expected an integer``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FormError", "Form", "glob_match", "join"]


class FormError(ValueError):
    """Bad dict form; ``.path`` names the offending key."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


def join(path: str, key: str | int) -> str:
    """``path.key`` (or ``path[key]`` for an index; just ``key`` at the root)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Form:
    """A mapping being read, with the key path used in error messages.

    ``Form(d, "plan", allowed={"mode", ...})`` rejects unknown keys at once; the typed getters
    reject values of the wrong type. Unknown keys are errors because a typo in a scenario file
    must not silently fall back to a default.
    """

    def __init__(self, data: Any, path: str = "", *, allowed: Iterable[str] = ()) -> None:
        if not isinstance(data, Mapping):
            raise FormError(path, f"expected a table/object, got {type(data).__name__}")
        self.data = data
        self.path = path
        allowed = set(allowed)
        for key in data:
            if not isinstance(key, str):
                raise FormError(path, f"keys must be strings, got {key!r}")
            if key not in allowed:
                raise FormError(
                    join(path, key),
                    f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})",
                )

    def at(self, key: str | int) -> str:
        """The key path of ``key`` inside this form."""
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def required(self, key: str) -> Any:
        if key not in self.data:
            raise FormError(self.at(key), "missing required key")
        return self.data[key]

    def str(self, key: str, default: Any = None, *, choices: Iterable[str] | None = None) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise FormError(self.at(key), f"expected a string, got {value!r}")
        if choices is not None:
            choices = tuple(choices)
            if value not in choices:
                raise FormError(
                    self.at(key), f"{value!r} is not one of {', '.join(map(repr, choices))}"
                )
        return value

    def number(self, key: str, default: Any = None, *, minimum: float | None = None) -> Any:
        if key not in self.data:
            return default
        return number(self.data[key], self.at(key), minimum=minimum)

    def int(self, key: str, default: Any = None, *, minimum: int | None = None) -> Any:
        if key not in self.data:
            return default
        return integer(self.data[key], self.at(key), minimum=minimum)

    def bool(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key, default)
        if key in self.data and not isinstance(value, bool):
            raise FormError(self.at(key), f"expected true or false, got {value!r}")
        return value

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise FormError(self.at(key), f"expected a table of strings, got {value!r}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise FormError(join(self.at(key), str(k)), f"expected a string, got {v!r}")
            out[k] = v
        return out

    def list(self, key: str, default: Any = ()) -> list[Any]:
        value = self.data.get(key, default)
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise FormError(self.at(key), f"expected a list, got {value!r}")
        return list(value)


def number(value: Any, path: str, *, minimum: float | None = None) -> float:
    """``value`` as a finite float (ints accepted, booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise FormError(path, f"expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {minimum:g}, got {value:g}")
    return value


def integer(value: Any, path: str, *, minimum: int | None = None) -> int:
    """``value`` as an int (booleans and floats with a fraction refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise FormError(path, f"expected an integer, got {value!r}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {minimum}, got {value}")
    return value


def glob_match(pattern: str | None, value: str | None) -> bool:
    """Shell-style match where ``None`` as a pattern matches anything (``*`` spans ``/``)."""
    if pattern is None:
        return True
    if value is None:
        return False
    return fnmatch.fnmatchcase(value, pattern)


def check(condition: bool, path: str, message: str) -> None:
    """Raise :class:`FormError` at ``path`` unless ``condition``."""
    if not condition:
        raise FormError(path, message)

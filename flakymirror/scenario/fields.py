"""The TOML dialect of the one validator (:mod:`flakymirror.mirror.forms`).

Scenario and baseline files are read with :func:`toml_form`: a
:class:`~flakymirror.mirror.forms.Form` whose errors spell values as TOML writes them
(``a string ("two")``) and call tables tables and arrays arrays. The checks are the mirror's;
the loader turns each :class:`~flakymirror.mirror.forms.FormError` into a
:class:`~flakymirror.scenario.errors.ScenarioError` with the file and line of its key path.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from typing import Any

from flakymirror.mirror.forms import Dialect, Form, KeyPath, integer, number, string, suggest

__all__ = [
    "TOML",
    "TomlDialect",
    "check_int",
    "check_number",
    "check_str",
    "describe",
    "toml_form",
    "toml_value",
]


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


class TomlDialect(Dialect):
    """Errors worded for a TOML file: values spelled as TOML (``a boolean (true)``), arrays and
    tables by their TOML names, and ``2.0`` is not an integer (TOML tells them apart)."""

    table = "a table"
    array = "an array"
    missing = "is required but missing"
    integral_floats = False

    def spell(self, value: Any) -> str:
        """A bad value by its TOML type and spelling: ``a string ("two")``."""
        return describe(value)

    def not_one_of(self, value: Any, choices: tuple[str, ...]) -> str:
        """``must be one of "a", "b", got "c"`` with a "did you mean" spelled as TOML."""
        return (
            f"must be one of {', '.join(toml_value(c) for c in choices)}, "
            f"got {toml_value(value)}" + suggest(value, choices, spell=toml_value)
        )

    def unknown_key(self, key: str, known: tuple[str, ...]) -> str:
        """``unknown key (did you mean 'x'?)``, or the known keys when none is close."""
        return "unknown key" + (suggest(key, known) or f" (known keys: {', '.join(known)})")


#: The dialect of scenario and baseline files.
TOML = TomlDialect()


def toml_form(data: Any, path: Iterable[str | int] = ()) -> Form:
    """A parsed TOML table being read (keys no getter read are refused by ``done()``)."""
    return Form(data, path, dialect=TOML)


def check_int(value: Any, path: KeyPath, minimum: int | None = 0) -> int:
    """One integer item of a TOML array, at least ``minimum``."""
    return integer(value, path, minimum=minimum, dialect=TOML)


def check_number(value: Any, path: KeyPath, minimum: float | None = 0.0) -> float:
    """One number item of a TOML array (returned as a float), at least ``minimum``."""
    return number(value, path, minimum=minimum, dialect=TOML)


def check_str(value: Any, path: KeyPath) -> str:
    """One string item of a TOML array."""
    return string(value, path, TOML)

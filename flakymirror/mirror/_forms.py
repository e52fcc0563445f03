"""Helpers for the plain dict forms of the mirror's values (JSON, TOML scenario files).

Every ``from_dict`` reports bad input as :class:`FormError` (a ``ValueError``) whose message starts
with the key path of the offending value, e.g. ``faults[0].action.status: expected an integer``.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_BYTES",
    "MAX_SECONDS",
    "MAX_STEPS",
    "Form",
    "FormError",
    "glob_match",
    "header_map",
    "header_name",
    "header_value",
    "integer",
    "join",
    "kind_from_dict",
    "number",
    "seconds",
    "suggest",
]

#: Longest duration any value takes (fault delays and stalls, ``Retry-After``, a clock
#: advance): ten years. Longer waits cannot be told apart from "forever" in a test, and they
#: would overflow datetimes and ``threading`` timeouts.
MAX_SECONDS = 10 * 366 * 86400
#: Largest number of bytes a fault generates itself (``garbage``): 1 GiB.
MAX_BYTES = 1 << 30
#: Most steps a fault sequence holds once expanded (``times`` included).
MAX_STEPS = 10_000

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(r"[0-9]{1,19}")
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = 60


class FormError(ValueError):
    """Bad dict form; ``.path`` names the offending key and ``.reason`` says what is wrong.

    When the value had to be one of a known set, ``.got`` is the value given and ``.choices``
    the allowed ones, as data (a caller building a "did you mean" reads them, not the text).
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        got: str | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message
        self.got = got
        self.choices = choices

    def at(self, path: str) -> FormError:
        """The same error, reported at ``path`` (a nested form's error, seen from outside)."""
        return FormError(path, self.reason, got=self.got, choices=self.choices)


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
                    got=key,
                    choices=tuple(sorted(allowed)),
                )

    def at(self, key: str | int) -> str:
        """The key path of ``key`` inside this form."""
        return join(self.path, key)

    def has(self, key: str) -> bool:
        """Whether ``key`` was given."""
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        """The value at ``key`` as given (``default`` when absent), unchecked."""
        return self.data.get(key, default)

    def required(self, key: str) -> Any:
        """The value at ``key``; a missing key is an error."""
        if key not in self.data:
            raise FormError(self.at(key), "missing required key")
        return self.data[key]

    def str(self, key: str, default: Any = None, *, choices: Iterable[str] | None = None) -> Any:
        """The string at ``key`` (``default`` when absent), one of ``choices`` when given."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise FormError(self.at(key), f"expected a string, got {value!r}")
        if choices is not None:
            choices = tuple(choices)
            if value not in choices:
                raise FormError(
                    self.at(key),
                    f"{value!r} is not one of {', '.join(map(repr, choices))}",
                    got=value,
                    choices=choices,
                )
        return value

    def number(
        self,
        key: str,
        default: Any = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        """The number at ``key`` (``default`` when absent), within the bounds given."""
        if key not in self.data:
            return default
        return number(self.data[key], self.at(key), minimum=minimum, maximum=maximum)

    def int(
        self,
        key: str,
        default: Any = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        """The integer at ``key`` (``default`` when absent), within the bounds given."""
        if key not in self.data:
            return default
        return integer(self.data[key], self.at(key), minimum=minimum, maximum=maximum)

    def bool(self, key: str, default: Any = None) -> Any:
        """The boolean at ``key`` (``default`` when absent)."""
        value = self.data.get(key, default)
        if key in self.data and not isinstance(value, bool):
            raise FormError(self.at(key), f"expected true or false, got {value!r}")
        return value

    def str_map(self, key: str) -> dict[str, str]:
        """The table of strings at ``key`` (empty when absent)."""
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
        """The list at ``key`` (``default`` when absent); a string is not a list."""
        value = self.data.get(key, default)
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise FormError(self.at(key), f"expected a list, got {value!r}")
        return list(value)


def number(
    value: Any, path: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """``value`` as a finite float within ``[minimum, maximum]`` (ints accepted, booleans
    refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected a number, got {_short(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise FormError(path, "expected a finite number, got a too large integer") from None
    if not math.isfinite(value):
        raise FormError(path, f"expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {_num(minimum)}, got {_num(value)}")
    if maximum is not None and value > maximum:
        raise FormError(path, f"must be <= {_num(maximum)}, got {_num(value)}")
    return value


def _num(x: float) -> str:
    """``3``, ``0.5``, ``1000000000000`` or ``1e+300``: integral values as integers."""
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return f"{x:g}"


def integer(
    value: Any, path: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an int within ``[minimum, maximum]`` (booleans and floats with a fraction
    refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected an integer, got {_short(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise FormError(path, f"expected an integer, got {value!r}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {minimum}, got {_short(value)}")
    if maximum is not None and value > maximum:
        raise FormError(path, f"must be <= {maximum}, got {_short(value)}")
    return value


def seconds(value: Any, path: str) -> float:
    """A duration: a number from 0 to :data:`MAX_SECONDS`."""
    return number(value, path, minimum=0, maximum=MAX_SECONDS)


def suggest(value: Any, choices: Iterable[str]) -> str:
    """``" (did you mean 'manifest'?)"`` for the closest of ``choices``, or ``""``."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == value.lower()][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def header_name(value: Any, path: str) -> str:
    """An HTTP field name (an RFC 9110 token: no spaces, colons, CR or LF)."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise FormError(path, f"not a valid HTTP header name: {_short(value)}")
    return value


def header_value(value: Any, path: str, name: str = "") -> str:
    """An HTTP field value: Latin-1 text without CR, LF or other control characters (a
    ``Content-Length`` must be a decimal number, or every matched response would break)."""
    if not isinstance(value, str):
        raise FormError(path, f"expected a string, got {_short(value)}")
    if not _FIELD_VALUE.fullmatch(value):
        raise FormError(
            path,
            f"header values may not contain CR, LF or other control characters or "
            f"non-Latin-1 text, got {_short(value)}",
        )
    if name.lower() == "content-length" and not _DIGITS.fullmatch(value):
        raise FormError(path, f"Content-Length must be a decimal byte count, got {value!r}")
    return value


def header_map(value: Any, path: str) -> dict[str, str]:
    """A table of header names to values, each checked (errors name the header)."""
    if not isinstance(value, Mapping):
        raise FormError(path, f"expected a table of strings, got {_short(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        name = header_name(k, join(path, k) if isinstance(k, str) and k else path)
        out[name] = header_value(v, join(path, name), name)
    return out


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a bad value may be huge or deeply nested)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def glob_match(pattern: str | None, value: str | None) -> bool:
    """Shell-style match where ``None`` as a pattern matches anything (``*`` spans ``/``)."""
    if pattern is None:
        return True
    if value is None:
        return False
    return fnmatch.fnmatchcase(value, pattern)


def kind_from_dict(cls: Any, data: Any, path: str, parse: Callable[[Any, str], Any]) -> Any:
    """Read ``data`` with ``parse`` (which picks the type by ``kind``) as a ``cls`` value.

    ``kind`` may be omitted (``cls.kind`` is filled in); a value of another kind raises
    :class:`FormError` at ``path.kind``.
    """
    if isinstance(data, dict) and "kind" not in data:
        data = {"kind": cls.kind, **data}
    value = parse(data, path)
    if not isinstance(value, cls):
        raise FormError(join(path, "kind"), f"expected {cls.kind!r}, got {value.kind!r}")
    return value


def check(condition: bool, path: str, message: str) -> None:
    """Raise :class:`FormError` at ``path`` unless ``condition``."""
    if not condition:
        raise FormError(path, message)

"""The one validator for the plain dict forms of values: JSON from the control API and the
command line, TOML from scenario and baseline files, dicts from Python.

:class:`Form` reads one mapping together with its key path; its getters check the type, range
and choices of one key each. Every problem raises :class:`FormError`, which carries the key path
(``("faults", 0, "action", "status")``), the reason and, when the value had to be one of a known
set, the value given and the allowed ones, all as data: a caller that adds a file and a line
(the scenario loader) reads them, never the message text.

The checks are the same for every input; a :class:`Dialect` only chooses the words: how a bad
value is spelled (``'x'`` in JSON, ``a string ("x")`` in TOML) and what the input calls its
tables and arrays. :data:`JSON` is the mirror's; the scenario loader's is
:data:`flakymirror.scenario.fields.TOML`.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flakymirror.mirror.form_error import (
    FormError,
    KeyPath,
    format_path,
    join,
    key_path,
    suggest,
)

__all__ = [
    "JSON",
    "MAX_BYTES",
    "MAX_SECONDS",
    "MAX_STEPS",
    "Dialect",
    "Form",
    "FormError",
    "KeyPath",
    "format_path",
    "glob_match",
    "header_map",
    "header_name",
    "header_value",
    "integer",
    "join",
    "key_path",
    "kind_from_dict",
    "number",
    "one_of",
    "seconds",
    "string",
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

_MISSING: Any = object()
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = 60


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a bad value may be huge or deeply nested)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(x: float) -> str:
    """``3``, ``0.5``, ``1000000000000`` or ``1e+300``: integral values as integers."""
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return f"{x:g}"


class Dialect:
    """The words of a form's errors (the checks do not change with it).

    This one is for JSON and Python dicts: values are spelled as Python ``repr`` and ``2.0``
    is the integer 2 (JSON has one number type). Subclass it for another input syntax.
    """

    #: What the input calls a mapping, and a sequence.
    table = "a table/object"
    array = "a list"
    #: The reason given for a required key that is absent.
    missing = "missing required key"
    #: Whether a float with no fraction counts as an integer.
    integral_floats = True

    def spell(self, value: Any) -> str:
        """A bad value as the message shows it after "got"."""
        return _short(value)

    def not_one_of(self, value: Any, choices: tuple[str, ...]) -> str:
        """The reason for ``value`` outside ``choices`` (with a "did you mean")."""
        return f"{value!r} is not one of {', '.join(map(repr, choices))}" + suggest(value, choices)

    def unknown_key(self, key: str, known: tuple[str, ...]) -> str:
        """The reason for a key that is not one of ``known`` (with a "did you mean")."""
        return f"unknown key {key!r} (allowed: {', '.join(known)})" + suggest(key, known)


#: The mirror's dialect: JSON bodies, command-line files and Python dicts.
JSON = Dialect()


def one_of(value: Any, choices: Iterable[str], path: Any, dialect: Dialect = JSON) -> str:
    """``value`` when it is one of ``choices`` (a :class:`FormError` carrying both if not)."""
    choices = tuple(choices)
    if value not in choices:
        raise FormError(path, dialect.not_one_of(value, choices), got=value, choices=choices)
    return value


def string(value: Any, path: Any, dialect: Dialect = JSON) -> str:
    """``value`` when it is a string."""
    if not isinstance(value, str):
        raise FormError(path, f"expected a string, got {dialect.spell(value)}")
    return value


def number(
    value: Any,
    path: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    dialect: Dialect = JSON,
) -> float:
    """``value`` as a finite float within ``[minimum, maximum]`` (ints accepted, booleans
    refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected a number, got {dialect.spell(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise FormError(path, "expected a finite number, got a too large integer") from None
    if not math.isfinite(value):
        raise FormError(path, f"expected a finite number, got {dialect.spell(value)}")
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {_num(minimum)}, got {_num(value)}")
    if maximum is not None and value > maximum:
        raise FormError(path, f"must be <= {_num(maximum)}, got {_num(value)}")
    return value


def integer(
    value: Any,
    path: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    dialect: Dialect = JSON,
) -> int:
    """``value`` as an int within ``[minimum, maximum]`` (booleans refused; a float only when
    the dialect counts an integral one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(path, f"expected an integer, got {dialect.spell(value)}")
    if isinstance(value, float):
        if not (dialect.integral_floats and value.is_integer()):
            raise FormError(path, f"expected an integer, got {dialect.spell(value)}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise FormError(path, f"must be >= {minimum}, got {_short(value)}")
    if maximum is not None and value > maximum:
        raise FormError(path, f"must be <= {maximum}, got {_short(value)}")
    return value


def seconds(value: Any, path: Any) -> float:
    """A duration: a number from 0 to :data:`MAX_SECONDS`."""
    return number(value, path, minimum=0, maximum=MAX_SECONDS)


class Form:
    """One mapping being read, with its key path and dialect.

    Unknown keys are errors, because a typo must not silently fall back to a default: with
    ``allowed`` they are refused at once; without it, :meth:`done` refuses every key no getter
    read. A getter with no ``default`` makes its key required.
    """

    def __init__(
        self,
        data: Any,
        path: str | int | Iterable[str | int] = (),
        *,
        allowed: Iterable[str] | None = None,
        dialect: Dialect = JSON,
    ) -> None:
        self.path: KeyPath = key_path(path)
        self.dialect = dialect
        if not isinstance(data, Mapping):
            raise FormError(self.path, f"expected {dialect.table}, got {dialect.spell(data)}")
        self.data: Mapping[str, Any] = data
        self.seen: set[str] = set()
        self.allowed = None if allowed is None else tuple(sorted(allowed))
        for key in data:
            if not isinstance(key, str):
                raise FormError(self.path, f"keys must be strings, got {key!r}")
            if self.allowed is not None and key not in self.allowed:
                self._unknown(key, self.allowed)

    def _unknown(self, key: str, known: tuple[str, ...]) -> None:
        reason = self.dialect.unknown_key(key, known)
        raise FormError(self.key(key), reason, got=key, choices=known)

    def key(self, name: str | int) -> KeyPath:
        """The key path of ``name`` inside this form."""
        return (*self.path, name)

    def has(self, name: str) -> bool:
        """Whether ``name`` was given."""
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value as given, unchecked (``default`` when absent; required without one)."""
        self.seen.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            # a misspelt required key is better reported as the typo than as a missing key
            unread = [k for k in self.data if k not in self.seen and self.allowed is None]
            typo = difflib.get_close_matches(name, unread, n=1, cutoff=0.8)
            if typo:
                self._unknown(typo[0], (name,))
            raise FormError(self.key(name), self.dialect.missing)
        return default

    def string(
        self, name: str, default: Any = _MISSING, *, choices: Iterable[str] | None = None
    ) -> Any:
        """A string, one of ``choices`` when given."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        string(value, self.key(name), self.dialect)
        return value if choices is None else one_of(value, choices, self.key(name), self.dialect)

    def integer(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = 0,
        maximum: int | None = None,
    ) -> Any:
        """An integer within the bounds given."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        path = self.key(name)
        return integer(value, path, minimum=minimum, maximum=maximum, dialect=self.dialect)

    def number(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: float | None = 0.0,
        maximum: float | None = None,
    ) -> Any:
        """A finite number (returned as a float) within the bounds given."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        path = self.key(name)
        return number(value, path, minimum=minimum, maximum=maximum, dialect=self.dialect)

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        """``true`` or ``false``."""
        value = self.raw(name, default)
        if name in self.data and not isinstance(value, bool):
            raise FormError(
                self.key(name), f"expected true or false, got {self.dialect.spell(value)}"
            )
        return value

    def array(
        self,
        name: str,
        item: Callable[[Any, KeyPath], Any] | None = None,
        default: Any = _MISSING,
        *,
        accept_single: bool = False,
    ) -> Any:
        """An array as a tuple, each item checked by ``item(value, path)`` when given (a string
        is not an array; with ``accept_single`` one value stands for an array of it)."""
        value = self.raw(name, default)
        if name not in self.data:
            return value
        if accept_single and not isinstance(value, list | tuple):
            value = [value]
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise FormError(
                self.key(name), f"expected {self.dialect.array}, got {self.dialect.spell(value)}"
            )
        if item is None:
            return tuple(value)
        return tuple(item(v, self.key(name) + (i,)) for i, v in enumerate(value))

    def table(self, name: str, *, required: bool = False) -> Form | None:
        """A sub-table read in the same dialect (``None`` when absent and not required)."""
        if name not in self.data and not required:
            self.seen.add(name)
            return None
        return Form(self.raw(name), self.key(name), dialect=self.dialect)

    def done(self) -> None:
        """Refuse every key no getter read."""
        known = tuple(sorted(self.seen))
        for name in self.data:
            if name not in self.seen:
                self._unknown(name, known)


def glob_match(pattern: str | None, value: str | None) -> bool:
    """Shell-style match where ``None`` as a pattern matches anything (``*`` spans ``/``)."""
    if pattern is None:
        return True
    if value is None:
        return False
    return fnmatch.fnmatchcase(value, pattern)


def kind_from_dict(cls: Any, data: Any, path: Any, parse: Callable[[Any, Any], Any]) -> Any:
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


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(r"[0-9]{1,19}")


def header_name(value: Any, path: Any) -> str:
    """An HTTP field name (an RFC 9110 token: no spaces, colons, CR or LF)."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise FormError(path, f"not a valid HTTP header name: {_short(value)}")
    return value


def header_value(value: Any, path: Any, name: str = "") -> str:
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


def header_map(value: Any, path: Any) -> dict[str, str]:
    """A table of header names to values, each checked (errors name the header)."""
    if not isinstance(value, Mapping):
        raise FormError(path, f"expected a table of strings, got {_short(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        name = header_name(k, join(path, k) if isinstance(k, str) and k else path)
        out[name] = header_value(v, join(path, name), name)
    return out

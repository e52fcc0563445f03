"""A bad value in a dict form, as data: :class:`FormError`, its key path and the "did you
mean" built from the allowed choices.

:mod:`flakymirror.mirror.forms` raises it; the control API answers it as a 400 naming the field,
the scenario loader adds the file and line of its key path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["FormError", "KeyPath", "format_path", "join", "key_path", "suggest"]

#: Where a value sits: keys of tables and indexes of arrays, outermost first.
KeyPath = tuple[str | int, ...]


_TEXT = re.compile(r"(?:[^.\[\]]+|\[[0-9]+\])(?:\.[^.\[\]]+|\[[0-9]+\])*")
_PART = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")


def key_path(path: str | int | Iterable[str | int]) -> KeyPath:
    """``path`` as a key path. A string is a key path's text form as :func:`format_path`
    writes it (``"faults[0].match"``, what a Python caller may pass to a ``from_dict``; ``""``
    is the root); an int is one index."""
    if isinstance(path, int):
        return (path,)
    if not isinstance(path, str):
        return tuple(path)
    if not _TEXT.fullmatch(path):
        return (path,) if path else ()
    return tuple(int(index) if index else name for name, index in _PART.findall(path))


def join(path: str | int | Iterable[str | int], key: str | int) -> KeyPath:
    """The key path of ``key`` inside ``path``."""
    return (*key_path(path), key)


def format_path(parts: Iterable[str | int]) -> str:
    """A key path as the mirror writes it: ``("a", "b", 2, "c")`` → ``a.b[2].c``, keys as
    they are (a TOML file's reader may quote them as TOML does)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


class FormError(ValueError):
    """A bad value in a dict form, as data.

    ``key_path`` is where it sits (a tuple; ``path`` is the same as text, ``"plan.mode"``),
    ``reason`` what is wrong. When the value had to be one of a known set, ``got`` is the value
    given and ``choices`` the allowed ones. ``also`` names other key paths whose line can stand
    for this error when ``key_path`` is not written in the input (a default contradicted by
    another table). ``str(err)`` is ``"<path>: <reason>"``.
    """

    def __init__(
        self,
        path: str | int | Iterable[str | int],
        reason: str,
        *,
        got: Any = None,
        choices: Iterable[str] | None = None,
        also: Iterable[Iterable[str | int]] = (),
    ) -> None:
        self.key_path: KeyPath = key_path(path)
        self.path = format_path(self.key_path)
        self.reason = reason
        self.got = got
        self.choices: tuple[str, ...] | None = None if choices is None else tuple(choices)
        self.also: tuple[KeyPath, ...] = tuple(key_path(p) for p in also)
        super().__init__(f"{self.path}: {reason}" if self.path else reason)

    def within(self, outer: str | int | Iterable[str | int]) -> FormError:
        """The same error seen from ``outer`` (its key path prefixed by ``outer``'s)."""
        return FormError(
            (*key_path(outer), *self.key_path),
            self.reason,
            got=self.got,
            choices=self.choices,
            also=self.also,
        )

    def __reduce__(self) -> Any:  # keyword-only data survives pickling (pytest-xdist)
        return (_rebuild, (self.key_path, self.reason, self.got, self.choices, self.also))


def _rebuild(
    path: KeyPath, reason: str, got: Any, choices: Any, also: tuple[KeyPath, ...]
) -> FormError:
    return FormError(path, reason, got=got, choices=choices, also=also)


def suggest(value: Any, choices: Iterable[str], *, spell: Callable[[str], str] = repr) -> str:
    """``" (did you mean 'manifest'?)"`` for the closest of ``choices``, or ``""``; ``spell``
    writes the choice."""
    if not isinstance(value, str):
        return ""
    choices = list(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == value.lower()][:1]
    return f" (did you mean {spell(close[0])}?)" if close else ""

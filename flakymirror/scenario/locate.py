"""Find the line of a key path in TOML text (``tomllib`` parses values but keeps no positions).

:func:`key_lines` walks the document once (it is already known to be valid TOML, because
``tomllib`` parsed it) and records, for every key path it meets, the line where it is defined:
``[table]`` and ``[[array.of.tables]]`` headers (with their index), ``dotted.keys = …``, keys
inside inline tables and the elements of arrays (``key[2]``). :func:`line_of` then answers the
line of the deepest known prefix of a path.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["key_lines", "line_of"]

KeyPath = tuple[str | int, ...]
_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.aot_counts: dict[KeyPath, int] = {}

    # -- low level -------------------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def advance(self, n: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + n]
        self.line += chunk.count("\n")
        self.pos += n

    def skip_space(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.text.find("\n", self.pos)
                self.advance((len(self.text) if end < 0 else end) - self.pos)
            else:
                return

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- tokens ----------------------------------------------------------------------------
    def string(self) -> str:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            end = self.text.find(quote * 3, self.pos + 3)
            while end >= 0 and self.text[end + 3 : end + 4] == quote:  # up to 2 quotes may close
                end += 1
            value = self.text[self.pos + 3 : end]
            self.advance(end + 3 - self.pos)
            return value
        self.advance()
        out = []
        while self.pos < len(self.text) and self.peek() != quote:
            if quote == '"' and self.peek() == "\\":
                out.append(self.peek(2))
                self.advance(2)
                continue
            out.append(self.peek())
            self.advance()
        self.advance()  # closing quote
        return "".join(out)  # escapes stay as written: keys with escapes are not worth more

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_space(newlines=False)
            if self.peek() in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE:
                    self.pos += 1
                parts.append(self.text[start : self.pos])
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    # -- values ----------------------------------------------------------------------------
    def value(self, path: KeyPath) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "{":
            self.inline_table(path)
        elif c == "[":
            self.array(path)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.advance()

    def inline_table(self, path: KeyPath) -> None:
        self.advance()  # {
        while True:
            self.skip_space(newlines=True)
            if self.peek() == "}":
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                continue
            self.assignment(path)

    def array(self, path: KeyPath) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_space(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                continue
            self.record((*path, index), self.line)
            self.value((*path, index))
            index += 1

    def assignment(self, table: KeyPath) -> None:
        line = self.line
        parts = self.key()
        for i in range(1, len(parts) + 1):
            self.record((*table, *parts[:i]), line)
        self.skip_space(newlines=False)
        self.advance()  # =
        self.skip_space(newlines=False)
        self.value((*table, *parts))

    # -- document --------------------------------------------------------------------------
    def document(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self.skip_space(newlines=True)
            if self.pos >= len(self.text):
                return self.lines
            if self.peek() == "[":
                line = self.line
                is_aot = self.peek(2) == "[["
                self.advance(2 if is_aot else 1)
                parts = tuple(self.key())
                self.advance(2 if is_aot else 1)
                if is_aot:
                    array_path = (*self._resolve(parts[:-1]), parts[-1])
                    index = self.aot_counts.get(array_path, 0)
                    self.aot_counts[array_path] = index + 1
                    table = (*array_path, index)
                else:
                    table = self._resolve(parts)
                for i in range(1, len(table) + 1):
                    self.record(table[:i], line)
            else:
                self.assignment(table)

    def _resolve(self, parts: tuple[str, ...]) -> KeyPath:
        """``[a.b.c]`` under ``[[a.b]]`` means the *latest* element of ``a.b``."""
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            count = self.aot_counts.get(tuple(out))
            if count:
                out.append(count - 1)
        return tuple(out)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path defined in ``text`` (valid TOML) to its 1-based line."""
    try:
        return _Scanner(text).document()
    except (IndexError, ValueError):  # never let position finding hide the real error
        return {}


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """The line of ``path`` in ``text``, or of its deepest defined prefix; None if none is."""
    lines = key_lines(text)
    parts = tuple(path)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None

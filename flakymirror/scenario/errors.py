"""The one error a scenario file can raise: :class:`ScenarioError`.

It names the file, the dotted key path inside it (``expect.sleeps.opener[2]``) and, when the
key can be found in the file's text, its line, so ``str(err)`` reads like a compiler message::

    scenarios/broken.toml:14: expect.sleeps.opener[2]: expected a number, got 'fast'
"""

from __future__ import annotations

from collections.abc import Sequence

from flakymirror.mirror.forms import FormError
from flakymirror.scenario.locate import line_of

__all__ = ["ScenarioError", "format_key"]

KeyPart = str | int


def format_key(parts: Sequence[KeyPart]) -> str:
    """Render key parts as a dotted path: ``("a", "b", 2, "c")`` → ``a.b[2].c``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _bare(part) else '"' + part.replace('"', '\\"') + '"'
            out = f"{out}.{text}" if out else text
    return out


def _bare(part: str) -> bool:
    return bool(part) and all(c.isalnum() or c in "_-" for c in part) and part.isascii()


class ScenarioError(ValueError):
    """An invalid scenario file (or name): what is wrong, in which file, at which key and line.

    Attributes: ``path`` (the file, or the name that was asked for), ``key`` (dotted path or
    ``None`` for the whole file), ``line`` (1-based, or ``None`` when unknown) and ``reason``
    (the message without the location prefix).
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.key = key
        self.line = line
        super().__init__(self._render())

    @classmethod
    def from_form(
        cls, err: FormError, *, path: str | None = None, text: str | None = None
    ) -> ScenarioError:
        """``err`` located in the file: its key path, and the line of that key in ``text`` (or
        of the first of ``err.also`` written there)."""
        line = None
        if text is not None:
            for candidate in (err.key_path, *err.also):
                line = line_of(text, candidate)
                if line is not None:
                    break
        return cls(err.reason, path=path, key=format_key(err.key_path) or None, line=line)

    def _render(self) -> str:
        where = self.path or "<scenario>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.reason}"
        return f"{where}: {self.reason}"

    def __reduce__(self):  # keep pickling (pytest-xdist) working with keyword-only arguments
        return (_rebuild, (self.reason, self.path, self.key, self.line))


def _rebuild(reason: str, path: str | None, key: str | None, line: int | None) -> ScenarioError:
    return ScenarioError(reason, path=path, key=key, line=line)

"""Command templates for a client under test: ``'skopeo inspect docker://{ref}'``.

A template is split like a shell line (:func:`shlex.split`, never run through a shell), then each
word's ``{name}`` fields are filled from the cell's values. ``{{`` and ``}}`` are literal braces.
Names are checked when the template is parsed (an unknown one is a :class:`TemplateError` with a
"did you mean"); a known name that has no value in a cell (``{origin}`` on a scenario without an
origin) raises :class:`NoValue` when rendering, which makes that cell ``n/a``, never a broken
command.
"""

from __future__ import annotations

import difflib
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "IMAGE_PLACEHOLDERS",
    "PLACEHOLDERS",
    "NoValue",
    "Template",
    "TemplateError",
]

#: Every placeholder a template may use, and what it stands for.
PLACEHOLDERS: Mapping[str, str] = {
    "ref": "the mirror reference of the image under test (HOST:PORT/repo:tag)",
    "origin_ref": "the origin's reference of the image under test (origin scenarios only)",
    "digest_ref": "the mirror reference by digest (for an index: the index digest)",
    "platform": "the platform under test, os/arch[/variant]",
    "mirror": "the mirror's host:port",
    "origin": "the origin's host:port (origin scenarios only)",
    "workdir": "a fresh, empty directory for this run",
    "registries_conf": "a containers-registries.conf(5) file putting the mirror first",
    "hosts_dir": "a containerd hosts.toml directory putting the mirror first",
    "ca_file": "the CA certificate (PEM) of a TLS mirror (TLS cells only)",
    "certs_dir": "a containers-certs.d(5) directory (HOST:PORT/ca.crt) (TLS cells only)",
    "username": "the mirror's user (scenarios with auth only)",
    "password": "the mirror's password (scenarios with auth only)",
    "authfile": "a containers-auth.json(5) file with the mirror's credentials (auth only)",
}
#: Placeholders that name the image; a template must use at least one of them.
IMAGE_PLACEHOLDERS = ("ref", "origin_ref", "digest_ref")

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that can never run: bad quoting, an unknown or malformed placeholder."""


class NoValue(LookupError):  # noqa: N818 - it names what is missing, not a failure
    """Placeholders the template uses that have no value in this cell (the cell is ``n/a``)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(f"no value for {', '.join('{' + n + '}' for n in names)} in this scenario")
        self.names = names


def _fields(word: str, template: str) -> list[tuple[str, str | None]]:
    """``(literal, name)`` pieces of one word; ``name`` is None for the trailing literal."""
    try:
        pieces = list(_FORMATTER.parse(word))
    except ValueError as exc:
        raise TemplateError(f"client template {template!r}: {exc} (write {{{{ for a literal brace)") from None
    out: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in pieces:
        if name is not None:
            if spec or conversion:
                raise TemplateError(
                    f"client template {template!r}: placeholder {{{name}"
                    f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                    "takes no format spec or conversion"
                )
            if name not in PLACEHOLDERS:
                close = difflib.get_close_matches(name, list(PLACEHOLDERS), n=1, cutoff=0.6)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                raise TemplateError(
                    f"client template {template!r}: unknown placeholder {{{name}}}{hint}; known: "
                    + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                )
        out.append((literal, name))
    return out


@dataclass(frozen=True)
class Template:
    """A parsed command template; ``str()`` gives it back as written."""

    text: str
    words: tuple[tuple[tuple[str, str | None], ...], ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Split ``text`` like a shell line and check every placeholder."""
        if not text.strip():
            raise TemplateError("client template is empty")
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise TemplateError(f"client template {text!r}: {exc}") from None
        return cls(text, tuple(tuple(_fields(w, text)) for w in words))

    @property
    def names(self) -> frozenset[str]:
        """The placeholders the template uses."""
        return frozenset(name for word in self.words for _, name in word if name is not None)

    def render(self, values: Mapping[str, str]) -> list[str]:
        """The argv with every placeholder filled; :class:`NoValue` when one has no value."""
        missing = tuple(sorted(n for n in self.names if n not in values))
        if missing:
            raise NoValue(missing)
        return [
            "".join(literal + (values[name] if name is not None else "") for literal, name in word)
            for word in self.words
        ]

    def __str__(self) -> str:
        return self.text

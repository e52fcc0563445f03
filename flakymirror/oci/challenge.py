"""``WWW-Authenticate`` challenges (RFC 9110 §11.6.1), parsed the way docker's
``authchallenge`` package does; the reference client and the mirror's pull-through both read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges"]


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lower case) and parameters."""

    scheme: str
    parameters: Mapping[str, str] = field(default_factory=dict)


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _token(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and text[j] in _TOKEN_CHARS:
        j += 1
    return text[i:j], j


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _quoted(text: str, i: int) -> tuple[str, int]:
    # text[i] == '"'; backslash escapes the next character
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


def parse_challenges(values: list[str] | str) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values the way docker's ``authchallenge`` does:
    ``Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"``.

    Malformed trailing parts are dropped rather than raising: a registry's odd header must not
    crash the client (ggcr then treats the challenge as Basic)."""
    if isinstance(values, str):
        values = [values]
    out: list[Challenge] = []
    for header in values:
        i = 0
        while i < len(header):
            i = _skip_space(header, i)
            scheme, i = _token(header, i)
            if not scheme:
                break
            params: dict[str, str] = {}
            while True:
                i = _skip_space(header, i)
                start = i
                key, i = _token(header, i)
                i = _skip_space(header, i)
                if not key or i >= len(header) or header[i] != "=":
                    i = start  # the next challenge's scheme, or garbage
                    break
                i = _skip_space(header, i + 1)
                if i < len(header) and header[i] == '"':
                    value, i = _quoted(header, i)
                else:
                    value, i = _token(header, i)
                params[key.lower()] = value
                i = _skip_space(header, i)
                if i < len(header) and header[i] == ",":
                    i += 1
                    continue
                break
            out.append(Challenge(scheme.lower(), params))
            i = _skip_space(header, i)
            if i < len(header) and header[i] == ",":
                i += 1
            elif i < len(header) and header[i] not in _TOKEN_CHARS:
                break
    return out

"""Shared helpers of the model: canonical JSON and field validators that name the field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .digest import Digest, DigestError

#: Largest size a descriptor may carry (Go's int64, what real registries and clients use).
MAX_SIZE = 2**63 - 1

# RFC 6838 restricted-name, type "/" subtype (parameters are not allowed in a descriptor)
_MEDIA_TYPE_RE = re.compile(
    r"\A[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z"
)


class ManifestError(ValueError):
    """A manifest, index, descriptor or config that is not valid; the message names the field."""


def canonical_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON: no whitespace, keys in the order given, no NaN.

    Strings holding lone surrogates (which ``json.loads`` produces from ``"\\ud800"``) cannot
    be UTF-8: such documents are written with ASCII escapes instead, which parse back the same.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def load_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON bytes, raising :class:`ManifestError` with the position of a syntax error."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ManifestError(f"not UTF-8 JSON: {e}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ManifestError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def _reject_constant(name: str) -> Any:
    raise ManifestError(f"invalid JSON: {name} is not allowed")


def _p(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_object(d: Any, path: str) -> Mapping[str, Any]:
    """``d`` if it is a JSON object, else an error naming ``path``."""
    if not isinstance(d, dict):
        where = f"{path}: " if path else ""
        raise ManifestError(f"{where}must be a JSON object, got {type(d).__name__}")
    return d


def check_schema_version(d: Mapping[str, Any]) -> None:
    """Require ``schemaVersion`` 2 (an integer, not ``true`` or ``"2"``)."""
    if "schemaVersion" not in d:
        raise ManifestError("schemaVersion: required")
    v = d["schemaVersion"]
    if isinstance(v, bool) or v != 2:
        raise ManifestError(f"schemaVersion: must be 2, got {v!r}")


def check_media_type(value: Any, path: str) -> str:
    """``value`` if it is an RFC 6838 ``type/subtype`` without parameters."""
    if not isinstance(value, str) or not _MEDIA_TYPE_RE.match(value):
        raise ManifestError(f"{path}: invalid media type {value!r}")
    return value


def req_str(d: Mapping[str, Any], key: str, path: str) -> str:
    """The required string ``d[key]``."""
    if key not in d:
        raise ManifestError(f"{_p(path, key)}: required")
    v = d[key]
    if not isinstance(v, str):
        raise ManifestError(f"{_p(path, key)}: must be a string, got {v!r}")
    return v


def opt_str(d: Mapping[str, Any], key: str, path: str) -> str | None:
    """The optional string ``d[key]`` (``None`` when absent or null)."""
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise ManifestError(f"{_p(path, key)}: must be a string, got {v!r}")
    return v


def opt_str_list(d: Mapping[str, Any], key: str, path: str) -> list[str] | None:
    """The optional list of strings ``d[key]``."""
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, list):
        raise ManifestError(f"{_p(path, key)}: must be a list of strings, got {v!r}")
    for i, item in enumerate(v):
        if not isinstance(item, str):
            raise ManifestError(f"{_p(path, key)}[{i}]: must be a string, got {item!r}")
    return v


def opt_str_map(d: Mapping[str, Any], key: str, path: str) -> dict[str, str] | None:
    """The optional string-to-string object ``d[key]`` (a copy)."""
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ManifestError(f"{_p(path, key)}: must be an object of strings, got {v!r}")
    for k, item in v.items():
        if not isinstance(item, str):
            raise ManifestError(f"{_p(path, key)}[{k!r}]: must be a string, got {item!r}")
    return dict(v)


def req_digest(d: Mapping[str, Any], key: str, path: str) -> Digest:
    """The required digest string ``d[key]``, parsed."""
    text = req_str(d, key, path)
    try:
        return Digest.parse(text)
    except DigestError as e:
        raise ManifestError(f"{_p(path, key)}: {e}") from None


def freeze_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private copy of the unknown keys (``None`` → empty)."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ManifestError(f"extra: must be a mapping, got {extra!r}")
    return dict(extra)

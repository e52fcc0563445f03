"""Query strings as Go's ``net/url`` writes them, for the URLs ggcr builds.

Go's ``url.Values.Encode`` sorts the keys (the values of one key keep their order) and escapes
with ``QueryEscape`` (space as ``+``); ggcr builds every query it sends that way: mount POSTs,
the ``?digest=`` of an upload commit, the token request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

__all__ = ["go_query_encode", "with_query"]


def go_query_encode(pairs: Iterable[tuple[str, str]]) -> str:
    """Go's ``url.Values.Encode``: keys sorted (values of one key keep their order)."""
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k in sorted(grouped) for v in grouped[k])


def with_query(url: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """``v := u.Query(); v[key] = values…; u.RawQuery = v.Encode()``: the keys of ``values``
    replace those in ``url``'s query, the other pairs stay, and the query is re-encoded the Go
    way (a key with a sequence of values repeats, in order). The fragment is dropped."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    for key, value in values.items():
        pairs.extend((key, v) for v in ([value] if isinstance(value, str) else value))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, go_query_encode(pairs), ""))

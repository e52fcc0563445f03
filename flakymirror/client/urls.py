"""The URLs ggcr builds and prints: distribution API paths, and query strings as Go's
``net/url`` writes them.

Go's ``url.Values.Encode`` sorts the keys (the values of one key keep their order) and escapes
with ``QueryEscape`` (space as ``+``); ggcr builds every query it sends that way (mount POSTs,
the ``?digest=`` of an upload commit, the token request) and re-encodes the URLs it prints in
errors the same way (``redact.URL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flakymirror.client.goformat import go_query_encode

__all__ = ["blob_path", "manifest_path", "redact_url", "with_query"]

# Query keys ggcr's redact.URL leaves alone; every other value prints as REDACTED.
_QUERY_ALLOWLIST = frozenset({"scope", "service", "mount", "from", "digest", "n", "last"})


def manifest_path(repository: str, reference: str) -> str:
    """``/v2/<repository>/manifests/<tag or digest>``."""
    return f"/v2/{repository}/manifests/{reference}"


def blob_path(repository: str, digest: object) -> str:
    """``/v2/<repository>/blobs/<digest>``."""
    return f"/v2/{repository}/blobs/{digest}"


def with_query(url: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """``v := u.Query(); v[key] = values…; u.RawQuery = v.Encode()``: the keys of ``values``
    replace those in ``url``'s query, the other pairs stay, and the query is re-encoded the Go
    way (a key with a sequence of values repeats, in order). The fragment is dropped."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    for key, value in values.items():
        pairs.extend((key, v) for v in ([value] if isinstance(value, str) else value))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, go_query_encode(pairs), ""))


def redact_url(url: str) -> str:
    """ggcr's ``redact.URL``: query values outside the protocol's allowlist become ``REDACTED``
    and the query is re-encoded with sorted keys, as Go's ``url.Values.Encode`` does."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = go_query_encode((k, v if k in _QUERY_ALLOWLIST else "REDACTED") for k, v in pairs)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

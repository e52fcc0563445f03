"""end-2 / end-10: blobs (GET and HEAD with ``Range``, DELETE). Bodies are streamed."""

from __future__ import annotations

import re

from werkzeug.wrappers import Response

from .digest_params import digest_for_lookup
from .endpoint import Context, empty
from .errors import RegistryError
from .manifests import etag_matches

__all__ = ["get", "delete", "parse_range"]

#: ASCII digits only, at most 19 (a 63-bit offset, as Go's net/http parses it): a longer
#: number is refused as malformed instead of reaching Python's int-conversion digit limit.
_RANGE = re.compile(r"^[ \t]*([0-9]{0,19})[ \t]*-[ \t]*([0-9]{0,19})[ \t]*$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → ``(start, end_exclusive)``; None = serve the whole blob.

    Several ranges or another unit are ignored (RFC 9110 allows it); a malformed or
    unsatisfiable ``bytes`` range raises ``416 RANGE_INVALID``. On an empty blob a suffix
    range (``bytes=-5``) is satisfiable by RFC 9110 14.1.1 but has no byte to name in a
    ``Content-Range``, so it is ignored (the whole, empty blob with 200).
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    m = _RANGE.match(spec)
    if m is None or (not m.group(1) and not m.group(2)):
        raise _unsatisfiable(header, size, "malformed range")
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise _unsatisfiable(header, size, "empty suffix range")
        if size == 0:
            return None
        return max(size - n, 0), size
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        raise _unsatisfiable(header, size, "last byte before first byte")
    if start >= size:
        raise _unsatisfiable(header, size, f"first byte {start} is past the end")
    return start, end + 1


def _unsatisfiable(header: str, size: int, why: str) -> RegistryError:
    return RegistryError(
        "RANGE_INVALID",
        f"cannot satisfy Range {header[:100]!r} for a {size}-byte blob: {why}",
        {"range": header[:100], "size": size},
        headers={"Content-Range": f"bytes */{size}"},
    )


def get(ctx: Context, digest: str) -> Response:
    """GET/HEAD a blob: 200 or 206, ``Docker-Content-Digest``, ``Content-Length``, ETag/304."""
    d = digest_for_lookup(digest, "BLOB_UNKNOWN")
    size = ctx.store.blob_size(ctx.repo, d)
    if size is None:
        raise RegistryError(
            "BLOB_UNKNOWN", f"blob {d} is unknown to repository {ctx.repo!r}", {"digest": str(d)}
        )
    request = ctx.request
    ds = str(d)
    headers = {
        "Docker-Content-Digest": ds,
        "ETag": f'"{ds}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }
    if etag_matches(request.headers.get("If-None-Match"), ds):
        return empty(304, headers)
    span = None
    range_header = request.headers.get("Range")
    if range_header:
        span = parse_range(range_header, size)
    status = 200
    start, end = 0, size
    if span is not None:
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    headers["Content-Type"] = "application/octet-stream"
    if request.method == "HEAD":
        body: object = ()
    else:
        try:
            body = ctx.store.open_blob(ctx.repo, d, start, end)
        except KeyError:  # deleted between the size check and now
            raise RegistryError(
                "BLOB_UNKNOWN", f"blob {d} is unknown to repository {ctx.repo!r}"
            ) from None
    resp = Response(body, status=status, direct_passthrough=True)  # type: ignore[arg-type]
    resp.headers.clear()
    resp.headers.update(headers)
    return resp


def delete(ctx: Context, digest: str) -> Response:
    """DELETE a blob from the repository: 202, or 404 ``BLOB_UNKNOWN``."""
    d = digest_for_lookup(digest, "BLOB_UNKNOWN")
    if not ctx.store.delete_blob(ctx.repo, d):
        raise RegistryError(
            "BLOB_UNKNOWN", f"blob {d} is unknown to repository {ctx.repo!r}", {"digest": str(d)}
        )
    return empty(202)

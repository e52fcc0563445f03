"""end-4 / 5 / 6 / 11 / 13 / 14: blob upload sessions, monolithic pushes and mounts.

Bodies are read from the request stream 64 KiB at a time into the session's spool; nothing
holds a whole blob in memory. A PATCH that does not arrive whole is rolled back, so the
session's ``Range`` always tells a client where to resume.
"""

from __future__ import annotations

import re

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Response

from ..oci.digest import SUPPORTED_ALGORITHMS
from ..oci.reference import InvalidReferenceError, validate_repository
from .auth import Scope
from .digest_params import digest_for_push
from .endpoint import Context, empty
from .errors import RegistryError
from .sessions import Upload
from .spool import CHUNK

__all__ = ["post", "patch", "put", "status", "cancel", "parse_content_range"]

#: At most 19 ASCII digits per number: longer ones are malformed, never an int() overflow.
_CONTENT_RANGE = re.compile(
    r"^(?:bytes[ =])?[ \t]*([0-9]{1,19})-([0-9]{1,19})(?:/(?:[0-9]{1,19}|\*))?$"
)


def parse_content_range(value: str) -> tuple[int, int]:
    """``<start>-<end>`` (inclusive; a ``bytes `` prefix and ``/total`` are tolerated)."""
    m = _CONTENT_RANGE.match(value.strip())
    if m is None:
        raise RegistryError(
            "RANGE_INVALID",
            f"malformed Content-Range {value[:100]!r}: expected '<start>-<end>'",
            {"Content-Range": value[:100]},
        )
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RegistryError(
            "RANGE_INVALID",
            f"Content-Range {value[:100]!r} ends before it starts",
            {"Content-Range": value[:100]},
        )
    return start, end


def _session_headers(ctx: Context, up: Upload) -> dict[str, str]:
    return {
        "Location": f"/v2/{ctx.repo}/blobs/uploads/{up.uuid}",
        "Range": up.range_header(),
        "Docker-Upload-UUID": up.uuid,
    }


def _created(ctx: Context, digest: str) -> Response:
    return empty(
        201, {"Location": f"/v2/{ctx.repo}/blobs/{digest}", "Docker-Content-Digest": digest}
    )


def _session(ctx: Context, upload_id: str) -> Upload:
    up = ctx.store.uploads.get(ctx.repo, upload_id) if upload_id else None
    if up is None:
        raise RegistryError(
            "BLOB_UPLOAD_UNKNOWN",
            f"upload {upload_id[:100]!r} is unknown to repository {ctx.repo!r} (finished, cancelled or never started)",
            {"upload": upload_id[:100]},
        )
    return up


def _receive(ctx: Context, up: Upload) -> None:
    """Append the request body to ``up``, honouring ``Content-Range``/``Content-Length``."""
    request = ctx.request
    before = up.size
    content_range = request.headers.get("Content-Range")
    expected = request.content_length
    if content_range:
        start, end = parse_content_range(content_range)
        if start != before:
            raise RegistryError(
                "RANGE_INVALID",
                f"chunk starts at byte {start} but the upload has {before} bytes: chunks must arrive in order",
                {"expected_start": before, "start": start},
                headers=_session_headers(ctx, up),
            )
        length = end - start + 1
        if expected is not None and expected != length:
            raise RegistryError(
                "SIZE_INVALID",
                f"Content-Range {content_range!r} is {length} bytes but Content-Length is {expected}",
                headers=_session_headers(ctx, up),
            )
        expected = length
    stream = request.stream
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            up.write(chunk)
    except ClientDisconnected:
        up.rollback(before)
        raise
    received = up.size - before
    if expected is not None and received != expected:
        up.rollback(before)
        raise RegistryError(
            "SIZE_INVALID",
            f"received {received} bytes, expected {expected}",
            {"received": received, "expected": expected},
            headers=_session_headers(ctx, up),
        )


def _finish(ctx: Context, up: Upload, digest_text: str | None) -> Response:
    """Verify the whole upload against ``digest`` and commit it as a blob (201)."""
    d = digest_for_push(digest_text)
    actual = up.digest(d.algorithm)
    if actual != d:
        ctx.store.uploads.cancel(ctx.repo, up.uuid)
        raise RegistryError(
            "DIGEST_INVALID",
            f"uploaded content has digest {actual}, not {d}",
            {"expected": str(d), "actual": str(actual), "size": up.size},
        )
    ctx.store.commit_upload(up, d)
    return _created(ctx, str(d))


def post(ctx: Context, upload_id: str) -> Response:
    """Open a session (202), push a whole blob (``?digest=``, 201) or mount one (201/202)."""
    if upload_id:
        raise RegistryError(
            "UNSUPPORTED",
            "POST goes to /v2/<name>/blobs/uploads/",
            headers={"Allow": "PATCH, PUT, GET, DELETE"},
            status=405,
        )
    args = ctx.request.args
    store = ctx.store
    mount = args.get("mount")
    if mount is not None:
        d = digest_for_push(mount, "mount")
        source = args.get("from")
        if source:
            try:
                validate_repository(source)
            except InvalidReferenceError as exc:
                raise RegistryError(
                    "NAME_INVALID", f"from: {exc}", {"from": source[:300]}
                ) from None
            if ctx.identity.allows(Scope.repository(source, "pull")) and store.mount_blob(
                source, ctx.repo, d
            ):
                return _created(ctx, str(d))
        up = store.uploads.start(ctx.repo)
        return empty(202, _session_headers(ctx, up))
    algorithm = args.get("digest-algorithm", "sha256")
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise RegistryError(
            "DIGEST_INVALID",
            f"unsupported digest-algorithm {algorithm!r}",
            {"algorithm": algorithm[:50]},
        )
    digest = args.get("digest")
    if digest is not None:
        d = digest_for_push(digest)
        up = store.uploads.start(ctx.repo, d.algorithm)
        with up.lock:
            try:
                _receive(ctx, up)
            except BaseException:
                store.uploads.cancel(ctx.repo, up.uuid)
                raise
            return _finish(ctx, up, digest)
    up = store.uploads.start(ctx.repo, algorithm)
    return empty(202, _session_headers(ctx, up))


def patch(ctx: Context, upload_id: str) -> Response:
    """Append a chunk (``Content-Range``) or a streamed body: 202 with the new ``Range``."""
    up = _session(ctx, upload_id)
    with up.lock:
        if up.closed:
            _session(ctx, "")
        _receive(ctx, up)
        return empty(202, _session_headers(ctx, up))


def put(ctx: Context, upload_id: str) -> Response:
    """Close a session with ``?digest=`` (optionally with a last chunk): 201, or 400."""
    up = _session(ctx, upload_id)
    with up.lock:
        if up.closed:
            _session(ctx, "")
        digest = ctx.request.args.get("digest")
        digest_for_push(digest)  # a bad digest is refused before any body is read
        _receive(ctx, up)
        return _finish(ctx, up, digest)


def status(ctx: Context, upload_id: str) -> Response:
    """end-13: 204 with ``Range`` and ``Location``."""
    up = _session(ctx, upload_id)
    return empty(204, _session_headers(ctx, up))


def cancel(ctx: Context, upload_id: str) -> Response:
    """end-14: 204; afterwards the session is unknown."""
    if not upload_id or not ctx.store.uploads.cancel(ctx.repo, upload_id):
        _session(ctx, upload_id)
    return empty(204)

"""end-3 / end-7 / end-9: manifests by tag or digest (GET, HEAD, PUT, DELETE)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from ..oci import mediatypes as mt
from ..oci.reference import TAG_RE
from .digest_params import digest_for_lookup, digest_for_push
from .endpoint import Context, empty, read_limited
from .errors import RegistryError

if TYPE_CHECKING:
    from .app import RegistryApp
    from .store import Store
    from .stored import StoredManifest

__all__ = ["get", "put", "delete", "lookup", "accepts", "etag_matches"]


def accepts(accept: str | None) -> set[str]:
    """Media types named in an ``Accept`` header (parameters and q-values dropped)."""
    if not accept:
        return set()
    return {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}


def etag_matches(if_none_match: str | None, digest: str) -> bool:
    """True when ``If-None-Match`` names this digest's ETag (or ``*``)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == "*" or tag.strip('"') == digest:
            return True
    return False


def _check_reference(reference: str) -> None:
    if ":" in reference:
        digest_for_lookup(reference, "MANIFEST_UNKNOWN")
    elif not TAG_RE.match(reference):
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"{reference[:200]!r} is neither a tag nor a digest",
            {"reference": reference[:200]},
        )


def lookup(
    app: RegistryApp, repo: str, reference: str, accept: str | None, store: Store | None = None
) -> StoredManifest:
    """The manifest to serve from ``store`` (default: the app's), after Accept negotiation;
    RegistryError when there is none."""
    store = app.store if store is None else store
    stored = store.get_manifest(repo, reference)
    if stored is None:
        _check_reference(reference)
        if not store.has_repository(repo):
            raise RegistryError(
                "NAME_UNKNOWN", f"repository {repo!r} is not known to this registry", {"name": repo}
            )
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"manifest {reference!r} is unknown to repository {repo!r}",
            {"reference": reference},
        )
    if app.strict_accept:
        stored = _negotiate(store, repo, stored, accepts(accept))
    return stored


def _negotiate(
    store: Store, repo: str, stored: StoredManifest, accepted: set[str]
) -> StoredManifest:
    """distribution 2.8's rules (``registry/handlers/manifests.go``)."""
    media = stored.media_type
    if media == mt.OCI_MANIFEST and media not in accepted:
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            "OCI manifest found, but accept header does not support OCI manifests",
        )
    if media == mt.OCI_INDEX and media not in accepted:
        raise RegistryError(
            "MANIFEST_UNKNOWN", "OCI index found, but accept header does not support OCI indexes"
        )
    if media == mt.DOCKER_MANIFEST_LIST and media not in accepted:
        # distribution serves the linux/amd64 image of a manifest list to old clients
        import json

        for entry in json.loads(stored.data).get("manifests", []):
            platform = entry.get("platform") or {}
            if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                child = store.get_manifest(repo, entry.get("digest", ""))
                if child is not None:
                    return _negotiate(store, repo, child, accepted)
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            "manifest list has no linux/amd64 image for a client without list support",
        )
    # A Docker schema 2 manifest not in Accept: distribution down-converts it to signed
    # schema 1, which nothing here produces; it is served unchanged instead.
    return stored


def get(ctx: Context, reference: str) -> Response:
    """GET/HEAD a manifest: exact bytes, its media type, ``Docker-Content-Digest``, ETag/304."""
    request = ctx.request
    stored = lookup(ctx.app, ctx.repo, reference, request.headers.get("Accept"), ctx.store)
    if etag_matches(request.headers.get("If-None-Match"), str(stored.digest)):
        return empty(
            304, {"ETag": f'"{stored.digest}"', "Docker-Content-Digest": str(stored.digest)}
        )
    resp = Response(stored.data)
    resp.headers.clear()
    for k, v in stored.headers:
        resp.headers[k] = v
    return resp


def put(ctx: Context, reference: str) -> Response:
    """PUT a manifest by tag or digest (plus ``?tag=``); 201 with ``Location`` and the digest."""
    request = ctx.request
    store = ctx.store
    ref_digest = None
    tags: list[str] = []
    if ":" in reference:
        ref_digest = digest_for_push(reference, "manifest digest")
    else:
        _require_tag(reference)
        tags.append(reference)
    for tag in request.args.getlist("tag"):
        _require_tag(tag)
        tags.append(tag)
    data = read_limited(request, ctx.app.manifest_limit, "manifest")
    if ref_digest is not None:
        h = ref_digest.hasher()
        h.update(data)
        actual = h.digest()
        if actual != ref_digest:
            raise RegistryError(
                "DIGEST_INVALID",
                f"manifest digest {actual} does not match the reference {ref_digest}",
                {"expected": str(ref_digest), "actual": str(actual)},
            )
    digest = store.put_manifest(
        ctx.repo,
        data,
        request.headers.get("Content-Type", ""),
        tags,
        digest=ref_digest if ref_digest is not None and ref_digest.algorithm != "sha256" else None,
    )
    headers = {
        "Location": f"/v2/{ctx.repo}/manifests/{digest}",
        "Docker-Content-Digest": str(digest),
    }
    stored = store.get_manifest(ctx.repo, str(digest))
    if stored is not None and stored.subject is not None:
        headers["OCI-Subject"] = str(stored.subject)
    resp = empty(201, headers)
    extra = request.args.getlist("tag")
    if extra:
        resp.headers["OCI-Tag"] = ", ".join(dict.fromkeys(extra))
    return resp


def _require_tag(tag: str) -> None:
    if not TAG_RE.match(tag):
        raise RegistryError(
            "TAG_INVALID",
            f"invalid tag {tag[:200]!r}: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}",
            {"tag": tag[:200]},
        )


def delete(ctx: Context, reference: str) -> Response:
    """DELETE by tag (the tag only) or by digest (the manifest and its tags): 202."""
    _check_reference(reference)
    if not ctx.store.delete_manifest(ctx.repo, reference):
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            f"manifest {reference!r} is unknown to repository {ctx.repo!r}",
            {"reference": reference},
        )
    return empty(202)

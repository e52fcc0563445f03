"""end-12: the referrers API, an OCI index of the manifests whose ``subject`` is a digest."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from ..oci import mediatypes as mt
from ..oci.digest import Digest, DigestError
from .endpoint import Context, json_response
from .errors import RegistryError

__all__ = ["get"]


def get(ctx: Context, digest: str) -> Response:
    """200 with an OCI index (empty when nothing refers to ``digest``); 400 for a bad digest.

    ``?artifactType=`` filters, and the response then carries ``OCI-Filters-Applied``.
    """
    try:
        d = Digest.parse(digest)
    except DigestError as exc:
        raise RegistryError("DIGEST_INVALID", str(exc), {"digest": digest[:200]}) from None
    wanted = ctx.request.args.get("artifactType")
    manifests: list[dict[str, Any]] = []
    for stored in ctx.store.referrers(ctx.repo, d):
        if wanted is not None and stored.artifact_type != wanted:
            continue
        desc: dict[str, Any] = {
            "mediaType": stored.media_type,
            "digest": str(stored.digest),
            "size": stored.size,
        }
        if stored.artifact_type is not None:
            desc["artifactType"] = stored.artifact_type
        if stored.annotations:
            desc["annotations"] = dict(stored.annotations)
        manifests.append(desc)
    headers = {"OCI-Filters-Applied": "artifactType"} if wanted is not None else None
    return json_response(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests},
        content_type=mt.OCI_INDEX,
        headers=headers,
    )

"""end-8: tag lists, and the Docker-era ``/v2/_catalog``, both paginated with ``n``/``last``."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .endpoint import Context, json_response
from .errors import RegistryError

__all__ = ["list_tags", "catalog", "paginate"]

#: ``n`` as ASCII digits, at most 19 of them (``str.isdigit`` would pass ``'²'`` to ``int``).
_PAGE_SIZE = re.compile(r"[0-9]{1,19}")
#: Page size when a client asks for none on the catalog (tags are unpaged unless asked).
CATALOG_PAGE = 10000


def paginate(
    items: list[str], request: Request, default: int | None
) -> tuple[list[str], str | None]:
    """Apply ``n`` and ``last``; return the page and the ``last`` for the next page, if any."""
    raw_n = request.args.get("n")
    n = default
    if raw_n is not None:
        if not _PAGE_SIZE.fullmatch(raw_n):
            raise RegistryError(
                "PAGINATION_NUMBER_INVALID",
                f"n must be a non-negative integer of at most 19 digits, got {raw_n[:50]!r}",
                {"n": raw_n[:50]},
            )
        n = int(raw_n)
    last = request.args.get("last")
    if last:
        items = [i for i in items if i > last]
    if n is None or len(items) <= n:
        return items, None
    page = items[:n]
    return page, (page[-1] if page else None)


def _link(path: str, n: int, last: str) -> str:
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'


def list_tags(ctx: Context) -> Response:
    """``{"name", "tags"}`` sorted; 404 ``NAME_UNKNOWN`` for an unknown repository."""
    if not ctx.store.has_repository(ctx.repo):
        raise RegistryError(
            "NAME_UNKNOWN",
            f"repository {ctx.repo!r} is not known to this registry",
            {"name": ctx.repo},
        )
    page, more = paginate(ctx.store.tags(ctx.repo), ctx.request, None)
    headers = {}
    if more is not None:
        headers["Link"] = _link(f"/v2/{ctx.repo}/tags/list", len(page), more)
    return json_response({"name": ctx.repo, "tags": page}, headers=headers)


def catalog(ctx: Context) -> Response:
    """``{"repositories": [...]}`` sorted, with a ``Link`` header when there are more."""
    page, more = paginate(ctx.store.repositories(), ctx.request, CATALOG_PAGE)
    headers = {}
    if more is not None:
        headers["Link"] = _link("/v2/_catalog", len(page), more)
    return json_response({"repositories": page}, headers=headers)

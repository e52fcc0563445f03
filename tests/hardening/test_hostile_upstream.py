"""An upstream that answers without end does not tie the mirror up: pagination is bounded (and
never follows a page twice), ``close()`` ends every upstream loop, and a manifest over the 4 MiB
limit is neither cached nor served."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import requests

from flakymirror.mirror import FlakyMirror
from flakymirror.mirror.http_upstream import MAX_PAGES, HttpUpstream
from flakymirror.registry import Server
from flakymirror.registry.app import MANIFEST_LIMIT
from tests.helpers.waiting import wait_until

MEDIA = "application/vnd.oci.image.manifest.v1+json"


class Hostile:
    """A WSGI upstream: an endless tag list (each page links to a new one), a circular
    catalog, and a manifest one byte over the mirror's limit."""

    def __init__(self) -> None:
        self.pages = 0
        self.release = threading.Event()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        headers = [("Content-Type", "application/json")]
        if path.endswith("/tags/list"):
            self.pages += 1
            n = int(query.partition("=")[2] or 0)
            headers.append(("Link", f'</v2/lib/app/tags/list?last={n + 1}>; rel="next"'))
            body = json.dumps({"name": "lib/app", "tags": [f"t{n}"]}).encode()
        elif path == "/v2/_catalog":
            headers.append(("Link", '</v2/_catalog>; rel="next"'))  # itself: a circle
            body = json.dumps({"repositories": ["lib/app"]}).encode()
        elif "/manifests/" in path:
            doc = {"schemaVersion": 2, "mediaType": MEDIA, "layers": [],
                   "annotations": {"pad": "x" * MANIFEST_LIMIT}}  # fmt: skip
            body = json.dumps(doc).encode()
            headers = [("Content-Type", MEDIA)]
        else:
            body = b"{}"
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def test_listings_end_and_a_huge_manifest_is_refused() -> None:
    hostile = Hostile()
    with Server(hostile) as origin:
        upstream = HttpUpstream(origin.url)
        try:
            tags = upstream.tags("lib/app")
            assert len(tags) == MAX_PAGES and hostile.pages == MAX_PAGES
            assert upstream.repositories() == ["lib/app"]  # the circle is read once
            assert upstream.get_manifest("lib/app", "1") is None
            assert upstream.rejected == 1 and upstream.cache.get_manifest("lib/app", "1") is None
        finally:
            upstream.close()
        origin.check()


def test_close_ends_a_listing_under_way() -> None:
    hostile = Hostile()
    with Server(hostile) as origin:
        upstream = HttpUpstream(origin.url)
        result: list[Any] = []
        lister = threading.Thread(target=lambda: result.append(upstream._paged(
            "/v2/lib/app/tags/list", "tags", "repository:lib/app:pull")))  # fmt: skip
        lister.start()
        wait_until(lambda: hostile.pages >= 5, message=lambda: f"{hostile.pages} pages")
        upstream.close()
        lister.join(timeout=10)
        assert not lister.is_alive()
        assert result == [None] and hostile.pages < MAX_PAGES


def test_the_mirror_answers_manifest_unknown_for_a_manifest_over_the_limit() -> None:
    with Server(Hostile()) as origin, FlakyMirror(origin.url) as mirror:
        resp = requests.get(
            mirror.url + "/v2/lib/app/manifests/1", headers={"Accept": MEDIA}, timeout=10
        )
        assert resp.status_code == 404
        assert resp.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        mirror.check()

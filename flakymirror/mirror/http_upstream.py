"""A true pull-through cache of a registry reached over HTTP.

* Auth: the upstream's ``/v2/`` challenge is followed — ``Bearer`` (token from the realm, per
  repository scope, ``token`` or ``access_token``; Basic credentials sent to the realm when
  given) or ``Basic``; a 401 later re-reads the challenge and retries once.
* Manifests: fetched with the full ``Accept`` list; by digest they are verified and served from
  the cache without asking upstream again; by tag upstream is asked each time and the cache
  answers only when upstream cannot be reached.
* Blobs: streamed from upstream into the cache (a :class:`~flakymirror.registry.store.Store`,
  spooled to disk past a small size) and verified on the way; content whose digest does not
  verify is never cached or served. Concurrent requests for one uncached blob share a single
  upstream GET (single flight) — distribution 2.8's proxy does not.
* Upstream down: whatever is cached is still served; the rest is absent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from flakymirror.oci import mediatypes as mt
from flakymirror.oci.challenge import parse_challenges
from flakymirror.oci.digest import Digest, DigestError, DigestMismatch
from flakymirror.registry.app import MANIFEST_LIMIT
from flakymirror.registry.errors import RegistryError
from flakymirror.registry.store import Store
from flakymirror.registry.stored import StoredManifest

__all__ = ["MANIFEST_ACCEPT", "HttpUpstream", "UpstreamDown"]

MANIFEST_ACCEPT = ",".join(
    [mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST]
)
CHUNK = 1 << 16
#: Most pages of a tag list or catalog read from upstream in one listing.
MAX_PAGES = 1000
_LENGTH = re.compile(r"[0-9]{1,19}")


def _json(r: requests.Response) -> dict[str, Any]:
    try:
        doc = r.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class UpstreamDown(Exception):  # noqa: N818
    """The upstream could not be reached or answered with a server error."""


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    size: int | None = None
    error: BaseException | None = None


class HttpUpstream:
    """Pull-through cache of the registry at ``url``.

    ``credentials``: ``(user, password)`` for the upstream's auth. ``timeout``: seconds to
    connect and between bytes. ``fetches`` counts the upstream blob GETs made.
    """

    def __init__(
        self,
        url: str,
        *,
        credentials: tuple[str, str] | None = None,
        timeout: float = 10.0,
        spool_dir: str | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"upstream URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self._spool_dir = spool_dir
        self.cache = Store(spool_dir)
        self.session = requests.Session()
        self._lock = threading.Lock()
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[str, str] = {}
        self._flights: dict[tuple[str, str], _Flight] = {}
        self.fetches = 0
        self.rejected = 0
        self._closed = threading.Event()

    # -- auth and transport ------------------------------------------------------------------
    def _learn(self, header: str | None) -> None:
        if not header:
            return
        challenges = parse_challenges(header)
        if not challenges:
            return
        first = challenges[0]
        with self._lock:
            self._challenge = (first.scheme, dict(first.parameters))
            self._tokens.clear()

    def _token(self, scope: str, params: dict[str, str]) -> str | None:
        with self._lock:
            token = self._tokens.get(scope)
        if token is not None:
            return token
        realm = params.get("realm")
        if not realm:
            return None
        query = {"scope": scope}
        if "service" in params:
            query["service"] = params["service"]
        try:
            r = self.session.get(realm, params=query, auth=self.credentials, timeout=self.timeout)
        except requests.RequestException as exc:
            raise UpstreamDown(f"token service {realm}: {exc}") from exc
        if r.status_code != 200:
            return None
        body = _json(r)
        token = body.get("token") or body.get("access_token")
        if isinstance(token, str):
            with self._lock:
                self._tokens[scope] = token
            return token
        return None

    def _auth_headers(self, scope: str) -> dict[str, str]:
        challenge = self._challenge
        if challenge is None:
            return {}
        scheme, params = challenge
        if scheme == "bearer":
            token = self._token(scope, params)
            return {"Authorization": f"Bearer {token}"} if token else {}
        if scheme == "basic" and self.credentials:
            return {}  # requests' auth= adds it
        return {}

    def _request(self, method: str, path: str, scope: str, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        for attempt in (1, 2):
            if self._closed.is_set():  # every upstream loop ends here after close()
                raise UpstreamDown(f"{method} {self.url}{path}: the mirror closed its upstream")
            auth = self.credentials if self._challenge and self._challenge[0] == "basic" else None
            try:
                r = self.session.request(
                    method,
                    self.url + path,
                    headers={**headers, **self._auth_headers(scope)},
                    auth=auth,
                    timeout=self.timeout,
                    **kw,
                )
            except requests.RequestException as exc:
                raise UpstreamDown(f"{method} {self.url}{path}: {exc}") from exc
            if r.status_code == 401 and attempt == 1 and r.headers.get("WWW-Authenticate"):
                r.close()
                self._learn(r.headers.get("WWW-Authenticate"))
                continue
            if r.status_code >= 500:
                r.close()
                raise UpstreamDown(f"{method} {self.url}{path}: {r.status_code}")
            return r
        return r

    def ping(self) -> int:
        """``GET /v2/``, learning the auth challenge; returns the status."""
        r = self._request("GET", "/v2/", "")
        return r.status_code

    # -- manifests -----------------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str) -> StoredManifest | None:
        """A manifest, verified and cached; by tag the cache answers only when upstream is down."""
        by_digest = ":" in reference
        if by_digest:
            cached = self.cache.get_manifest(repo, reference)
            if cached is not None:
                return cached
        scope = f"repository:{repo}:pull"
        try:
            r = self._request(
                "GET",
                f"/v2/{repo}/manifests/{reference}",
                scope,
                headers={"Accept": MANIFEST_ACCEPT},
                stream=True,
            )
        except UpstreamDown:
            return self.cache.get_manifest(repo, reference)
        with r:
            if r.status_code != 200:
                return None if r.status_code == 404 else self.cache.get_manifest(repo, reference)
            try:
                # the limit the mirror puts on a pushed manifest holds for upstream's too
                data = r.raw.read(MANIFEST_LIMIT + 1, decode_content=True)
            except (OSError, requests.RequestException, urllib3.exceptions.HTTPError):
                return self.cache.get_manifest(repo, reference)
        if len(data) > MANIFEST_LIMIT:
            self.rejected += 1
            return self.cache.get_manifest(repo, reference)
        digest = Digest.of(data)
        if by_digest:
            try:
                wanted = Digest.parse(reference)
            except DigestError:
                return None
            if wanted.algorithm != "sha256" or digest != wanted:
                self.rejected += 1
                return None  # wrong bytes for a digest are never cached
        media = (r.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        tags = () if by_digest else (reference,)
        self.cache.put_manifest(repo, data, media, tags, check=False)
        return self.cache.get_manifest(repo, str(digest))

    # -- blobs ---------------------------------------------------------------------------------
    def blob_size(self, repo: str, digest: str) -> int | None:
        """A blob's size from the cache, else from upstream's HEAD (None when unknown)."""
        size = self.cache.blob_size(repo, digest)
        if size is not None:
            return size
        try:
            r = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull")
        except UpstreamDown:
            return None
        length = r.headers.get("Content-Length")
        if r.status_code != 200 or length is None or not _LENGTH.fullmatch(length):
            return None
        return int(length)

    def ensure_blob(self, repo: str, digest: str) -> int | None:
        """Fetch a blob into the cache unless it is there; one upstream GET however many
        callers ask at once. Returns its size, or None when upstream does not have it."""
        size = self.cache.blob_size(repo, digest)
        if size is not None:
            return size
        key = (repo, digest)
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if leader:
            try:
                flight.size = self._fetch(repo, digest)
            except BaseException as exc:  # handed to every waiter
                flight.error = exc
            finally:
                with self._lock:
                    self._flights.pop(key, None)
                flight.done.set()
        elif not flight.done.wait(self.timeout * 6):
            raise RegistryError("UNAVAILABLE", f"timed out waiting for upstream blob {digest}")
        if isinstance(flight.error, RegistryError):
            raise flight.error
        if flight.error is not None:
            return None
        return flight.size

    def _fetch(self, repo: str, digest: str) -> int | None:
        try:
            d = Digest.parse(digest)
        except DigestError:
            return None
        try:
            r = self._request(
                "GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull", stream=True
            )
        except UpstreamDown:
            return None
        with r:
            if r.status_code != 200:
                return None
            with self._lock:
                self.fetches += 1
            try:
                return self.cache.put_blob(repo, d, r.iter_content(CHUNK))
            except (DigestMismatch, ValueError) as exc:
                with self._lock:
                    self.rejected += 1
                raise RegistryError(
                    "UNAVAILABLE",
                    f"upstream sent content that does not verify as {digest}; not cached",
                    {"digest": digest, "upstream": self.url, "error": str(exc)},
                    status=502,
                ) from None
            except requests.RequestException:
                return None  # the transfer broke: nothing was cached

    def open_blob(
        self, repo: str, digest: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of a blob, cached first (``KeyError`` when absent)."""
        if not self.cache.has_blob(repo, digest) and self.ensure_blob(repo, digest) is None:
            raise KeyError(f"blob {digest} is not available from {self.url}")
        return self.cache.open_blob(repo, digest, start, end)

    # -- listings ------------------------------------------------------------------------------
    def _paged(self, path: str, key: str, scope: str) -> list[str] | None:
        """Every page of a listing, following ``Link: <...>; rel="next"`` at most
        :data:`MAX_PAGES` times and never to a page already read (an endless or circular
        pagination ends there with what was read)."""
        out: list[str] = []
        seen: set[str] = set()
        while path and path not in seen and len(seen) < MAX_PAGES:
            seen.add(path)
            try:
                r = self._request("GET", path, scope)
            except UpstreamDown:
                return None
            if r.status_code != 200:
                return None if r.status_code != 404 else []
            items = _json(r).get(key) or []
            out += [i for i in items if isinstance(i, str)]
            link = r.headers.get("Link", "")
            m = re.match(r"\s*<([^>]+)>", link)
            path = m.group(1) if m and 'rel="next"' in link else ""
            if path.startswith(self.url):
                path = path[len(self.url) :]
        return out

    def tags(self, repo: str) -> list[str]:
        """Upstream's tags for ``repo`` (all pages), or the cached ones when it is down."""
        tags = self._paged(f"/v2/{repo}/tags/list", "tags", f"repository:{repo}:pull")
        return sorted(tags) if tags is not None else self.cache.tags(repo)

    def repositories(self) -> list[str]:
        """Upstream's catalog merged with the repositories in the cache."""
        repos = self._paged("/v2/_catalog", "repositories", "registry:catalog:*")
        cached = self.cache.repositories()
        return sorted(set(repos or []) | set(cached))

    def has_repository(self, repo: str) -> bool:
        """False only when upstream answers 404 for the repository's tag list (distribution's
        ``NAME_UNKNOWN``) and nothing of it is cached; True when upstream cannot tell (down,
        auth refused), so a missing manifest stays ``MANIFEST_UNKNOWN`` then."""
        if self.cache.has_repository(repo):
            return True
        try:
            r = self._request("GET", f"/v2/{repo}/tags/list?n=1", f"repository:{repo}:pull")
        except UpstreamDown:
            return True
        r.close()
        return r.status_code != 404

    def referrers(self, repo: str, digest: str) -> list[StoredManifest]:
        """The referrers upstream lists for ``digest``, each fetched through the cache."""
        try:
            r = self._request("GET", f"/v2/{repo}/referrers/{digest}", f"repository:{repo}:pull")
        except UpstreamDown:
            return []
        if r.status_code != 200:
            return []
        out = []
        for desc in _json(r).get("manifests") or []:
            if not isinstance(desc, dict):
                continue
            stored = self.get_manifest(repo, str(desc.get("digest", "")))
            if stored is not None:
                out.append(stored)
        return out

    # -- lifecycle -------------------------------------------------------------------------------
    def clear_cache(self) -> None:
        """Forget every cached manifest and blob."""
        old, self.cache = self.cache, Store(self._spool_dir)
        old.close()

    def close(self) -> None:
        """Close the HTTP session and drop the cache; a listing or fetch under way stops at
        its next upstream request."""
        self._closed.set()
        self.session.close()
        self.cache.close()

    def describe(self) -> str:
        """``"pull-through cache of <url>"``."""
        return f"pull-through cache of {self.url}"

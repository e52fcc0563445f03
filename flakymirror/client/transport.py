"""An HTTP transport that behaves like go-containerregistry's on the wire (built on requests).

One :class:`Transport` talks to one registry, like the transport ggcr builds for every
``remote.*`` call: it pings ``GET /v2/``, follows the ``WWW-Authenticate`` challenge (Bearer:
token GET to the realm with ``service`` and ``scope``; Basic: credentials on every request), wraps
every request in the ggcr retry layer of its :class:`~flakymirror.client.retry.RetryProfile`, and
turns unexpected statuses into :class:`~flakymirror.client.errors.TransportError` exactly as
ggcr's ``CheckError`` does. It caches nothing but the challenge and tokens; a new open builds a
new Transport (a new session, new connections), so nothing is remembered between opens.

A request names the scopes its token needs: one (``repository:foo:pull``) or several, as ggcr's
writer asks for ``repository:<dst>:push,pull`` plus ``repository:<src>:pull`` before a
cross-repository mount. One token is fetched per set of scopes, all of them in one token request.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import requests
from requests.structures import CaseInsensitiveDict

from flakymirror.client.auth import (
    Challenge,
    Credentials,
    Keychain,
    Scopes,
    StaticToken,
    parse_challenges,
    resolve_credentials,
    scope_tuple,
    token_from_response,
)
from flakymirror.client.errors import (
    ERROR_BODY_LIMIT,
    ClientError,
    NetworkError,
    RequestInfo,
    TransportError,
    UnexpectedEOF,
    go_format,
)
from flakymirror.client.gohttp import (
    REPLAYABLE,
    RequestRecord,
    ReuseTrackingAdapter,
    network_error,
    read_and_close,
    read_body,
    went_out_reused,
)
from flakymirror.client.retry import RetryProfile, ggcr_retry_predicate, resolve_profile, retry_call
from flakymirror.client.urls import with_query

__all__ = ["RequestRecord", "Scopes", "Transport", "network_error"]

T = TypeVar("T")
USER_AGENT = "flakymirror-client (go-containerregistry behaviour)"


def _response_challenges(resp: requests.Response) -> list[Challenge]:
    """The ``WWW-Authenticate`` challenges of a 401 (docker's ``ResponseChallenges``)."""
    if resp.status_code != 401 or resp.raw is None:
        return []
    return parse_challenges(resp.raw.headers.getlist("WWW-Authenticate"))


class Transport:
    """ggcr-like transport to one registry (``host:port``).

    ``insecure=True`` means plain HTTP (ggcr would also try HTTPS first for such registries; this
    client does not). ``keychain`` is a :class:`~flakymirror.client.auth.Keychain`, a mapping of
    hosts to credentials, single credentials, or None. ``profile`` names a retry profile
    (``ggcr-v0.21.9`` by default) or is a :class:`RetryProfile`. ``sleep`` receives every backoff
    sleep (default :func:`time.sleep`); ``seed`` seeds the jitter: the k-th backoff sleep of a
    transport uses the k-th draw of ``random.Random(seed)``. ``record`` is an optional list (or
    callable) that receives a :class:`RequestRecord` per HTTP exchange (also in ``.requests``).
    """

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        keychain: Keychain | Credentials | Mapping[str, Credentials] | None = None,
        profile: str | RetryProfile | None = "ggcr-v0.21.9",
        sleep: Callable[[float], None] | None = None,
        seed: int = 0,
        timeout: float | tuple[float, float] | None = 30.0,
        verify: bool | str = True,
        record: list[RequestRecord] | Callable[[RequestRecord], None] | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if not isinstance(registry, str) or not registry or "/" in registry:
            raise ValueError(
                f"registry must be a host[:port] such as '127.0.0.1:5000', got {registry!r}"
            )
        self.registry = registry
        self.insecure = insecure
        self.scheme = "http" if insecure else "https"
        self.base_url = f"{self.scheme}://{registry}"
        self.credentials = resolve_credentials(keychain, registry)
        self.profile = resolve_profile(profile)
        self.sleep = sleep if sleep is not None else time.sleep
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.requests: list[RequestRecord] = []
        self._record = record
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or .netrc from the environment
        adapter = ReuseTrackingAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = verify
        self.session.headers = CaseInsensitiveDict(
            {"User-Agent": user_agent, "Accept-Encoding": "gzip"}
        )
        self.challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], str] = {}
        self._lock = threading.RLock()
        self._ping_lock = threading.Lock()

    # -- bookkeeping -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, url_or_path: str) -> str:
        """An absolute URL for a path on this registry (absolute URLs pass through)."""
        if url_or_path.startswith(("http://", "https://")):
            return url_or_path
        if not url_or_path.startswith("/"):
            url_or_path = "/" + url_or_path
        return self.base_url + url_or_path

    def _note(self, record: RequestRecord) -> None:
        self.requests.append(record)
        if callable(self._record):
            self._record(record)
        elif self._record is not None:
            self._record.append(record)

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    # -- the retry layer -----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: Any = None,
        *,
        retry: bool = True,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """One request through ggcr's retry transport: statuses of the profile and temporary
        network failures are retried with backoff; the last response (or error) is final."""
        replayable = data is None or isinstance(data, bytes | bytearray | str)
        retry = retry and replayable and self.profile.steps > 1

        def round_trip() -> requests.Response:
            # Go's http.Transport: a replayable request that fails on a kept-alive connection
            # before any response byte is sent again on a new connection, invisibly to ggcr
            while True:
                try:
                    return self.session.request(
                        method,
                        url,
                        headers=dict(headers),
                        data=data,
                        stream=True,
                        timeout=self.timeout,
                        allow_redirects=allow_redirects,
                    )
                except requests.exceptions.RequestException as exc:
                    err = network_error(method, url, exc)
                    self._note(RequestRecord(method, url, None, str(err)))
                    reused = went_out_reused(exc)
                    resend = err.kind in ("eof", "reset", "broken-pipe") and (
                        method.upper() in REPLAYABLE and replayable
                    )
                    if not (reused and resend):
                        raise err from exc

        def attempt() -> requests.Response:
            resp = round_trip()
            for hop in resp.history:
                self._note(RequestRecord(hop.request.method or method, hop.url, hop.status_code))
            self._note(RequestRecord(method, resp.url or url, resp.status_code))
            if retry and self.profile.retries_status(resp.status_code):
                # ggcr's retryError: read the body (v0.21.5 did not put it back)
                try:
                    body = read_body(resp)
                except UnexpectedEOF as exc:
                    resp._fm_body_error = exc  # type: ignore[attr-defined]
                    raise _RetryableStatus(resp, exc) from None
                if not self.profile.restore_body:
                    resp._content = b""
                    resp._content_consumed = True
                raise _RetryableStatus(resp, None, body)
            return resp

        def should_retry(_result: Any, error: BaseException | None) -> bool:
            if not retry or error is None:
                return False
            if isinstance(error, _RetryableStatus):
                return True
            if isinstance(error, NetworkError):
                return self.profile.retry_network and error.retryable()
            return self.profile.retry_network and ggcr_retry_predicate(error)

        try:
            return retry_call(attempt, should_retry, self.profile, sleep=self._sleep, rng=self.rng)
        except _RetryableStatus as final:
            return final.response

    def retry_operation(self, fn: Callable[[], T]) -> T:
        """Retry a whole operation like ggcr's uploads and manifest PUTs: with the profile's
        backoff while the error is temporary (ggcr's ``defaultRetryPredicate``)."""
        return retry_call(
            fn,
            lambda _r, e: e is not None and ggcr_retry_predicate(e),
            self.profile,
            sleep=self._sleep,
            rng=self.rng,
        )

    # -- errors ----------------------------------------------------------------------------------

    def check_error(self, resp: requests.Response, ok: Iterable[int] = (200,)) -> None:
        """ggcr's ``CheckError``: raise :class:`TransportError` (body read up to 64 KiB) unless
        ``resp.status_code`` is in ``ok``."""
        if resp.status_code in tuple(ok):
            return
        body = read_and_close(resp, ERROR_BODY_LIMIT)
        request = RequestInfo(resp.request.method or "GET", resp.request.url or resp.url)
        raise TransportError.from_body(
            resp.status_code,
            body,
            request,
            temporary_status_codes=frozenset(self.profile.temporary_status_codes),
        )

    # -- auth ------------------------------------------------------------------------------------

    def ping(self, scope: Scopes | None = None) -> Challenge:
        """``GET /v2/``: learn the auth challenge (200 → anonymous). With ``scope`` (one scope or
        several) and a Bearer challenge, fetch the token right away, as ggcr does when it builds
        a transport."""
        url = self.url("/v2/")
        resp = self._send("GET", url, {})
        read_and_close(resp)  # drain, as ggcr does, so the connection is kept alive
        if resp.status_code == 200:
            challenge = Challenge("anonymous")
        elif resp.status_code == 401:
            parsed = _response_challenges(resp)
            picked = next((c for c in parsed if c.scheme in ("basic", "bearer")), None)
            challenge = picked or (parsed[0] if parsed else Challenge(""))
        else:
            self.check_error(resp, (200, 401))
            raise AssertionError("unreachable")  # pragma: no cover
        if challenge.scheme == "bearer" and "realm" not in challenge.parameters:
            raise ClientError(
                f"malformed www-authenticate, missing realm: {go_format(dict(challenge.parameters))}"
            )
        with self._lock:
            self.challenge = challenge
            self._tokens.clear()
        if scope is not None and challenge.scheme == "bearer":
            self._token_for(scope_tuple(scope))
        return challenge

    def _bearer_scopes(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        assert self.challenge is not None
        extra = self.challenge.parameters.get("scope")
        return scopes if not extra or extra in scopes else (*scopes, extra)

    def _token_for(self, scopes: tuple[str, ...], *, refresh: bool = False) -> str:
        """A Bearer token for ``scopes`` (ggcr ``bearerTransport.refresh``)."""
        with self._lock:
            if not refresh and scopes in self._tokens:
                return self._tokens[scopes]
        if isinstance(self.credentials, StaticToken):
            token = self.credentials.token
        else:
            token = self._fetch_token(scopes)
        with self._lock:
            self._tokens[scopes] = token
        return token

    def _fetch_token(self, scopes: tuple[str, ...]) -> str:
        assert self.challenge is not None
        realm = self.challenge.parameters["realm"]
        service = self.challenge.parameters.get("service", self.registry)
        headers: dict[str, str] = {}
        auth = self.credentials.authorization()
        if auth is not None:
            headers["Authorization"] = auth
        # ggcr refreshBasic: the realm's own query kept, every scope repeated, keys sorted
        url = with_query(realm, {"scope": scopes, "service": service})
        resp = self._send("GET", url, headers)
        self.check_error(resp, (200,))
        content = read_and_close(resp)
        return token_from_response(content, realm)

    def _authorization(self, scopes: tuple[str, ...]) -> str | None:
        if self.challenge is None or self.challenge.scheme == "anonymous":
            return None
        if self.challenge.scheme == "bearer":
            return "Bearer " + self._token_for(self._bearer_scopes(scopes))
        return self.credentials.authorization()  # Basic (or unknown) challenge: ggcr basicTransport

    # -- requests --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url_or_path: str,
        *,
        scope: Scopes,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        ok: Iterable[int] = (200,),
        retry: bool = True,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send a request for ``scope`` (``repository:foo/bar:pull``, or a sequence of scopes
        that one token must grant) and return the response.

        Pings first if this transport has not. Adds the auth the challenge calls for; under a
        Bearer challenge a 401 that carries a challenge (as ggcr) fetches a new token, asking
        first for a scope the 401 names, then the request's, and resends once. A status outside
        ``ok`` raises :class:`TransportError`. ``stream=False`` reads the body (a cut body raises
        :class:`UnexpectedEOF`); ``retry=False`` bypasses the retry layer (ggcr's
        ``retry.Never`` for uploads)."""
        scopes = scope_tuple(scope)
        if self.challenge is None:
            with self._ping_lock:  # concurrent first requests (parallel uploads) ping once
                if self.challenge is None:
                    self.ping(scopes)
        url = self.url(url_or_path)
        base_headers = dict(headers or {})

        def send(auth_header: str | None) -> requests.Response:
            hdrs = dict(base_headers)
            if auth_header is not None:
                hdrs["Authorization"] = auth_header
            return self._send(method, url, hdrs, data, retry=retry, allow_redirects=allow_redirects)

        resp = send(self._authorization(scopes))
        # ggcr's bearerTransport refreshes only when the 401 carries a challenge
        # (authchallenge.ResponseChallenges); a bare 401 goes back to the caller as is.
        challenges = _response_challenges(resp)
        if challenges and self.challenge is not None and self.challenge.scheme == "bearer":
            wanted = self._bearer_scopes(scopes)
            added: list[str] = []
            for ch in challenges:
                extra = ch.parameters.get("scope")
                if ch.scheme == "bearer" and extra and extra not in wanted and extra not in added:
                    added.append(extra)
            # ggcr puts the scopes a 401 asks for first: some registries read only the first
            resp.close()
            resp = send("Bearer " + self._token_for((*added, *wanted), refresh=True))
        self.check_error(resp, ok)
        if not stream:
            read_and_close(resp)
        return resp

    def read_body(self, resp: requests.Response, limit: int | None = None) -> bytes:
        """The body of a response from :meth:`request` (a cut body raises UnexpectedEOF)."""
        return read_body(resp, limit)


class _RetryableStatus(Exception):
    """Internal: a response whose status the profile retries (ggcr's forced-temporary error)."""

    def __init__(
        self, response: requests.Response, error: BaseException | None, body: bytes = b""
    ) -> None:
        super().__init__(f"retryable status {response.status_code}")
        self.response = response
        self.error = error
        self.body = body

"""Who may do what: anonymous, HTTP Basic, and a Bearer token service on the same server.

Every request names the access it needs as :class:`Scope` values (``repository:foo:pull``).
An auth object answers with an :class:`Identity` or raises the OCI error: ``401 UNAUTHORIZED``
with a ``WWW-Authenticate`` challenge when (re)authenticating can help (no or bad credentials,
an expired token, an anonymous token when a user could have the access), ``403 DENIED`` when
the caller is known and the policy refuses. Grants (who gets which actions on which repositories)
are data: ``{"alice": {"*": "pull,push"}, "": {"public/*": "pull"}}`` where ``""`` is the
anonymous caller, ``"*"`` any authenticated user, and keys of the inner mapping are
``fnmatch`` patterns over repository names (``"registry:catalog"`` for the catalog).
Without ``grants``, authenticated users may do everything and anonymous callers nothing.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from werkzeug.wrappers import Request, Response

from .endpoint import json_response
from .errors import RegistryError
from .own_url import own_base_url
from .scopes import ANONYMOUS, Identity, Policy, Scope, error_detail

__all__ = [
    "Scope",
    "Identity",
    "Policy",
    "RegistryAuth",
    "ClockedAuth",
    "AnonymousAuth",
    "BasicAuth",
    "BearerAuth",
    "ANONYMOUS",
]


@runtime_checkable
class RegistryAuth(Protocol):
    """What a registry's (and a mirror's) auth is: :class:`AnonymousAuth`, :class:`BasicAuth`,
    :class:`BearerAuth`, or your own object with these three members."""

    #: The path of the token service this auth answers on the registry's own port (``"/token"``
    #: for :class:`BearerAuth`), or None when it has none.
    token_path: str | None

    def authenticate(self, request: Request, needed: list[Scope]) -> Identity:
        """The caller's identity for a request needing ``needed``, or a 401/403 RegistryError."""

    def token_endpoint(self, request: Request) -> Response:
        """Answer a request to :attr:`token_path`."""


@runtime_checkable
class ClockedAuth(Protocol):
    """An auth whose decisions read a clock (:class:`BearerAuth`: token expiry). A
    ``FlakyMirror`` moves one left on wall time (``time.time``) to the mirror clock."""

    #: Epoch seconds now, as the auth sees them.
    clock: Callable[[], float]


class AnonymousAuth:
    """No authentication: everyone may do everything."""

    token_path: str | None = None

    def authenticate(self, request: Request, needed: list[Scope]) -> Identity:
        """The caller's identity for a request needing ``needed``, or a 401/403 RegistryError."""
        return ANONYMOUS

    def token_endpoint(self, request: Request) -> Response:  # pragma: no cover - never routed
        """Answer a request to the token endpoint."""
        raise RegistryError("UNSUPPORTED", "this registry has no token service")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = (
            base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return ("", "\0invalid")
    return (user, password) if sep else ("", "\0invalid")


class BasicAuth:
    """HTTP Basic on every request, as distribution's htpasswd controller."""

    token_path: str | None = None

    def __init__(
        self,
        users: Mapping[str, str],
        grants: Mapping[str, Mapping[str, str | Iterable[str]]] | None = None,
        realm: str = "flakymirror",
    ) -> None:
        self.users = dict(users)
        self.policy = Policy(grants)
        self.realm = realm

    def _challenge(self, message: str, needed: list[Scope]) -> RegistryError:
        return RegistryError(
            "UNAUTHORIZED",
            message,
            error_detail(needed) or None,
            headers={"WWW-Authenticate": f'Basic realm="{self.realm}"'},
        )

    def authenticate(self, request: Request, needed: list[Scope]) -> Identity:
        """The caller's identity for a request needing ``needed``, or a 401/403 RegistryError."""
        creds = _basic_credentials(request)
        if creds is None:
            if all(set(s.actions) <= self.policy.allowed(None, s) for s in needed) and needed:
                return Identity(None, lambda s: set(s.actions) <= self.policy.allowed(None, s))
            raise self._challenge("authentication required", needed)
        user, password = creds
        if user not in self.users or not secrets.compare_digest(self.users[user], password):
            raise self._challenge("invalid username or password", needed)
        for scope in needed:
            if not set(scope.actions) <= self.policy.allowed(user, scope):
                raise RegistryError(
                    "DENIED",
                    f"user {user!r} may not {','.join(scope.actions)} {scope.name}",
                    error_detail([scope]),
                )
        return Identity(user, lambda s: set(s.actions) <= self.policy.allowed(user, s))

    def token_endpoint(self, request: Request) -> Response:  # pragma: no cover - never routed
        """Answer a request to the token endpoint."""
        raise RegistryError("UNSUPPORTED", "this registry has no token service")


@dataclass
class _Token:
    user: str | None
    access: dict[tuple[str, str], frozenset[str]]
    expires_at: float


#: Unexpired tokens (access and refresh together) a token service holds at most: about 10 MB.
DEFAULT_MAX_TOKENS = 100_000
#: How long a refresh token lives, in seconds on the auth clock (distribution's token servers
#: vary; a day outlives any test).
DEFAULT_REFRESH_TTL = 24 * 3600.0


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BearerAuth:
    """Docker token auth with the token service on the same server (``/token``).

    Tokens are opaque random strings kept in a table with their grants and expiry, read
    against ``clock()`` (epoch seconds; inject a virtual clock to drive expiry). A token that
    lacks access answers ``401`` + ``error="insufficient_scope"`` when a new token could get
    it: the token's user is granted the access, or the token is anonymous and some configured
    user is (so clients log in and fetch a new token). ``403 DENIED`` is for a logged-in user
    the grants refuse, and for an anonymous token asking what no user may have.

    The table is bounded: expired tokens are forgotten as new ones are issued, and with
    ``max_tokens`` unexpired ones (access and refresh tokens together) held, the token service
    refuses a new one (``503 UNAVAILABLE`` with ``Retry-After`` until the next expiry, journaled
    by a mirror as outcome ``"limit"``) rather than evict a token a client still holds. Refresh
    tokens (``offline_token=true``) expire after ``refresh_ttl`` seconds.
    """

    token_path = "/token"

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        token_ttl: float = 300,
        grants: Mapping[str, Mapping[str, str | Iterable[str]]] | None = None,
        clock: Callable[[], float] = time.time,
        token_field: str = "token",
        service: str = "flakymirror",
        realm: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        refresh_ttl: float = DEFAULT_REFRESH_TTL,
    ) -> None:
        if token_field not in ("token", "access_token", "both"):
            raise ValueError(
                f"token_field must be 'token', 'access_token' or 'both', got {token_field!r}"
            )
        self.users = dict(users or {})
        self.token_ttl = token_ttl
        self.policy = Policy(grants)
        self.clock = clock
        self.token_field = token_field
        self.service = service
        self.realm = realm
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.max_tokens = max_tokens
        self.refresh_ttl = refresh_ttl
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, tuple[str | None, float]] = {}
        # (expires_at, token, is_refresh): the next token to expire is always on top, so a
        # purge costs O(log n) per expired token, never a scan of the table
        self._expiry: list[tuple[float, str, bool]] = []
        self._lock = threading.Lock()
        #: How many tokens the token endpoint issued (tests count token fetches).
        self.issued = 0

    # -- the registry side -----------------------------------------------------------------
    def challenge(self, request: Request, needed: list[Scope], error: str | None = None) -> str:
        """The ``WWW-Authenticate`` value for ``needed``."""
        # the server's own address, never the client's Host header (see own_url)
        realm = self.realm or own_base_url(request.environ) + self.token_path
        parts = [f'Bearer realm="{realm}"', f'service="{self.service}"']
        if needed:
            parts.append(f'scope="{" ".join(str(s) for s in needed)}"')
        if error:
            parts.append(f'error="{error}"')
        return ",".join(parts)

    def _unauthorized(
        self, request: Request, needed: list[Scope], message: str, error: str | None = None
    ) -> RegistryError:
        return RegistryError(
            "UNAUTHORIZED",
            message,
            error_detail(needed) or None,
            headers={"WWW-Authenticate": self.challenge(request, needed, error)},
        )

    def authenticate(self, request: Request, needed: list[Scope]) -> Identity:
        """The caller's identity for a request needing ``needed``, or a 401/403 RegistryError."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            raise self._unauthorized(request, needed, "authentication required")
        token = self._tokens.get(value.strip())
        if token is None:
            raise self._unauthorized(request, needed, "unknown bearer token", "invalid_token")
        if self.clock() >= token.expires_at:
            raise self._unauthorized(request, needed, "bearer token expired", "invalid_token")

        def has(scope: Scope) -> bool:
            got = token.access.get((scope.type, scope.name), frozenset())
            return "*" in got or set(scope.actions) <= got

        for scope in needed:
            if not has(scope):
                if set(scope.actions) <= self.policy.allowed(token.user, scope):
                    raise self._unauthorized(
                        request, needed, f"token does not grant {scope}", "insufficient_scope"
                    )
                if token.user is None and self._some_user_may(scope):
                    # an anonymous token: logging in can help, so challenge (distribution: 401)
                    raise self._unauthorized(
                        request,
                        needed,
                        f"anonymous token does not grant {scope}; authentication required",
                        "insufficient_scope",
                    )
                who = "anonymous caller" if token.user is None else f"user {token.user!r}"
                raise RegistryError(
                    "DENIED",
                    f"{who} may not {','.join(scope.actions)} {scope.name}",
                    error_detail([scope]),
                )
        return Identity(token.user, has)

    def _some_user_may(self, scope: Scope) -> bool:
        """True when some configured user would be granted every action of ``scope``."""
        wanted = set(scope.actions)
        return any(wanted <= self.policy.allowed(user, scope) for user in self.users)

    # -- the token service -------------------------------------------------------------------
    def issue(
        self, user: str | None, scopes: Iterable[Scope]
    ) -> tuple[str, dict[tuple[str, str], frozenset[str]]]:
        """Mint a token for ``user`` granting the allowed part of ``scopes``."""
        access: dict[tuple[str, str], frozenset[str]] = {}
        for scope in scopes:
            granted = self.policy.allowed(user, scope)
            if granted:
                key = (scope.type, scope.name)
                access[key] = access.get(key, frozenset()) | granted
        now = self.clock()
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._room(now)
            self._tokens[token] = _Token(user, access, now + self.token_ttl)
            heapq.heappush(self._expiry, (now + self.token_ttl, token, False))
            self.issued += 1
        return token, access

    def _room(self, now: float) -> None:
        """Forget expired tokens; refuse (503, journaled as the harness's limit) when the
        table is still full: an unexpired token is never evicted. Called under the lock."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, token, refresh = heapq.heappop(expiry)
            (self._refresh if refresh else self._tokens).pop(token, None)
        if len(self._tokens) + len(self._refresh) >= self.max_tokens:
            wait = max(1, math.ceil(expiry[0][0] - now)) if expiry else 1
            raise RegistryError(
                "UNAVAILABLE",
                f"the token service holds {self.max_tokens} unexpired tokens, its limit "
                f"(BearerAuth(max_tokens=...)); the next expires in {wait} s",
                headers={"Retry-After": str(wait)},
                limit="tokens",
            )

    def token_endpoint(self, request: Request) -> Response:
        """``GET /token?service=…&scope=…`` (Basic credentials optional) or the OAuth2 POST."""
        if request.method == "POST":
            return self._oauth(request)
        if request.method != "GET":
            raise RegistryError(
                "UNSUPPORTED",
                f"{request.method} is not allowed on the token endpoint",
                headers={"Allow": "GET, POST"},
            )
        user: str | None = None
        creds = _basic_credentials(request)
        if creds is not None:
            user = self._login(*creds)
        scopes = self._scopes(request.args.getlist("scope"))
        token, _ = self.issue(user, scopes)
        doc: dict[str, object] = {
            "expires_in": int(self.token_ttl),
            "issued_at": _rfc3339(self.clock()),
        }
        if self.token_field in ("token", "both"):
            doc["token"] = token
        if self.token_field in ("access_token", "both"):
            doc["access_token"] = token
        if request.args.get("offline_token") == "true":
            doc["refresh_token"] = self._new_refresh(user)
        return json_response(doc)

    def _login(self, user: str, password: str) -> str:
        if user not in self.users or not secrets.compare_digest(self.users[user], password):
            raise RegistryError(
                "UNAUTHORIZED",
                "invalid username or password",
                headers={"WWW-Authenticate": f'Basic realm="{self.service}"'},
            )
        return user

    def _scopes(self, values: Iterable[str]) -> list[Scope]:
        scopes = []
        for value in values:
            for text in value.split():
                try:
                    scopes.append(Scope.parse(text))
                except ValueError as exc:
                    raise RegistryError("UNSUPPORTED", str(exc), status=400) from None
        return scopes

    def _new_refresh(self, user: str | None) -> str:
        refresh = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            self._room(now)
            self._refresh[refresh] = (user, now + self.refresh_ttl)
            heapq.heappush(self._expiry, (now + self.refresh_ttl, refresh, True))
        return refresh

    def _oauth(self, request: Request) -> Response:
        form = request.form
        grant = form.get("grant_type", "")
        if grant == "password":
            user: str | None = self._login(form.get("username", ""), form.get("password", ""))
        elif grant == "refresh_token":
            held = self._refresh.get(form.get("refresh_token", ""))
            if held is None or self.clock() >= held[1]:
                raise RegistryError("UNAUTHORIZED", "unknown or expired refresh token")
            user = held[0]
        else:
            raise RegistryError("UNSUPPORTED", f"unsupported grant_type {grant!r}", status=400)
        scopes = self._scopes([form.get("scope", "")])
        token, access = self.issue(user, scopes)
        granted = " ".join(f"{t}:{n}:{','.join(sorted(a))}" for (t, n), a in access.items())
        doc: dict[str, object] = {
            "access_token": token,
            "scope": granted,
            "expires_in": int(self.token_ttl),
            "issued_at": _rfc3339(self.clock()),
        }
        if form.get("access_type") == "offline":
            doc["refresh_token"] = self._new_refresh(user)
        return json_response(doc)

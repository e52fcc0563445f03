"""Credentials (a small keychain), token scopes and the token service's answer.
``WWW-Authenticate`` parsing lives in :mod:`flakymirror.oci.challenge` (the mirror reads
challenges too); :class:`Challenge` and :func:`parse_challenges` are re-exported here.

Credentials are values: :class:`Anonymous`, :class:`BasicCredentials` (exchanged for a Bearer
token, or sent as Basic auth when the registry asks for Basic) and :class:`StaticToken` (sent as
``Authorization: Bearer <token>`` without visiting the token service, like ggcr's
``RegistryToken``). A :class:`Keychain` maps registry hosts to credentials.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flakymirror.client.errors import ClientError
from flakymirror.oci.challenge import Challenge, parse_challenges

__all__ = [
    "Anonymous",
    "BasicCredentials",
    "Challenge",
    "Credentials",
    "Keychain",
    "PULL",
    "PUSH",
    "Scopes",
    "StaticToken",
    "parse_challenges",
    "repository_scope",
    "resolve_credentials",
    "scope_tuple",
    "token_from_response",
]


@dataclass(frozen=True)
class Anonymous:
    """No credentials."""

    def authorization(self) -> str | None:
        """The ``Authorization`` header sent to a registry that asked for Basic auth."""
        return None


@dataclass(frozen=True)
class BasicCredentials:
    """A user name and password (the password is left out of ``repr``)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not isinstance(self.password, str):
            raise TypeError("BasicCredentials needs a string username and password")

    def authorization(self) -> str | None:
        """``Basic base64(user:password)``; None when either part is empty, as in ggcr."""
        if not self.username or not self.password:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class StaticToken:
    """A registry token sent as-is (the token is left out of ``repr``)."""

    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not self.token:
            raise ValueError("StaticToken needs a non-empty token string")

    def authorization(self) -> str | None:
        """``Bearer <token>``."""
        return f"Bearer {self.token}"


Credentials = Anonymous | BasicCredentials | StaticToken


@dataclass(frozen=True)
class Keychain:
    """Credentials per registry host (``"127.0.0.1:5000"``); ``default`` for the others."""

    entries: Mapping[str, Credentials] = field(default_factory=dict)
    default: Credentials = field(default_factory=Anonymous)

    def resolve(self, registry: str) -> Credentials:
        """The credentials for ``registry``."""
        return self.entries.get(registry, self.default)


def resolve_credentials(
    keychain: Keychain | Credentials | Mapping[str, Credentials] | None, registry: str
) -> Credentials:
    """Credentials for ``registry`` from a keychain, a mapping, single credentials or None."""
    if keychain is None:
        return Anonymous()
    if isinstance(keychain, Anonymous | BasicCredentials | StaticToken):
        return keychain
    if isinstance(keychain, Keychain):
        return keychain.resolve(registry)
    if isinstance(keychain, Mapping):
        return Keychain(dict(keychain)).resolve(registry)
    raise TypeError(
        f"keychain must be a Keychain, a mapping, Anonymous/BasicCredentials/StaticToken or None, "
        f"got {type(keychain).__name__}"
    )


#: The scopes a request needs: one scope string or several (the first one first in the token
#: request; some registries read only the first).
Scopes = str | Sequence[str]
#: ggcr's ``transport.PullScope`` and ``transport.PushScope`` actions.
PULL = "pull"
PUSH = "push,pull"


def repository_scope(repository: str, actions: str = PULL) -> str:
    """``repository:<name>:<actions>`` (ggcr ``name.Repository.Scope``)."""
    return f"repository:{repository}:{actions}"


def scope_tuple(scope: Scopes) -> tuple[str, ...]:
    """``scope`` as a non-empty tuple of scope strings (``ValueError`` naming it otherwise)."""
    scopes = (scope,) if isinstance(scope, str) else tuple(scope)
    if not scopes or not all(isinstance(s, str) and s for s in scopes):
        raise ValueError(f"scope must be a non-empty string or strings, got {scope!r}")
    return scopes


def token_from_response(content: bytes, realm: str) -> str:
    """The token of a token service's JSON answer: ``access_token`` wins over ``token``, as in
    ggcr; raises :class:`ClientError` when the body is not JSON or holds neither."""
    try:
        doc = json.loads(content)
    except ValueError as exc:
        raise ClientError(f"token response from {realm} is not JSON: {exc}") from exc
    token = ""
    if isinstance(doc, dict):
        access = doc.get("access_token")
        plain = doc.get("token")
        token = (
            access
            if isinstance(access, str) and access
            else plain
            if isinstance(plain, str)
            else ""
        )
    if not token:
        raise ClientError(f"no token in bearer response:\n{content.decode('utf-8', 'replace')}")
    return token

"""A healthy OCI distribution registry: content store, WSGI app, auth, and a fast server.

``Registry()`` wires them together::

    with Registry() as reg:
        digest = reg.push(build_image(layers=2), "demo/app:1")
        requests.get(f"{reg.url}/v2/demo/app/manifests/1")
"""

from __future__ import annotations

from ssl import SSLContext
from typing import Any

from ..oci.reference import Reference
from .app import MANIFEST_LIMIT, RegistryApp
from .auth import (
    AnonymousAuth,
    BasicAuth,
    BearerAuth,
    ClockedAuth,
    Identity,
    Policy,
    RegistryAuth,
    Scope,
)
from .errors import CODES, STATUS, STATUS_EXCEPTIONS, RegistryError, error_body, error_response
from .refusal import REFUSED, refusal_app
from .server import (
    CloseConnection,
    LogEntry,
    RejectedRequest,
    Server,
    ServerHandle,
    ServerStateError,
)
from .store import Store
from .stored import StoredManifest
from .tls import ServerTLS, server_tls
from .tls_probe import TLS_PROBE

__all__ = [
    "AnonymousAuth",
    "BasicAuth",
    "BearerAuth",
    "ClockedAuth",
    "CloseConnection",
    "CODES",
    "Identity",
    "LogEntry",
    "MANIFEST_LIMIT",
    "Policy",
    "Registry",
    "RegistryApp",
    "RegistryAuth",
    "REFUSED",
    "RegistryError",
    "RejectedRequest",
    "Scope",
    "Server",
    "ServerStateError",
    "ServerTLS",
    "STATUS",
    "STATUS_EXCEPTIONS",
    "Store",
    "StoredManifest",
    "TLS_PROBE",
    "error_body",
    "error_response",
    "refusal_app",
]


class Registry(ServerHandle):
    """A registry on a real socket: :class:`Server` + :class:`RegistryApp` + :class:`Store`.

    Use it as a context manager (or call :meth:`start`/:meth:`stop`). ``.url`` is
    ``http://127.0.0.1:PORT``, ``.host`` is ``127.0.0.1:PORT`` (for image references).
    ``tls=True`` serves HTTPS with a certificate from a CA generated for this registry
    (``.url`` is ``https://...``; trust ``.ca_file`` or ``.ca_pem``; needs
    ``flakymirror[tls]``); it cannot be combined with ``ssl_context``. ``public_url``: the
    URL clients know it by (see :class:`Server`); a Bearer challenge's ``realm`` follows it.
    """

    def __init__(
        self,
        auth: RegistryAuth | None = None,
        strict_accept: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: SSLContext | None = None,
        *,
        store: Store | None = None,
        spool_dir: str | None = None,
        tls: bool = False,
        public_url: str | None = None,
    ) -> None:
        self.tls = server_tls(tls, ssl_context, host)
        if self.tls is not None:
            ssl_context = self.tls.ssl_context
        self.store = store if store is not None else Store(spool_dir)
        self._own_store = store is None
        self.app = RegistryApp(self.store, auth=auth, strict_accept=strict_accept)
        self.server = Server(
            self.app, host=host, port=port, ssl_context=ssl_context, public_url=public_url
        )

    @property
    def auth(self) -> RegistryAuth:
        """The app's auth object."""
        return self.app.auth

    def push(self, image: Any, reference: str) -> Any:
        """Seed an image or index as ``"repo:tag"`` (or ``"repo"``) without HTTP; return its digest."""
        repo, tag = _split(reference)
        return self.store.push_image(image, repo, tag)

    def start(self) -> Registry:
        """Start serving."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving (milliseconds); the store stays until :meth:`close`."""
        if self.server.is_running():
            self.server.stop()

    def close(self) -> None:
        """Stop and drop the store's temporary files (if the registry created the store) and
        the CA file of ``tls=True``."""
        self.stop()
        if self._own_store:
            self.store.close()
        if self.tls is not None:
            self.tls.close()

    def __enter__(self) -> Registry:
        if not self.server.is_running():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Registry {self.url}>"


def _split(reference: str) -> tuple[str, str | None]:
    """``"repo:tag"`` → ``("repo", "tag")``; a registry host in front is accepted and ignored."""
    if "@" in reference:
        raise ValueError(f"push needs 'repo:tag' or 'repo', not a digest reference: {reference!r}")
    ref = Reference.parse(reference)
    return ref.repository, ref.tag

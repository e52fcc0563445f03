"""What an object that serves on a :class:`~flakymirror.registry.server.Server` answers for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tls import ServerTLS

if TYPE_CHECKING:
    from .server import Server

__all__ = ["ServerHandle"]


class ServerHandle:
    """Addresses and health of the :class:`Server` an object serves on (its ``server``).

    For objects that wrap a server (:class:`~flakymirror.registry.Registry`,
    :class:`~flakymirror.mirror.FlakyMirror`) and answer for it.
    """

    server: Server
    #: The generated CA and certificate when made with ``tls=True`` (None otherwise).
    tls: ServerTLS | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with ``tls=True`` or an ``ssl_context``)."""
        return self.server.url

    @property
    def ca_pem(self) -> bytes | None:
        """The generated CA certificate (PEM) clients should trust; None without ``tls=True``."""
        return self.tls.ca_pem if self.tls is not None else None

    @property
    def ca_file(self) -> str | None:
        """The path of a file holding :attr:`ca_pem` (removed by ``close()``); None without
        ``tls=True``."""
        return self.tls.ca_file if self.tls is not None else None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return self.server.host

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.server.url_for(path)

    def is_running(self) -> bool:
        """True while the server accepts requests."""
        return self.server.is_running()

    def check(self) -> None:
        """Re-raise the first exception a request handler raised."""
        self.server.check()

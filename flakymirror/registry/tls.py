"""HTTPS for a test server with a CA generated on the spot: what ``tls=True`` means.

:class:`ServerTLS` holds a fresh CA made by `trustme <https://trustme.readthedocs.io>`_ (an
optional dependency: ``pip install 'flakymirror[tls]'``), a certificate it issued for
``127.0.0.1`` and ``localhost`` (and the bind host, when it is a name or address of its own),
the server-side :class:`ssl.SSLContext`, and the CA as PEM bytes and as a file for clients
(``requests.get(url, verify=tls.ca_file)``, skopeo's ``--cert-dir`` holding it as ``ca.crt``).
Making one takes about a millisecond (ECDSA keys), so every server gets its own CA: a CA file
never vouches for another server. :meth:`ServerTLS.close` removes the CA file.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import ssl
import tempfile
from types import ModuleType

__all__ = ["ServerTLS", "server_tls"]

#: The names every generated certificate covers.
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
_WILDCARD = ("", "0.0.0.0", "::")


def _trustme() -> ModuleType:
    try:
        return importlib.import_module("trustme")
    except ImportError as exc:
        raise ImportError(
            "tls=True needs the 'trustme' package to generate a CA: pip install 'flakymirror[tls]'"
        ) from exc


class ServerTLS:
    """A generated CA, a server certificate it issued for ``hosts``, and what uses them.

    ``ssl_context``: the server side (give it to :class:`~flakymirror.registry.Server`);
    ``ca_pem``: the CA certificate as PEM bytes; ``ca_file``: the path of a temporary file
    holding it, removed by :meth:`close`; ``hosts``: the names the certificate covers.
    """

    def __init__(self, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> None:
        trustme = _trustme()
        self.hosts = tuple(dict.fromkeys(hosts))
        ca = trustme.CA(organization_name="flakymirror test CA")
        cert = ca.issue_cert(*self.hosts)
        self.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.ssl_context)
        self.ca_pem: bytes = ca.cert_pem.bytes()
        fd, self.ca_file = tempfile.mkstemp(prefix="flakymirror-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(self.ca_pem)

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts this CA (and nothing else)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def close(self) -> None:
        """Remove the CA file (idempotent)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.ca_file)

    def __repr__(self) -> str:
        return f"<ServerTLS hosts={list(self.hosts)} ca_file={self.ca_file!r}>"


def server_tls(
    tls: bool, ssl_context: ssl.SSLContext | None, host: str = "127.0.0.1"
) -> ServerTLS | None:
    """The :class:`ServerTLS` for ``tls=True`` (its certificate also covers ``host`` when that
    is not a wildcard address), None for ``tls=False``; ``tls=True`` together with an
    ``ssl_context`` is a ``ValueError``."""
    if not isinstance(tls, bool):
        raise TypeError(f"tls must be True or False, got {tls!r}")
    if not tls:
        return None
    if ssl_context is not None:
        raise ValueError(
            "give either tls=True (a generated CA) or ssl_context= (your own), not both"
        )
    bind = host.strip("[]")
    hosts = DEFAULT_HOSTS if bind in _WILDCARD else (*DEFAULT_HOSTS, bind)
    return ServerTLS(hosts)

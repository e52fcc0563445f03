"""The lifecycle side of the wire: a Python reference of what Cloud Native Buildpacks'
lifecycle (imgutil + go-containerregistry) does when it opens, exports and rebases images.

It knows nothing of the mirror. The core (this package's eager names) is the transport, the
remote image and the retrying opener; ``export``/``rebase`` and their types live in
:mod:`flakymirror.client.exporter` / :mod:`flakymirror.client.rebaser` and are re-exported here
lazily, on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from flakymirror.client.auth import (
    Anonymous,
    BasicCredentials,
    Challenge,
    Keychain,
    StaticToken,
    parse_challenges,
)
from flakymirror.client.errors import (
    ClientError,
    Diagnostic,
    GoEOF,
    ImageError,
    NetworkError,
    RemoteImageError,
    RepoStoreError,
    RequestInfo,
    TransportError,
    UnexpectedEOF,
    error_chain,
    find_transport_error,
)
from flakymirror.client.opener import (
    LIFECYCLE_DELAYS,
    NON_RETRYABLE_STATUSES,
    go_duration,
    is_retryable,
    open_remote_image,
)
from flakymirror.client.remote import DEFAULT_PLATFORM, RemoteImage, new_remote_image
from flakymirror.client.retry import PROFILES, Backoff, RetryProfile, resolve_profile
from flakymirror.client.transport import RequestRecord, Transport

__all__ = [
    "Anonymous",
    "Backoff",
    "BasicCredentials",
    "Challenge",
    "ClientError",
    "DEFAULT_PLATFORM",
    "Diagnostic",
    "GoEOF",
    "ImageError",
    "Keychain",
    "LIFECYCLE_DELAYS",
    "NON_RETRYABLE_STATUSES",
    "NetworkError",
    "PROFILES",
    "RemoteImage",
    "RemoteImageError",
    "RepoStoreError",
    "RequestInfo",
    "RequestRecord",
    "RetryProfile",
    "StaticToken",
    "Transport",
    "TransportError",
    "UnexpectedEOF",
    "error_chain",
    "find_transport_error",
    "go_duration",
    "is_retryable",
    "new_remote_image",
    "open_remote_image",
    "parse_challenges",
    "resolve_profile",
]

# Modules of the export side whose public names are re-exported lazily (they import this
# package's core, so importing them eagerly here would be circular).
_LAZY_MODULES = (
    "flakymirror.client.exporter",
    "flakymirror.client.rebaser",
    "flakymirror.client.lifecycle_error",
    "flakymirror.client.metadata",
    "flakymirror.client.buildmeta",
    "flakymirror.client.target",
    "flakymirror.client.push",
)


def __getattr__(name: str) -> Any:
    """Find ``name`` in the export-side modules on first access (``from flakymirror.client
    import export, rebase``)."""
    if name.startswith("__"):
        raise AttributeError(name)
    for module_name in _LAZY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not written (yet)
            raise
        public = getattr(module, "__all__", None)
        if (public is None or name in public) and hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'flakymirror.client' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

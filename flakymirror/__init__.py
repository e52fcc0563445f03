"""flakymirror: a test harness that simulates flaky OCI/Docker registry mirrors.

The two names most users type are re-exported here; they are imported on first use so that
``import flakymirror`` stays cheap and the client side never pulls in the server side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FlakyMirror", "Registry", "__version__"]

if TYPE_CHECKING:
    from flakymirror.mirror import FlakyMirror
    from flakymirror.registry import Registry


def __getattr__(name: str) -> Any:
    if name == "Registry":
        from flakymirror.registry import Registry

        return Registry
    if name == "FlakyMirror":
        from flakymirror.mirror import FlakyMirror

        return FlakyMirror
    raise AttributeError(f"module 'flakymirror' has no attribute {name!r}")

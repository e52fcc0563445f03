"""Root conftest: the suite's rule for optional tools (the public fixtures live in the plugin).

A missing binary (skopeo, docker-registry) or test extra (oras, python-dxf, trustme) skips the
test outside CI and fails it in CI (``CI`` = 1/true/yes), so CI can never go green by skipping
the real clients.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
from types import ModuleType

import pytest
from hypothesis import settings

from flakymirror.trial.clients import in_ci

# imported once, before any in-process pytester run: pytester restores sys.modules after each
# run, and a cryptography re-imported later no longer matches trustme's key classes (a missing
# test extra is reported by require_module instead)
with contextlib.suppress(ImportError):
    import trustme  # noqa: F401

# Property tests explore new examples on a developer's machine (failures are replayed from the
# local .hypothesis database); in CI they are derandomized, so a CI run is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)


def require_binary(path_or_name: str) -> str:
    """Return the path of an external binary; skip outside CI when it is missing, fail in CI."""
    found = shutil.which(path_or_name)
    if found:
        return found
    if in_ci():
        pytest.fail(f"{path_or_name} is required in CI but was not found on PATH")
    pytest.skip(f"{path_or_name} is not installed (run .ci/run or apt-get install it)")


def require_module(name: str) -> ModuleType:
    """Import a test-only extra (oras, dxf, trustme); skip outside CI when missing, fail in CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if in_ci():
            pytest.fail(f"the test extra {name!r} is required in CI but cannot be imported: {exc}")
        pytest.skip(f"the test extra {name!r} is not installed (pip install -e '.[test]'): {exc}")


settings.load_profile("ci" if in_ci() else "dev")

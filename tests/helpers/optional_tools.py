"""The suite's rule for optional tools: a missing binary (skopeo, docker-registry) or test extra
(oras, python-dxf, trustme) skips the test outside CI and fails it in CI (``CI`` = 1/true/yes),
so CI can never go green by skipping the real clients."""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

import pytest

from flakymirror.trial.clients import in_ci


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

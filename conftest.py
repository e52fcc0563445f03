"""Root conftest: options shared by the whole suite (the public fixtures live in the plugin)."""

import os

import pytest


def require_binary(path_or_name: str) -> str:
    """Return the path of an external binary; skip outside CI when it is missing, fail in CI."""
    import shutil

    found = shutil.which(path_or_name)
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{path_or_name} is required in CI but was not found on PATH")
    pytest.skip(f"{path_or_name} is not installed (run .ci/run or apt-get install it)")

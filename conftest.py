"""Root conftest: hooks and settings for the whole suite (the public fixtures live in the
plugin; the suite's rule for optional tools, ``require_binary``/``require_module``, is in
tests/helpers/optional_tools.py)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import settings

from flakymirror.trial.clients import in_ci
from tests.helpers.docs import collector

#: README.md and docs/**/*.md: every example runs (tests/helpers/docs.py says how)
pytest_collect_file = collector()


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n``, a docs page's examples go to one worker, in order; every other test is
    scheduled alone, as ``--dist load`` does; the longest go first (tests/helpers/scheduling.py)."""
    if config.getvalue("dist") != "load":
        return None
    from tests.helpers.scheduling import DocsTogether

    return DocsTogether(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """Record each test's duration for the scheduler (on the controlling process only)."""
    if not hasattr(config, "workerinput"):
        from tests.helpers.scheduling import DurationLog

        config.pluginmanager.register(DurationLog(config), "flakymirror-durations")


# imported once, before any in-process pytester run: pytester restores sys.modules after each
# run, and a cryptography re-imported later no longer matches trustme's key classes (a missing
# test extra is reported by require_module instead)
with contextlib.suppress(ImportError):
    import trustme  # noqa: F401

# Property tests explore new examples on a developer's machine (failures are replayed from the
# local .hypothesis database); in CI they are derandomized, so a CI run is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)


settings.load_profile("ci" if in_ci() else "dev")

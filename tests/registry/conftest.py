"""Fixtures for the registry tests: a live registry and a keep-alive session (the push helpers
are in tests/helpers/registry_requests.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from flakymirror.registry import Registry


@pytest.fixture
def registry() -> Iterator[Registry]:
    """A running anonymous registry; handler errors fail the test."""
    with Registry() as reg:
        yield reg
        reg.check()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as s:
        yield s

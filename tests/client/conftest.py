"""Fixtures for the client tests: a recorded sleep and the scriptable registries (their code
is in tests/helpers/sleeps.py and tests/helpers/scripted_registry.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.helpers.scripted_registry import FakeRegistry, KeepAliveRegistry
from tests.helpers.sleeps import Sleeps


@pytest.fixture(scope="session")
def _http_server() -> Iterator[HTTPServer]:
    # one server per xdist worker (stop takes ~0.5 s); each test gets a fresh FakeRegistry
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def fake_registry(_http_server: HTTPServer) -> Iterator[FakeRegistry]:
    """A fresh scriptable FakeRegistry on the shared pytest-httpserver loopback server."""
    _http_server.clear()
    fake = FakeRegistry(_http_server)
    _http_server.expect_request(re.compile(".*")).respond_with_handler(fake)
    yield fake
    try:
        _http_server.check_handler_errors()
    finally:
        _http_server.clear()


@pytest.fixture
def keepalive_registry() -> Iterator[KeepAliveRegistry]:
    """A fresh scriptable registry around RegistryApp on a keep-alive Server of its own."""
    with KeepAliveRegistry() as fake:
        yield fake
        fake.server.check()


@pytest.fixture
def sleeps() -> Sleeps:
    """A recording sleep function."""
    return Sleeps()

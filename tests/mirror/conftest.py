"""Fixtures for the mirror tests: mirrors that clean up, the virtual clock, image fixtures
(the request helpers are in tests/helpers/mirror_requests.py and tests/helpers/wire.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flakymirror.mirror import FlakyMirror, VirtualClock
from flakymirror.oci import build_image, build_index
from tests.helpers.mirror_requests import REPO
from tests.helpers.sleeps import Sleeps, record_real_sleeps


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock("2026-01-01T00:00:00Z")


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Real sleeps (``time.sleep``, the real clock's waits) recorded instead of slept."""
    return record_real_sleeps(monkeypatch)


@pytest.fixture
def make_mirror() -> Iterator[Callable[..., FlakyMirror]]:
    """``make_mirror(**kw)`` → a started FlakyMirror, closed (and checked) at teardown."""
    made: list[FlakyMirror] = []

    def make(**kw: Any) -> FlakyMirror:
        mirror = FlakyMirror(**kw).start()
        made.append(mirror)
        return mirror

    yield make
    for mirror in made:
        mirror.close()
    for mirror in made:
        mirror.check()


@pytest.fixture
def mirror(make_mirror, vclock, image) -> FlakyMirror:
    """A started mirror on the virtual clock; its in-process upstream has ``image`` as
    ``lib/app:1``."""
    m = make_mirror(clock=vclock)
    m.push_upstream(image, f"{REPO}:1")
    return m


@pytest.fixture
def image():
    return build_image(layers=3, seed=11, layer_size=2048)


@pytest.fixture
def index():
    return build_index(platforms=("linux/amd64", "linux/arm64"), seed=12, layers=2, layer_size=1024)

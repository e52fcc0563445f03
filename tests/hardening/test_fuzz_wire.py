"""The standing fuzz: seeded bad requests on the wire to the registry, the mirror and the control
API. Every one is answered, never with 500, every error with its family's error body, and no
handler exception is left for ``check()``. A few hundred cases per target in ``make test``;
``FLAKYMIRROR_FUZZ_CASES=10000 .venv/bin/python -m pytest tests/hardening/test_fuzz_wire.py``
is the long run."""

from __future__ import annotations

import os

import pytest

from flakymirror.mirror import FlakyMirror
from flakymirror.oci import build_image
from flakymirror.registry import Registry
from tests.helpers.bad_requests import (
    CASES_ENV,
    CONTROL_TARGETS,
    REGISTRY_TARGETS,
    bad_requests,
    check_answer,
    send,
)

CASES = int(os.environ.get(CASES_ENV, "300"))


def _fuzz(port: int, seed: int, targets: tuple[str, ...]) -> list[str]:
    problems = []
    for request in bad_requests(seed, CASES, targets):
        problem = check_answer(request, send(port, request))
        if problem is not None:
            problems.append(f"{problem} for {request[:120]!r}")
    return problems


def test_the_registry_answers_every_bad_request_properly() -> None:
    with Registry() as registry:
        registry.push(build_image(layers=1, seed=1), "lib/app:1")
        assert _fuzz(registry.server.port, 1, REGISTRY_TARGETS)[:8] == []
        registry.check()


@pytest.mark.parametrize("targets", [REGISTRY_TARGETS, CONTROL_TARGETS], ids=["v2", "control"])
def test_the_mirror_and_its_control_api_answer_every_bad_request_properly(targets) -> None:
    with FlakyMirror() as mirror:
        mirror.push_upstream(build_image(layers=1, seed=1), "lib/app:1")
        assert _fuzz(mirror.server.port, 2, targets)[:8] == []
        mirror.check()


def test_the_cases_are_seeded_and_varied() -> None:
    first = bad_requests(7, 50, REGISTRY_TARGETS)
    assert first == bad_requests(7, 50, REGISTRY_TARGETS)
    assert len(set(first)) == 50
    assert any(any(b > 0x7F for b in r.split(b" ", 2)[1]) for r in first)  # raw non-ASCII bytes

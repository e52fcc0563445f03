"""The token service's table is bounded: expired tokens go, an unexpired one is never evicted
(a new one is refused instead, as the harness's own limit, journaled so), and refresh tokens
expire."""

from __future__ import annotations

import pytest
import requests

from flakymirror.mirror import FlakyMirror, VirtualClock
from flakymirror.registry import BearerAuth, Registry
from flakymirror.registry.errors import LimitResponse, RegistryError
from flakymirror.registry.scopes import Scope

PULL = [Scope.repository("lib/app", "pull")]


def test_a_full_table_refuses_new_tokens_until_one_expires() -> None:
    clock = VirtualClock(0)
    auth = BearerAuth({"u": "p"}, token_ttl=10, clock=clock.now, max_tokens=3)
    held = [auth.issue("u", PULL)[0] for _ in range(3)]
    clock.advance(4)
    with pytest.raises(RegistryError) as refused:
        auth.issue("u", PULL)
    err = refused.value
    assert (err.code, err.status, err.limit) == ("UNAVAILABLE", 503, "tokens")
    assert err.headers == {"Retry-After": "6"}  # the first token expires at t=10
    response = err.response()
    assert isinstance(response, LimitResponse) and response.limit == "tokens"
    assert all(token in auth._tokens for token in held)  # nothing a client holds was evicted
    clock.advance(6)
    new, _ = auth.issue("u", PULL)  # the three expired: room again
    assert list(auth._tokens) == [new]
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        BearerAuth(max_tokens=0)


def test_the_purge_touches_only_expired_tokens() -> None:
    clock = VirtualClock(0)
    auth = BearerAuth(token_ttl=5, clock=clock.now, max_tokens=1000)
    for _ in range(500):
        auth.issue(None, PULL)
    clock.advance(5)
    auth.issue(None, PULL)
    assert len(auth._tokens) == 1 and len(auth._expiry) == 1


def test_refresh_tokens_expire() -> None:
    clock = VirtualClock(0)
    auth = BearerAuth({"u": "p"}, clock=clock.now, refresh_ttl=60)
    with Registry(auth=auth) as registry:
        got = requests.get(
            registry.url + "/token",
            params={"offline_token": "true", "scope": "repository:lib/app:pull"},
            auth=("u", "p"),
            timeout=5,
        ).json()
        form = {"grant_type": "refresh_token", "refresh_token": got["refresh_token"],
                "service": "flakymirror", "scope": "repository:lib/app:pull"}  # fmt: skip
        assert requests.post(registry.url + "/token", data=form, timeout=5).status_code == 200
        clock.advance(60)
        late = requests.post(registry.url + "/token", data=form, timeout=5)
        assert late.status_code == 401
        assert "expired refresh token" in late.json()["errors"][0]["message"]


def test_the_mirror_journals_a_limit_refusal_as_the_harnesss_not_the_clients() -> None:
    with FlakyMirror(auth=BearerAuth({"u": "p"}, max_tokens=1)) as mirror:
        first = requests.get(mirror.url + "/token", timeout=5)
        second = requests.get(mirror.url + "/token", timeout=5)
        assert first.status_code == 200 and second.status_code == 503
        assert second.headers["Retry-After"] == "300"
        entries = mirror.journal.settled()
        assert [(e.status, e.outcome, e.limit) for e in entries] == [
            (200, "ok", None),
            (503, "limit", "tokens"),
        ]
        assert "harness limit: tokens" in entries[1].line()
        mirror.check()

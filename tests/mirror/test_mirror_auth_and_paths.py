"""The mirror's own auth on the mirror clock, faults on the token endpoint, and the manifest
fast path answering exactly like the full registry path."""

from __future__ import annotations

import requests

from flakymirror.mirror import FaultRule, Interval, Match, Pass, Status, SyncPlan
from flakymirror.registry import BearerAuth
from tests.helpers.mirror_requests import get_manifest

REPO = "lib/app"


def _token(mirror, user="bob", password="pw") -> str:
    r = requests.get(
        f"{mirror.url}/token",
        params={"service": "flakymirror", "scope": f"repository:{REPO}:pull"},
        auth=(user, password),
        timeout=5,
    )
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_bearer_auth_expires_on_the_mirror_clock(make_mirror, vclock, image) -> None:
    auth = BearerAuth(users={"bob": "pw"}, token_ttl=60)
    mirror = make_mirror(clock=vclock, auth=auth, plan=SyncPlan(Interval(1), mode="missing"))
    mirror.push_upstream(image, f"{REPO}:1")
    anon = get_manifest(mirror, REPO, "1")
    assert anon.status_code == 401 and "Bearer realm=" in anon.headers["WWW-Authenticate"]
    token = {"Authorization": f"Bearer {_token(mirror)}"}
    # authenticated: now the sync mode answers (404 while missing) — auth comes first
    assert get_manifest(mirror, REPO, "1", headers=token).status_code == 404
    vclock.sleep(30)
    assert get_manifest(mirror, REPO, "1", headers=token).content == image.manifest_bytes
    vclock.sleep(31)  # the token was issued at t=0 with a 60 s lifetime
    assert get_manifest(mirror, REPO, "1", headers=token).status_code == 401
    kinds = [e.kind for e in mirror.journal]
    assert kinds.count("token") == 1 and kinds.count("manifest") == 4


def test_fault_on_the_token_endpoint(make_mirror, vclock, image) -> None:
    mirror = make_mirror(
        clock=vclock,
        auth=BearerAuth(users={"bob": "pw"}),
        faults=[FaultRule(Match(kind="token", times=1), Status(403, body="html"))],
    )
    r = requests.get(
        f"{mirror.url}/token",
        params={"scope": f"repository:{REPO}:pull"},
        auth=("bob", "pw"),
        timeout=5,
    )
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")
    assert _token(mirror)


def test_fast_path_and_full_path_send_the_same_answer(make_mirror, vclock, image) -> None:
    plain = make_mirror(clock=vclock)
    ruled = make_mirror(clock=vclock, faults=[FaultRule(Match(kind="blob"), Pass())])
    for mirror in (plain, ruled):
        mirror.push_upstream(image, f"{REPO}:1")

    def answer(mirror, method):
        r = get_manifest(mirror, REPO, "1", method)
        headers = {
            k.lower(): v for k, v in r.headers.items() if k.lower() not in ("date", "connection")
        }
        return r.status_code, headers, r.content

    for method in ("GET", "HEAD"):
        assert answer(plain, method) == answer(ruled, method)
    assert answer(plain, "GET")[1]["docker-content-digest"] == str(image.digest)
    missing = get_manifest(plain, REPO, "nope")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert [e.status for e in plain.journal] == [200, 200, 200, 404]

"""Auth per server: Basic, and a Bearer token service with scopes, expiry and grants."""

from __future__ import annotations

import re

import pytest
import requests

from flakymirror.oci import Digest, build_image
from flakymirror.registry import BasicAuth, BearerAuth, Registry, Scope
from tests.helpers.registry_requests import code_of

USERS = {"alice": "wonderland", "reader": "books"}
GRANTS = {
    "alice": {"*": "pull,push,delete", "registry:catalog": "*"},
    "reader": {"*": "pull"},
    "": {"public/*": "pull"},
}


def challenge(resp: requests.Response) -> dict[str, str]:
    header = resp.headers["WWW-Authenticate"]
    scheme, _, rest = header.partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    fields["scheme"] = scheme
    return fields


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def get_token(url: str, scope: str | None, auth=None, **params) -> dict:
    query = {"service": "flakymirror", **params}
    if scope:
        query["scope"] = scope
    r = requests.get(f"{url}/token", params=query, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_scope_parsing():
    s = Scope.parse("repository:foo/bar:pull,push")
    assert (s.type, s.name, s.actions) == ("repository", "foo/bar", ("pull", "push"))
    assert str(s) == "repository:foo/bar:pull,push"
    # a repository scope names what the API would accept (issue 10: no grant on a name the API
    # refuses); a registry host is no part of a repository name
    with pytest.raises(ValueError, match="invalid repository name"):
        Scope.parse("repository:127.0.0.1:5000/foo/bar:pull,push")
    assert Scope.parse("registry:catalog:*").name == "catalog"
    assert Scope.parse("repository(plugin):x:pull").type == "repository"
    with pytest.raises(ValueError, match="invalid scope"):
        Scope.parse("nonsense")


def test_basic_auth():
    with Registry(auth=BasicAuth(USERS, grants=GRANTS)) as reg:
        reg.push(build_image(layers=1), "private/app:1")
        reg.push(build_image(layers=1, seed=1), "public/app:1")
        url = reg.url
        r = requests.get(f"{url}/v2/")
        assert r.status_code == 401 and code_of(r) == "UNAUTHORIZED"
        assert r.headers["WWW-Authenticate"] == 'Basic realm="flakymirror"'
        assert requests.get(f"{url}/v2/", auth=("alice", "wrong")).status_code == 401
        assert requests.get(f"{url}/v2/", auth=("alice", "wonderland")).status_code == 200
        # the fast manifest path must not bypass auth
        assert requests.get(f"{url}/v2/private/app/manifests/1").status_code == 401
        assert (
            requests.get(f"{url}/v2/private/app/manifests/1", auth=("reader", "books")).status_code
            == 200
        )
        assert (
            requests.get(f"{url}/v2/public/app/manifests/1").status_code == 200
        )  # anonymous grant
        r = requests.post(f"{url}/v2/private/app/blobs/uploads/", auth=("reader", "books"))
        assert r.status_code == 403 and code_of(r) == "DENIED"
        assert (
            requests.post(
                f"{url}/v2/private/app/blobs/uploads/", auth=("alice", "wonderland")
            ).status_code
            == 202
        )
        assert requests.get(f"{url}/v2/_catalog", auth=("reader", "books")).status_code == 403
        assert requests.get(f"{url}/v2/_catalog", auth=("alice", "wonderland")).status_code == 200
        r = requests.get(f"{url}/v2/", headers={"Authorization": "Basic !!!"})
        assert r.status_code == 401
        reg.check()


def test_bearer_flow_challenge_token_retry():
    auth = BearerAuth(users=USERS, grants=GRANTS)
    with Registry(auth=auth) as reg:
        d = reg.push(build_image(layers=1), "app:1")
        url = reg.url
        r = requests.get(f"{url}/v2/")
        assert r.status_code == 401
        c = challenge(r)
        assert (
            c["scheme"] == "Bearer"
            and c["realm"] == f"{url}/token"
            and c["service"] == "flakymirror"
        )
        assert "scope" not in c
        r = requests.get(f"{url}/v2/app/manifests/1")
        assert r.status_code == 401 and challenge(r)["scope"] == "repository:app:pull"
        assert r.json()["errors"][0]["detail"] == [
            {"Type": "repository", "Name": "app", "Action": "pull"}
        ]
        tok = get_token(url, challenge(r)["scope"], auth=("reader", "books"))
        assert (
            tok["expires_in"] == 300
            and tok["issued_at"].endswith("Z")
            and "access_token" not in tok
        )
        bearer = {"Authorization": f"Bearer {tok['token']}"}
        r = requests.get(f"{url}/v2/app/manifests/1", headers=bearer)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == str(d)
        assert requests.get(f"{url}/v2/", headers=bearer).status_code == 200
        # a token for one repository does not open another: a fresh challenge for it
        r = requests.get(f"{url}/v2/other/tags/list", headers=bearer)
        assert r.status_code == 401 and challenge(r)["error"] == "insufficient_scope"
        assert challenge(r)["scope"] == "repository:other:pull"
        r = requests.get(f"{url}/v2/app/manifests/1", headers={"Authorization": "Bearer made-up"})
        assert r.status_code == 401 and challenge(r)["error"] == "invalid_token"
        reg.check()


def test_bearer_push_scope_and_denied():
    with Registry(auth=BearerAuth(users=USERS, grants=GRANTS)) as reg:
        url = reg.url
        r = requests.post(f"{url}/v2/app/blobs/uploads/")
        assert r.status_code == 401 and challenge(r)["scope"] == "repository:app:pull,push"
        # reader asks for push, the token service grants only pull (a 200, not an error)
        tok = get_token(url, "repository:app:pull,push", auth=("reader", "books"))
        r = requests.post(
            f"{url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {tok['token']}"}
        )
        assert r.status_code == 403 and code_of(r) == "DENIED"
        # alice holds a pull-only token: she could push, so she is challenged again
        pull = get_token(url, "repository:app:pull", auth=("alice", "wonderland"))
        r = requests.post(
            f"{url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {pull['token']}"}
        )
        assert r.status_code == 401 and challenge(r)["error"] == "insufficient_scope"
        push = get_token(url, "repository:app:pull,push", auth=("alice", "wonderland"))
        r = requests.post(
            f"{url}/v2/app/blobs/uploads/", headers={"Authorization": f"Bearer {push['token']}"}
        )
        assert r.status_code == 202
        r = requests.delete(
            f"{url}/v2/app/manifests/x", headers={"Authorization": f"Bearer {push['token']}"}
        )
        assert r.status_code == 401 and challenge(r)["scope"] == "repository:app:delete"
        reg.check()


def test_bad_credentials_at_the_token_endpoint():
    with Registry(auth=BearerAuth(users=USERS)) as reg:
        r = requests.get(
            f"{reg.url}/token", params={"scope": "repository:a:pull"}, auth=("alice", "nope")
        )
        assert r.status_code == 401 and code_of(r) == "UNAUTHORIZED"
        r = requests.get(
            f"{reg.url}/token", params={"scope": "garbage"}, auth=("alice", "wonderland")
        )
        assert r.status_code == 400
        # anonymous token with no grants: valid, grants nothing; a user could pull, so the
        # caller is challenged to log in (401 insufficient_scope), never a final 403
        tok = get_token(reg.url, "repository:a:pull")
        r = requests.get(
            f"{reg.url}/v2/a/tags/list", headers={"Authorization": f"Bearer {tok['token']}"}
        )
        assert r.status_code == 401 and code_of(r) == "UNAUTHORIZED"
        assert challenge(r)["error"] == "insufficient_scope"
        assert challenge(r)["scope"] == "repository:a:pull"
        reg.check()


def test_anonymous_token_lacking_push_is_challenged_not_denied():
    grants = {"": {"public/*": "pull"}, "alice": {"*": "pull,push"}, "reader": {"*": "pull"}}
    with Registry(auth=BearerAuth(users=USERS, grants=grants)) as reg:
        url = reg.url
        anon = get_token(url, "repository:public/app:pull,push")  # granted pull only
        bearer = {"Authorization": f"Bearer {anon['token']}"}
        assert requests.get(f"{url}/v2/public/app/tags/list", headers=bearer).status_code == 404
        r = requests.post(f"{url}/v2/public/app/blobs/uploads/", headers=bearer)
        assert r.status_code == 401 and code_of(r) == "UNAUTHORIZED", r.text
        c = challenge(r)
        assert c["error"] == "insufficient_scope"
        assert c["scope"] == "repository:public/app:pull,push"
        assert c["realm"] == f"{url}/token"
        # logging in as alice with the challenged scope then works
        tok = get_token(url, c["scope"], auth=("alice", "wonderland"))
        r = requests.post(
            f"{url}/v2/public/app/blobs/uploads/",
            headers={"Authorization": f"Bearer {tok['token']}"},
        )
        assert r.status_code == 202
        # an authenticated user the grants refuse is final: 403 DENIED, no challenge
        tok = get_token(url, "repository:public/app:pull,push", auth=("reader", "books"))
        r = requests.post(
            f"{url}/v2/public/app/blobs/uploads/",
            headers={"Authorization": f"Bearer {tok['token']}"},
        )
        assert r.status_code == 403 and code_of(r) == "DENIED"
        assert "WWW-Authenticate" not in r.headers
        # an anonymous token asking what no user may have (delete): 403, logging in cannot help
        anon = get_token(url, "repository:public/app:delete")
        r = requests.delete(
            f"{url}/v2/public/app/manifests/{Digest.of(b'x')}",
            headers={"Authorization": f"Bearer {anon['token']}"},
        )
        assert r.status_code == 403 and code_of(r) == "DENIED"
        assert "anonymous caller" in r.json()["errors"][0]["message"]
        reg.check()


def test_expiry_follows_the_injected_clock():
    clock = Clock()
    auth = BearerAuth(users=USERS, token_ttl=60, clock=clock)
    with Registry(auth=auth) as reg:
        reg.push(build_image(layers=1), "app:1")
        tok = get_token(reg.url, "repository:app:pull", auth=("alice", "wonderland"))
        assert tok["issued_at"] == "2023-11-14T22:13:20Z" and tok["expires_in"] == 60
        bearer = {"Authorization": f"Bearer {tok['token']}"}
        clock.now += 59
        assert requests.get(f"{reg.url}/v2/app/manifests/1", headers=bearer).status_code == 200
        clock.now += 1
        r = requests.get(f"{reg.url}/v2/app/manifests/1", headers=bearer)
        assert r.status_code == 401 and code_of(r) == "UNAUTHORIZED"
        c = challenge(r)
        assert c["error"] == "invalid_token" and c["scope"] == "repository:app:pull"
        fresh = get_token(reg.url, c["scope"], auth=("alice", "wonderland"))
        r = requests.get(
            f"{reg.url}/v2/app/manifests/1", headers={"Authorization": f"Bearer {fresh['token']}"}
        )
        assert r.status_code == 200
        assert auth.issued == 2
        reg.check()


@pytest.mark.parametrize(
    ("field", "keys"),
    [("token", {"token"}), ("access_token", {"access_token"}), ("both", {"token", "access_token"})],
)
def test_token_field_choice(field, keys):
    with Registry(auth=BearerAuth(users=USERS, token_field=field)) as reg:
        tok = get_token(reg.url, "repository:a:pull", auth=("alice", "wonderland"))
        assert keys <= set(tok) and not ({"token", "access_token"} - keys) & set(tok)
        if field == "both":
            assert tok["token"] == tok["access_token"]
    with pytest.raises(ValueError, match="token_field"):
        BearerAuth(token_field="jwt")


def test_oauth2_post_and_refresh_token():
    with Registry(auth=BearerAuth(users=USERS)) as reg:
        form = {
            "grant_type": "password",
            "username": "alice",
            "password": "wonderland",
            "service": "flakymirror",
            "client_id": "tests",
            "scope": "repository:a:pull repository:b:pull,push",
            "access_type": "offline",
        }
        r = requests.post(f"{reg.url}/token", data=form)
        assert r.status_code == 200
        doc = r.json()
        assert doc["access_token"] and doc["refresh_token"]
        assert "repository:b:pull,push" in doc["scope"]
        r = requests.post(
            f"{reg.url}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": doc["refresh_token"],
                "scope": "repository:a:pull",
            },
        )
        assert r.status_code == 200 and r.json()["access_token"] != doc["access_token"]
        assert requests.post(f"{reg.url}/token", data={**form, "password": "x"}).status_code == 401
        assert requests.post(f"{reg.url}/token", data={"grant_type": "magic"}).status_code == 400


def test_mount_needs_pull_on_the_source():
    grants = {"alice": {"*": "pull,push"}, "mallory": {"mine": "pull,push"}}
    with Registry(auth=BearerAuth(users={"alice": "a", "mallory": "m"}, grants=grants)) as reg:
        d = Digest.of(b"secret")
        reg.store.put_blob("theirs", d, b"secret")
        for user, pw, expected in (("mallory", "m", 202), ("alice", "a", 201)):
            scopes = ["repository:mine:pull,push", "repository:theirs:pull"]
            tok = requests.get(
                f"{reg.url}/token", params={"scope": scopes}, auth=(user, pw)
            ).json()["token"]
            r = requests.post(
                f"{reg.url}/v2/mine/blobs/uploads/?mount={d}&from=theirs",
                headers={"Authorization": f"Bearer {tok}"},
            )
            assert r.status_code == expected, user
        reg.check()

"""Transport over real sockets: ping, auth challenges, the ggcr retry layer per profile."""

from __future__ import annotations

import base64
import json
import socket

import pytest

from flakymirror.client import (
    Anonymous,
    BasicCredentials,
    Challenge,
    ClientError,
    Keychain,
    NetworkError,
    StaticToken,
    Transport,
    TransportError,
    UnexpectedEOF,
    parse_challenges,
)
from tests.helpers.scripted_registry import EOF, OCIError, Raw, Status
from tests.helpers.sleeps import Sleeps, ggcr_sleeps

PULL = "repository:foo:pull"
MANIFEST = "/v2/foo/manifests/latest"


def make(fake_registry, sleeps: Sleeps, **kw) -> Transport:
    return Transport(fake_registry.host, insecure=True, sleep=sleeps, **kw)


def test_anonymous_ping_then_request(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, Status(200, b"hello"))
    with make(fake_registry, sleeps) as t:
        resp = t.request("GET", MANIFEST, scope=PULL, headers={"Accept": "x/y"})
        assert resp.content == b"hello"
        assert t.challenge == Challenge("anonymous")
    assert fake_registry.paths() == ["GET /v2/", f"GET {MANIFEST}"]
    assert all("Authorization" not in h for h in fake_registry.headers_seen)
    assert fake_registry.headers_seen[1]["Accept"] == "x/y"
    assert [(r.method, r.status) for r in t.requests] == [("GET", 200), ("GET", 200)]
    assert sleeps.calls == []


def test_every_transport_pings_again(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=Status(200, b"x"))
    for _ in range(2):
        with make(fake_registry, sleeps) as t:
            t.request("GET", MANIFEST, scope=PULL)
    assert fake_registry.count("GET", "/v2/") == 2


@pytest.mark.parametrize(
    ("creds", "expected"),
    [
        (Anonymous(), None),
        (BasicCredentials("user", "pass"), "Basic " + base64.b64encode(b"user:pass").decode()),
        (StaticToken("tok"), "Bearer tok"),
    ],
)
def test_basic_challenge_sends_credentials_on_every_request(fake_registry, sleeps, creds, expected):
    fake_registry.ping_status = 401
    fake_registry.ping_headers = {"WWW-Authenticate": 'Basic realm="flaky"'}
    fake_registry.on("GET", MANIFEST, then=Status(200, b"m"))
    with make(fake_registry, sleeps, keychain=Keychain({fake_registry.host: creds})) as t:
        t.request("GET", MANIFEST, scope=PULL)
        t.request("GET", MANIFEST, scope=PULL)
        assert t.challenge.scheme == "basic"
    assert "Authorization" not in fake_registry.headers_seen[0]  # the ping goes without
    assert [h.get("Authorization") for h in fake_registry.headers_seen[1:]] == [expected, expected]


def bearer_setup(fake_registry, token_body, *, scope_in_challenge=None):
    realm = f"http://{fake_registry.host}/token"
    challenge = f'Bearer realm="{realm}",service="flaky-svc"'
    if scope_in_challenge:
        challenge += f',scope="{scope_in_challenge}"'
    fake_registry.ping_status = 401
    fake_registry.ping_headers = {"WWW-Authenticate": challenge}
    fake_registry.on(
        "GET", "/token", then=Status(200, json.dumps(token_body), content_type="application/json")
    )


@pytest.mark.parametrize(
    ("body", "token"),
    [
        ({"token": "t-1"}, "t-1"),
        ({"access_token": "a-1"}, "a-1"),
        ({"token": "t-1", "access_token": "a-1"}, "a-1"),  # ggcr prefers access_token
    ],
)
def test_bearer_token_flow(fake_registry, sleeps, body, token):
    bearer_setup(fake_registry, body)
    fake_registry.on("GET", MANIFEST, then=Status(200, b"m"))
    creds = BasicCredentials("u", "p")
    with make(fake_registry, sleeps, keychain=creds) as t:
        t.request("GET", MANIFEST, scope=PULL)
        t.request("GET", MANIFEST, scope=PULL)
    assert fake_registry.paths() == ["GET /v2/", "GET /token", f"GET {MANIFEST}", f"GET {MANIFEST}"]
    token_request = fake_registry.headers_seen[1]
    assert token_request["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert fake_registry.headers_seen[2]["Authorization"] == f"Bearer {token}"
    assert fake_registry.headers_seen[3]["Authorization"] == f"Bearer {token}"
    token_url = next(r.url for r in t.requests if "/token" in r.url)
    assert token_url.endswith("/token?scope=repository%3Afoo%3Apull&service=flaky-svc")


def test_several_scopes_share_one_token(fake_registry, sleeps):
    bearer_setup(fake_registry, {"token": "t"})
    fake_registry.on("HEAD", "/v2/foo/blobs/.*", then=Status(404))
    push_and_mount = ["repository:foo:push,pull", "repository:bar/run:pull"]
    with make(fake_registry, sleeps) as t:
        t.ping(push_and_mount)
        t.request("HEAD", "/v2/foo/blobs/sha256:aa", scope=push_and_mount, ok=(404,))
        t.request("HEAD", "/v2/foo/blobs/sha256:bb", scope=tuple(push_and_mount), ok=(404,))
        t.request("HEAD", "/v2/foo/blobs/sha256:cc", scope=PULL, ok=(404,))  # another set
    assert fake_registry.paths() == [
        "GET /v2/", "GET /token", "HEAD /v2/foo/blobs/sha256:aa",
        "HEAD /v2/foo/blobs/sha256:bb", "GET /token", "HEAD /v2/foo/blobs/sha256:cc",
    ]  # fmt: skip
    tokens = [r.url for r in t.requests if "/token" in r.url]
    assert tokens[0].endswith(
        "/token?scope=repository%3Afoo%3Apush%2Cpull&scope=repository%3Abar%2Frun%3Apull"
        "&service=flaky-svc"
    )
    assert tokens[1].endswith("/token?scope=repository%3Afoo%3Apull&service=flaky-svc")


def test_first_request_with_several_scopes_pings_for_all_of_them(fake_registry, sleeps):
    bearer_setup(fake_registry, {"token": "t"})
    fake_registry.on("GET", MANIFEST, then=Status(200, b"m"))
    with make(fake_registry, sleeps) as t:
        t.request("GET", MANIFEST, scope=("repository:foo:pull", "repository:bar:pull"))
    assert fake_registry.paths() == ["GET /v2/", "GET /token", f"GET {MANIFEST}"]
    token_url = next(r.url for r in t.requests if "/token" in r.url)
    assert "?scope=repository%3Afoo%3Apull&scope=repository%3Abar%3Apull&service=" in token_url


def test_token_url_keeps_the_realm_query_and_sorts_keys_like_go(fake_registry, sleeps):
    realm = f"http://{fake_registry.host}/token?z=1&account=ci"
    fake_registry.ping_status = 401
    fake_registry.ping_headers = {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'}
    fake_registry.on("GET", "/token", then=Status(200, b'{"token": "t"}'))
    with make(fake_registry, sleeps) as t:
        t.ping(PULL)
    token_url = next(r.url for r in t.requests if "/token" in r.url)
    assert token_url == (
        f"http://{fake_registry.host}/token?account=ci&scope=repository%3Afoo%3Apull&service=s&z=1"
    )


@pytest.mark.parametrize("scope", [[], "", ["repository:foo:pull", ""], [None]])
def test_bad_scopes_are_refused(fake_registry, sleeps, scope):
    with make(fake_registry, sleeps) as t, pytest.raises(ValueError, match="scope must be"):
        t.request("GET", MANIFEST, scope=scope)
    assert fake_registry.log == []


def test_bearer_401_refreshes_the_token_and_resends_once(fake_registry, sleeps):
    bearer_setup(fake_registry, {"token": "t"})
    push_scope = "repository:foo:push,pull"
    fake_registry.on(
        "GET",
        MANIFEST,
        Status(401, b"", {"WWW-Authenticate": f'Bearer realm="x",scope="{push_scope}"'}),
        then=Status(200, b"m"),
    )
    with make(fake_registry, sleeps) as t:
        assert t.request("GET", MANIFEST, scope=PULL).content == b"m"
    assert fake_registry.paths() == [
        "GET /v2/", "GET /token", f"GET {MANIFEST}", "GET /token", f"GET {MANIFEST}",
    ]  # fmt: skip
    second_token = [r.url for r in t.requests if "/token" in r.url][1]
    # ggcr's bearerTransport asks first for the scope the 401 names (some registries read
    # only the first scope parameter)
    assert "scope=repository%3Afoo%3Apush%2Cpull&scope=repository%3Afoo%3Apull" in second_token
    assert "Authorization" not in fake_registry.headers_seen[1]  # anonymous token request


def test_bearer_still_401_after_refresh_is_a_transport_error(fake_registry, sleeps):
    bearer_setup(fake_registry, {"token": "t"})
    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
    challenge = {"WWW-Authenticate": 'Bearer realm="x",service="flaky-svc"'}
    fake_registry.on("GET", MANIFEST, then=Status(401, body.encode(), challenge))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError) as info:
        t.request("GET", MANIFEST, scope=PULL)
    assert info.value.status_code == 401
    assert str(info.value).endswith(f"{MANIFEST}: UNAUTHORIZED: authentication required")
    assert fake_registry.count("GET", MANIFEST) == 2 and fake_registry.count("GET", "/token") == 2


def test_bearer_401_without_a_challenge_is_not_refreshed(fake_registry, sleeps):
    # ggcr's bearerTransport refreshes only when authchallenge.ResponseChallenges finds one
    # (docker/hub-feedback #2530: an expired token answered without WWW-Authenticate).
    bearer_setup(fake_registry, {"token": "t"})
    fake_registry.on("GET", MANIFEST, then=OCIError(401, "UNAUTHORIZED", "authentication required"))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError) as info:
        t.request("GET", MANIFEST, scope=PULL)
    assert info.value.status_code == 401
    assert fake_registry.count("GET", MANIFEST) == 1 and fake_registry.count("GET", "/token") == 1
    assert sleeps.calls == []


def test_static_token_skips_the_token_service(fake_registry, sleeps):
    bearer_setup(fake_registry, {"token": "never"})
    fake_registry.on("GET", MANIFEST, then=Status(200, b"m"))
    with make(fake_registry, sleeps, keychain=StaticToken("static")) as t:
        t.request("GET", MANIFEST, scope=PULL)
    assert fake_registry.count("GET", "/token") == 0
    assert fake_registry.headers_seen[-1]["Authorization"] == "Bearer static"


def test_token_errors(fake_registry, sleeps):
    bearer_setup(fake_registry, {"nothing": 1})
    with make(fake_registry, sleeps) as t, pytest.raises(ClientError, match="no token in bearer"):
        t.request("GET", MANIFEST, scope=PULL)
    fake_registry.rules.clear()
    fake_registry.on("GET", "/token", then=OCIError(401, "UNAUTHORIZED", "bad credentials"))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError) as info:
        t.ping(PULL)
    assert "/token?scope=repository%3Afoo%3Apull&service=flaky-svc: UNAUTHORIZED" in str(info.value)


def test_missing_realm(fake_registry, sleeps):
    fake_registry.ping_status = 401
    fake_registry.ping_headers = {"WWW-Authenticate": 'Bearer service="s",scope="a"'}
    with make(fake_registry, sleeps) as t, pytest.raises(ClientError) as info:
        t.ping()
    assert str(info.value) == "malformed www-authenticate, missing realm: map[scope:a service:s]"


def test_ping_error_statuses_go_through_check_error(fake_registry, sleeps):
    fake_registry.on("GET", "/v2/", OCIError(404, "NAME_UNKNOWN", "nope"))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError) as info:
        t.ping()
    assert str(info.value) == f"GET http://{fake_registry.host}/v2/: NAME_UNKNOWN: nope"


def test_5xx_retried_with_the_backoff_then_success(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, Status(503), Status(502), then=Status(200, b"ok"))
    with make(fake_registry, sleeps) as t:
        assert t.request("GET", MANIFEST, scope=PULL).content == b"ok"
    assert sleeps.calls == ggcr_sleeps(1)
    assert fake_registry.count("GET", MANIFEST) == 3


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 499, 522])
def test_every_listed_status_is_retried_by_both_ggcr_profiles(fake_registry, sleeps, status):
    fake_registry.on("GET", MANIFEST, then=Status(status, b"busy"))
    for profile in ("ggcr-v0.21.5", "ggcr-v0.21.9"):
        with make(fake_registry, sleeps, profile=profile) as t, pytest.raises(TransportError):
            t.request("GET", MANIFEST, scope=PULL)
    assert fake_registry.count("GET", MANIFEST) == 6
    assert sleeps.calls == ggcr_sleeps(1) * 2  # each fresh transport: the same seeded jitter


def test_429_depends_on_the_profile(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=OCIError(429, "TOOMANYREQUESTS", "slow down"))
    expected = {"ggcr-v0.21.9": 3, "ggcr-v0.21.5": 1, "none": 1}
    for profile, tries in expected.items():
        before = fake_registry.count("GET", MANIFEST)
        sleeps.calls.clear()
        with (
            make(fake_registry, sleeps, profile=profile) as t,
            pytest.raises(TransportError) as info,
        ):
            t.request("GET", MANIFEST, scope=PULL)
        assert fake_registry.count("GET", MANIFEST) - before == tries, profile
        assert sleeps.calls == (ggcr_sleeps(1) if tries == 3 else [])
        assert info.value.status_code == 429
        assert str(info.value).endswith("TOOMANYREQUESTS: slow down")


def test_v0_21_5_loses_the_body_of_a_retried_response(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=OCIError(503, "UNAVAILABLE", "back soon"))
    with (
        make(fake_registry, sleeps, profile="ggcr-v0.21.9") as t,
        pytest.raises(TransportError) as new,
    ):
        t.request("GET", MANIFEST, scope=PULL)
    assert new.value.errors and str(new.value).endswith("UNAVAILABLE: back soon")
    with (
        make(fake_registry, sleeps, profile="ggcr-v0.21.5") as t,
        pytest.raises(TransportError) as old,
    ):
        t.request("GET", MANIFEST, scope=PULL)
    assert old.value.errors == [] and old.value.raw_body == b""
    assert str(old.value).endswith(f"{MANIFEST}: unexpected status code 503 Service Unavailable")
    assert old.value.temporary() is True  # by status, now that the diagnostics are gone


def test_profile_none_does_not_retry(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=Status(503))
    with make(fake_registry, sleeps, profile="none") as t, pytest.raises(TransportError):
        t.request("GET", MANIFEST, scope=PULL)
    assert fake_registry.count("GET", MANIFEST) == 1 and sleeps.calls == []


def test_retry_false_bypasses_the_layer(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=Status(503))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError):
        t.request("GET", MANIFEST, scope=PULL, retry=False)
    assert fake_registry.count("GET", MANIFEST) == 1 and sleeps.calls == []


def test_eof_is_retried_then_surfaces_as_a_go_url_error(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, then=EOF())
    with make(fake_registry, sleeps) as t, pytest.raises(NetworkError) as info:
        t.request("GET", MANIFEST, scope=PULL)
    assert str(info.value) == f'Get "http://{fake_registry.host}{MANIFEST}": EOF'
    assert info.value.kind == "eof"
    assert fake_registry.count("GET", MANIFEST) == 3 and sleeps.calls == ggcr_sleeps(1)
    assert [r.status for r in t.requests] == [200, None, None, None]


def test_eof_once_then_success(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, EOF(), then=Status(200, b"ok"))
    with make(fake_registry, sleeps) as t:
        assert t.request("GET", MANIFEST, scope=PULL).content == b"ok"
    assert sleeps.calls == ggcr_sleeps(1)[:1]


def test_connection_refused_is_not_retried(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = Transport(f"127.0.0.1:{port}", insecure=True, sleep=sleeps)
    with pytest.raises(NetworkError) as info:
        t.ping()
    assert str(info.value) == (
        f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    assert info.value.kind == "refused" and sleeps.calls == []


def test_cut_body_is_unexpected_eof(fake_registry, sleeps):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
    fake_registry.on("GET", MANIFEST, Raw(head + b"only ten.."))
    with make(fake_registry, sleeps) as t, pytest.raises(UnexpectedEOF) as info:
        t.request("GET", MANIFEST, scope=PULL)
    assert str(info.value) == "unexpected EOF"
    assert sleeps.calls == []  # the body is read after the retry layer, as in Go


def test_error_body_read_is_limited_to_64_kib(fake_registry, sleeps):
    fake_registry.on("GET", MANIFEST, Status(400, b"y" * 200_000))
    with make(fake_registry, sleeps) as t, pytest.raises(TransportError) as info:
        t.request("GET", MANIFEST, scope=PULL)
    assert len(info.value.raw_body) == 65536


def test_ok_statuses_and_streaming(fake_registry, sleeps):
    fake_registry.on("HEAD", "/v2/foo/blobs/.*", Status(404))
    fake_registry.on("GET", "/v2/foo/blobs/.*", Status(200, b"z" * 100_000))
    with make(fake_registry, sleeps) as t:
        head = t.request("HEAD", "/v2/foo/blobs/sha256:x", scope=PULL, ok=(200, 404))
        assert head.status_code == 404
        resp = t.request("GET", t.url("/v2/foo/blobs/sha256:x"), scope=PULL, stream=True)
        assert len(b"".join(resp.iter_content(8192))) == 100_000


def test_retry_operation_retries_temporary_errors(fake_registry, sleeps):
    calls = []

    def upload():
        calls.append(1)
        if len(calls) < 3:
            raise TransportError(500)
        return "done"

    with make(fake_registry, sleeps) as t:
        assert t.retry_operation(upload) == "done"
        with pytest.raises(TransportError):
            t.retry_operation(lambda: (_ for _ in ()).throw(TransportError(404)))
    assert len(calls) == 3 and len(sleeps.calls) == 2


def test_bad_registry_names():
    with pytest.raises(ValueError, match="registry must be a host"):
        Transport("http://x/y")
    with pytest.raises(TypeError, match="keychain must be"):
        Transport("x:1", keychain=42)  # type: ignore[arg-type]


def test_parse_challenges():
    parsed = parse_challenges(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert parsed == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "reg",
                "scope": "repository:a/b:pull,push",
            },
        )
    ]
    assert parse_challenges('Negotiate, Basic realm="x"') == [
        Challenge("negotiate"),
        Challenge("basic", {"realm": "x"}),
    ]
    assert parse_challenges(['Basic realm="a\\"b"', "Bearer realm=tok"]) == [
        Challenge("basic", {"realm": 'a"b'}),
        Challenge("bearer", {"realm": "tok"}),
    ]
    assert parse_challenges("") == []
    assert parse_challenges("@@@") == []


def test_a_failure_says_whether_its_connection_had_been_kept_alive():
    """The reuse flag travels on the wire error itself (no thread-local): a wrapped error whose
    cause a kept-alive connection marked reads as reused, any other as not."""
    import requests

    from flakymirror.client.gohttp import REUSED, went_out_reused

    cause = ConnectionResetError("reset")
    setattr(cause, REUSED, True)
    wrapped = requests.exceptions.ConnectionError(cause)
    assert went_out_reused(wrapped)
    assert not went_out_reused(requests.exceptions.ConnectionError(ConnectionResetError("x")))

"""The client core against flakymirror's own Registry (real store, real auth) and against a
misbehaving WSGI wrapper around it hosted by the registry's Server (EOF and RST closes)."""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug import Request, Response

from flakymirror.client import (
    BasicCredentials,
    ImageError,
    NetworkError,
    RepoStoreError,
    Transport,
    new_remote_image,
    open_remote_image,
)
from flakymirror.oci import build_image, build_index
from flakymirror.registry import (
    BasicAuth,
    BearerAuth,
    CloseConnection,
    Registry,
    RegistryApp,
    Server,
    Store,
)
from tests.helpers.optional_tools import require_module
from tests.helpers.sleeps import ggcr_sleeps

DELAYS = [0.1, 0.2, 0.5, 1.0, 2.0]


def served(server, path: str, expected: int | None = None) -> int:
    """How many requests for ``path`` the server logged (waiting briefly for ``expected``:
    the server logs an exchange just after the client has its answer)."""
    deadline = time.monotonic() + 2.0
    while True:
        n = sum(1 for entry in list(server.log) if entry.target.split("?")[0] == path)
        if expected is None or n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.005)


def test_open_from_registry_image_and_index(sleeps):
    image = build_image(layers=2, seed=40, flavor="docker")
    index = build_index(("linux/amd64", "linux/arm64"), seed=41)
    with Registry() as reg:
        reg.push(image, "run:1")
        reg.push(index, "multi:1")
        img = new_remote_image(f"{reg.host}/run:1", insecure=True, sleep=sleeps)
        assert img.top_layer() == str(image.layers[-1].diff_id)
        assert img.digest == image.digest
        multi = new_remote_image(f"{reg.host}/multi:1", insecure=True, platform="linux/arm64")
        arm = index.image_for("linux/arm64")
        assert multi.top_layer() == str(arm.layers[-1].diff_id)
        assert img.exists() and not new_remote_image(f"{reg.host}/none:1", insecure=True).exists()
        reg.check()
    assert sleeps.calls == []


def test_missing_image_on_a_real_registry_is_issue_1674(sleeps, caplog):
    with Registry() as reg:
        ref = f"{reg.host}/run:missing"
        with pytest.raises(ImageError, match="^image has no layers$"):
            open_remote_image(
                lambda: new_remote_image(ref, insecure=True, sleep=sleeps), sleep=sleeps
            )
        assert served(reg.server, "/v2/run/manifests/missing", 6) == 6
    assert sleeps.calls == DELAYS


@pytest.mark.parametrize("token_field", ["token", "access_token", "both"])
def test_bearer_registry(sleeps, token_field):
    image = build_image(layers=1, seed=42)
    auth = BearerAuth(users={"u": "p"}, token_field=token_field)
    with Registry(auth=auth) as reg:
        reg.push(image, "run:1")
        record = []
        img = new_remote_image(
            f"{reg.host}/run:1",
            insecure=True,
            keychain=BasicCredentials("u", "p"),
            sleep=sleeps,
            record=record,
        )
        assert img.top_layer() == str(image.layers[-1].diff_id)
        paths = [r.url.split(reg.host, 1)[1].split("?")[0] for r in record]
        assert paths == [
            "/v2/",
            "/token",
            "/v2/run/manifests/1",
            f"/v2/run/blobs/{image.config_blob.digest}",
        ]
        assert [r.status for r in record] == [401, 200, 200, 200]


def test_wrong_password_or_none_on_a_bearer_registry(sleeps):
    with Registry(auth=BearerAuth(users={"u": "p"})) as reg:
        reg.push(build_image(layers=1, seed=43), "run:1")
        ref = f"{reg.host}/run:1"
        wrong = new_remote_image(
            ref, insecure=True, keychain=BasicCredentials("u", "no"), sleep=sleeps
        )
        # the token service's 401 (with a JSON body) reaches imgutil as a bare transport error:
        # an empty image, so lifecycle would spend all 6 attempts on a wrong password
        assert wrong.empty
        assert wrong.empty_reason.status_code == 401
        assert "/token?scope=repository%3Arun%3Apull&service=flakymirror: UNAUTHORIZED" in str(
            wrong.empty_reason
        )
        assert [r.status for r in wrong.requests] == [401, 401]
        # anonymous gets a token that lacks the pull scope: distribution answers the manifest
        # GET with 401 UNAUTHORIZED and an insufficient_scope challenge; ggcr fetches a token
        # once more, gets the same 401, and imgutil makes it an empty image (a JSON body), so
        # lifecycle retries all 6 attempts and ends on "image has no layers" (lifecycle #436)
        anonymous = new_remote_image(ref, insecure=True, sleep=sleeps)
        assert anonymous.empty and anonymous.empty_reason.status_code == 401
        assert "UNAUTHORIZED: anonymous token does not grant repository:run:pull" in str(
            anonymous.empty_reason
        )
        paths = [r.url.split(reg.host, 1)[1].split("?")[0] for r in anonymous.requests]
        assert paths == ["/v2/", "/token", "/v2/run/manifests/1", "/token", "/v2/run/manifests/1"]
        assert sleeps.calls == []
        with pytest.raises(ImageError, match="^image has no layers$"):
            open_remote_image(
                lambda: new_remote_image(ref, insecure=True, sleep=sleeps), sleep=sleeps
            )
    assert sleeps.calls == DELAYS


def test_basic_registry(sleeps):
    image = build_image(layers=1, seed=44)
    with Registry(auth=BasicAuth(users={"u": "p"})) as reg:
        reg.push(image, "run:1")
        img = new_remote_image(
            f"{reg.host}/run:1", insecure=True, keychain=BasicCredentials("u", "p"), sleep=sleeps
        )
        assert img.top_layer() == str(image.layers[-1].diff_id)
        anonymous = new_remote_image(f"{reg.host}/run:1", insecure=True, sleep=sleeps)
        # distribution answers 401 with a JSON UNAUTHORIZED body: imgutil's empty image
        assert anonymous.empty and anonymous.empty_reason.status_code == 401


# -- a misbehaving wrapper hosted by the registry's Server -------------------------------------


class Misbehave:
    """WSGI middleware: scripted answers per (method, path regex), else the registry app."""

    def __init__(self, app) -> None:
        self.app = app
        self.scripts: list[tuple[str, re.Pattern[str], list[str]]] = []
        self.lock = threading.Lock()

    def on(self, method: str, path: str, *actions: str) -> None:
        self.scripts.append((method, re.compile(path), list(actions)))

    def __call__(self, environ, start_response):
        request = Request(environ)
        action = "pass"
        with self.lock:
            for method, pattern, actions in self.scripts:
                if method == request.method and pattern.fullmatch(request.path) and actions:
                    action = actions.pop(0)
                    break
        if action == "eof":
            raise CloseConnection()
        if action == "rst":
            sock = environ["werkzeug.socket"]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise CloseConnection()
        if action.isdigit():
            return Response(b"", status=int(action))(environ, start_response)
        return self.app(environ, start_response)


@pytest.fixture
def flaky() -> Iterator[tuple[Misbehave, Server, Store]]:
    store = Store()
    wrapper = Misbehave(RegistryApp(store))
    server = Server(wrapper)
    server.start()
    try:
        yield wrapper, server, store
    finally:
        server.stop()
        store.close()


def test_reset_is_retried_by_ggcr_then_by_the_opener(flaky, sleeps, caplog):
    wrapper, server, store = flaky
    image = build_image(layers=2, seed=45)
    store.push_image(image, "run", "1")
    wrapper.on("GET", "/v2/run/manifests/1", "rst", "rst", "rst", "rst")
    ref = f"{server.host}/run:1"
    record = []
    with caplog.at_level(logging.WARNING, logger="flakymirror.client"):
        img = open_remote_image(
            lambda: new_remote_image(ref, insecure=True, sleep=sleeps, record=record), sleep=sleeps
        )
    assert img.top_layer() == str(image.layers[-1].diff_id)
    # attempt 1: the GET after the ping goes out on the kept-alive connection, so the first
    # reset is resent at once by Go's http.Transport (2 resets), then ggcr retries twice on
    # new connections (resets 3 and 4); attempt 2 gets the manifest.
    assert sleeps.calls == [*ggcr_sleeps(1), 0.1]
    manifest = [r.status for r in record if r.url.endswith("/v2/run/manifests/1")]
    assert manifest == [None, None, None, None, 200]
    assert served(server, "/v2/run/manifests/1", 1) == 1  # the server logs answered ones only
    assert "read: connection reset by peer, retrying in 100ms" in caplog.records[0].getMessage()
    server.check()


def test_go_resends_an_idempotent_request_once_on_a_kept_alive_connection(flaky, sleeps):
    wrapper, server, store = flaky
    store.push_image(build_image(layers=1, seed=47), "run", "1")
    wrapper.on("GET", "/v2/run/manifests/1", "eof")
    wrapper.on("POST", "/v2/run/blobs/uploads/", "eof")
    with Transport(server.host, insecure=True, sleep=sleeps) as t:
        t.ping()
        resp = t.request("GET", "/v2/run/manifests/1", scope="repository:run:pull")
        assert resp.status_code == 200
        assert [r.status for r in t.requests] == [200, None, 200]
        assert sleeps.calls == []  # invisible to ggcr's retry layer
        # a POST is not replayable: the EOF surfaces (here with the retry layer bypassed)
        with pytest.raises(NetworkError, match='^Post ".*/v2/run/blobs/uploads/": EOF$'):
            t.request(
                "POST", "/v2/run/blobs/uploads/", scope="repository:run:push,pull", data=b"",
                ok=(202,), retry=False,
            )  # fmt: skip
    assert [r.method for r in t.requests] == ["GET", "GET", "GET", "POST"]


def test_reset_and_eof_are_told_apart(flaky, sleeps):
    wrapper, server, store = flaky
    wrapper.on("GET", "/v2/", "rst", "eof")
    t = Transport(server.host, insecure=True, sleep=sleeps, profile="none")
    with pytest.raises(NetworkError) as reset:
        t.ping()
    assert reset.value.kind == "reset" and str(reset.value).endswith(
        ": read: connection reset by peer"
    )
    with pytest.raises(NetworkError) as eof:
        Transport(server.host, insecure=True, sleep=sleeps, profile="none").ping()
    assert eof.value.kind == "eof" and str(eof.value).endswith('/v2/": EOF')


def test_5xx_storm_on_the_registry_server(flaky, sleeps):
    wrapper, server, store = flaky
    store.push_image(build_image(layers=1, seed=46), "run", "1")
    wrapper.on("GET", "/v2/run/manifests/1", *["503"] * 18)
    ref = f"{server.host}/run:1"
    with pytest.raises(RepoStoreError, match="unexpected status code 503 Service Unavailable$"):
        open_remote_image(lambda: new_remote_image(ref, insecure=True, sleep=sleeps), sleep=sleeps)
    G = ggcr_sleeps(1)
    assert sleeps.calls == [*G, 0.1, *G, 0.2, *G, 0.5, *G, 1.0, *G, 2.0, *G]
    assert served(server, "/v2/run/manifests/1", 18) == 18
    assert served(server, "/v2/", 6) == 6


def test_tls_registry_with_and_without_the_ca(tmp_path, sleeps):
    trustme = require_module("trustme")
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    image = build_image(layers=1, seed=48)
    with Registry(ssl_context=ctx) as reg:
        reg.push(image, "run:1")
        ref = f"{reg.host}/run:1"
        img = new_remote_image(ref, verify=str(ca_file), sleep=sleeps)
        assert img.top_layer() == str(image.layers[-1].diff_id)
        assert all(r.url.startswith("https://") for r in img.requests)
        assert img.exists()  # Found()'s HEAD uses the same CA as the open
        with pytest.raises(RepoStoreError) as info:
            new_remote_image(ref, sleep=sleeps)
        assert str(info.value) == (
            f'connect to repo store "{ref}": Get "https://{reg.host}/v2/": '
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )
    assert sleeps.calls == []  # a TLS failure is not temporary: no ggcr retries


def test_a_stalled_registry_times_out_and_is_retried(flaky, sleeps):
    wrapper, server, store = flaky
    stalls = []

    def stall(environ, start_response):
        stalls.append(1)
        environ["flakymirror.stopping"].wait(0.5)
        return Response(b"late")(environ, start_response)

    real = wrapper.app
    wrapper.app = lambda environ, sr: (
        stall(environ, sr) if environ["PATH_INFO"] == "/v2/run/manifests/1" else real(environ, sr)
    )
    t = Transport(server.host, insecure=True, sleep=sleeps, timeout=0.1)
    with pytest.raises(NetworkError) as info:
        t.request("GET", "/v2/run/manifests/1", scope="repository:run:pull")
    assert info.value.kind == "timeout"
    assert str(info.value).endswith(": net/http: timeout awaiting response headers")
    assert len(stalls) == 3 and sleeps.calls == ggcr_sleeps(1)
    t.close()

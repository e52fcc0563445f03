"""What the registry must refuse or ignore, whoever sends it: a foreign ``Host`` does not steer
the Bearer realm, a token is never granted on a name the API refuses, and a manifest a Go client
could not read is ``MANIFEST_INVALID``, as distribution answers."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from flakymirror.oci.challenge import parse_challenges
from flakymirror.registry import BearerAuth, Registry
from tests.helpers.registry_requests import code_of, push_default_blobs
from tests.helpers.wire import split_response


def _raw(host: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    name, port = host.rsplit(":", 1)
    with socket.create_connection((name, int(port)), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return split_response(data)


def test_the_bearer_realm_is_the_servers_own_address_whatever_the_host_header() -> None:
    with Registry(auth=BearerAuth({"u": "p"})) as registry:
        status, headers, _ = _raw(
            registry.host,
            b"GET /v2/ HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n",
        )
        assert status == 401
        (challenge,) = parse_challenges(headers["www-authenticate"])
        assert challenge.parameters["realm"] == f"http://{registry.host}/token"
        # the realm still works for a client that came by name
        resp = requests.get(f"http://localhost:{registry.server.port}/v2/", timeout=5)
        (challenge,) = parse_challenges(resp.headers["WWW-Authenticate"])
        assert challenge.parameters["realm"] == f"http://{registry.host}/token"
        registry.check()


def test_an_explicit_realm_is_kept() -> None:
    auth = BearerAuth({"u": "p"}, realm="https://auth.example/token")
    with Registry(auth=auth) as registry:
        resp = requests.get(registry.url + "/v2/", timeout=5)
        assert 'realm="https://auth.example/token"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "scope",
    ["repository:public/../team-a/app:pull", "repository:Team/App:pull", "repository:a//b:pull"],
)
def test_no_token_is_granted_on_a_name_the_api_refuses(scope: str) -> None:
    auth = BearerAuth({"u": "p"}, grants={"u": {"*": "pull,push"}})
    with Registry(auth=auth) as registry:
        resp = requests.get(
            registry.url + "/token", params={"scope": scope}, auth=("u", "p"), timeout=5
        )
        assert resp.status_code == 400, resp.text
        assert code_of(resp) == "UNSUPPORTED"
        assert "invalid repository name" in resp.json()["errors"][0]["message"]
        assert auth.issued == 0
        good = requests.get(
            registry.url + "/token",
            params={"scope": "repository:team-a/app:pull"},
            auth=("u", "p"),
            timeout=5,
        )
        assert good.status_code == 200 and auth.issued == 1


def _manifest(size: int) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": size,
        },
        "layers": [],
    }


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (json.dumps(_manifest(2**63)).encode(), "size must be an integer from 0 to 2^63-1"),
        (json.dumps(_manifest(2)).encode("utf-16"), "not valid JSON"),
        (json.dumps(_manifest(2)).encode("utf-16-le"), "not valid JSON"),
        (b"\xef\xbb\xbf" + json.dumps(_manifest(2)).encode(), "byte-order mark"),
        (json.dumps(_manifest(2)).replace('"size": 2', '"size": NaN').encode(), "NaN is not"),
    ],
    ids=["size-over-int64", "utf-16-with-bom", "utf-16-le", "utf-8-bom", "nan"],
)  # fmt: skip
def test_a_manifest_go_cannot_parse_is_manifest_invalid(body: bytes, why: str) -> None:
    with Registry() as registry:
        push_default_blobs(registry.url, "lib/app")
        resp = requests.put(
            registry.url + "/v2/lib/app/manifests/1",
            data=body,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            timeout=5,
        )
        assert resp.status_code == 400 and code_of(resp) == "MANIFEST_INVALID"
        assert why in resp.json()["errors"][0]["message"]
        fine = json.dumps(_manifest(2)).encode()  # the same manifest, as Go writes it
        ok = requests.put(
            registry.url + "/v2/lib/app/manifests/1",
            data=fine,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            timeout=5,
        )
        assert ok.status_code == 201, ok.text
        registry.check()

"""Control endpoints registered from above, journal queries that cannot return 0 silently,
``set_auth``, and ``FlakyMirror(tls=True)``."""

from __future__ import annotations

import os
import ssl
import subprocess
import time

import pytest
import requests
from werkzeug.wrappers import Request, Response

from flakymirror.mirror import FlakyMirror
from flakymirror.mirror.control import (
    BODY_LIMIT,
    ControlError,
    json_response,
    read_json,
    read_text,
)
from flakymirror.oci import build_image
from flakymirror.registry import BasicAuth, BearerAuth
from tests.helpers.mirror_requests import ACCEPT, REPO
from tests.helpers.optional_tools import require_binary


# -- register ----------------------------------------------------------------------------------
def test_a_registered_endpoint_is_served_with_the_house_error_shape(mirror):
    loaded: list[str] = []

    def load(request: Request) -> Response:
        if request.content_type == "application/toml":
            text = read_text(request)
            if "name" not in text:
                raise ControlError("body", "a scenario needs a name", 422)
            loaded.append(text)
        else:
            doc = read_json(request)
            if not isinstance(doc, dict) or "name" not in doc:
                raise ControlError("name", "missing required key")
            loaded.append(doc["name"])
        return json_response({"loaded": loaded[-1]}, 201)

    mirror.control.register("scenario", {"POST": load, "GET": lambda r: json_response(loaded)})
    url = f"{mirror.url}/_flakymirror/scenario"
    r = requests.post(url, json={"name": "x"}, timeout=5)
    assert (r.status_code, r.json()) == (201, {"loaded": "x"})
    toml = 'name = "ünïcode"\n'.encode()
    r = requests.post(url, data=toml, headers={"Content-Type": "application/toml"}, timeout=5)
    assert r.status_code == 201 and r.json()["loaded"] == 'name = "ünïcode"\n'
    assert requests.get(url, timeout=5).json() == ["x", 'name = "ünïcode"\n']
    r = requests.post(url, json={}, timeout=5)
    assert r.status_code == 400 and r.json() == {
        "error": "name: missing required key",
        "field": "name",
    }
    r = requests.post(url, data=b"x = 1", headers={"Content-Type": "application/toml"}, timeout=5)
    assert r.status_code == 422 and r.json()["field"] == "body"
    toml_type = {"Content-Type": "application/toml"}
    r = requests.post(url, data=b"\xff\xfe", headers=toml_type, timeout=5)
    assert r.status_code == 400 and "not UTF-8" in r.json()["error"]
    r = requests.post(url, data=b"a" * (BODY_LIMIT + 1), headers=toml_type, timeout=5)
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = requests.delete(url, timeout=5)
    assert r.status_code == 405 and "allowed: POST, GET" in r.json()["error"]
    r = requests.get(f"{mirror.url}/_flakymirror/nope", timeout=5)
    assert r.status_code == 404 and "/_flakymirror/scenario" in r.json()["error"]
    assert mirror.journal.entries == []  # control calls are never journaled
    mirror.check()


@pytest.mark.parametrize(
    ("name", "handlers", "words"),
    [
        ("state", {"GET": lambda r: None}, "already registered"),
        ("", {"GET": lambda r: None}, "lower-case words"),
        ("Scenario", {"GET": lambda r: None}, "lower-case words"),
        ("../x", {"GET": lambda r: None}, "lower-case words"),
        ("x", {"FETCH": lambda r: None}, "'FETCH' is not a control method"),
        ("x", {"get": lambda r: None}, "not a control method"),
        ("x", {"GET": "handler"}, "not callable"),
        ("x", {}, "non-empty dict"),
    ],
)
def test_bad_registrations_are_value_errors(mirror, name, handlers, words):
    with pytest.raises(ValueError, match=words):
        mirror.control.register(name, handlers)


def test_a_name_can_be_registered_once(mirror):
    mirror.control.register("a/b", {"GET": lambda r: json_response({})})
    with pytest.raises(ValueError, match="already registered"):
        mirror.control.register("a/b", {"POST": lambda r: json_response({})})
    assert requests.get(f"{mirror.url}/_flakymirror/a/b", timeout=5).json() == {}


def test_the_control_api_only_serves_its_prefix(split_control):
    r = requests.get(f"{split_control.control_url}/xx_flakymirror/state", timeout=5)
    assert r.status_code == 404 and r.json()["field"] == "path"


@pytest.fixture
def split_control(make_mirror) -> FlakyMirror:
    return make_mirror(control_port=0)


# -- journal queries ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("kind=manifests", "kind", "did you mean 'manifest'?"),
        ("kind=tls_probe", "kind", "did you mean 'tls-probe'?"),
        ("status=abc", "status", "expected an integer status"),
        ("status=4O4", "status", "expected an integer status"),
        ("knd=manifest", "knd", "did you mean 'kind'?"),
        ("fault=yes", "fault", "expected true or false"),
    ],
)
def test_journal_queries_that_could_never_match_are_400(mirror, query, field, words):
    for fmt in ("", "&format=text"):
        r = requests.get(f"{mirror.url}/_flakymirror/journal?{query}{fmt}", timeout=5)
        assert r.status_code == 400, r.text
        assert r.json()["field"] == field and words in r.json()["error"]


def test_journal_queries_that_are_fine_still_filter(mirror):
    requests.get(f"{mirror.url}/v2/{REPO}/manifests/1", headers=ACCEPT, timeout=5)
    requests.get(f"{mirror.url}/v2/{REPO}/manifests/nope", headers=ACCEPT, timeout=5)
    get = lambda q: requests.get(f"{mirror.url}/_flakymirror/journal?{q}", timeout=5)  # noqa: E731
    assert [e["status"] for e in get("kind=manifest").json()["entries"]] == [200, 404]
    assert [e["reference"] for e in get("status=404").json()["entries"]] == ["nope"]
    assert get("fault=true").json()["entries"] == []
    assert len(get("fault=false").json()["entries"]) == 2
    assert get("kind=tls-probe").json()["entries"] == []
    assert "nope" in get("status=404&format=text").text


# -- set_auth ----------------------------------------------------------------------------------
def test_set_auth_applies_at_once_also_to_the_manifest_fast_path(mirror):
    url = f"{mirror.url}/v2/{REPO}/manifests/1"
    with requests.Session() as s:
        assert s.get(url, headers=ACCEPT, timeout=5).status_code == 200  # fast path: anonymous
        mirror.set_auth(BasicAuth({"alice": "secret"}))
        r = s.get(url, headers=ACCEPT, timeout=5)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        r = s.get(url, headers=ACCEPT, auth=("alice", "secret"), timeout=5)
        assert r.status_code == 200
        mirror.set_auth(None)
        assert s.get(url, headers=ACCEPT, timeout=5).status_code == 200


def test_set_auth_switches_a_wall_time_bearer_to_the_mirror_clock(mirror, vclock):
    auth = BearerAuth({"alice": "secret"}, token_ttl=60)
    assert auth.clock is time.time
    mirror.set_auth(auth)
    assert auth.clock == vclock.now
    token = requests.get(
        f"{mirror.url}/token?service=flakymirror&scope=repository:{REPO}:pull",
        auth=("alice", "secret"),
        timeout=5,
    ).json()["token"]
    url = f"{mirror.url}/v2/{REPO}/manifests/1"
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    vclock.advance(61)  # the token expires on the mirror's virtual clock
    r = requests.get(url, headers=headers, timeout=5)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_reset_restores_the_constructors_auth(make_mirror, image):
    m = make_mirror()
    m.push_upstream(image, f"{REPO}:1")
    m.set_auth(BasicAuth({"a": "b"}))
    assert requests.get(f"{m.url}/v2/", timeout=5).status_code == 401
    m.reset()
    assert requests.get(f"{m.url}/v2/", timeout=5).status_code == 200


# -- FlakyMirror(tls=True) ---------------------------------------------------------------------
def test_a_tls_mirror_serves_https_with_its_own_ca(make_mirror, image):
    m = make_mirror(tls=True)
    m.push_upstream(image, f"{REPO}:1")
    assert m.url.startswith("https://127.0.0.1:") and m.ca_pem is not None
    r = requests.get(f"{m.url}/v2/{REPO}/manifests/1", headers=ACCEPT, verify=m.ca_file, timeout=5)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == str(image.digest)
    assert m.state()["ca_file"] == m.ca_file
    assert [e.kind for e in m.journal.entries] == ["manifest"]  # TLS is no probe here
    ca_file = m.ca_file
    m.close()
    assert not os.path.exists(ca_file)


def test_a_tls_mirror_with_a_control_port_keeps_the_control_api_on_plain_http(make_mirror):
    m = make_mirror(tls=True, control_port=0)
    assert m.control_url.startswith("http://127.0.0.1:")
    assert requests.get(f"{m.control_url}/_flakymirror/state", timeout=5).json()["url"] == m.url


def test_tls_true_with_ssl_context_is_an_error():
    with pytest.raises(ValueError, match="not both"):
        FlakyMirror(tls=True, ssl_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))


@pytest.mark.real_client
def test_skopeo_inspects_a_tls_mirror_through_a_cert_dir(make_mirror, tmp_path):
    exe = require_binary("skopeo")
    m = make_mirror(tls=True)
    image = build_image(layers=2, seed=41)
    m.push_upstream(image, f"{REPO}:1")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(m.ca_pem)
    proc = subprocess.run(
        [exe, "inspect", "--cert-dir", str(certs), f"docker://{m.host}/{REPO}:1"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"Digest": "' + str(image.digest) in proc.stdout
    assert m.journal.count(kind="tls-probe") == 0 and m.journal.count(kind="manifest") >= 1


def test_check_reraises_a_registered_handlers_bug_from_the_control_listener(split_control):
    def broken(request: Request) -> Response:
        raise KeyError("handler bug")

    split_control.control.register("broken", {"GET": broken})
    r = requests.get(f"{split_control.control_url}/_flakymirror/broken", timeout=5)
    assert r.status_code == 500
    with pytest.raises(KeyError, match="handler bug"):
        split_control.check()
    split_control.control_server.handler_errors.clear()  # the fixture checks at teardown

"""A public URL (``serve --public-url``, ``Registry``/``FlakyMirror(public_url=)``): the name
clients know the server by. The Bearer realm is built from it and the control API accepts its
host in ``Host``; a URL that is not ``http[s]://host[:port]`` alone is refused by name."""

from __future__ import annotations

import argparse

import pytest
import requests

from flakymirror.mirror import FlakyMirror
from flakymirror.mirror.commands import add_serve_arguments, check_serve_arguments
from flakymirror.mirror.forms import FormError
from flakymirror.registry import BearerAuth, Registry, Server
from flakymirror.registry.own_url import check_public_url, public_hosts
from flakymirror.scenario import load_scenario
from flakymirror.scenario.stage import Stage, StageOptions
from tests.helpers.wire import raw, split_response


@pytest.mark.parametrize(
    ("given", "checked"),
    [
        ("http://buildbox.example:5000", "http://buildbox.example:5000"),
        ("http://BuildBox.Example:5000/", "http://buildbox.example:5000"),
        ("https://mirror.example", "https://mirror.example"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://10.0.0.7:80", "http://10.0.0.7:80"),
    ],
)
def test_a_public_url_is_kept_as_scheme_host_and_port(given: str, checked: str) -> None:
    assert check_public_url(given) == checked


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("ftp://mirror.example", "must start with http:// or https://"),
        ("mirror.example:5000", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://mirror.example/v2", "scheme://host[:port] alone"),
        ("http://mirror.example/?a=1", "scheme://host[:port] alone"),
        ("http://mirror.example#x", "scheme://host[:port] alone"),
        ("http://alice:pw@mirror.example", "must not carry a user"),
        ("http://mirror.example:99999", "out of range"),
        ("http://mirror.example:port", "'http://mirror.example:port'"),
        ("http://mirror .example", "space or control character"),
    ],
)
def test_a_bad_public_url_is_refused_naming_it(given: str, words: str) -> None:
    with pytest.raises(ValueError, match="public URL") as info:
        check_public_url(given)
    assert words in str(info.value)
    with pytest.raises(ValueError, match="public URL"):
        Server(lambda e, s: [], public_url=given)


def test_public_hosts_include_the_bare_name_only_on_the_default_port() -> None:
    assert public_hosts("http://box:5000") == {"box:5000"}
    assert public_hosts("https://box") == {"box", "box:443"}
    assert public_hosts("http://box:80") == {"box", "box:80"}
    assert public_hosts("http://[::1]:81") == {"[::1]:81"}


def test_the_bearer_realm_follows_the_public_url() -> None:
    auth = BearerAuth({"alice": "pw"})
    with Registry(auth=auth, public_url="http://buildbox.example:5000") as reg:
        challenge = requests.get(reg.url + "/v2/", timeout=5).headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="http://buildbox.example:5000/token"')
    with Registry(auth=BearerAuth({"alice": "pw"})) as reg:  # without one: its own address
        challenge = requests.get(reg.url + "/v2/", timeout=5).headers["WWW-Authenticate"]
        assert challenge.startswith(f'Bearer realm="{reg.url}/token"')


def _state_status(mirror: FlakyMirror, host: str) -> int:
    request = (f"GET /_flakymirror/state HTTP/1.1\r\nHost: {host}\r\n"
               "Connection: close\r\n\r\n").encode()  # fmt: skip
    return split_response(raw(mirror.server, request))[0]


def test_the_control_api_accepts_the_public_host_and_still_refuses_others() -> None:
    with FlakyMirror(public_url="https://mirror.example") as mirror:
        port = mirror.server.port
        assert _state_status(mirror, "mirror.example") == 200
        assert _state_status(mirror, "MIRROR.example:443") == 200
        assert _state_status(mirror, f"localhost:{port}") == 200
        assert _state_status(mirror, "mirror.example:444") == 403
        assert _state_status(mirror, "evil.example") == 403
        assert mirror.state()["public_url"] == "https://mirror.example"
        mirror.check()
    with FlakyMirror() as mirror:  # without a public URL the name means nothing
        assert _state_status(mirror, "mirror.example") == 403
        assert mirror.state()["public_url"] is None


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_serve_checks_public_url_and_it_does_not_open_the_control_api() -> None:
    settings = check_serve_arguments(_serve_args("--public-url", "http://Box:5000/"))
    assert settings.public_url == "http://box:5000"
    with pytest.raises(FormError, match="--public-url") as info:
        check_serve_arguments(_serve_args("--public-url", "http://box:5000/v2"))
    assert "a registry serves /v2/ at the root" in str(info.value)
    with pytest.raises(FormError, match="--host"):  # a public URL is no credential
        check_serve_arguments(_serve_args("--host", "0.0.0.0", "--public-url", "http://box"))


def test_a_staged_scenario_carries_the_public_url() -> None:
    scenario = load_scenario("dockerhub-429-long-retry-after")
    with Stage(scenario, StageOptions(public_url="http://box:5000")) as stage:
        assert stage.describe()["public_url"] == "http://box:5000"
        assert stage.mirror.server.public_url == "http://box:5000"

"""``flakymirror serve`` options (auth, TLS, control port) and the reusable pieces of it."""

from __future__ import annotations

import argparse
import contextlib
import io
import threading
from collections.abc import Iterator

import pytest
import requests

from flakymirror.mirror.commands import (
    DEMO_IMAGES,
    ServeSettings,
    add_serve_arguments,
    check_serve_arguments,
    mirror_from_args,
    register,
    run_mirror,
    serve_command,
)
from flakymirror.mirror.mirror import FlakyMirror
from tests.helpers.mirror_requests import ACCEPT
from tests.helpers.waiting import wait_until


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def _wait_for(out: io.StringIO, text: str, timeout: float = 10) -> str:
    wait_until(
        lambda: text in out.getvalue(),
        timeout=timeout,
        message=lambda: f"no {text!r} in {out.getvalue()!r}",
    )
    return out.getvalue()


@contextlib.contextmanager
def serving(*argv: str) -> Iterator[list[str]]:
    """Run ``serve argv`` on a thread until the block ends; yields its printed lines."""
    out, stop, result = io.StringIO(), threading.Event(), {}
    t = threading.Thread(
        target=lambda: result.setdefault("rc", serve_command(_args(*argv), out=out, stop=stop))
    )
    t.start()
    try:
        yield _wait_for(out, "control API:").splitlines()
    finally:
        stop.set()
        t.join(10)
    assert result["rc"] == 0 and "stopping" in out.getvalue()


def _value(lines: list[str], prefix: str) -> str:
    (line,) = [x for x in lines if x.startswith(prefix)]
    return line[len(prefix) :].strip()


# -- bad values exit 2 naming the option -------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--auth", "basic"], "--auth: needs --mirror-credentials USER:PW"),
        (["--mirror-credentials", "a:b"], "--mirror-credentials: needs --auth basic|bearer"),
        (["--auth", "basic", "--mirror-credentials", "nocolon"], "--mirror-credentials: expected USER:PW"),
        (["--auth", "basic", "--mirror-credentials", ":pw"], "--mirror-credentials: expected USER:PW"),
        (["--auth", "basic", "--mirror-credentials", "a:b", "--token-ttl", "5"], "--token-ttl: only with --auth bearer"),
        (["--auth", "bearer", "--mirror-credentials", "a:b", "--token-ttl", "0"], "--token-ttl: must be > 0"),
        (["--auth", "bearer", "--mirror-credentials", "a:b", "--token-ttl", "nan"], "--token-ttl: must be > 0"),
        (["--control-port", "70000"], "--control-port: must be 0-65535"),
        (["--port", "-1"], "--port: must be 0-65535"),
        (["--credentials", "nocolon"], "--credentials: expected USER:PW"),
    ],
)  # fmt: skip
def test_bad_values_exit_2_naming_the_option(argv, words):
    err = io.StringIO()
    assert serve_command(_args(*argv), out=io.StringIO(), err=err) == 2
    assert words in err.getvalue()


def test_unknown_auth_kinds_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        _args("--auth", "digest")
    assert info.value.code == 2 and "--auth" in capsys.readouterr().err


def test_tls_without_trustme_exits_2_naming_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "trustme", None)
    err = io.StringIO()
    assert serve_command(_args("--tls"), out=io.StringIO(), err=err) == 2
    assert "--tls: " in err.getvalue() and "flakymirror[tls]" in err.getvalue()


def test_a_taken_control_port_exits_2_naming_it():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        err = io.StringIO()
        rc = serve_command(_args("--control-port", str(port)), out=io.StringIO(), err=err)
        assert rc == 2 and f"127.0.0.1:{port} (--control-port)" in err.getvalue()


def test_help_texts_say_user_pw_for_both_credentials(capsys):
    with pytest.raises(SystemExit):
        _args("--help")
    text = capsys.readouterr().out
    assert "--credentials USER:PW" in text and "--mirror-credentials USER:PW" in text
    assert "USER:PASSWORD" not in text


# -- the options at work -----------------------------------------------------------------------
def test_serve_with_basic_auth():
    with serving("--auth", "basic", "--mirror-credentials", "alice:s3cret") as lines:
        url = _value(lines, "flakymirror: mirror serving on")
        repo, tag = DEMO_IMAGES[0].split(":")
        manifest = f"{url}/v2/{repo}/manifests/{tag}"
        assert requests.get(manifest, headers=ACCEPT, timeout=5).status_code == 401
        r = requests.get(manifest, headers=ACCEPT, auth=("alice", "s3cret"), timeout=5)
        assert r.status_code == 200


def test_serve_with_bearer_auth_and_a_short_token_ttl():
    argv = ("--auth", "bearer", "--mirror-credentials", "bob:pw", "--token-ttl", "30",
            "--virtual-clock")  # fmt: skip
    with serving(*argv) as lines:
        url = _value(lines, "flakymirror: mirror serving on")
        repo, tag = DEMO_IMAGES[0].split(":")
        r = requests.get(f"{url}/v2/{repo}/manifests/{tag}", headers=ACCEPT, timeout=5)
        assert r.status_code == 401 and f'realm="{url}/token"' in r.headers["WWW-Authenticate"]
        token = requests.get(
            f"{url}/token?service=flakymirror&scope=repository:{repo}:pull",
            auth=("bob", "pw"),
            timeout=5,
        ).json()
        assert token["expires_in"] == 30
        headers = {**ACCEPT, "Authorization": f"Bearer {token['token']}"}
        manifest = f"{url}/v2/{repo}/manifests/{tag}"
        assert requests.get(manifest, headers=headers, timeout=5).status_code == 200
        # the token expires on the mirror's (virtual) clock
        requests.post(f"{url}/_flakymirror/clock/advance", json={"seconds": 31}, timeout=5)
        assert requests.get(manifest, headers=headers, timeout=5).status_code == 401


def test_serve_with_tls_prints_the_ca_file_on_its_own_line():
    with serving("--tls") as lines:
        url = _value(lines, "flakymirror: mirror serving on")
        ca_file = _value(lines, "flakymirror: CA certificate:")
        assert url.startswith("https://")
        assert requests.get(f"{url}/v2/", verify=ca_file, timeout=5).status_code == 200
        assert _value(lines, "flakymirror: control API:") == f"{url}/_flakymirror/state"


def test_serve_with_a_control_port_can_take_the_mirror_down():
    with serving("--control-port", "0") as lines:
        url = _value(lines, "flakymirror: mirror serving on")
        control = _value(lines, "flakymirror: control API:").removesuffix("/_flakymirror/state")
        assert control != url
        r = requests.put(f"{control}/_flakymirror/listener", json={"up": False}, timeout=5)
        assert r.json()["up"] is False
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/v2/", timeout=5)
        requests.put(f"{control}/_flakymirror/listener", json={"up": True}, timeout=5)
        assert requests.get(f"{url}/v2/", timeout=5).status_code == 200


# -- the reusable pieces -----------------------------------------------------------------------
def test_a_caller_adds_its_own_options_and_builds_its_own_mirror():
    """What ``serve --scenario`` in a higher layer does: shared options, its own mirror, its
    own first line and image lines."""
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser, mirror_content=False)
    parser.add_argument("--scenario")
    args = parser.parse_args(["--scenario", "x", "--tls", "--control-port", "0"])
    assert not hasattr(args, "upstream") and not hasattr(args, "plan")
    settings = check_serve_arguments(args)
    assert settings == ServeSettings(tls=True, control_port=0)
    mirror = FlakyMirror(
        clock=settings.make_clock(),
        host=settings.host,
        port=settings.port,
        tls=settings.tls,
        control_port=settings.control_port,
        auth=settings.make_auth(),
    ).start()
    out, stop = io.StringIO(), threading.Event()
    t = threading.Thread(
        target=run_mirror,
        args=(mirror,),
        kwargs={"images": ["A/x:1", "B/y:2"], "first_line": '{"url": 1}', "out": out, "stop": stop},
    )
    try:
        t.start()
        text = _wait_for(out, "control API:")
        stop.set()
        t.join(10)
        lines = out.getvalue().splitlines()
        assert lines[0] == '{"url": 1}'
        assert lines[1] == f"flakymirror: mirror serving on {mirror.url}"
        assert "flakymirror:   A/x:1" in text and "flakymirror:   B/y:2" in text
        assert lines[-1] == "flakymirror: stopping"
        assert mirror.is_running()  # run_mirror does not close what it did not build
    finally:
        mirror.close()


def test_settings_make_the_auth_they_name():
    from flakymirror.mirror import VirtualClock
    from flakymirror.registry import AnonymousAuth, BasicAuth, BearerAuth

    assert ServeSettings().make_auth() is None
    basic = ServeSettings(auth="basic", user="u", password="p").make_auth()
    assert isinstance(basic, BasicAuth) and not isinstance(basic, AnonymousAuth)
    clock = VirtualClock()
    bearer = ServeSettings(auth="bearer", user="u", password="p", token_ttl=9).make_auth(clock)
    assert isinstance(bearer, BearerAuth) and bearer.clock == clock.now
    assert isinstance(ServeSettings(virtual_clock=True).make_clock(), VirtualClock)


def test_mirror_from_args_builds_without_starting():
    mirror = mirror_from_args(_args("--auth", "basic", "--mirror-credentials", "a:b"))
    try:
        assert not mirror.is_running()
        assert type(mirror.registry_app.auth).__name__ == "BasicAuth"
    finally:
        mirror.close()

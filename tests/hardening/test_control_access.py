"""Only this machine's own clients drive the control API: a foreign ``Host`` is refused (DNS
rebinding), every write must say ``application/json`` (a cross-origin ``text/plain`` POST
cannot), a control token is required when set, and ``serve`` on a non-loopback address insists
on a token or a loopback control port."""

from __future__ import annotations

import argparse
import io

import pytest
import requests

from flakymirror.mirror import FlakyMirror
from flakymirror.mirror.commands import add_serve_arguments, check_serve_arguments
from flakymirror.mirror.control_guard import is_loopback
from flakymirror.mirror.forms import FormError
from tests.helpers.wire import raw, split_response

JSON = {"Content-Type": "application/json"}


def test_a_foreign_host_is_refused_and_loopback_names_are_not() -> None:
    with FlakyMirror() as mirror:
        port = mirror.server.port
        for host, status in [("evil.example", 403), (f"evil.example:{port}", 403),
                             (f"127.0.0.1:{port + 1}", 403), (f"localhost:{port}", 200),
                             (f"127.0.0.1:{port}", 200), (f"[::1]:{port}", 200)]:  # fmt: skip
            request = (f"GET /_flakymirror/state HTTP/1.1\r\nHost: {host}\r\n"
                       "Connection: close\r\n\r\n").encode()  # fmt: skip
            got, _, body = split_response(raw(mirror.server, request))
            assert got == status, (host, body)
            if status == 403:
                assert b'"field": "Host"' in body
        assert len(mirror.journal) == 0  # the control API is not journaled, refused or not
        mirror.check()


def test_a_write_must_say_json_even_without_a_body() -> None:
    with FlakyMirror() as mirror:
        url = mirror.url + "/_flakymirror"
        simple = requests.post(url + "/faults", data='{"action": {"kind": "reset"}}',
                               headers={"Content-Type": "text/plain"}, timeout=5)  # fmt: skip
        assert simple.status_code == 415 and simple.json()["field"] == "Content-Type"
        assert mirror.faults.rules == []  # nothing was armed
        assert requests.post(url + "/reset", timeout=5).status_code == 415
        assert requests.post(url + "/reset", headers=JSON, timeout=5).status_code == 200
        assert requests.get(url + "/state", timeout=5).status_code == 200  # reads need nothing
        assert requests.delete(url + "/state", timeout=5).status_code == 405  # 405 before 415


def test_a_control_token_is_required_when_set() -> None:
    with FlakyMirror(control_token="s3cret") as mirror:
        url = mirror.url + "/_flakymirror/state"
        missing = requests.get(url, timeout=5)
        assert missing.status_code == 401
        assert missing.json()["field"] == "X-Flakymirror-Token"
        wrong = requests.get(url, headers={"X-Flakymirror-Token": "guess"}, timeout=5)
        assert wrong.status_code == 401
        right = requests.get(url, headers={"X-Flakymirror-Token": "s3cret"}, timeout=5)
        assert right.status_code == 200
        assert requests.get(mirror.url + "/v2/", timeout=5).status_code == 200  # clients: no


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_serve_on_a_reachable_address_needs_a_token_or_a_loopback_control_port() -> None:
    with pytest.raises(FormError, match="--host: 0.0.0.0 is reachable"):
        check_serve_arguments(_serve_args("--host", "0.0.0.0"))
    assert check_serve_arguments(_serve_args("--host", "0.0.0.0", "--control-token", "t"))
    assert check_serve_arguments(_serve_args("--host", "0.0.0.0", "--control-port", "0"))
    assert check_serve_arguments(_serve_args("--host", "::1")).control_token is None
    with pytest.raises(FormError, match="--control-token: must not be empty"):
        check_serve_arguments(_serve_args("--control-token", ""))
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "LOCALHOST", "0.0.0.0")] == [
        True, True, True, True, False
    ]  # fmt: skip


def test_serve_warns_when_other_machines_can_reach_it() -> None:
    from flakymirror.mirror.commands import warn_if_exposed

    err = io.StringIO()
    warn_if_exposed("0.0.0.0", err)
    warn_if_exposed("127.0.0.1", err)
    assert err.getvalue().count("warning: listening on 0.0.0.0") == 1

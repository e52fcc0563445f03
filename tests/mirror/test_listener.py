"""The control API on its own port, and a mirror whose client-facing listener is down."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import requests

from flakymirror.mirror import FaultRule, FlakyMirror, Match, Stall
from tests.helpers.mirror_requests import ACCEPT, REPO
from tests.helpers.waiting import wait_until


def refused(port: int) -> bool:
    """Whether a connection to 127.0.0.1:port is refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


@pytest.fixture
def split(make_mirror, image) -> FlakyMirror:
    """A started mirror with its control API on an ephemeral port of its own."""
    m = make_mirror(control_port=0)
    m.push_upstream(image, f"{REPO}:1")
    return m


def test_without_a_control_port_nothing_changes(mirror):
    assert mirror.control_server is None and mirror.control_url == mirror.url
    assert requests.get(f"{mirror.url}/_flakymirror/state", timeout=5).status_code == 200
    assert mirror.state()["control_url"] == mirror.url


def test_the_control_api_moves_to_its_own_loopback_port(split):
    assert split.control_url.startswith("http://127.0.0.1:")
    assert split.control_url != split.url
    state = requests.get(f"{split.control_url}/_flakymirror/state", timeout=5).json()
    assert state["control_url"] == split.control_url
    assert state["listener"] == {"up": True, "url": split.url}
    # the main port answers /_flakymirror/ as the registry would answer an unknown path
    r = requests.get(f"{split.url}/_flakymirror/state", timeout=5)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "METHOD_UNKNOWN"
    assert [e.path for e in split.journal.entries] == ["/_flakymirror/state"]  # journaled
    # and the control port serves nothing but the control API
    r = requests.get(f"{split.control_url}/v2/", timeout=5)
    assert r.status_code == 404 and r.json()["field"] == "path"
    assert "/_flakymirror/listener" in r.json()["error"]


def test_take_down_refuses_connections_and_bring_up_listens_on_the_same_port(split):
    port = split.server.port
    manifest = f"{split.url}/v2/{REPO}/manifests/1"
    assert requests.get(manifest, headers=ACCEPT, timeout=5).status_code == 200
    split.take_down()
    assert not split.is_up and not split.is_running()
    assert refused(port)
    with pytest.raises(requests.ConnectionError):
        requests.get(manifest, headers=ACCEPT, timeout=5)
    # the control API stays up and says so
    listener = requests.get(f"{split.control_url}/_flakymirror/listener", timeout=5).json()
    assert listener == {"up": False, "url": split.url}
    split.take_down()  # a no-op when down
    split.bring_up()
    assert split.is_up and split.server.port == port
    assert requests.get(manifest, headers=ACCEPT, timeout=5).status_code == 200
    split.bring_up()  # a no-op when up


def test_the_listener_endpoint_takes_the_mirror_down_and_up(split):
    url = f"{split.control_url}/_flakymirror/listener"
    r = requests.put(url, json={"up": False}, timeout=5)
    assert r.status_code == 200 and r.json() == {"up": False, "url": split.url}
    assert refused(split.server.port)
    r = requests.put(url, json={"up": True}, timeout=5)
    assert r.json() == {"up": True, "url": split.url}
    assert requests.get(f"{split.url}/v2/", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "up", "missing required key"),
        ({"up": "false"}, "up", "expected true or false"),
        ({"up": False, "port": 1}, "port", "unknown key"),
        ([], "body", '{"up": true|false}'),
    ],
)
def test_bad_listener_bodies_are_400_naming_the_field(split, body, field, words):
    r = requests.put(f"{split.control_url}/_flakymirror/listener", json=body, timeout=5)
    assert r.status_code == 400 and r.json()["field"] == field and words in r.json()["error"]
    assert split.is_up


def test_without_a_control_port_the_listener_cannot_be_taken_down_over_http(mirror):
    url = f"{mirror.url}/_flakymirror/listener"
    assert requests.get(url, timeout=5).json() == {"up": True, "url": mirror.url}
    r = requests.put(url, json={"up": False}, timeout=5)
    assert r.status_code == 400 and r.json()["field"] == "up"
    assert "needs --control-port" in r.json()["error"]
    assert mirror.is_up
    assert requests.put(url, json={"up": True}, timeout=5).json()["up"] is True


def test_bring_up_on_a_port_someone_took_is_a_clear_error(split):
    port = split.server.port
    split.take_down()
    thief = socket.create_server(("127.0.0.1", port))
    try:
        with pytest.raises(OSError, match=rf"cannot bring the mirror back up on 127.0.0.1:{port}"):
            split.bring_up()
        r = requests.put(f"{split.control_url}/_flakymirror/listener", json={"up": True}, timeout=5)
        assert r.status_code == 409 and r.json()["field"] == "up"
        assert "another process" in r.json()["error"]
        assert not split.is_up
    finally:
        thief.close()
    split.bring_up()
    assert split.is_up


def test_reset_brings_a_taken_down_listener_back(split):
    split.take_down()
    requests.post(
        f"{split.control_url}/_flakymirror/reset", json=None, timeout=5,
        headers={"Content-Type": "application/json"},
    ).raise_for_status()  # fmt: skip
    assert split.is_up and requests.get(f"{split.url}/v2/", timeout=5).status_code == 200


def test_a_mirror_taken_down_without_a_control_port_still_works_from_python(mirror):
    mirror.take_down()
    assert refused(mirror.server.port) and mirror.state()["listener"]["up"] is False
    mirror.bring_up()
    assert requests.get(f"{mirror.url}/v2/", timeout=5).status_code == 200


def test_close_stops_both_listeners():
    m = FlakyMirror(control_port=0).start()
    ports = (m.server.port, m.control_server.port)
    assert not refused(ports[1])
    m.close()
    assert refused(ports[0]) and refused(ports[1])
    m.check()


def test_stop_and_start_cover_the_control_listener():
    m = FlakyMirror(control_port=0)
    try:
        m.start()
        control = m.control_url
        m.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{control}/_flakymirror/state", timeout=5)
        m.start()
        assert requests.get(f"{control}/_flakymirror/state", timeout=5).status_code == 200
    finally:
        m.close()


@pytest.mark.parametrize("bad", [-1, 70000, "0", True, 1.5])
def test_a_bad_control_port_is_a_value_error(bad):
    with pytest.raises(ValueError, match="control_port must be None or 0-65535"):
        FlakyMirror(control_port=bad)


def test_a_stalled_response_does_not_hold_take_down(split):
    split.add_fault(FaultRule(Match(kind="blob"), Stall(after=1)))  # stalls until released
    digest = requests.get(f"{split.url}/v2/{REPO}/manifests/1", headers=ACCEPT, timeout=5).json()[
        "layers"
    ][0]["digest"]
    done = threading.Event()

    def pull() -> None:
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{split.url}/v2/{REPO}/blobs/{digest}", timeout=10)
        done.set()

    t = threading.Thread(target=pull)
    t.start()
    # wait until the stall is in flight (its one byte went out)
    wait_until(lambda: any(e.bytes_sent for e in split.journal.filter(kind="blob")))
    (blob,) = split.journal.filter(kind="blob")
    assert not blob.done  # stalled
    split.take_down()  # releases the stall: no thread left behind for stop() to wait on
    assert split.server.handler_errors == []  # a handler that outlived stop() is reported here
    assert done.wait(5)
    t.join(5)
    assert blob.outcome == "closed"
    split.bring_up()
    assert split.server.handler_errors == []

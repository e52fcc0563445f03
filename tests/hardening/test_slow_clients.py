"""Idle and slowloris connections are cut off at their head deadline while a normal client keeps
getting answers, the connection cap holds excess clients in the backlog, and the threads come
back to where they were. (Generous real-time bounds: these are wall-clock timeouts.)"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from flakymirror.registry import Registry, Server
from flakymirror.registry.admission import Deadlines, Limits
from tests.helpers.waiting import wait_until
from tests.helpers.wire import hello

N = 20
ROOT = Path(__file__).resolve().parents[2]


def _connect(server: Server) -> socket.socket:
    return socket.create_connection((server.bind_host, server.port), timeout=10)


def test_limits_are_a_checked_value() -> None:
    assert Limits() == Limits(10.0, 60.0, 512, 0.1)
    assert "header_timeout=10.0" in repr(Limits())
    for bad, error in [({"header_timeout": 0}, ValueError), ({"idle_timeout": float("inf")},
                       ValueError), ({"max_connections": 0}, ValueError),
                       ({"accept_backoff": "1"}, TypeError)]:  # fmt: skip
        with pytest.raises(error, match=next(iter(bad))):
            Limits(**bad)


def test_deadlines_report_each_expired_connection_once() -> None:
    d = Deadlines()
    first = d.arm(1, 0.0)
    d.arm(2, 100)
    d.arm(3, 0.0)
    d.disarm(3)
    assert d.next_at() == first
    assert d.due(time.monotonic()) == [1] and d.due(time.monotonic()) == []
    assert d.next_at() is not None and d.next_at() > time.monotonic() + 50


def test_idle_and_slowloris_connections_are_cut_while_others_are_served() -> None:
    baseline = threading.active_count()
    limits = Limits(header_timeout=0.5, idle_timeout=0.5)
    with Registry() as registry:
        server = registry.server
        server.limits = limits
        idle = [_connect(server) for _ in range(N)]
        slow = [_connect(server) for _ in range(N)]
        for s in slow:
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: h\r\n")  # and never the blank line
        wait_until(lambda: server.active_connections() == 2 * N)
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # a trickle: one byte each 0.2 s
            for s in slow:
                with contextlib.suppress(OSError):  # cut off already
                    s.sendall(b"X")
            answer = requests.get(registry.url + "/v2/", timeout=5)  # a normal client
            assert answer.status_code == 200
            time.sleep(0.2)
        wait_until(lambda: server.active_connections() == 0, timeout=10)
        for s in idle + slow:
            s.settimeout(5)
            assert s.recv(1) == b""  # the server closed it
            s.close()
        registry.check()
    wait_until(lambda: threading.active_count() <= baseline, timeout=10)


def test_a_kept_alive_connection_gets_its_idle_timeout() -> None:
    with Server(hello, limits=Limits(header_timeout=30, idle_timeout=0.3)) as server:
        s = _connect(server)
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        t0 = time.monotonic()
        assert s.recv(1) == b""  # nothing more sent: closed after the idle timeout
        assert 0.2 < time.monotonic() - t0 < 10
        s.close()
        server.check()


def test_connections_over_the_cap_wait_in_the_backlog() -> None:
    with Server(hello, limits=Limits(max_connections=2)) as server:
        held = [_connect(server) for _ in range(2)]
        wait_until(lambda: server.active_connections() == 2)
        waiting = _connect(server)  # the kernel completes the handshake; nobody serves it
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        waiting.settimeout(0.3)
        with pytest.raises(TimeoutError):
            waiting.recv(1)
        assert server.active_connections() == 2
        held[0].close()  # room for one: the waiting client is served now
        waiting.settimeout(10)
        assert waiting.recv(4096).startswith(b"HTTP/1.1 200")
        for s in (*held, waiting):
            s.close()
        server.check()


CHILD = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
from flakymirror.registry import Server
from tests.helpers.wire import hello
with Server(hello) as server:
    print(server.port, flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads CPU time from /proc")
def test_out_of_file_descriptors_the_accept_thread_backs_off_instead_of_spinning() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        cwd=ROOT, text=True,
    )  # fmt: skip
    clients: list[socket.socket] = []
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        for _ in range(80):  # more than the child has descriptors for: some wait, unaccepted
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)  # the child is at EMFILE now
        before = _cpu_seconds(child.pid)
        time.sleep(2.0)
        used = _cpu_seconds(child.pid) - before
        assert used < 0.5, f"the accept thread used {used:.2f} s of CPU in 2 s at EMFILE"
        for s in clients:
            s.close()
        clients.clear()
        fresh = socket.create_connection(("127.0.0.1", port), timeout=10)
        fresh.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        fresh.settimeout(10)
        assert fresh.recv(4096).startswith(b"HTTP/1.1 200")  # serving again
        fresh.close()
    finally:
        for s in clients:
            s.close()
        child.kill()
        child.communicate(timeout=10)

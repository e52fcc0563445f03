"""What a flood costs, measured: aborted uploads, a token flood and unfinished big request heads
leave a Registry's memory and disk within the documented caps (``UploadLimits``,
``BearerAuth(max_tokens=)``, ``MAX_HEAD``).

The Registry runs in a process of its own (:mod:`tests.helpers.resource_server`) so its
memory is its own: the peak RSS (``VmHWM``) after the flood, less the RSS before it. The
slack allowed on top of each cap is generous; what the tests catch is a cost that grows with
the flood instead of stopping at the cap.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import requests

from flakymirror.registry.request_head import MAX_HEAD
from flakymirror.registry.sessions import UploadLimits
from tests.helpers.resource_server import ResourceServer, dir_bytes

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads a process's memory from /proc"
)

MiB = 1 << 20
#: What the interpreter and the server may add on top of the caps (allocator, thread stacks).
SLACK_KIB = 16 * 1024
MEMORY_BYTES = UploadLimits().memory_bytes


def _growth_kib(srv: ResourceServer, base: int) -> int:
    return srv.kib("VmHWM") - base


def test_aborted_uploads_stop_at_the_total_cap_and_expire_from_disk(tmp_path: Path) -> None:
    total_cap = 32 * MiB
    with ResourceServer("--spool", str(tmp_path), "--idle-ttl", "1",
                        "--max-total-bytes", str(total_cap)) as srv:  # fmt: skip
        url = f"http://127.0.0.1:{srv.port}"
        with requests.Session() as s:
            base = srv.kib("VmRSS")
            srv.reset_peak()
            statuses = []
            for _ in range(40):  # 40 sessions of 2 MiB each, all abandoned: 80 MiB asked
                location = s.post(url + "/v2/lib/app/blobs/uploads/", timeout=10)
                patch = s.patch(url + location.headers["Location"], data=b"x" * (2 * MiB),
                                timeout=10)  # fmt: skip
                statuses.append(patch.status_code)
            assert statuses.count(202) == total_cap // (2 * MiB)
            assert set(statuses[16:]) == {403}  # the harness's own limit, not the client's
            assert dir_bytes(tmp_path) <= total_cap
            assert _growth_kib(srv, base) <= SLACK_KIB  # the bytes went to disk, not memory
            time.sleep(1.2)  # past idle_ttl: the next request sweeps the abandoned sessions
            assert s.post(url + "/v2/lib/app/blobs/uploads/", timeout=10).status_code == 202
            assert dir_bytes(tmp_path) == 0


def test_open_sessions_keep_at_most_their_memory_share_in_memory(tmp_path: Path) -> None:
    sessions, each = 50, 2 * MiB  # 100 MiB in open sessions: all but the share is spooled
    with ResourceServer("--spool", str(tmp_path)) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        with requests.Session() as s:
            base = srv.kib("VmRSS")
            srv.reset_peak()
            for _ in range(sessions):
                location = s.post(url + "/v2/lib/app/blobs/uploads/", timeout=10)
                patch = s.patch(url + location.headers["Location"], data=b"y" * each, timeout=10)
                assert patch.status_code == 202
            assert dir_bytes(tmp_path) == sessions * each  # on disk, once each
            held = sessions * MEMORY_BYTES // 1024
            assert _growth_kib(srv, base) <= held + SLACK_KIB


def test_many_small_abandoned_uploads_share_one_memory_budget_and_hold_no_fds(tmp_path) -> None:
    sessions, each = 300, MEMORY_BYTES - 56 * 1024  # 60 MiB if every session kept its bytes
    with ResourceServer("--spool", str(tmp_path)) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        with requests.Session() as s:
            s.get(url + "/v2/", timeout=10)  # the client's connection is open before counting
            base, fds = srv.kib("VmRSS"), len(os.listdir(f"/proc/{srv.pid}/fd"))
            srv.reset_peak()
            for _ in range(sessions):
                location = s.post(url + "/v2/lib/app/blobs/uploads/", timeout=10)
                patch = s.patch(url + location.headers["Location"], data=b"z" * each, timeout=10)
                assert patch.status_code == 202
            in_memory = UploadLimits().memory_total_bytes // MEMORY_BYTES
            assert dir_bytes(tmp_path) == (sessions - in_memory) * each  # the rest went to disk
            assert _growth_kib(srv, base) <= UploadLimits().memory_total_bytes // 1024 + SLACK_KIB
            assert len(os.listdir(f"/proc/{srv.pid}/fd")) <= fds + 2  # no file held open


def test_a_token_flood_fills_the_table_to_its_cap_and_no_further() -> None:
    cap, flood = 2000, 3000
    with ResourceServer("--max-tokens", str(cap)) as srv:
        url = (f"http://127.0.0.1:{srv.port}/token?service=flakymirror"
               "&scope=repository:lib/app:pull")  # fmt: skip
        with requests.Session() as s:
            base = srv.kib("VmRSS")
            srv.reset_peak()
            statuses = [s.get(url, timeout=10).status_code for _ in range(flood)]
            refused = s.get(url, timeout=10)
        assert statuses.count(200) == cap and statuses.count(503) == flood - cap
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert refused.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert _growth_kib(srv, base) <= cap * 2 + SLACK_KIB  # at most ~2 KiB a token


def test_unfinished_big_heads_cost_at_most_max_head_each_and_end_in_431() -> None:
    clients = 40
    line = b"X-Big: " + b"a" * 7990 + b"\r\n"  # 127 of them: just under MAX_HEAD in all
    with ResourceServer("--header-timeout", "60") as srv:
        base = srv.kib("VmRSS")
        srv.reset_peak()
        socks = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(clients)]
        try:
            for sock in socks:
                sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + line * 127)
            deadline = time.monotonic() + 20
            while srv.kib("Threads") < clients + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            for sock in socks:  # over MAX_HEAD now: each is refused
                sock.sendall(line * 4)
            answers = {sock.recv(12) for sock in socks}
        finally:
            for sock in socks:
                sock.close()
        assert answers == {b"HTTP/1.1 431"}
        # before MAX_HEAD, 40 unfinished heads of 8 MiB cost 320 MiB
        assert _growth_kib(srv, base) <= clients * 2 * MAX_HEAD // 1024 + SLACK_KIB

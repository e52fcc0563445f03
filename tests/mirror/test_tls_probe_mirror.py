"""TLS probes at the mirror: journaled as ``tls-probe``, seen by fault rules, skopeo end to end."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess

import pytest
import requests

from flakymirror.mirror import (
    KINDS,
    Close,
    Delay,
    FaultRule,
    Garbage,
    Headers,
    Match,
    Reset,
    Status,
    Truncate,
    fail,
)
from flakymirror.mirror.journal import ENTRY_KINDS
from flakymirror.oci import build_image
from tests.helpers.mirror_requests import REPO
from tests.helpers.optional_tools import require_binary


def unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def probe(mirror) -> bytes:
    """Send a real TLS ClientHello to the mirror's plain port; what came back (raw)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = unverified().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    with socket.create_connection(("127.0.0.1", mirror.server.port), timeout=5) as sock:
        sock.sendall(outgoing.read())
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return out + b"<RST>"
            if not chunk:
                return out
            out += chunk


def ssl_probe(mirror) -> ssl.SSLError:
    """Connect with Python's ssl client to the plain port; the error it gets."""
    with (
        socket.create_connection(("127.0.0.1", mirror.server.port), timeout=5) as sock,
        pytest.raises(ssl.SSLError) as info,
    ):
        unverified().wrap_socket(sock, server_hostname="127.0.0.1")
    return info.value


def test_tls_probe_is_an_endpoint_kind_and_a_journal_kind():
    assert "tls-probe" in KINDS and "tls-probe" in ENTRY_KINDS
    assert Match(kind="tls-probe").to_dict() == {"kind": "tls-probe"}


def test_a_probe_is_journaled_printably_and_answered_400(mirror):
    err = ssl_probe(mirror)
    assert "WRONG_VERSION_NUMBER" in str(err) or "wrong version" in str(err)
    assert requests.get(f"{mirror.url}/v2/", timeout=5).status_code == 200
    probe_entry, ping = mirror.journal.entries
    assert probe_entry.kind == "tls-probe" and probe_entry.method == "" and probe_entry.path == ""
    assert probe_entry.status == 400 and probe_entry.outcome == "ok" and probe_entry.done
    assert probe_entry.reason.startswith("TLS handshake (ClientHello, TLS 1.")
    assert probe_entry.reason.endswith("on a plain-HTTP port")
    assert probe_entry.bytes_sent > 0  # the 400's body went out
    assert json.dumps(probe_entry.to_dict()).isascii()
    line = mirror.journal.timeline().splitlines()[1]
    assert line.isprintable() and " -      tls-probe " in line
    assert ping.kind == "ping"
    assert mirror.journal.count(kind="tls-probe") == 1
    r = requests.get(f"{mirror.url}/_flakymirror/journal?kind=tls-probe", timeout=5)
    assert [e["kind"] for e in r.json()["entries"]] == ["tls-probe"]


@pytest.mark.parametrize("match", [Match(kind="tls-probe"), Match()])
def test_a_reset_rule_resets_probes_and_counts_them(mirror, match):
    mirror.add_fault(FaultRule(match, Reset()))
    assert probe(mirror) in (b"<RST>", b"")  # no HTTP answer at all
    entries = mirror.journal.filter(kind="tls-probe")
    assert entries and all(e.outcome == "closed" and e.faults == ["#0:reset"] for e in entries)
    seen = len(entries)
    assert mirror.faults.counters() == [{"seen": seen, "applied": seen}]


def test_rules_for_other_kinds_or_methods_do_not_see_probes(mirror):
    mirror.add_fault(FaultRule(Match(kind="manifest"), Reset()))
    mirror.add_fault(FaultRule(Match(method="GET"), Reset()))
    assert probe(mirror).startswith(b"HTTP/1.1 400 Bad Request")
    assert mirror.faults.counters() == [{"seen": 0, "applied": 0}] * 2


def test_a_status_rule_answers_a_probe_with_its_status(mirror):
    mirror.add_fault(fail(1, Status(503, retry_after=7), kind="tls-probe"))
    out = probe(mirror)
    assert out.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Retry-After: 7" in out and b"Connection: close" in out
    assert probe(mirror).startswith(b"HTTP/1.1 400")  # fail(1, ...): the second is normal
    assert [e.status for e in mirror.journal.filter(kind="tls-probe")] == [503, 400]


def test_close_and_garbage_answer_probes_too(mirror):
    mirror.add_fault(FaultRule(Match(kind="tls-probe", nth=1), Close()))
    mirror.add_fault(FaultRule(Match(kind="tls-probe", nth=2), Garbage(size=100, seed=1)))
    assert probe(mirror) == b""
    out = probe(mirror)
    assert len(out.replace(b"<RST>", b"")) == 100 and not out.startswith(b"HTTP/")
    first, second = mirror.journal.filter(kind="tls-probe")
    assert first.outcome == second.outcome == "closed"
    assert second.damage == ["garbage"]


def test_a_delay_before_a_probe_moves_the_virtual_clock(mirror, vclock):
    mirror.add_fault(FaultRule(Match(kind="tls-probe"), Delay(2.5)))
    assert probe(mirror).startswith(b"HTTP/1.1 400")
    assert mirror.state()["clock"]["t"] == pytest.approx(2.5)


def test_after_stage_actions_transform_the_400(mirror):
    mirror.add_fault(FaultRule(Match(kind="tls-probe", nth=1), Headers(set={"X-Probe": "yes"})))
    mirror.add_fault(FaultRule(Match(kind="tls-probe", nth=2), Truncate(after=10)))
    assert b"X-Probe: yes" in probe(mirror)
    out = probe(mirror)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and len(body) == 10
    assert mirror.journal.filter(kind="tls-probe")[1].damage == ["truncated"]


def test_other_refusals_stay_rejected_and_unmatched(mirror):
    mirror.add_fault(FaultRule(Match(), Reset()))
    with socket.create_connection(("127.0.0.1", mirror.server.port), timeout=5) as sock:
        sock.sendall(b"GET /v2/ HTTP/2.0\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 505")
    (entry,) = mirror.journal.entries
    assert entry.kind == "rejected" and entry.faults == []
    assert mirror.faults.counters() == [{"seen": 0, "applied": 0}]


# -- skopeo: the containers/image family probes with TLS first ---------------------------------
def _skopeo(mirror, tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = require_binary("skopeo")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return subprocess.run(
        [exe, "inspect", "--tls-verify=false", *extra, f"docker://{mirror.host}/{REPO}:1"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


@pytest.mark.real_client
def test_skopeo_probes_with_tls_then_falls_back_to_http(make_mirror, tmp_path):
    m = make_mirror()
    image = build_image(layers=2, seed=31)
    m.push_upstream(image, f"{REPO}:1")
    proc = _skopeo(m, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Digest"] == str(image.digest)
    entries = m.journal.entries
    assert entries[0].kind == "tls-probe" and entries[0].status == 400
    assert [e.kind for e in entries[1:3]] == ["ping", "manifest"]  # then plain HTTP
    assert all(e.method == "" for e in entries if e.kind == "tls-probe")
    assert all(e.method.isalpha() for e in entries if e.kind != "tls-probe")


@pytest.mark.real_client
def test_a_catch_all_reset_makes_skopeo_fail(make_mirror, tmp_path):
    m = make_mirror(faults=[FaultRule(Match(), Reset())])
    m.push_upstream(build_image(layers=1, seed=32), f"{REPO}:1")
    proc = _skopeo(m, tmp_path, "--retry-times=0")
    assert proc.returncode != 0
    assert "connection reset by peer" in proc.stderr
    kinds = [e.kind for e in m.journal.entries]
    assert kinds[0] == "tls-probe" and "ping" in kinds  # everything reset, the probe too
    assert all(e.outcome == "closed" for e in m.journal.entries)
    assert m.faults.counters()[0]["applied"] == len(kinds)

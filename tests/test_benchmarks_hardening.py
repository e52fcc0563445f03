"""The hardening probes (``benchmarks/hardening.py``) must keep running: a tiny run end to end as
a subprocess, against flakymirror and distribution, and a SIGTERM in the middle of one.

Only what must hold whatever the machine is asserted: real numbers for both servers, flakymirror
answers the bad requests properly and cuts slow clients past its header timeout (shortened to
0.5 s here), and no server process outlives the script.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flakymirror import distribution

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "hardening.py"
TINY = ["--quick", "--cases", "60", "--slow", "5", "--hold", "1.5", "--header-timeout", "0.5"]
TINY += ["--settle", "0.2", "--uploads", "5"]

pytestmark = pytest.mark.skipif(
    not distribution.available(),
    reason=f"{distribution.BINARY} is not installed (apt-get install docker-registry)",
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _server_children(pid: int) -> set[int]:
    """The live child processes of ``pid`` that are a server under probe."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        server = b"hardening_child.py" in cmdline or b"docker-registry\0serve" in cmdline
        if server and int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def test_a_tiny_run_measures_both_servers_and_leaves_no_process(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "hardening.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *TINY, "--strict"]
        + ["--results-dir", str(tmp_path), "--page", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # the script must not depend on the working directory
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "latest-hardening.json").read_text())
    results = data["results"]
    assert set(results) == {"bad", "slow", "uploads"}
    for name in ("flakymirror", "distribution"):
        bad, slow, uploads = (results[p][name] for p in ("bad", "slow", "uploads"))
        assert "error" not in bad and "error" not in slow and "error" not in uploads
        assert bad["tried"] == 60 and sum(bad["statuses"].values()) == 60
        assert slow["connect_failures"] == 0 and slow["fds_peak"] > slow["fds_base"]
        assert slow["rss_mib_base"] > 1 and slow["threads_base"] >= 1
        assert slow["client_requests"] > 0 and slow["client_failures"] == 0
        assert uploads["started"] == 5 and uploads["fed"] == 5
        assert not _alive(bad["pid"]) and not _alive(slow["pid"]) and not _alive(uploads["pid"])
    fm = {p: results[p]["flakymirror"] for p in results}
    assert fm["bad"]["status_500"] == 0 and fm["bad"]["non_oci"] == 0
    assert fm["bad"]["unexpected_5xx"] == 0 and fm["bad"]["no_answer"] == 0
    assert fm["bad"]["handler_errors"] == 0
    assert fm["slow"]["idle_cut"] == 5 and fm["slow"]["slowloris_cut"] == 5
    assert fm["slow"]["threads_peak"] > fm["slow"]["threads_base"]  # a thread per connection
    text = page.read_text()
    assert text == (tmp_path / "latest-hardening.md").read_text()
    assert "| figure | flakymirror | distribution 2.8.2 |" in text
    assert "| answers with 500 | 0 |" in text


def test_sigterm_mid_run_stops_every_server(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--only", "slow", "--slow", "3", "--hold", "30"]
        + ["--results-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        children: set[int] = set()
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            children = _server_children(proc.pid)
        assert children, "no server process was started"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert not any(_alive(c) for c in children)
    assert not (tmp_path / "latest-hardening.json").exists()

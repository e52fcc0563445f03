"""Running a client's command: exit codes, bounded output, the timeout kills the whole group,
a missing program is reported; the private containerd starts and stops by its pid."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from flakymirror.trial.containerd import ContainerdError, PrivateContainerd, short_tempdir
from flakymirror.trial.environment import clean_env
from flakymirror.trial.process import TailBuffer, run
from tests.helpers.optional_tools import require_binary
from tests.helpers.waiting import wait_until

PY = sys.executable


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_exit_code_output_and_the_environment(tmp_path):
    env = clean_env(tmp_path)
    code = "import os, sys; print(os.environ['HOME']); print('err', file=sys.stderr); sys.exit(3)"
    done = run([PY, "-c", code], env, 30, cwd=tmp_path)
    assert done.exit_code == 3 and not done.timed_out and done.error is None
    assert done.stdout == env["HOME"] + "\n" and done.stderr == "err\n"
    assert done.argv == (PY, "-c", code) and 0 < done.wall < 30


def test_the_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    done = run([PY, "-c", code], clean_env(tmp_path), 1.0, grace=0.5)
    assert done.timed_out and done.exit_code is None
    assert 1.0 <= done.wall < 10 and time.monotonic() - started < 15
    assert done.stdout == "started\n"
    child = int(pidfile.read_text())
    wait_until(lambda: not alive(child), timeout=5, interval=0.05)
    assert not alive(child)


def test_a_process_left_behind_by_a_finished_client_is_stopped(tmp_path):
    pidfile = tmp_path / "bg.pid"
    code = (
        "import subprocess, sys\n"
        "bg = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(bg.pid))\n"
    )
    done = run([PY, "-c", code], clean_env(tmp_path), 30)
    assert done.exit_code == 0 and done.wall < 10
    bg = int(pidfile.read_text())
    wait_until(lambda: not alive(bg), timeout=5, interval=0.05)
    assert not alive(bg)


def test_a_chatty_client_keeps_only_the_tail(tmp_path):
    code = "import sys\nfor i in range(200000): print(f'line {i}')\nprint('LAST', file=sys.stderr)"
    done = run([PY, "-c", code], clean_env(tmp_path), 60, limit=10_000)
    assert done.exit_code == 0
    assert done.stdout.startswith("[flakymirror: ") and "earlier bytes dropped]" in done.stdout
    assert done.stdout.endswith("line 199999\n") and len(done.stdout) < 10_100
    assert done.stderr == "LAST\n"


def test_tail_buffer_keeps_exactly_the_last_bytes():
    buf = TailBuffer(5)
    for chunk in (b"abc", b"defg", b"", b"hi"):
        buf.write(chunk)
    assert buf.text() == "[flakymirror: 4 earlier bytes dropped]\nefghi"
    assert TailBuffer(5).text() == ""


def test_a_missing_or_unrunnable_program_is_reported(tmp_path):
    done = run(["flakymirror-no-such-client", "pull"], clean_env(tmp_path), 5)
    assert done.exit_code == 127 and done.error is not None
    assert done.error == "flakymirror: cannot run 'flakymirror-no-such-client': not found"
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    denied = run([str(plain)], clean_env(tmp_path), 5)
    assert denied.exit_code == 126 and "cannot run" in (denied.error or "")


def test_private_containerd_starts_answers_and_stops_by_pid():
    require_binary("containerd")
    base = short_tempdir()
    try:
        daemon = PrivateContainerd(base)
        with daemon:
            proc = daemon.proc
            assert proc is not None and proc.poll() is None
            assert Path(daemon.address).is_socket() and len(daemon.address) < 100
            assert (base / "config.toml").read_text().count(str(base)) == 5
        assert proc.returncode is not None and daemon.proc is None
        assert not alive(proc.pid)
        daemon.stop()  # idempotent
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_private_containerd_that_cannot_start_says_why(tmp_path):
    with pytest.raises(ContainerdError, match="flakymirror-no-containerd is not installed"):
        PrivateContainerd(tmp_path, binary="flakymirror-no-containerd").start()
    fake = tmp_path / "fake-containerd"
    fake.write_text("#!/bin/sh\necho 'level=fatal msg=\"no config\"' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ContainerdError, match=r"exited with 1 at start:\n.*no config"):
        PrivateContainerd(tmp_path / "d", binary=str(fake)).start()
    assert os.path.exists(tmp_path / "d" / "containerd.log")

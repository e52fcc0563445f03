"""``flakymirror serve``: a foreground mirror that prints its URL and stops on SIGTERM."""

from __future__ import annotations

import argparse
import io
import json
import selectors
import signal
import subprocess
import sys
import threading
import time

import requests

from flakymirror.mirror.commands import DEMO_IMAGES, register, serve_command
from tests.helpers.mirror_requests import ACCEPT
from tests.helpers.waiting import wait_until


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def _first_line(proc: subprocess.Popen, timeout: float = 20) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(deadline - time.monotonic()):
            return proc.stdout.readline()
    raise AssertionError("serve printed nothing")


def test_serve_subprocess_stops_on_sigterm(tmp_path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"schedule": {"kind": "interval", "every": 10}, "mode": "empty"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flakymirror.mirror.commands", "serve", "--plan", str(plan), "--virtual-clock"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = _first_line(proc)
        assert line.startswith("flakymirror: mirror serving on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        repo, tag = DEMO_IMAGES[0].split(":")
        manifest = f"{url}/v2/{repo}/manifests/{tag}"
        assert requests.get(manifest, headers=ACCEPT, timeout=5).json()["layers"] == []
        r = requests.post(f"{url}/_flakymirror/clock/advance", json={"seconds": 30}, timeout=5)
        assert r.status_code == 200
        assert len(requests.get(manifest, headers=ACCEPT, timeout=5).json()["layers"]) == 3
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopping" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)


def test_bad_plan_file_names_the_key(tmp_path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"mode": "partial", "schedule": {"kind": "interval", "every": "1s"}})
    )
    err = io.StringIO()
    assert serve_command(_args("--plan", str(plan)), out=io.StringIO(), err=err) == 2
    assert "plan.schedule.every: expected a number" in err.getvalue()
    assert str(plan) in err.getvalue()
    faults = tmp_path / "faults.json"
    faults.write_text("[{]")
    err = io.StringIO()
    assert serve_command(_args("--faults", str(faults)), out=io.StringIO(), err=err) == 2
    assert "faults: " in err.getvalue() and "not valid JSON" in err.getvalue()
    err = io.StringIO()
    assert serve_command(_args("--credentials", "nocolon"), out=io.StringIO(), err=err) == 2
    assert "--credentials" in err.getvalue()


def test_serve_in_process_with_an_upstream_url_and_stop_event() -> None:
    from flakymirror.oci import build_image
    from flakymirror.registry import Registry

    with Registry() as upstream:
        upstream.push(build_image(layers=1, seed=9), "team/app:v1")
        stop = threading.Event()
        out = io.StringIO()
        result = {}
        t = threading.Thread(
            target=lambda: result.setdefault(
                "rc", serve_command(_args("--upstream", upstream.url), out=out, stop=stop)
            )
        )
        t.start()
        wait_until(lambda: "serving on" in out.getvalue(), timeout=10)
        url = out.getvalue().split("serving on ", 1)[1].split()[0]
        r = requests.get(f"{url}/v2/team/app/manifests/v1", headers=ACCEPT, timeout=5)
        assert r.status_code == 200
        assert "pull-through cache of " + upstream.url in out.getvalue()
        stop.set()
        t.join(10)
        assert result["rc"] == 0

"""``flakymirror serve --scenario``: a scenario stood up for any client, and
``POST /_flakymirror/scenario`` loading another into it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from flakymirror.cli import build_parser
from tests.helpers.waiting import wait_until

ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


class _Out(io.StringIO):
    """stdout of the serve thread, readable while it runs."""

    def first_line(self, timeout: float = 20) -> str:
        wait_until(
            lambda: "\n" in self.getvalue(), timeout=timeout, message="serve printed nothing"
        )
        return self.getvalue().split("\n", 1)[0]


@contextmanager
def serving(*argv: str) -> Iterator[tuple[dict, _Out]]:
    args = build_parser().parse_args(["serve", *argv])
    out, err, stop = _Out(), io.StringIO(), threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(args.handler(args, out, err, stop)))
    thread.start()
    try:
        line = out.first_line()
        doc = json.loads(line) if line.startswith("{") else {"text": line}
        yield doc, out
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
    assert codes == [0], err.getvalue()


def test_json_first_line_describes_the_stage_and_its_configs():
    with serving("--scenario", "mirror-down-with-origin", "--json", "--control-port", "0") as (
        doc, _
    ):
        assert set(doc) >= {"url", "host", "images", "origin", "configs"}
        assert doc["down"] is True and doc["origin"].startswith("http://127.0.0.1:")
        ref = doc["images"]["library/app:1"]
        assert ref == f"{doc['host']}/library/app:1"
        with pytest.raises(requests.ConnectionError):  # the mirror refuses connections...
            requests.get(f"{doc['url']}/v2/", timeout=5)
        assert requests.get(f"{doc['origin']}/v2/", timeout=5).status_code == 200  # ...not so the origin
        conf = Path(doc["configs"]["registries_conf"]).read_text()
        assert doc["host"] in conf and doc["origin"].split("//")[1] in conf
        hosts = Path(doc["configs"]["hosts_dir"])
        assert (hosts / doc["origin"].split("//")[1] / "hosts.toml").is_file()
        folder = Path(doc["configs"]["registries_conf"]).parent
    assert not folder.exists()  # removed on exit


def test_the_scenario_plan_faults_and_auth_apply():
    with serving("--scenario", "lifecycle-1674-empty-layers", "--json") as (doc, out):
        url = f"{doc['url']}/v2/cnb/run/manifests/jammy"
        assert requests.get(url, headers=ACCEPT, timeout=5).json()["layers"] == []
        # the real clock: synced 0.25 s after the first request
        wait_until(
            lambda: len(requests.get(url, headers=ACCEPT, timeout=5).json()["layers"]) == 3,
            interval=0.05,
        )
        assert len(requests.get(url, headers=ACCEPT, timeout=5).json()["layers"]) == 3
    with serving("--scenario", "token-expires-mid-transfer", "--json") as (doc, _):
        r = requests.get(f"{doc['url']}/v2/", timeout=5)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert doc["configs"]["authfile"]


def test_text_output_lists_the_images_and_files():
    with serving("--scenario", "lifecycle-1674-partial-index", "--time-scale", "10") as (_, out):
        wait_until(lambda: "control API" in out.getvalue(), timeout=10)
        text = out.getvalue()
    assert "flakymirror: scenario lifecycle-1674-partial-index" in text
    assert "/cnb/run:jammy" in text and "registries_conf: " in text


def test_posting_a_scenario_reloads_the_running_mirror():
    with serving("--scenario", "lifecycle-1674-empty-layers", "--json") as (doc, _):
        api = f"{doc['url']}/_flakymirror/scenario"
        r = requests.post(api, json={"name": "harbor-22609-head-404-while-caching"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["scenario"] == "harbor-22609-head-404-while-caching"
        assert requests.get(api, timeout=5).json()["scenario"] == r.json()["scenario"]
        toml = (Path(__file__).parents[2] / "scenarios" / "lifecycle-1674-empty-layers.toml")
        r = requests.post(api, data=toml.read_bytes(), timeout=10,
                          headers={"Content-Type": "application/toml"})  # fmt: skip
        assert r.status_code == 200 and r.json()["host"] == doc["host"]
        body = requests.get(f"{doc['url']}/v2/cnb/run/manifests/jammy", headers=ACCEPT, timeout=5)
        assert body.json()["layers"] == []  # a fresh start: syncing begins again

        def refused(**kw: object) -> dict:
            answer = requests.post(api, timeout=10, **kw)
            assert answer.status_code in (400, 415), answer.text
            return answer.json()

        assert refused(json={"name": "no-such-incident"})["field"] == "scenario"
        assert refused(json={"name": "../../etc/passwd"})["field"] == "name"
        assert refused(json=["x"])["field"] == "body"
        assert refused(data=b"x", headers={"Content-Type": "text/plain"})["field"] == (
            "Content-Type"
        )
        bad = toml.read_text().replace('layers = 3', 'layers = "3"')
        assert refused(data=bad, headers={"Content-Type": "application/toml"})["field"] == (
            "images[0].layers"
        )
        origin_url = toml.read_text() + '\n[origin]\nurl = "http://127.0.0.1:1"\n'
        assert refused(data=origin_url, headers={"Content-Type": "application/toml"})[
            "field"
        ] == "origin.url"
        huge = toml.read_text().replace("layers = 3", "layers = 3\nlayer_size = 300000000")
        assert "over the limit" in refused(
            data=huge, headers={"Content-Type": "application/toml"}
        )["error"]
        # what a few bytes could ask for is refused before anything is built
        for extra, field in [("layers = 3\nlayer_size = 10000000000000", "images"),
                             ("layers = 100000000\nlayer_size = 0", "images"),
                             ('layers = 3\nplatforms = ["linux/amd64", "linux/amd64"]',
                              "images[0].platforms[1]")]:  # fmt: skip
            text = toml.read_text().replace("layers = 3", extra)
            assert refused(data=text, headers={"Content-Type": "application/toml"})[
                "field"
            ] == field
        big_journal = toml.read_text().replace("[mirror]", "[mirror]\njournal_size = 1000000")
        assert refused(data=big_journal, headers={"Content-Type": "application/toml"})[
            "field"
        ] == "mirror.journal_size"
        # still serving
        assert requests.get(f"{doc['url']}/v2/", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "no-such-incident"], "no-such-incident"),
        (["--scenario", "lifecycle-1674-empty-layers", "--upstream", "http://x:1"],
         "--upstream cannot be combined with --scenario"),
        (["--scenario", "lifecycle-1674-empty-layers", "--auth", "basic",
          "--mirror-credentials", "a:b"], "--auth cannot be combined"),
        (["--json"], "--json needs --scenario"),
        (["--scenario", "lifecycle-1674-empty-layers", "--time-scale", "0"], "--time-scale"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(argv, message):
    args = build_parser().parse_args(["serve", *argv])
    err, stop = io.StringIO(), threading.Event()
    stop.set()  # were it to serve after all, it would stop at once
    assert args.handler(args, io.StringIO(), err, stop) == 2
    assert message in err.getvalue()


def test_serve_scenario_as_a_process_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "flakymirror.cli", "serve", "--scenario",
         "lifecycle-1674-empty-layers", "--json"],  # fmt: skip
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        doc = json.loads(proc.stdout.readline())
        assert requests.get(f"{doc['url']}/v2/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "flakymirror: stopping" in out

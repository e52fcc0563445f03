"""Every preset for real against a FlakyMirror (real clock): what it ended up with, read back.

A healthy mirror gives every client the complete image; lifecycle #1674's empty manifest gives
each of them an image of 0 layers with exit 0 (what the incident library exists to expose); a
mirror that is down in front of a healthy origin is bypassed through the generated mirror
configuration; TLS with a CA and Basic auth work as each client takes them.
"""

from __future__ import annotations

import pytest

from flakymirror.mirror import AtOnce, FlakyMirror, SyncPlan
from flakymirror.oci import build_image, build_index
from flakymirror.registry import BasicAuth, BearerAuth, Registry
from flakymirror.trial.presets import PRESETS
from flakymirror.trial.verdict import content_matches
from tests.helpers.optional_tools import require_binary, require_module
from tests.trial.preset_helpers import make_cell, run_preset

pytestmark = pytest.mark.real_client

MIRROR_CONFIG = [n for n, p in PRESETS.items() if p.mirror_config]


def require(name: str) -> None:
    """Skip (outside CI) or fail (in CI) when the preset's client is missing."""
    preset = PRESETS[name]
    for program in preset.requires:
        require_binary(program)
    if preset.module is not None:
        require_module(preset.module)


def manifest_gets(entries) -> int:
    return sum(1 for e in entries if e.kind == "manifest" and e.method == "GET")


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_healthy_mirror_gives_the_complete_image(name, tmp_path):
    require(name)
    image = build_image(layers=3, seed=31)
    with FlakyMirror() as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path, mirror, image, "lib/app:1")
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content.readable and not content.partial, content.detail
        assert content_matches(content, cell.target) is None, content
        if name != "skopeo-inspect":
            assert content.config == cell.target.config
        if content.layers is not None:
            assert content.layers == cell.target.layers
        if content.diff_ids is not None:
            assert content.diff_ids == cell.target.diff_ids
        assert manifest_gets(mirror.journal.entries) >= 1
        mirror.check()


@pytest.mark.parametrize("name", list(PRESETS))
def test_an_empty_manifest_is_taken_silently_with_no_layers(name, tmp_path):
    """lifecycle #1674: every client exits 0 holding the cut view (0 layers) — measured."""
    require(name)
    image = build_image(layers=3, seed=32)
    with FlakyMirror(plan=SyncPlan(AtOnce(after=600), mode="empty")) as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path, mirror, image, "lib/app:1")
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content.readable, content.detail
        assert content.manifest is not None and content.manifest != cell.target.manifest
        held = content.layers if content.layers is not None else content.diff_ids
        assert held == ()
        assert content_matches(content, cell.target) is not None
        served = [e.digest for e in mirror.journal.entries if e.kind == "manifest" and e.digest]
        assert content.manifest in served  # what it holds is the cut view the mirror served


@pytest.mark.parametrize("name", MIRROR_CONFIG)
def test_a_mirror_that_is_down_falls_back_to_the_origin(name, tmp_path):
    require(name)
    image = build_image(layers=2, seed=33)
    with Registry() as origin, FlakyMirror(origin) as mirror:
        origin.push(image, "lib/app:1")
        mirror.stop()  # connection refused from here on
        cell = make_cell(tmp_path, mirror, image, "lib/app:1", origin=origin)
        mark = len(origin.server.log)
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content_matches(content, cell.target) is None, content
        targets = [e.target for e in list(origin.server.log)[mark:]]
        assert any("/manifests/" in t for t in targets)
        assert mirror.journal.entries == []


def test_a_healthy_mirror_in_front_of_an_origin_serves_everything(tmp_path):
    """Through the mirror configuration the client goes to the mirror first (ctr: by digest
    after a HEAD; skopeo: by tag) and never to the origin while the mirror answers."""
    for name in ("skopeo-copy", "ctr-pull"):
        require(name)
    image = build_image(layers=2, seed=34)
    with Registry() as origin, FlakyMirror(origin) as mirror:
        origin.push(image, "lib/app:1")
        for name in ("skopeo-copy", "ctr-pull"):
            mirror.journal.clear()
            mark = len(origin.server.log)
            cell = make_cell(tmp_path / name, mirror, image, "lib/app:1", origin=origin)
            completed, content = run_preset(PRESETS[name], cell)
            assert completed.exit_code == 0 and content_matches(content, cell.target) is None
            assert f"{origin.host}/lib/app:1" in " ".join(completed.argv)
            assert mirror.journal.count(kind="blob") == 3
            assert list(origin.server.log)[mark:] == []


@pytest.mark.parametrize("name", ["skopeo-copy", "ctr-pull", "python-dxf"])
def test_tls_with_the_generated_ca(name, tmp_path):
    require(name)
    require_module("trustme")
    image = build_image(layers=2, seed=35)
    with FlakyMirror(tls=True) as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path, mirror, image, "lib/app:1", ca_pem=mirror.ca_pem)
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content_matches(content, cell.target) is None
        assert mirror.url.startswith("https://")
        assert manifest_gets(mirror.journal.entries) >= 1
        assert mirror.journal.count(kind="tls-probe") == 0


@pytest.mark.parametrize("name", ["skopeo-copy", "skopeo-inspect", "podman-pull", "ctr-pull",
                                  "oras-py"])  # fmt: skip
def test_basic_auth_as_each_client_takes_it(name, tmp_path):
    require(name)
    image = build_image(layers=1, seed=36)
    with FlakyMirror(auth=BasicAuth({"alice": "wonder land"})) as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path / "ok", mirror, image, "lib/app:1", auth="basic",
                         credentials=("alice", "wonder land"))  # fmt: skip
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content_matches(content, cell.target) is None
        assert mirror.journal.count(status=401) >= 1  # it was challenged, then let in
        wrong = make_cell(tmp_path / "bad", mirror, image, "lib/app:1", auth="basic",
                          credentials=("alice", "nope"))  # fmt: skip
        completed, content = run_preset(PRESETS[name], wrong)
        assert completed.exit_code != 0


def test_python_dxf_refuses_credentials_over_plain_http(tmp_path):
    """Why the preset asks for TLS on every auth kind: python-dxf raises before sending them."""
    require("python-dxf")
    image = build_image(layers=1, seed=37)
    with FlakyMirror(auth=BasicAuth({"u": "p"})) as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path, mirror, image, "lib/app:1", auth="basic", credentials=("u", "p"))
        completed, content = run_preset(PRESETS["python-dxf"], cell)
        assert completed.exit_code == 1
        assert completed.stderr.strip().splitlines()[-1] == (
            "dxf.exceptions.DXFAuthInsecureError: Auth requires HTTPS"
        )
        assert content.readable and content.manifest is None


def test_bearer_over_tls_for_python_dxf(tmp_path):
    require("python-dxf")
    require_module("trustme")
    image = build_image(layers=1, seed=38)
    with FlakyMirror(tls=True, auth=BearerAuth({"u": "p"})) as mirror:
        mirror.push_upstream(image, "lib/app:1")
        cell = make_cell(tmp_path, mirror, image, "lib/app:1", ca_pem=mirror.ca_pem,
                         auth="bearer", credentials=("u", "p"))  # fmt: skip
        completed, content = run_preset(PRESETS["python-dxf"], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content_matches(content, cell.target) is None
        assert mirror.journal.count(kind="token") >= 1


@pytest.mark.parametrize("name", ["skopeo-copy", "podman-pull", "ctr-pull", "python-dxf"])
def test_an_index_gives_the_platform_child(name, tmp_path):
    require(name)
    index = build_index(platforms=("linux/amd64", "linux/arm64/v8"), seed=39, layers=2)
    with FlakyMirror() as mirror:
        mirror.push_upstream(index, "lib/multi:1")
        cell = make_cell(tmp_path, mirror, index, "lib/multi:1", platform="linux/arm64/v8")
        completed, content = run_preset(PRESETS[name], cell)
        assert completed.exit_code == 0, completed.stderr
        assert content_matches(content, cell.target) is None, content
        arm = index.image_for("linux/arm64/v8")
        assert cell.target.manifest == str(arm.digest)
        assert content.config == str(arm.config_blob.digest)

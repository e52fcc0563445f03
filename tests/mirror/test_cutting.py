"""Cut views (``empty``/``partial`` with cut diff_ids) are distinct for distinct images: a
content store that deduplicates by digest (containerd's) cannot mix up two images' views."""

from __future__ import annotations

import json
import subprocess

import pytest

from flakymirror.mirror import Interval, SyncPlan
from flakymirror.mirror.cutting import CUT_FROM, cut_config
from flakymirror.oci import build_image
from tests.helpers.mirror_requests import get_blob, get_manifest, sha256
from tests.helpers.optional_tools import require_binary

LABELS = {"org.example.team": "build"}


def _view(mirror, repo: str) -> tuple[dict, bytes]:
    r = get_manifest(mirror, repo, "1")
    assert r.status_code == 200
    manifest = r.json()
    config = get_blob(mirror, repo, manifest["config"]["digest"])
    assert config.status_code == 200 and sha256(config.content) == manifest["config"]["digest"]
    return manifest, config.content


@pytest.mark.parametrize("mode", ["empty", "partial"])
def test_equal_labels_different_seeds_give_different_empty_views(make_mirror, vclock, mode) -> None:
    a = build_image(layers=2, seed=1, labels=LABELS)
    b = build_image(layers=2, seed=2, labels=LABELS)
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(10), mode=mode))
    mirror.push_upstream(a, "lib/a:1")
    mirror.push_upstream(b, "lib/b:1")
    (ma, ca), (mb, cb) = _view(mirror, "lib/a"), _view(mirror, "lib/b")
    assert ma["layers"] == mb["layers"] == []
    assert ca != cb and ma["config"]["digest"] != mb["config"]["digest"]
    assert ma != mb
    got_a, got_b = json.loads(ca), json.loads(cb)
    # the one difference is the name of the config each was cut from
    assert got_a[CUT_FROM] == str(a.config_blob.digest)
    assert got_b[CUT_FROM] == str(b.config_blob.digest)
    assert {k: v for k, v in got_a.items() if k != CUT_FROM} == {
        k: v for k, v in got_b.items() if k != CUT_FROM
    }
    # behaviour is unchanged: no diff_ids, labels kept, no layer-making history
    assert got_a["rootfs"] == {"type": "layers", "diff_ids": []}
    assert got_a["config"]["Labels"] == LABELS and got_a["history"] == []


def test_cut_config_keeps_k_layers_and_names_its_source() -> None:
    image = build_image(layers=3, seed=4, labels=LABELS)
    raw = image.config_blob.data
    for k in range(4):
        cut = json.loads(cut_config(raw, k))
        assert cut["rootfs"]["diff_ids"] == [str(x.diff_id) for x in image.layers][:k]
        assert len(cut["history"]) == k and cut[CUT_FROM] == sha256(raw)
        assert cut["config"]["Labels"] == LABELS
    assert cut_config(raw, 1) != cut_config(build_image(layers=3, seed=5).config_blob.data, 1)


@pytest.mark.real_client
def test_skopeo_copies_an_empty_view_and_verifies_its_config(make_mirror, tmp_path) -> None:
    """containers/image parses the cut config (and checks its digest) as it does any other."""
    skopeo = require_binary("skopeo")
    image = build_image(layers=2, seed=7, labels=LABELS)
    mirror = make_mirror(plan=SyncPlan(Interval(3600), mode="empty"))
    mirror.push_upstream(image, "lib/app:1")
    out = tmp_path / "copy"
    run = subprocess.run(
        [skopeo, "copy", "--src-tls-verify=false", f"docker://{mirror.host}/lib/app:1",
         f"dir:{out}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layers"] == []
    config = json.loads((out / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert config[CUT_FROM] == str(image.config_blob.digest)
    assert config["rootfs"]["diff_ids"] == [] and config["config"]["Labels"] == LABELS

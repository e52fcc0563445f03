"""export(): lifecycle's exporter against flakymirror's Registry, checked by an independent
reader, plus every failure path with lifecycle's text and exit code."""

from __future__ import annotations

import json
import logging

import pytest
from werkzeug import Request, Response

from flakymirror.client import ImageError
from flakymirror.client.buildmeta import Process
from flakymirror.client.export_build import build_app_image as _build
from flakymirror.client.exporter import Buildpack, LayerSpec, WorkingImage, export
from flakymirror.client.layers import LayerBuilder
from flakymirror.client.lifecycle_error import LifecycleError
from flakymirror.client.metadata import LayersMetadata, RunImageForExport
from flakymirror.oci import mediatypes as mt
from tests.helpers.sleeps import Sleeps

from .export_helpers import HookedRegistry, oci_error, pull_and_verify, run_image

LOGGER = "flakymirror.client.export"
WEB = Process("web", ("node", "app.js"), buildpack_id="acme/node")


@pytest.fixture
def reg():
    with HookedRegistry() as r:
        r.push(run_image(1), "run:1")
        yield r


def _export(reg, tag="app:1", **kw):
    kw.setdefault(
        "buildpacks", [Buildpack("acme/node", "1.0", (LayerSpec("deps", files={"a": b"1"}),))]
    )
    kw.setdefault("app_files", {"app.js": b"console.log(1)"})
    kw.setdefault("processes", [WEB])
    kw.setdefault("sleep", Sleeps())
    return export(f"{reg.host}/{tag}", f"{reg.host}/run:1", insecure=True, **kw)


def test_export_writes_lifecycle_shaped_image(reg, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = _export(reg, default_process="web", run_image_mirrors=["mirror.test/run:1"])
    run = pull_and_verify(reg.url, "run", "1")
    app = pull_and_verify(reg.url, "app", "1")

    assert str(report.digest) == app.digest and report.tags == [f"{reg.host}/app:1"]
    assert report.manifest_size == len(json.dumps(app.manifest, separators=(",", ":")))
    assert [lid for lid, _ in report.layers] == [
        "acme/node:deps",
        "app",
        "buildpacksio/lifecycle:launcher",
        "buildpacksio/lifecycle:config",
        "buildpacksio/lifecycle:process-types",
    ]
    # layer order: the run image's, then the new ones; diff_ids run's + new
    assert app.layer_digests[:2] == run.layer_digests
    assert app.diff_ids[:2] == run.diff_ids and len(app.diff_ids) == 7
    assert app.media_type == mt.OCI_MANIFEST
    assert app.manifest["config"]["mediaType"] == mt.OCI_CONFIG
    assert {d["mediaType"] for d in app.manifest["layers"][2:]} == {mt.OCI_LAYER_GZIP}

    md = app.metadata
    assert md["runImage"] == {
        "topLayer": run.diff_ids[-1],
        "reference": f"{reg.host}/run@{run.digest}",
        "image": f"{reg.host}/run:1",
        "mirrors": ["mirror.test/run:1"],
    }
    assert md["stack"] == {
        "runImage": {"image": f"{reg.host}/run:1", "mirrors": ["mirror.test/run:1"]}
    }
    assert md["app"] == [{"sha": app.diff_ids[3]}]
    assert md["buildpacks"][0]["layers"]["deps"]["sha"] == app.diff_ids[2]
    assert md["launcher"]["sha"] == app.diff_ids[4]
    assert md["config"]["sha"] == app.diff_ids[5]
    assert md["process-types"]["sha"] == app.diff_ids[6]
    assert report.top_layer == run.diff_ids[-1]
    assert report.run_image_reference == f"{reg.host}/run@{run.digest}"

    labels = app.labels
    assert labels["io.buildpacks.stack.id"] == run.labels["io.buildpacks.stack.id"]  # inherited
    build = json.loads(labels["io.buildpacks.build.metadata"])
    assert build["buildpacks"] == [{"id": "acme/node", "version": "1.0", "api": "0.10"}]
    assert build["processes"][0]["type"] == "web"
    assert labels["io.buildpacks.project.metadata"] == "{}"

    cfg = app.config
    assert app.env["CNB_LAYERS_DIR"] == "/layers" and app.env["CNB_APP_DIR"] == "/workspace"
    assert app.env["CNB_PLATFORM_API"] == "0.12" and app.env["CNB_DEPRECATION_MODE"] == "quiet"
    assert app.env["PATH"] == "/cnb/process:/cnb/lifecycle:/usr/local/bin:/usr/bin:/bin"
    assert cfg["config"]["WorkingDir"] == "/workspace"
    assert cfg["config"]["Entrypoint"] == ["/cnb/process/web"]
    assert "Cmd" not in cfg["config"]
    assert cfg["created"] == "1980-01-01T00:00:01Z"
    assert len(cfg["history"]) == 7
    assert {h["created"] for h in cfg["history"]} == {"1980-01-01T00:00:01Z"}
    assert [h.get("created_by") for h in cfg["history"][2:]] == [
        "Layer: 'deps', Created by buildpack: acme/node@1.0",
        "Application Layer",
        "Buildpacks Application Launcher",
        "Buildpacks Launcher Config",
        "Buildpacks Process Types",
    ]

    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines == [
        "Adding layer 'acme/node:deps'",
        "Adding 1/1 app layer(s)",
        "Adding layer 'buildpacksio/lifecycle:launcher'",
        "Adding layer 'buildpacksio/lifecycle:config'",
        "Adding layer 'buildpacksio/lifecycle:process-types'",
        "Adding label 'io.buildpacks.lifecycle.metadata'",
        "Adding label 'io.buildpacks.build.metadata'",
        "Adding label 'io.buildpacks.project.metadata'",
        "Setting default process type 'web'",
        f"Saving {reg.host}/app:1...",
        f"*** Images ({app.digest}):",
        f"      {reg.host}/app:1",
    ]
    # wire: one open (ping, manifest, config), the run image ID open, then the push
    first = [(r.method, r.url.replace(reg.url, ""), r.status) for r in report.requests[:7]]
    assert first == [
        ("GET", "/v2/", 200),
        ("GET", "/v2/run/manifests/1", 200),
        ("GET", f"/v2/run/blobs/{run.manifest['config']['digest']}", 200),
        ("GET", "/v2/", 200),
        ("GET", "/v2/run/manifests/1", 200),
        ("GET", f"/v2/run/blobs/{run.manifest['config']['digest']}", 200),
        ("GET", "/v2/", 200),
    ]
    assert report.requests[-1].method == "PUT" and report.requests[-1].url.endswith("/manifests/1")


def test_docker_run_image_keeps_docker_media_types(reg):
    reg.push(run_image(2, flavor="docker"), "run:1")
    report = _export(reg, additional_tags=[f"{reg.host}/app:latest", f"{reg.host}/other:9"])
    app = pull_and_verify(reg.url, "app", "1")
    assert app.media_type == mt.DOCKER_MANIFEST
    assert app.manifest["config"]["mediaType"] == mt.DOCKER_CONFIG
    assert {d["mediaType"] for d in app.manifest["layers"]} == {mt.DOCKER_LAYER}
    assert report.tags == [f"{reg.host}/app:1", f"{reg.host}/app:latest", f"{reg.host}/other:9"]
    assert pull_and_verify(reg.url, "app", "latest").digest == app.digest
    assert pull_and_verify(reg.url, "other", "9").digest == app.digest
    assert len(report.pushes) == 3


def test_previous_image_layers_are_reused_not_uploaded(reg, caplog):
    _export(reg)
    before = len(reg.log)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = _export(reg, "app:2", previous_image=f"{reg.host}/app:1")
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines[0] == f"Reusing layers from image '{reg.host}/app:1'"
    assert "Reusing layer 'acme/node:deps'" in lines and "Reusing 1/1 app layer(s)" in lines
    assert {a for _, a in report.layers} == {"reused"}
    new = reg.log[before:]
    assert not [e for e in new if e[0] in ("PATCH", "POST")]  # every blob was already there
    first = pull_and_verify(reg.url, "app", "1")
    second = pull_and_verify(reg.url, "app", "2")
    assert second.layer_digests == first.layer_digests
    # every attempt re-opened the previous image too
    assert ("GET", "/v2/app/manifests/1", 200) in new


def test_changed_layer_is_added_others_reused(reg):
    _export(reg)
    before = len(reg.log)
    report = _export(reg, "app:2", previous_image=f"{reg.host}/app:1", app_files={"app.js": b"2"})
    actions = dict(report.layers)
    assert actions["app"] == "added" and actions["acme/node:deps"] == "reused"
    patches = [e for e in reg.log[before:] if e[0] == "PATCH"]
    assert len(patches) == 2  # the new app layer and the new config
    pull_and_verify(reg.url, "app", "2")


def test_layer_without_contents_is_taken_from_previous_metadata(reg):
    first = _export(reg)
    bps = [Buildpack("acme/node", "1.0", (LayerSpec("deps"),))]
    report = _export(reg, "app:2", previous_image=f"{reg.host}/app:1", buildpacks=bps)
    assert dict(report.layers)["acme/node:deps"] == "reused"
    sha = first.metadata.buildpack("acme/node").layers["deps"].sha
    assert report.metadata.buildpack("acme/node").layers["deps"].sha == sha


def test_layer_without_contents_and_no_previous_metadata_fails(reg):
    bps = [Buildpack("acme/node", "1.0", (LayerSpec("deps"),))]
    with pytest.raises(LifecycleError) as info:
        _export(reg, buildpacks=bps)
    assert info.value.exit_code == 62
    assert str(info.value) == (
        "failed to export: cannot reuse 'acme/node:deps', previous image has no metadata "
        "for layer 'acme/node:deps'"
    )


def test_missing_run_image_fails_after_six_attempts(reg, caplog):
    sleeps = Sleeps()
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(LifecycleError) as info:
        export(f"{reg.host}/app:1", f"{reg.host}/nope:1", insecure=True, sleep=sleeps)
    assert str(info.value) == "failed to create new app image: image has no layers"
    assert info.value.exit_code == 1
    assert isinstance(info.value.__cause__, ImageError)
    assert sleeps.calls == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"Failed to open remote image (attempt {i}/6): image has no layers, retrying in {d}"
        for i, d in enumerate(["100ms", "200ms", "500ms", "1s", "2s"], start=1)
    ]
    assert len(reg.requests("GET", "/v2/nope/manifests/1")) == 6
    assert not reg.requests("PUT") and not reg.requests("HEAD")


def test_run_image_401_is_not_retried(reg):
    reg.on("GET", "/v2/run/manifests/", Response(status=401))
    sleeps = Sleeps()
    with pytest.raises(LifecycleError) as info:
        _export(reg, sleep=sleeps)
    assert str(info.value) == (
        f'failed to create new app image: connect to repo store "{reg.host}/run:1": '
        f"GET http://{reg.host}/v2/run/manifests/1: unexpected status code 401 Unauthorized"
    )
    assert info.value.exit_code == 1
    assert sleeps.calls == []
    assert len(reg.requests("GET", "/v2/run/manifests/")) == 1


def test_late_run_image_succeeds_and_reopens_everything(reg, caplog):
    _export(reg)
    reg.on("GET", "/v2/run/manifests/1", oci_error(404, "MANIFEST_UNKNOWN", "not yet"), times=2)
    sleeps = Sleeps()
    before = len(reg.log)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        _export(reg, "app:2", previous_image=f"{reg.host}/app:1", sleep=sleeps)
    assert sleeps.calls == [0.1, 0.2]
    assert "Successfully opened remote image after 2 retries" in caplog.messages
    new = reg.log[before:]
    # 3 attempts x (previous manifest + run manifest), plus the run image ID open
    assert len([e for e in new if e[:2] == ("GET", "/v2/app/manifests/1")]) == 3
    assert [e[2] for e in new if e[:2] == ("GET", "/v2/run/manifests/1")] == [404, 404, 200, 200]
    # imgutil's WithPreviousImage fetches only the previous image's manifest at open time: its
    # config is read once, after the open, when its metadata and layers are used
    previous_config = (
        f"GET /v2/app/blobs/{pull_and_verify(reg.url, 'app', '1').manifest['config']['digest']}"
    )
    gets = [f"{m} {p}" for m, p, _ in new if m == "GET"]
    assert gets.count(previous_config) == 1
    last_open = max(i for i, g in enumerate(gets) if g == "GET /v2/app/manifests/1")
    assert gets.index(previous_config) > last_open


def test_previous_image_metadata_read_after_the_open(reg):
    """Without analyzed.toml's metadata the exporter reads the previous image's label: that
    is its config's first read, after the open, so a failure there is an export error."""
    _export(reg)
    config = pull_and_verify(reg.url, "app", "1").manifest["config"]["digest"]
    reg.on("GET", f"/v2/app/blobs/{config}", oci_error(404, "BLOB_UNKNOWN", "blob unknown"))
    sleeps = Sleeps()
    with pytest.raises(LifecycleError) as info:
        _export(reg, "app:2", previous_image=f"{reg.host}/app:1", sleep=sleeps)
    assert sleeps.calls == []
    assert info.value.exit_code == 62
    assert str(info.value) == (
        "failed to export: read previous image metadata: "
        f"GET http://{reg.host}/v2/app/blobs/{config}: BLOB_UNKNOWN: blob unknown"
    )


def test_previous_image_config_is_not_part_of_the_open(reg):
    """A previous image whose config cannot be read does not make the open retry (only its
    manifest is fetched then); the export fails when a layer is to be reused from it."""
    first = _export(reg)
    config = pull_and_verify(reg.url, "app", "1").manifest["config"]["digest"]
    reg.on("GET", f"/v2/app/blobs/{config}", oci_error(404, "BLOB_UNKNOWN", "blob unknown"))
    before = len(reg.log)
    sleeps = Sleeps()
    bps = [Buildpack("acme/node", "1.0", (LayerSpec("deps"),))]
    with pytest.raises(LifecycleError) as info:
        _export(
            reg, "app:2", previous_image=f"{reg.host}/app:1", previous_metadata=first.metadata,
            buildpacks=bps, sleep=sleeps,
        )  # fmt: skip
    assert sleeps.calls == []  # the open succeeded at once
    assert info.value.exit_code == 62
    assert str(info.value) == (
        "failed to export: reusing layer: 'acme/node:deps': failed to get layer by diffID: "
        f"GET http://{reg.host}/v2/app/blobs/{config}: BLOB_UNKNOWN: blob unknown"
    )
    assert [e for e in reg.log[before:] if e[1] == f"/v2/app/blobs/{config}"] == [
        ("GET", f"/v2/app/blobs/{config}", 404)
    ]


def test_run_image_id_failure(reg):
    calls = []

    def second_fails(request: Request) -> Response | None:
        calls.append(1)
        return Response("bad", status=400) if len(calls) == 2 else None

    reg.on("GET", "/v2/run/manifests/1", second_fails)
    with pytest.raises(LifecycleError) as info:
        _export(reg)
    assert str(info.value) == (
        "failed to get run image ID: failed to access run image: "
        f'connect to repo store "{reg.host}/run:1": GET http://{reg.host}/v2/run/manifests/1: '
        "unexpected status code 400 Bad Request: bad"
    )
    assert info.value.exit_code == 1


def test_save_failure_names_the_tag(reg, caplog):
    reg.on("PUT", "/v2/app/manifests/", oci_error(403, "DENIED", "read only"))
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(LifecycleError) as info:
        _export(reg, additional_tags=[f"{reg.host}/ok:1"])
    err = f"PUT http://{reg.host}/v2/app/manifests/1: DENIED: read only"
    assert str(info.value) == (
        f"failed to export: failed to write image to the following tags: [{reg.host}/app:1: {err}]"
    )
    assert info.value.exit_code == 62
    assert f"      {reg.host}/app:1 - {err}" in caplog.messages
    assert f"      {reg.host}/ok:1" in caplog.messages  # the other tag was saved
    pull_and_verify(reg.url, "ok", "1")


def test_unknown_default_process_fails(reg):
    with pytest.raises(LifecycleError) as info:
        _export(reg, default_process="nope")
    assert str(info.value) == (
        "failed to export: determining entrypoint: tried to set nope to default "
        "but it doesn't exist"
    )
    assert info.value.exit_code == 62


def test_top_layer_failure_is_export_error_62():
    class NoLayers(WorkingImage):
        def __init__(self) -> None:  # no base needed: the first call fails
            pass

        def top_layer(self) -> str:
            raise ImageError("image has no layers")

    with pytest.raises(LifecycleError) as info:
        _build(
            NoLayers(),
            run_reference="r",
            run_for_export=RunImageForExport("r"),
            orig=LayersMetadata(),
            buildpacks=(),
            app_dir=None,
            app_files=None,
            launcher=b"",
            processes=(),
            default_process="",
            labels={},
            project=None,
            platform_api="0.12",
            layers_path="/layers",
            app_path="/workspace",
            builder=LayerBuilder(),
            log=logging.getLogger(LOGGER),
        )
    assert str(info.value) == "failed to export: get run image top layer SHA: image has no layers"
    assert info.value.exit_code == 62


def test_old_platform_api_writes_only_stack_run_image(reg):
    _export(reg, platform_api="0.11")
    md = pull_and_verify(reg.url, "app", "1").metadata
    assert set(md["runImage"]) == {"topLayer", "reference"}
    assert md["stack"] == {"runImage": {"image": f"{reg.host}/run:1"}}


def test_app_directory_and_labels(reg, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print(1)\n")
    _export(reg, app_files=None, app_dir=tmp_path / "src", labels={"org.example": "yes"})
    app = pull_and_verify(reg.url, "app", "1")
    assert app.labels["org.example"] == "yes"
    assert app.config["config"]["Entrypoint"] == ["/cnb/lifecycle/launcher"]


def test_index_run_image_uses_the_platform_child(reg):
    from flakymirror.oci import build_index

    index = build_index(("linux/arm64", "linux/amd64"), seed=4, labels={"k": "v"})
    reg.push(index, "multi:1")
    report = export(f"{reg.host}/app:1", f"{reg.host}/multi:1", insecure=True, sleep=Sleeps())
    child = index.image_for("linux/amd64")
    assert report.run_image_reference == f"{reg.host}/multi@{child.digest}"
    app = pull_and_verify(reg.url, "app", "1")
    assert app.layer_digests[: len(child.layers)] == [str(layer.digest) for layer in child.layers]
    assert app.config["architecture"] == "amd64"
    arm = export(
        f"{reg.host}/app:arm", f"{reg.host}/multi:1", insecure=True, sleep=Sleeps(),
        platform="linux/arm64",
    )  # fmt: skip
    assert arm.run_image_reference == f"{reg.host}/multi@{index.image_for('linux/arm64').digest}"

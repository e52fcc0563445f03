"""The ``flakymirror export`` / ``rebase`` commands: argv in, exit code and lifecycle lines out;
and the images they write, read by skopeo (an independent client)."""

from __future__ import annotations

import io
import json
import subprocess

import pytest

from flakymirror.client.commands import main, register
from flakymirror.distribution import Distribution
from tests.helpers.optional_tools import require_binary
from tests.helpers.sleeps import Sleeps

from .export_helpers import HookedRegistry, oci_error, pull_and_verify, run_image


def _run(argv: list[str], sleep: Sleeps | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, sleep=sleep if sleep is not None else Sleeps())
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def reg():
    with HookedRegistry() as r:
        r.push(run_image(1), "run:latest")
        yield r


@pytest.fixture
def app_dir(tmp_path):
    d = tmp_path / "app"
    d.mkdir()
    (d / "main.sh").write_text("echo hi\n")
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "lib.so").write_bytes(b"\x7fELF")
    return d, deps


def _export_argv(reg, app, deps, *extra: str, run: str = "run:latest") -> list[str]:
    return [
        "export",
        "--run-image", f"{reg.host}/{run}",
        "--image", f"{reg.host}/app:1",
        "--insecure",
        "--app-dir", str(app),
        "--layer-dir", f"acme/sh@2.0:deps={deps}",
        "--process", "web=sh main.sh",
        "--default-process", "web",
        *extra,
    ]  # fmt: skip


def test_export_then_rebase_commands(reg, app_dir, tmp_path):
    app, deps = app_dir
    report = tmp_path / "report.json"
    code, out, err = _run(_export_argv(reg, app, deps, "--tag", f"{reg.host}/app:latest",
                                       "--report", str(report)))  # fmt: skip
    assert (code, err) == (0, "")
    pulled = pull_and_verify(reg.url, "app", "1")
    lines = out.splitlines()
    assert lines[:3] == ["Adding layer 'acme/sh:deps'", "Adding 1/1 app layer(s)",
                         "Adding layer 'buildpacksio/lifecycle:launcher'"]  # fmt: skip
    assert lines[-3:] == [
        f"*** Images ({pulled.digest}):",
        f"      {reg.host}/app:1",
        f"      {reg.host}/app:latest",
    ]
    data = json.loads(report.read_text())
    assert data["image"]["digest"] == pulled.digest and data["requests"] > 10
    assert pulled.metadata["buildpacks"][0]["key"] == "acme/sh"
    assert pulled.config["config"]["Entrypoint"] == ["/cnb/process/web"]

    reg.push(run_image(2), "run:latest")
    code, out, err = _run(["rebase", "--image", f"{reg.host}/app:1", "--insecure"])
    assert (code, err) == (0, "")
    rebased = pull_and_verify(reg.url, "app", "1")
    assert rebased.layer_digests[:2] == pull_and_verify(reg.url, "run", "latest").layer_digests
    assert out.splitlines()[-2] == f"*** Images ({rebased.digest}):"


def test_export_failure_prints_error_and_exits_1(reg, tmp_path):
    sleeps = Sleeps()
    code, out, err = _run(
        ["export", "--run-image", f"{reg.host}/missing:1", "--image", f"{reg.host}/app:1",
         "--insecure", "--profile", "none"],
        sleeps,
    )  # fmt: skip
    assert code == 1
    assert sleeps.calls == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert err == "ERROR: failed to create new app image: image has no layers\n"
    warnings = [line for line in out.splitlines() if line.startswith("Warning: ")]
    assert warnings[0] == (
        "Warning: Failed to open remote image (attempt 1/6): image has no layers, retrying in 100ms"
    )
    assert len(warnings) == 5


def test_export_save_failure_exits_62(reg, app_dir):
    reg.on("PUT", "/manifests/", oci_error(403, "DENIED", "ro"))
    code, _out, err = _run(_export_argv(reg, *app_dir))
    assert code == 62
    assert err.startswith("ERROR: failed to export: failed to write image to the following tags: [")


def test_rebase_failures_exit_72(reg, app_dir):
    code, _out, err = _run(["rebase", "--image", f"{reg.host}/app:1", "--insecure"])
    assert code == 72
    assert err == "ERROR: failed to set app image: failed to access image to rebase\n"
    assert _run(_export_argv(reg, *app_dir))[0] == 0
    reg.push(run_image(2, platform="linux/arm64"), "run:latest")
    code, _out, err = _run(["rebase", "--image", f"{reg.host}/app:1", "--insecure"])
    assert code == 72 and "unable to satisfy target os/arch constraints" in err
    code, out, err = _run(["rebase", "--image", f"{reg.host}/app:1", "--insecure", "--force"])
    assert (code, err) == (0, "")
    assert out.startswith("Warning: unable to satisfy target os/arch constraints; new run image: ")


def test_bad_arguments_exit_3(reg, tmp_path):
    code, _out, err = _run(
        ["export", "--run-image", f"{reg.host}/run:latest", "--image", f"{reg.host}/app:1",
         "--layer-dir", str(tmp_path / "nope")]
    )  # fmt: skip
    assert code == 3
    assert err.startswith("ERROR: failed to parse arguments: --layer-dir ")
    code, _out, err = _run(
        ["export", "--run-image", "r/x", "--image", "r/y", "--label", "novalue"]
    )  # fmt: skip
    assert (code, err) == (
        3,
        "ERROR: failed to parse arguments: --label 'novalue': expected KEY=VALUE\n",
    )


def test_help_and_missing_required(capsys):
    for cmd in ("export", "rebase"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert f"usage: flakymirror {cmd}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["export", "--image", "x/y:1"])
    assert info.value.code == 2
    assert "--run-image" in capsys.readouterr().err


def test_register_sets_handlers():
    import argparse

    parser = argparse.ArgumentParser(prog="flakymirror")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rebase", "--image", "r/app:1", "--force"])
    assert args.handler.__name__ == "run_rebase" and args.force is True


@pytest.mark.real_client
def test_skopeo_reads_exported_and_rebased_images(reg, app_dir):
    skopeo = require_binary("skopeo")
    assert _run(_export_argv(reg, *app_dir))[0] == 0

    def inspect(*flags: str) -> dict:
        result = subprocess.run(
            [skopeo, "inspect", "--tls-verify=false", *flags, f"docker://{reg.host}/app:1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)

    for label in ("exported", "rebased"):
        raw = inspect("--raw")
        config = inspect("--config")
        pulled = pull_and_verify(reg.url, "app", "1")
        assert raw == pulled.manifest, label
        assert config == pulled.config, label
        assert config["rootfs"]["diff_ids"] == pulled.diff_ids
        md = json.loads(config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"])
        assert md["runImage"]["topLayer"] in config["rootfs"]["diff_ids"]
        summary = inspect()
        assert summary["Digest"] == pulled.digest
        assert summary["Layers"] == [d["digest"] for d in raw["layers"]]
        if label == "exported":
            reg.push(run_image(2), "run:latest")
            assert _run(["rebase", "--image", f"{reg.host}/app:1", "--insecure"])[0] == 0


@pytest.mark.real_client
def test_commands_against_a_real_distribution_registry(tmp_path, app_dir):
    binary = require_binary("/usr/bin/docker-registry")
    with Distribution(binary=binary, root=tmp_path / "registry") as dist:
        dist.push(run_image(1, flavor="docker"), "base/run", "latest")
        app, deps = app_dir
        code, out, err = _run(_export_argv(dist, app, deps, run="base/run:latest"))
        assert (code, err) == (0, ""), out
        exported = pull_and_verify(dist.url, "app", "1")
        assert exported.media_type == "application/vnd.docker.distribution.manifest.v2+json"
        dist.push(run_image(2, flavor="docker"), "base/run", "latest")
        code, out, err = _run(["rebase", "--image", f"{dist.host}/app:1", "--insecure"])
        assert (code, err) == (0, ""), out
        rebased = pull_and_verify(dist.url, "app", "1")
        run = pull_and_verify(dist.url, "base/run", "latest")
        assert rebased.layer_digests[:2] == run.layer_digests
        assert rebased.layer_digests[2:] == exported.layer_digests[2:]
        assert rebased.metadata["runImage"]["reference"] == f"{dist.host}/base/run@{run.digest}"

"""rebase(): export an app on run image v1, publish v2, rebase; and every failure path."""

from __future__ import annotations

import json
import logging

import pytest
from werkzeug import Response

from flakymirror.client.exporter import Buildpack, LayerSpec, export
from flakymirror.client.lifecycle_error import LifecycleError
from flakymirror.client.metadata import LIFECYCLE_METADATA_LABEL
from flakymirror.oci import build_image
from tests.helpers.sleeps import Sleeps

from .export_helpers import HookedRegistry, pull_and_verify, run_image

LOGGER = "flakymirror.client.rebase"
BASE = {"io.buildpacks.base.id": "old-id", "io.buildpacks.base.distro.name": "ubuntu"}


def _export(reg, tag="app:1", run="run:latest", **kw):
    kw.setdefault("buildpacks", [Buildpack("acme/x", "1", (LayerSpec("l", files={"f": b"1"}),))])
    kw.setdefault("app_files", {"main": b"app"})
    return export(f"{reg.host}/{tag}", f"{reg.host}/{run}", insecure=True, sleep=Sleeps(), **kw)


@pytest.fixture
def reg():
    with HookedRegistry() as r:
        r.push(run_image(1, labels=BASE), "run:latest")
        yield r


def _rebase(reg, **kw):
    kw.setdefault("sleep", Sleeps())
    return __import__("flakymirror.client.rebaser", fromlist=["rebase"]).rebase(
        f"{reg.host}/app:1", insecure=True, **kw
    )


def test_export_then_rebase_onto_new_run_image(reg, caplog):
    _export(reg)
    v1 = pull_and_verify(reg.url, "run", "latest")
    old = pull_and_verify(reg.url, "app", "1")
    v2_labels = {"io.buildpacks.base.distro.name": "ubuntu", "io.buildpacks.base.id": "new-id"}
    reg.push(run_image(2, layers=3, labels=v2_labels), "run:latest")
    v2 = pull_and_verify(reg.url, "run", "latest")
    before = len(reg.log)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report = _rebase(reg)
    new = pull_and_verify(reg.url, "app", "1")

    n_app = len(old.layer_digests) - len(v1.layer_digests)
    assert new.layer_digests[: len(v2.layer_digests)] == v2.layer_digests
    assert new.layer_digests[len(v2.layer_digests) :] == old.layer_digests[-n_app:]
    assert new.diff_ids == v2.diff_ids + old.diff_ids[-n_app:]
    assert new.media_type == old.media_type

    md = new.metadata
    assert md["runImage"] == {
        "topLayer": v2.diff_ids[-1],
        "reference": f"{reg.host}/run@{v2.digest}",
        "image": f"{reg.host}/run:latest",
    }
    assert md["app"] == old.metadata["app"] and md["buildpacks"] == old.metadata["buildpacks"]
    assert md["stack"] == old.metadata["stack"]
    labels = new.labels
    assert labels["io.buildpacks.base.id"] == "new-id"  # synced from v2
    assert "io.buildpacks.base.distro.version" not in labels
    assert {k: v for k, v in labels.items() if k.startswith("io.buildpacks.stack.")} == {
        k: v for k, v in v2.labels.items() if k.startswith("io.buildpacks.stack.")
    }
    assert labels["io.buildpacks.build.metadata"] == old.labels["io.buildpacks.build.metadata"]
    assert new.env == old.env
    assert new.config["config"]["Entrypoint"] == old.config["config"]["Entrypoint"]
    assert (new.config["os"], new.config["architecture"]) == ("linux", "amd64")
    assert [set(h) for h in new.config["history"]] == [{"created"}] * len(new.diff_ids)

    assert report.run_image == f"{reg.host}/run:latest"
    assert str(report.digest) == new.digest and report.tags == [f"{reg.host}/app:1"]
    assert report.top_layer == v2.diff_ids[-1]
    assert caplog.messages[-2:] == [f"*** Images ({new.digest}):", f"      {reg.host}/app:1"]
    wire = reg.log[before:]
    assert not [e for e in wire if e[0] == "PATCH" and "app" not in e[1]]
    patches = [e for e in wire if e[0] == "PATCH"]
    assert len(patches) == 1  # only the new config; v2's layers are mounted, app's exist
    mounts = [e for e in wire if e[0] == "POST" and "mount=" in e[1]]
    assert len(mounts) == 3 and all("from=run" in e[1] and e[2] == 201 for e in mounts)
    assert report.requests[0].url.endswith("/v2/") and report.requests[-1].method == "PUT"


def test_new_base_not_in_metadata_needs_force(reg, caplog):
    _export(reg)
    reg.push(run_image(2), "run2:v2")
    with pytest.raises(LifecycleError) as info:
        _rebase(reg, run_image=f"{reg.host}/run2:v2")
    v2 = pull_and_verify(reg.url, "run2", "v2")
    existing = json.dumps(
        {
            "topLayer": v2.diff_ids[-1],
            "reference": f"{reg.host}/run2@{v2.digest}",
            "image": f"{reg.host}/run:latest",
        },
        separators=(",", ":"),
    )
    assert str(info.value) == (
        f"failed to rebase: rebase app image: new base image '{reg.host}/run2:v2' not found in "
        f"existing run image metadata: {existing}; please provide -force to override"
    )
    assert info.value.exit_code == 72
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _rebase(reg, run_image=f"{reg.host}/run2:v2", force=True)
    assert caplog.messages == [
        f"rebase app image: new base image '{reg.host}/run2:v2' not found in existing run "
        f"image metadata: {existing}"
    ]
    md = pull_and_verify(reg.url, "app", "1").metadata
    assert md["runImage"]["image"] == f"{reg.host}/run2:v2" and "mirrors" not in md["runImage"]
    assert md["stack"] == {"runImage": {"image": f"{reg.host}/run2:v2"}}


def test_stack_mismatch_under_old_platform_api(reg):
    _export(reg, platform_api="0.11")
    reg.push(run_image(2, labels={"io.buildpacks.stack.id": "other"}), "run:latest")
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert str(info.value) == (
        "failed to rebase: incompatible stack: 'other' is not compatible with "
        "'io.flakymirror.stack'"
    )
    assert info.value.exit_code == 72


def test_stack_missing_on_new_base(reg):
    _export(reg, platform_api="0.11")
    reg.push(build_image(layers=1, seed=5), "run:latest")
    with pytest.raises(
        LifecycleError, match="^failed to rebase: stack not defined on new base image$"
    ):
        _rebase(reg)


def test_missing_mixins(reg):
    reg.push(
        run_image(1, labels={"io.buildpacks.stack.mixins": '["run:curl","git","zip"]'}),
        "run:latest",
    )
    _export(reg, platform_api="0.10")
    reg.push(run_image(2, labels={"io.buildpacks.stack.mixins": '["build:git"]'}), "run:latest")
    before = len(reg.log)
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert str(info.value) == "failed to rebase: missing required mixin(s): curl, zip"
    assert info.value.exit_code == 72
    # HEADs: app Found() and DecodeLabel's Found(), the run image's read-access check and
    # Found(), then DecodeLabel's Found() of each image for the mixins
    heads = [e for e in reg.log[before:] if e[0] == "HEAD"]
    assert [p for _m, p, _s in heads] == [
        "/v2/app/manifests/1",
        "/v2/app/manifests/1",
        "/v2/run/manifests/latest",
        "/v2/run/manifests/latest",
        "/v2/app/manifests/1",
        "/v2/run/manifests/latest",
    ]


def test_target_mismatch_fails_without_force_and_warns_with_it(reg, caplog):
    _export(reg)
    reg.push(run_image(2, platform="linux/arm64"), "run:latest")
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    text = (
        'unable to satisfy target os/arch constraints; new run image: {"os":"linux","arch":"arm64"}, '
        'old run image: {"id":"old-id","os":"linux","arch":"amd64","distro":{"name":"ubuntu","version":""}}'
    )
    assert str(info.value) == f"failed to rebase: {text}; please provide -force to override"
    assert info.value.exit_code == 72
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _rebase(reg, force=True)
    assert caplog.messages == [text]
    assert pull_and_verify(reg.url, "app", "1").config["architecture"] == "arm64"


def test_not_rebasable_needs_force(reg, caplog):
    _export(reg, labels={"io.buildpacks.rebasable": "false"})
    reg.push(run_image(2, labels=BASE), "run:latest")
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert str(info.value) == (
        "failed to rebase: app image is not marked as rebasable; please provide -force to override"
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _rebase(reg, force=True)
    assert caplog.messages == ["app image is not marked as rebasable"]


def test_base_layer_not_found(reg):
    bogus = json.dumps({"runImage": {"topLayer": "sha256:" + "0" * 64, "reference": "x",
                                     "image": f"{reg.host}/run:latest"}})  # fmt: skip
    _export(reg, labels={LIFECYCLE_METADATA_LABEL: bogus})
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert (
        str(info.value) == "failed to rebase: rebase app image: could not find base layer in image"
    )
    assert info.value.exit_code == 72


def test_no_metadata_requires_run_image(reg):
    reg.push(build_image(layers=1, seed=9), "app:1")
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert str(info.value) == (
        "failed to set app image: failed to parse arguments: "
        "-run-image is required when there is no run image metadata available"
    )
    assert info.value.exit_code == 72
    with pytest.raises(LifecycleError, match="^failed to rebase: stack not defined on app image$"):
        _rebase(reg, run_image=f"{reg.host}/run:latest")


def test_missing_app_image(reg):
    sleeps = Sleeps()
    with pytest.raises(LifecycleError) as info:
        _rebase(reg, sleep=sleeps)
    assert str(info.value) == "failed to set app image: failed to access image to rebase"
    assert info.value.exit_code == 72 and sleeps.calls == []


def test_app_image_error_is_not_retried(reg):
    reg.on("GET", "/v2/app/manifests/", Response("nope", status=400))
    sleeps = Sleeps()
    with pytest.raises(LifecycleError) as info:
        _rebase(reg, sleep=sleeps)
    assert str(info.value) == (
        "failed to set app image: failed to access image to rebase: "
        f'connect to repo store "{reg.host}/app:1": GET http://{reg.host}/v2/app/manifests/1: '
        "unexpected status code 400 Bad Request: nope"
    )
    assert sleeps.calls == [] and len(reg.requests("GET", "/v2/app/manifests/")) == 1


def test_missing_run_image_fails_after_six_attempts(reg, caplog):
    _export(reg)
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(LifecycleError) as info:
        _rebase(reg, run_image=f"{reg.host}/gone:1", sleep=sleeps)
    assert str(info.value) == "failed to access run image: image has no layers"
    assert info.value.exit_code == 1
    assert sleeps.calls == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert len(caplog.messages) == 5 and caplog.messages[-1].endswith("retrying in 2s")
    assert len(reg.requests("GET", "/v2/gone/manifests/1")) == 6


def test_no_accessible_run_image(reg):
    _export(reg, run_image_name=f"{reg.host}/gone:1", run_image_mirrors=[f"{reg.host}/gone2:1"])
    with pytest.raises(LifecycleError) as info:
        _rebase(reg)
    assert str(info.value) == "failed to set app image: failed to find accessible run image"
    assert info.value.exit_code == 72
    # readable check: each candidate HEADed twice (same-registry pass, then any-registry pass)
    assert len(reg.requests("HEAD", "/v2/gone")) == 4


def test_mirror_in_the_app_registry_is_preferred(reg):
    with HookedRegistry() as other:
        other.push(run_image(1, labels=BASE), "run:latest")
        reg.push(run_image(2, labels=BASE), "mirror/run:latest")
        _export(
            reg,
            run_image_name=f"{other.host}/run:latest",
            run_image_mirrors=[f"{reg.host}/mirror/run:latest"],
        )
        report = _rebase(reg)
        assert report.run_image == f"{reg.host}/mirror/run:latest"
        assert not other.requests("HEAD")
        # the mirror disappears: the first readable candidate (the other registry) is used
        reg.store.delete_manifest("mirror/run", "latest")
        report = _rebase(reg)
        assert report.run_image == f"{other.host}/run:latest"
        new = pull_and_verify(reg.url, "app", "1")
        assert new.layer_digests[:2] == pull_and_verify(other.url, "run", "latest").layer_digests


def test_export_and_rebase_with_bearer_auth():
    from flakymirror.client import BasicCredentials
    from flakymirror.client.rebaser import rebase
    from flakymirror.registry import BearerAuth

    from .export_helpers import bearer_token

    auth = BearerAuth(users={"ci": "secret"})
    creds = BasicCredentials("ci", "secret")
    with HookedRegistry(auth=auth) as reg:
        reg.push(run_image(1), "run:latest")
        export(f"{reg.host}/app:1", f"{reg.host}/run:latest", insecure=True, keychain=creds,
               app_files={"main": b"x"}, sleep=Sleeps())  # fmt: skip
        reg.push(run_image(2), "run:latest")
        report = rebase(f"{reg.host}/app:1", insecure=True, keychain=creds, sleep=Sleeps())
        app = pull_and_verify(reg.url, "app", "1", bearer_token(reg.url, "app", "ci", "secret"))
        run = pull_and_verify(
            reg.url, "run", "latest", bearer_token(reg.url, "run", "ci", "secret")
        )
        assert app.layer_digests[:2] == run.layer_digests
        assert str(report.digest) == app.digest
        assert reg.requests("GET", r"^/token\?")  # tokens were fetched
        mounts = reg.requests("POST", "from=run&mount=")
        assert mounts and all(e[2] == 201 for e in mounts)  # the token grants run:pull too
        assert not [e for e in reg.log if e[2] == 403]

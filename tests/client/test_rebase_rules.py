"""The rebaser's pure rules: stack, mixins, target, labels, run image choice."""

from __future__ import annotations

import pytest

from flakymirror.client.metadata import LayersMetadata, RunImageForExport
from flakymirror.client.rebaser import (
    RebaseError,
    best_run_image_mirror,
    run_image_from_metadata,
    sync_labels,
    validate_mixins,
    validate_stack_id,
    validate_target,
)
from flakymirror.client.target import TargetMetadata

STACK = "io.buildpacks.stack.id"
MIXINS = "io.buildpacks.stack.mixins"


@pytest.mark.parametrize(
    ("app", "new", "message"),
    [
        ({}, {STACK: "s"}, "stack not defined on app image"),
        ({STACK: "s"}, {}, "stack not defined on new base image"),
        ({STACK: "a"}, {STACK: "b"}, "incompatible stack: 'b' is not compatible with 'a'"),
    ],
)
def test_stack_id(app, new, message):
    with pytest.raises(RebaseError) as info:
        validate_stack_id(app, new)
    assert str(info.value) == message


def test_stack_id_match_passes():
    validate_stack_id({STACK: "s"}, {STACK: "s"})


def test_mixins():
    validate_mixins({MIXINS: '["run:a","b"]'}, {MIXINS: '["a","build:b","c"]'})
    validate_mixins({}, {})
    with pytest.raises(RebaseError, match=r"^missing required mixin\(s\): a, c$"):
        validate_mixins({MIXINS: '["c","build:a","a"]'}, {MIXINS: '["b"]'})
    with pytest.raises(RebaseError, match="^get app image mixins: failed to unmarshal context"):
        validate_mixins({MIXINS: "{"}, {})
    with pytest.raises(RebaseError, match="^get run image mixins: failed to unmarshal context"):
        validate_mixins({}, {MIXINS: "[1]"})


def test_target_rules_and_force():
    amd, arm = TargetMetadata("linux", "amd64"), TargetMetadata("linux", "arm64")
    warnings: list[str] = []
    validate_target(amd, amd, {}, force=False, warn=warnings.append)
    with pytest.raises(RebaseError) as info:
        validate_target(amd, arm, {}, force=False, warn=warnings.append)
    assert str(info.value) == (
        'unable to satisfy target os/arch constraints; new run image: {"os":"linux","arch":"arm64"}, '
        'old run image: {"os":"linux","arch":"amd64"}; please provide -force to override'
    )
    validate_target(
        amd, arm, {"io.buildpacks.rebasable": "false"}, force=True, warn=warnings.append
    )
    assert warnings == [
        "app image is not marked as rebasable",
        'unable to satisfy target os/arch constraints; new run image: {"os":"linux","arch":"arm64"}, '
        'old run image: {"os":"linux","arch":"amd64"}',
    ]
    with pytest.raises(RebaseError, match="^app image is not marked as rebasable; please"):
        validate_target(amd, amd, {"io.buildpacks.rebasable": "false"}, force=False, warn=print)
    validate_target(amd, amd, {"io.buildpacks.rebasable": "true"}, force=False, warn=print)


def test_sync_labels_by_platform_api():
    app = {
        "io.buildpacks.stack.id": "a",
        "io.buildpacks.stack.x": "1",
        "io.buildpacks.base.id": "old",
        "keep": "k",
    }
    new = {"io.buildpacks.stack.id": "b", "io.buildpacks.base.distro.name": "u", "other": "no"}
    assert sync_labels(app, new, "0.12") == {
        "keep": "k",
        "io.buildpacks.stack.id": "b",
        "io.buildpacks.base.distro.name": "u",
    }
    assert sync_labels(app, new, "0.11") == {
        "io.buildpacks.base.id": "old",
        "keep": "k",
        "io.buildpacks.stack.id": "b",
    }


def test_run_image_from_metadata():
    md = LayersMetadata.from_json(
        '{"runImage":{"image":"r/new","mirrors":["m/new"]},"stack":{"runImage":{"image":"r/old"}}}'
    )
    assert run_image_from_metadata("0.12", md) == RunImageForExport("r/new", ("m/new",))
    assert run_image_from_metadata("0.11", md) == RunImageForExport("r/old")
    assert run_image_from_metadata("0.12", LayersMetadata.from_json('{"runImage":{}}')) is None


def test_best_mirror_prefers_the_registry_then_the_first_readable():
    ri = RunImageForExport("a.io/run", ("b.io/run", "c.io/run"))
    checked: list[str] = []

    def readable(*ok: str):
        def check(ref: str) -> bool:
            checked.append(ref)
            return ref in ok

        return check

    assert best_run_image_mirror("b.io", ri, readable("a.io/run", "b.io/run")) == "b.io/run"
    assert checked == ["b.io/run"]
    checked.clear()
    assert best_run_image_mirror("b.io", ri, readable("c.io/run")) == "c.io/run"
    assert checked == ["b.io/run", "a.io/run", "b.io/run", "c.io/run"]
    with pytest.raises(RebaseError, match="^failed to find accessible run image$"):
        best_run_image_mirror("x.io", ri, readable())
    with pytest.raises(RebaseError, match="^missing run image metadata$"):
        best_run_image_mirror("x.io", RunImageForExport(), readable())


def test_the_rules_live_in_rebase_checks_and_the_rebaser_still_exports_them():
    import flakymirror.client as client
    from flakymirror.client import rebase_checks, rebaser

    for name in rebase_checks.__all__:
        if name != "FORCE_HINT":
            assert getattr(rebaser, name) is getattr(client, name) is getattr(rebase_checks, name)
    assert rebase_checks.FORCE_HINT == "please provide -force to override"

"""Lifecycle metadata values: Go JSON forms, parsing errors, target rules, errors."""

from __future__ import annotations

import json

import pytest

from flakymirror.client.buildmeta import BuildMetadata, GroupElement, Process
from flakymirror.client.lifecycle_error import LifecycleError
from flakymirror.client.metadata import (
    DISTRO_NAME_LABEL,
    DISTRO_VERSION_LABEL,
    TARGET_ID_LABEL,
    BuildpackLayerMetadata,
    BuildpackLayersMetadata,
    LayerMetadata,
    LayersMetadata,
    MetadataError,
    RunImageForExport,
    RunImageForRebase,
    api_less_than,
    go_json,
    parse_api,
    repository_name,
)
from flakymirror.client.target import TargetMetadata, parse_mixins, strip_stage_prefixes

SHA = "sha256:" + "a" * 64


def test_layers_metadata_json_follows_go_field_order_and_omitempty():
    md = LayersMetadata(
        app=(LayerMetadata(SHA),),
        buildpacks=(
            BuildpackLayersMetadata(
                "acme/node",
                "1.0",
                {"z": BuildpackLayerMetadata(SHA, launch=True), "a": BuildpackLayerMetadata(SHA)},
            ),
        ),
        config=LayerMetadata(SHA),
        launcher=LayerMetadata(SHA),
        run_image=RunImageForRebase(SHA, "r/run@" + SHA, "r/run:1"),
        stack=RunImageForExport("r/run:1"),
    )
    text = md.to_json()
    doc = json.loads(text)
    assert list(doc) == [
        "app",
        "buildpacks",
        "config",
        "launcher",
        "process-types",
        "runImage",
        "stack",
    ]
    assert list(doc["buildpacks"][0]["layers"]) == ["a", "z"]
    assert doc["buildpacks"][0]["layers"]["a"] == {
        "sha": SHA,
        "data": None,
        "build": False,
        "launch": False,
        "cache": False,
    }
    assert doc["process-types"] == {"sha": ""}
    assert doc["runImage"] == {"topLayer": SHA, "reference": "r/run@" + SHA, "image": "r/run:1"}
    assert doc["stack"] == {"runImage": {"image": "r/run:1"}}
    assert "sbom" not in doc and " " not in text
    assert LayersMetadata.from_json(text) == md


def test_empty_metadata_marshals_nil_slices_as_null():
    assert LayersMetadata().to_json() == (
        '{"app":null,"buildpacks":null,"config":{"sha":""},"launcher":{"sha":""},'
        '"process-types":{"sha":""},"runImage":{"topLayer":"","reference":""}}'
    )


def test_compat_app_of_another_shape_is_kept_as_is():
    md = LayersMetadata.from_json('{"app":{"sha":"old"},"runImage":{"topLayer":"t"}}')
    assert md.app == {"sha": "old"}
    assert json.loads(md.to_json())["app"] == {"sha": "old"}
    assert md.app_shas() == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"runImage":{"topLayer":3}}', "runImage.topLayer: expected a string, got int"),
        ('{"runImage":[]}', "runImage: expected an object, got list"),
        ('{"buildpacks":{}}', "metadata.buildpacks: expected a list, got dict"),
        ('{"buildpacks":[{"layers":{"x":{"launch":"yes"}}}]}', "buildpacks[0].layers.x.launch"),
        ('{"stack":{"runImage":{"mirrors":[1]}}}', "stack.runImage.mirrors"),
        ("{", "invalid JSON"),
    ],
)
def test_bad_metadata_names_the_key_path(text, message):
    with pytest.raises(MetadataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        LayersMetadata.from_json(text)


def test_go_json_escapes_html_like_go():
    assert go_json({"a": "<b>&</b>", "u": "é\u2028"}) == (
        '{"a":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e","u":"é\\u2028"}'
    )


def test_run_image_contains_ignores_tags_and_digests():
    r = RunImageForExport("reg:5000/run:1", ("mirror.io/run",))
    assert r.contains("reg:5000/run:latest")
    assert r.contains("reg:5000/run@" + SHA)
    assert r.contains("mirror.io/run:v9")
    assert not r.contains("reg:5000/other:1")
    assert repository_name("localhost:5000/a/b:c@" + SHA) == "localhost:5000/a/b"
    assert repository_name("host:5000/a") == "host:5000/a"


@pytest.mark.parametrize(
    ("new", "app", "ok"),
    [
        (TargetMetadata("linux", "amd64"), TargetMetadata("linux", "amd64"), True),
        (TargetMetadata("linux", "arm64"), TargetMetadata("linux", "amd64"), False),
        (TargetMetadata("windows", "amd64"), TargetMetadata("linux", "amd64"), False),
        (TargetMetadata("linux", "arm", "v7"), TargetMetadata("linux", "arm", "v6"), False),
        (TargetMetadata("linux", "arm", "v7"), TargetMetadata("linux", "arm"), True),
        (TargetMetadata("linux", "arm"), TargetMetadata("linux", "arm", "v6"), True),
        (
            TargetMetadata("linux", "amd64", distro=("ubuntu", "22.04")),
            TargetMetadata("linux", "amd64"),
            False,
        ),
        (
            TargetMetadata("linux", "amd64", distro=("ubuntu", "")),
            TargetMetadata("linux", "amd64", distro=("ubuntu", "20.04")),
            True,
        ),
        (
            TargetMetadata("linux", "amd64", distro=("ubuntu", "22.04")),
            TargetMetadata("linux", "amd64", distro=("ubuntu", "20.04")),
            False,
        ),
        (
            TargetMetadata("linux", "amd64"),
            TargetMetadata("linux", "amd64", distro=("alpine", "3")),
            True,
        ),
    ],
)
def test_target_satisfied_for_rebase(new, app, ok):
    assert new.satisfies_for_rebase(app) is ok


def test_target_metadata_from_config_and_labels():
    labels = {DISTRO_NAME_LABEL: "ubuntu", TARGET_ID_LABEL: "id-1"}
    t = TargetMetadata.of("linux", "arm64", "v8", labels)
    assert t == TargetMetadata("linux", "arm64", "v8", "id-1", ("ubuntu", ""))
    assert t.to_json() == (
        '{"id":"id-1","os":"linux","arch":"arm64","arch-variant":"v8",'
        '"distro":{"name":"ubuntu","version":""}}'
    )
    assert TargetMetadata.of("linux", "amd64", None, {DISTRO_VERSION_LABEL: "1"}).distro == (
        "",
        "1",
    )
    assert TargetMetadata.of("linux", "amd64", None, {}).to_json() == (
        '{"os":"linux","arch":"amd64"}'
    )


def test_build_metadata_label():
    md = BuildMetadata(
        buildpacks=(GroupElement("acme/node", "1.0", "0.10"),),
        processes=(Process("web", ("node", "app.js"), buildpack_id="acme/node", default=True),),
        buildpack_default_process_type="web",
    )
    assert json.loads(md.to_json()) == {
        "buildpacks": [{"id": "acme/node", "version": "1.0", "api": "0.10"}],
        "launcher": {"version": "", "source": {"git": {"repository": "", "commit": ""}}},
        "processes": [
            {
                "type": "web",
                "command": ["node", "app.js"],
                "args": None,
                "direct": False,
                "default": True,
                "buildpackID": "acme/node",
            }
        ],
        "buildpack-default-process-type": "web",
    }
    assert BuildMetadata().to_json().startswith('{"buildpacks":null,')


def test_platform_api_versions():
    assert parse_api("0.12") == (0, 12)
    assert api_less_than("0.9", "0.12")
    assert not api_less_than("0.12", "0.12")
    assert not api_less_than("1.0", "0.13")
    with pytest.raises(ValueError, match="invalid Platform API version 'x.1'"):
        parse_api("x.1")


def test_mixins_parsing():
    assert parse_mixins(None) == [] and parse_mixins("") == [] and parse_mixins("null") == []
    assert strip_stage_prefixes(parse_mixins('["build:a","run:b","c"]')) == ["a", "b", "c"]
    with pytest.raises(MetadataError, match="invalid JSON"):
        parse_mixins("[")
    with pytest.raises(MetadataError, match="array of strings"):
        parse_mixins('{"a":1}')


def test_lifecycle_error_fail_forms():
    inner = LifecycleError("failed to parse arguments: x", 3)
    outer = LifecycleError.fail("set app image", inner, 72)
    assert str(outer) == "failed to set app image: failed to parse arguments: x"
    assert outer.exit_code == 72 and outer.__cause__ is inner
    assert LifecycleError.fail("access run image", None).message == "failed to access run image"
    assert LifecycleError.fail("x", inner).exit_code == 3  # FailErr keeps the inner code
    assert LifecycleError.fail("x", ValueError("v")).exit_code == 1

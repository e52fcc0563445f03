"""Model values: canonical bytes, round-trips, validation errors naming the field."""

import dataclasses
import json

import pytest

from flakymirror.oci import (
    Descriptor,
    Digest,
    History,
    ImageConfig,
    Index,
    Manifest,
    ManifestError,
    Platform,
    canonical_json,
    parse_manifest,
)
from flakymirror.oci import mediatypes as mt
from tests.helpers.oci_documents import (
    D1,
    D2,
    D3,
    DELETE,
    config_dict,
    dumps,
    index_dict,
    manifest_dict,
    mutate,
)


def test_manifest_roundtrip_and_canonical_bytes():
    m = Manifest.parse(dumps(manifest_dict()))
    assert m.media_type == mt.OCI_MANIFEST
    assert m.config == Descriptor(mt.OCI_CONFIG, Digest.parse(D1), 6)
    assert [str(layer.digest) for layer in m.layers] == [D2, D3]
    b = m.to_bytes()
    assert b == canonical_json(manifest_dict())
    assert b" " not in b and b"\n" not in b
    assert Manifest.parse(b).to_bytes() == b
    assert m.digest == Digest.of(b)
    assert m.references() == (m.config, *m.layers)


def test_key_order_is_fixed_whatever_the_input_order():
    d = manifest_dict()
    shuffled = {k: d[k] for k in reversed(list(d))}
    shuffled["config"] = {k: d["config"][k] for k in reversed(list(d["config"]))}
    assert Manifest.parse(dumps(shuffled)).to_bytes() == Manifest.parse(dumps(d)).to_bytes()
    assert list(json.loads(Manifest.parse(dumps(shuffled)).to_bytes())) == [
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
    ]


def test_unknown_keys_are_kept_everywhere():
    d = manifest_dict()
    d["x-top"] = {"nested": [1, 2]}
    d["config"]["data"] = "e30="
    d["layers"][0]["x-layer"] = True
    d["annotations"] = {"org.opencontainers.image.title": "t"}
    m = Manifest.parse(dumps(d))
    assert m.extra == {"x-top": {"nested": [1, 2]}}
    assert m.config.extra == {"data": "e30="}
    assert m.layers[0].extra == {"x-layer": True}
    again = Manifest.parse(m.to_bytes())
    assert again == m and again.to_bytes() == m.to_bytes()
    assert json.loads(m.to_bytes()) == d


def test_docker_manifest_carries_media_type():
    d = manifest_dict()
    d["mediaType"] = mt.DOCKER_MANIFEST
    d["config"]["mediaType"] = mt.DOCKER_CONFIG
    for layer in d["layers"]:
        layer["mediaType"] = mt.DOCKER_LAYER
    m = parse_manifest(dumps(d), mt.DOCKER_MANIFEST)
    assert isinstance(m, Manifest) and m.media_type == mt.DOCKER_MANIFEST
    assert json.loads(m.to_bytes())["mediaType"] == mt.DOCKER_MANIFEST
    del d["mediaType"]
    with pytest.raises(ManifestError, match="mediaType: required in a Docker schema 2"):
        parse_manifest(dumps(d), mt.DOCKER_MANIFEST)


def test_oci_manifest_without_media_type_takes_the_content_type():
    d = manifest_dict()
    del d["mediaType"]
    m = parse_manifest(dumps(d), mt.OCI_MANIFEST + "; charset=utf-8")
    assert m.media_type == mt.OCI_MANIFEST
    assert isinstance(parse_manifest(dumps(d)), Manifest)  # shape decides


def test_index_roundtrip_with_platforms_and_find():
    ix = parse_manifest(dumps(index_dict()))
    assert isinstance(ix, Index)
    assert [str(c.platform) for c in ix.manifests] == ["linux/amd64", "linux/arm64/v8"]
    assert ix.to_bytes() == canonical_json(index_dict())
    assert Index.parse(ix.to_bytes()) == ix
    assert ix.find("linux/arm64").digest == Digest.parse(D3)
    assert ix.find(Platform("linux", "arm64", "v8")).digest == Digest.parse(D3)
    assert ix.find("linux/arm64/v7") is None
    assert ix.find("windows/amd64") is None
    d = index_dict()
    del d["mediaType"]
    assert isinstance(parse_manifest(dumps(d)), Index)


def test_docker_manifest_list():
    d = index_dict()
    d["mediaType"] = mt.DOCKER_MANIFEST_LIST
    for child in d["manifests"]:
        child["mediaType"] = mt.DOCKER_MANIFEST
    ix = parse_manifest(dumps(d), mt.DOCKER_MANIFEST_LIST)
    assert isinstance(ix, Index) and ix.media_type == mt.DOCKER_MANIFEST_LIST
    del d["mediaType"]
    with pytest.raises(ManifestError, match="mediaType: required in a Docker manifest list"):
        parse_manifest(dumps(d), mt.DOCKER_MANIFEST_LIST)


BAD_MANIFESTS = [
    ("layers/1/digest", "sha256:zz", "layers[1].digest: invalid digest 'sha256:zz'"),
    ("layers/0/digest", DELETE, "layers[0].digest: required"),
    ("layers/0/digest", 5, "layers[0].digest: must be a string"),
    ("layers/0/size", -1, "layers[0].size: must be a non-negative integer"),
    ("layers/0/size", 1.5, "layers[0].size: must be a non-negative integer"),
    ("layers/0/size", True, "layers[0].size: must be a non-negative integer"),
    ("layers/0/size", "7", "layers[0].size: must be a non-negative integer"),
    ("layers/0/size", 2**63, "layers[0].size: must be a non-negative integer"),
    ("layers/0/size", DELETE, "layers[0].size: required"),
    ("layers/0/mediaType", DELETE, "layers[0].mediaType: required"),
    ("layers/0/mediaType", "not a type", "layers[0].mediaType: invalid media type"),
    ("layers/0/mediaType", "text/plain\n", "layers[0].mediaType: invalid media type"),
    ("layers/0/urls", "http://x", "layers[0].urls: must be a list of strings"),
    ("layers/0/urls", [1], "layers[0].urls[0]: must be a string"),
    ("layers/0/annotations", {"a": 1}, "layers[0].annotations['a']: must be a string"),
    ("layers/0", "sha256:abc", "layers[0]: must be a JSON object"),
    ("layers", {}, "layers: must be a list"),
    ("layers", DELETE, "layers: required"),
    ("config", DELETE, "config: required"),
    ("config", [], "config: must be a JSON object"),
    ("config/digest", "md5:00", "config.digest: invalid digest 'md5:00'"),
    ("schemaVersion", 1, "schemaVersion: must be 2"),
    ("schemaVersion", "2", "schemaVersion: must be 2"),
    ("schemaVersion", DELETE, "schemaVersion: required"),
    ("mediaType", mt.OCI_INDEX, "mediaType: the body says 'application/vnd.oci.image.index"),
    ("mediaType", 3, "mediaType: must be a string"),
    ("annotations", ["a"], "annotations: must be an object of strings"),
    ("artifactType", "bad", "artifactType: invalid media type 'bad'"),
    ("config/mediaType", mt.OCI_EMPTY, "artifactType: required when config.mediaType"),
    ("subject", {"mediaType": mt.OCI_MANIFEST}, "subject.digest: required"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_MANIFESTS)
def test_bad_manifests_name_the_field(path, value, message):
    data = dumps(mutate(manifest_dict(), path, value))
    with pytest.raises(ManifestError) as e:
        parse_manifest(data, mt.OCI_MANIFEST)
    assert str(e.value).startswith(message), str(e.value)


BAD_INDEXES = [
    ("manifests/0/platform/os", DELETE, "manifests[0].platform.os: required"),
    ("manifests/1/platform/architecture", 64, "manifests[1].platform.architecture: must be a"),
    ("manifests/1/platform/os.features", "x", "manifests[1].platform.os.features: must be"),
    ("manifests/1/platform", "linux/arm64", "manifests[1].platform: must be a JSON object"),
    ("manifests/0/digest", "sha256:" + "A" * 64, "manifests[0].digest: invalid digest"),
    ("manifests", DELETE, "manifests: required"),
    ("manifests", None, "manifests: must be a list"),
    ("mediaType", mt.OCI_MANIFEST, "mediaType: the body says"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_INDEXES)
def test_bad_indexes_name_the_field(path, value, message):
    data = dumps(mutate(index_dict(), path, value))
    with pytest.raises(ManifestError) as e:
        parse_manifest(data, mt.OCI_INDEX)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize(
    ("data", "media_type", "message"),
    [
        (b"", None, "invalid JSON: Expecting value at line 1 column 1"),
        (b'{"schemaVersion": 2,', None, "invalid JSON"),
        (b"\xff\xfe{}", None, "not UTF-8 JSON"),
        (b"[]", None, "must be a JSON object, got list"),
        (b'{"schemaVersion": NaN}', None, "invalid JSON: NaN is not allowed"),
        (b'{"schemaVersion":2,"layers":[]}', mt.DOCKER_MANIFEST_V1, "mediaType: unsupported"),
        (b'{"schemaVersion":2,"mediaType":"text/plain"}', None, "mediaType: unsupported"),
        (b'{"schemaVersion":2,"manifests":[]}', mt.OCI_MANIFEST, "manifests: an image manifest"),
        (b'{"schemaVersion":2,"layers":[]}', mt.OCI_INDEX, "manifests: required (an index"),
    ],
)
def test_unparseable_documents(data, media_type, message):
    with pytest.raises(ManifestError) as e:
        parse_manifest(data, media_type)
    assert str(e.value).startswith(message), str(e.value)


def test_manifest_parse_refuses_an_index_type():
    with pytest.raises(ManifestError, match="mediaType: 'application/vnd.oci.image.index.v1"):
        Manifest.parse(dumps(mutate(manifest_dict(), "mediaType", mt.OCI_INDEX)))
    with pytest.raises(ManifestError, match="is not an index type"):
        Index.parse(dumps(mutate(index_dict(), "mediaType", mt.OCI_MANIFEST)))


def test_content_type_and_body_must_agree():
    with pytest.raises(ManifestError, match="the body says .* but the content type is"):
        parse_manifest(dumps(manifest_dict()), mt.DOCKER_MANIFEST)


def test_empty_layers_list_is_allowed():
    m = parse_manifest(dumps(mutate(manifest_dict(), "layers", [])))
    assert m.layers == ()


def test_artifact_manifest_with_subject():
    d = mutate(
        manifest_dict(),
        "config",
        {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2},
    )
    d["artifactType"] = "application/vnd.example.sig"
    d["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": D1, "size": 10}
    m = Manifest.parse(dumps(d))
    assert m.artifact_type == "application/vnd.example.sig"
    assert m.subject.digest == Digest.parse(D1)
    assert Manifest.parse(m.to_bytes()) == m
    assert list(json.loads(m.to_bytes())) == [
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "subject",
    ]


def test_values_are_frozen_hashable_and_replaceable():
    m = Manifest.parse(dumps(manifest_dict()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.layers = ()  # type: ignore[misc]
    cut = dataclasses.replace(m, layers=m.layers[:1])
    assert len(cut.layers) == 1 and cut != m and cut.digest != m.digest
    assert len({m, Manifest.parse(m.to_bytes()), cut}) == 2
    assert isinstance(dataclasses.replace(m, layers=list(m.layers)).layers, tuple)


def test_constructors_validate_too():
    with pytest.raises(ManifestError, match="digest: invalid digest 'nope'"):
        Descriptor(mt.OCI_LAYER, "nope", 1)  # type: ignore[arg-type]
    with pytest.raises(ManifestError, match="size: must be an integer"):
        Descriptor(mt.OCI_LAYER, D1, "1")  # type: ignore[arg-type]
    with pytest.raises(ManifestError, match="mediaType: 'application/json' is not an image"):
        Manifest(Descriptor(mt.OCI_CONFIG, D1, 1), (), media_type="application/json")
    with pytest.raises(ManifestError, match=r"layers\[0\]: must be a Descriptor"):
        Manifest(Descriptor(mt.OCI_CONFIG, D1, 1), ("x",))  # type: ignore[arg-type]
    with pytest.raises(ManifestError, match="is not an index type"):
        Index((), media_type=mt.OCI_MANIFEST)
    assert Descriptor(mt.OCI_LAYER, D1, 1).digest == Digest.parse(D1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_platform_parse(text, expected):
    p = Platform.parse(text)
    assert p == expected and str(p) == text
    assert Platform.parse(p) is p


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "a/b/c/d", "", "linux//v8"])
def test_platform_parse_bad(text):
    with pytest.raises(ManifestError, match="invalid platform"):
        Platform.parse(text)


def test_platform_json_and_matching():
    p = Platform("windows", "amd64", os_version="10.0.17763.1", os_features=("win32k",))
    assert p.to_bytes() == (
        b'{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1",'
        b'"os.features":["win32k"]}'
    )
    assert Platform.from_dict(json.loads(p.to_bytes())) == p
    assert p.matches("windows/amd64")
    assert not p.matches(Platform("windows", "amd64", os_version="10.0.1"))
    assert Platform("linux", "arm64", "v8").matches("linux/arm64")
    assert not Platform("linux", "arm64").matches("linux/arm64/v8")


def test_config_roundtrip_and_fields():
    c = ImageConfig.parse(dumps(config_dict()))
    assert (c.os, c.architecture, c.variant) == ("linux", "amd64", None)
    assert c.diff_ids == (Digest.parse(D2), Digest.parse(D3))
    assert c.labels == {"a": "b"} and c.env == ("PATH=/bin",) and c.cmd == ("/bin/sh",)
    assert c.entrypoint is None and c.working_dir is None
    assert c.history == (History(created_by="one"), History(created_by="two"))
    assert c.to_bytes() == canonical_json(config_dict())
    assert ImageConfig.parse(c.to_bytes()).to_bytes() == c.to_bytes()
    assert c.platform == Platform("linux", "amd64")
    assert c.digest == Digest.of(c.to_bytes())


def test_config_keeps_docker_extras():
    d = config_dict()
    d["docker_version"] = "24.0.7"
    d["container_config"] = {"Hostname": ""}
    d["config"]["ExposedPorts"] = {"80/tcp": {}}
    d["config"]["User"] = "1000"
    d["history"][0]["empty_layer"] = True
    c = ImageConfig.parse(dumps(d))
    assert c.extra == {"docker_version": "24.0.7", "container_config": {"Hostname": ""}}
    assert c.config_extra == {"ExposedPorts": {"80/tcp": {}}}
    assert c.user == "1000" and c.history[0].empty_layer
    assert json.loads(c.to_bytes()) == d
    assert ImageConfig.parse(c.to_bytes()) == c


def test_config_with_diff_ids_and_replace():
    c = ImageConfig("linux", "arm64", "v8", labels={"k": "v"}, env=["A=1"])
    c2 = c.with_diff_ids([D1, Digest.parse(D2)])
    assert c2.diff_ids == (Digest.parse(D1), Digest.parse(D2)) and c.diff_ids == ()
    c3 = dataclasses.replace(c2, labels={"k": "w"}, entrypoint=["/app"], working_dir="/srv")
    back = ImageConfig.parse(c3.to_bytes())
    assert back == c3 and back.entrypoint == ("/app",) and back.working_dir == "/srv"
    assert json.loads(c3.to_bytes())["variant"] == "v8"


BAD_CONFIGS = [
    ("rootfs/diff_ids/1", "sha256:zz", "rootfs.diff_ids[1]: invalid digest 'sha256:zz'"),
    ("rootfs/diff_ids", DELETE, "rootfs.diff_ids: required"),
    ("rootfs/type", "tar", "rootfs.type: must be 'layers'"),
    ("rootfs", DELETE, "rootfs: required"),
    ("os", DELETE, "os: required"),
    ("architecture", 1, "architecture: must be a string"),
    ("config/Env", "PATH=/bin", "config.Env: must be a list of strings"),
    ("config/Env", ["A=1", 2], "config.Env[1]: must be a string"),
    ("config/Labels", {"a": 1}, "config.Labels['a']: must be a string"),
    ("config/Cmd", "/bin/sh", "config.Cmd: must be a list of strings"),
    ("config/WorkingDir", [], "config.WorkingDir: must be a string"),
    ("config", [], "config: must be a JSON object"),
    ("history", {}, "history: must be a list"),
    ("history/1", "x", "history[1]: must be a JSON object"),
    ("history/0/empty_layer", "yes", "history[0].empty_layer: must be a boolean"),
    ("history/0/created_by", 3, "history[0].created_by: must be a string"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_CONFIGS)
def test_bad_configs_name_the_field(path, value, message):
    with pytest.raises(ManifestError) as e:
        ImageConfig.parse(dumps(mutate(config_dict(), path, value)))
    assert str(e.value).startswith(message), str(e.value)


def test_canonical_json_is_compact_utf8_and_refuses_nan():
    assert canonical_json({"b": 1, "a": "é"}) == '{"b":1,"a":"é"}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})

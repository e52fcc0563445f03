"""Synthetic images: determinism, real tar+gzip layers, consistency of blobs and manifests."""

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import threading

import pytest

from flakymirror.oci import (
    SYNTHETIC_EPOCH,
    Digest,
    Image,
    ImageConfig,
    Index,
    Layer,
    Manifest,
    Platform,
    build_image,
    build_index,
    parse_manifest,
)
from flakymirror.oci import mediatypes as mt


def all_bytes(image: Image) -> list[bytes]:
    return [image.manifest_bytes, image.config_blob.read()] + [
        b"".join(x.chunks()) for x in image.layers
    ]


def members(layer_bytes: bytes, compression: str = "gzip") -> list[tarfile.TarInfo]:
    raw = gzip.decompress(layer_bytes) if compression == "gzip" else layer_bytes
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return tf.getmembers()


def test_same_arguments_same_bytes():
    kw = dict(layers=3, seed=7, labels={"a": "b"}, env={"X": "1"}, layer_sizes=[10, 5000, 0])
    a, b = build_image(**kw), build_image(**kw)
    assert all_bytes(a) == all_bytes(b)
    assert a.digest == b.digest


def test_same_bytes_in_another_process():
    image = build_image(layers=2, seed="cross-process", layer_size=3000)
    code = (
        "from flakymirror.oci import build_image;"
        "print(build_image(layers=2, seed='cross-process', layer_size=3000).digest)"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == str(image.digest)


def test_different_seeds_layers_and_platforms_differ():
    a, b = build_image(seed=1), build_image(seed=2)
    assert a.digest != b.digest
    assert {x.digest for x in a.layers}.isdisjoint({x.digest for x in b.layers})
    assert len({x.diff_id for x in a.layers}) == 3  # layers of one image differ too
    arm = build_image(seed=1, platform="linux/arm64")
    assert {x.diff_id for x in a.layers}.isdisjoint({x.diff_id for x in arm.layers})
    # size-0 layers still differ by seed and index (their ID file names them)
    z1, z2 = (
        build_image(layers=2, seed=1, layer_size=0),
        build_image(layers=2, seed=2, layer_size=0),
    )
    assert len({x.digest for x in z1.layers + z2.layers}) == 4


@pytest.mark.parametrize("compression", ["gzip", "none", "zstd"])
def test_blob_digest_is_compressed_and_diff_id_uncompressed(compression, tmp_path):
    image = build_image(layers=2, seed=3, layer_size=10_000, compression=compression)
    for layer in image.layers:
        data = b"".join(layer.chunks())
        assert Digest.of(data) == layer.digest and len(data) == layer.size
        tar = b"".join(layer.uncompressed_chunks())
        assert Digest.of(tar) == layer.diff_id and len(tar) == layer.uncompressed_size
        if compression == "gzip":
            assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"  # gzip, mtime 0
            assert gzip.decompress(data) == tar
            assert layer.digest != layer.diff_id
        elif compression == "none":
            assert data == tar and layer.digest == layer.diff_id
        else:
            assert data[:4] == bytes.fromhex("28b52ffd")
            assert zstd_decode(data) == tar
    # same content whatever the compression: diff_ids do not depend on it
    gz = build_image(layers=2, seed=3, layer_size=10_000)
    assert image.config.diff_ids == gz.config.diff_ids


def zstd_decode(frame: bytes) -> bytes:
    """Decode with the zstd binary when installed, else read the raw blocks by the RFC."""
    import shutil

    if shutil.which("zstd"):
        out = subprocess.run(["zstd", "-dc"], input=frame, capture_output=True, check=True)
        return out.stdout
    assert frame[4] == 0x00 and frame[5] == 0x38
    pos, out = 6, bytearray()
    while True:
        header = int.from_bytes(frame[pos : pos + 3], "little")
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        assert kind == 0 and size <= 128 * 1024
        out += frame[pos + 3 : pos + 3 + size]
        pos += 3 + size
        if last:
            assert pos == len(frame)
            return bytes(out)


def test_tar_members_are_normalised():
    image = build_image(layers=1, seed=9, layer_size=2500, file_max=1000)
    ms = members(image.layers[0].read())
    assert [m.name for m in ms] == [
        "flakymirror",
        "flakymirror/layer-0",
        "flakymirror/layer-0/ID",
        "flakymirror/layer-0/data-0000.bin",
        "flakymirror/layer-0/data-0001.bin",
        "flakymirror/layer-0/data-0002.bin",
    ]
    assert [m.size for m in ms[3:]] == [1000, 1000, 500]
    for m in ms:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", SYNTHETIC_EPOCH)
        assert m.mode == (0o755 if m.isdir() else 0o644)


def test_layer_sizes_per_layer():
    image = build_image(layer_sizes=[0, 1, 70_000])
    assert len(image.layers) == 3
    for layer, size in zip(image.layers, [0, 1, 70_000], strict=True):
        data_members = [m for m in members(layer.read()) if m.name.endswith(".bin")]
        assert sum(m.size for m in data_members) == size
    with pytest.raises(ValueError, match="layers=2 disagrees with 3 layer_sizes"):
        build_image(layers=2, layer_sizes=[1, 2, 3])


def test_image_consistency():
    image = build_image(layers=3, seed=4, labels={"l": "v"}, env=["A=1"], entrypoint=["/e"],
                        cmd=["c"], working_dir="/w", annotations={"k": "v"})  # fmt: skip
    m = image.manifest
    assert image.digest == Digest.of(image.manifest_bytes)
    assert image.manifest_bytes == m.to_bytes()
    assert parse_manifest(image.manifest_bytes, image.media_type) == m
    assert image.config_blob.read() == image.config.to_bytes()
    assert ImageConfig.parse(image.config_blob.read()) == image.config
    assert m.config == image.config_blob.descriptor()
    assert m.annotations == {"k": "v"}
    assert image.config.diff_ids == tuple(x.diff_id for x in image.layers)
    for desc, layer in zip(m.layers, image.layers, strict=True):
        assert (desc.digest, desc.size, desc.media_type) == (
            layer.digest,
            layer.size,
            layer.media_type,
        )
        assert image.blob(desc.digest) is layer
        assert image.blob(str(desc.digest)) is layer
    assert [b.digest for b in image.blobs()] == [d.digest for d in m.references()]
    with pytest.raises(KeyError, match="has no blob sha256:"):
        image.blob(Digest.of(b"nope"))
    c = image.config
    assert (c.labels, c.env, c.entrypoint, c.cmd, c.working_dir) == (
        {"l": "v"},
        ("A=1",),
        ("/e",),
        ("c",),
        "/w",
    )
    assert c.platform == image.platform == Platform("linux", "amd64")
    assert [h.created_by for h in c.history] == [
        f"flakymirror: layer {i} of seed 4, 4096 bytes" for i in range(3)
    ]
    assert build_image(history=False).config.history == ()
    assert build_image().config.env[0].startswith("PATH=")


def test_docker_flavor():
    image = build_image(layers=2, seed=5, flavor="docker")
    assert image.media_type == mt.DOCKER_MANIFEST
    body = json.loads(image.manifest_bytes)
    assert body["mediaType"] == mt.DOCKER_MANIFEST
    assert body["config"]["mediaType"] == mt.DOCKER_CONFIG
    assert {x["mediaType"] for x in body["layers"]} == {mt.DOCKER_LAYER}
    assert isinstance(parse_manifest(image.manifest_bytes, mt.DOCKER_MANIFEST), Manifest)
    oci = build_image(layers=2, seed=5)
    assert image.config.diff_ids == oci.config.diff_ids  # same content, other media types
    assert build_image(flavor="docker", compression="none").layers[0].media_type == (
        mt.DOCKER_LAYER_UNCOMPRESSED
    )
    with pytest.raises(ValueError, match="Docker schema 2 has no zstd"):
        build_image(flavor="docker", compression="zstd")


def test_index():
    ix = build_index(platforms=("linux/amd64", "linux/arm64/v8", "linux/arm/v7"), seed=1,
                     layers=2, labels={"x": "y"})  # fmt: skip
    parsed = parse_manifest(ix.index_bytes, ix.media_type)
    assert isinstance(parsed, Index) and parsed == ix.index
    assert ix.digest == Digest.of(ix.index_bytes) == Digest.of(ix.manifest_bytes)
    assert [str(c.platform) for c in parsed.manifests] == [
        "linux/amd64",
        "linux/arm64/v8",
        "linux/arm/v7",
    ]
    for child, image in zip(parsed.manifests, ix.images, strict=True):
        assert (child.digest, child.size, child.media_type) == (
            image.digest,
            len(image.manifest_bytes),
            mt.OCI_MANIFEST,
        )
        assert child.platform == image.config.platform
        assert ix.image(child.digest) is image
    assert ix.image_for("linux/arm64") is ix.images[1]
    assert ix.image_for(Platform("linux", "arm", "v7")) is ix.images[2]
    with pytest.raises(KeyError, match=r"no image for platform 'linux/s390x' \(has: linux/amd64"):
        ix.image_for("linux/s390x")
    assert (
        len(ix.blobs()) == 3 * 3
        and ix.blob(ix.images[2].layers[1].digest) is ix.images[2].layers[1]
    )
    assert (
        build_index(seed=1, layers=2, labels={"x": "y"}).digest
        == build_index(seed=1, layers=2, labels={"x": "y"}).digest
    )
    docker = build_index(flavor="docker", seed=1)
    assert docker.media_type == mt.DOCKER_MANIFEST_LIST
    assert json.loads(docker.index_bytes)["manifests"][0]["mediaType"] == mt.DOCKER_MANIFEST
    with pytest.raises(ValueError, match="listed twice"):
        build_index(platforms=("linux/amd64", "linux/amd64"))
    with pytest.raises(ValueError, match="at least one platform"):
        build_index(platforms=())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"flavor": "podman"}, ValueError, "unknown flavor 'podman'"),
        ({"compression": "lz4"}, ValueError, "unknown compression 'lz4'"),
        ({"layers": -1}, ValueError, "layers must be a non-negative integer"),
        ({"layer_size": -5}, ValueError, "layer_size must be a non-negative integer"),
        ({"layer_sizes": [1, "2"]}, ValueError, r"layer_sizes\[1\] must be"),
        ({"seed": True}, TypeError, "seed must be an int or a str"),
        ({"gzip_level": 10}, ValueError, "gzip_level must be 0..9"),
        ({"platform": "linux"}, ValueError, "invalid platform 'linux'"),
        ({"env": "A=1"}, TypeError, "env must be a mapping"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_image(**kwargs)


def test_building_is_lazy_and_measuring_happens_once():
    calls = []

    def source():
        calls.append(1)
        return [b"x" * 512, b"\0" * 1024]

    layer = Layer(source)
    image = Image([layer], ImageConfig("linux", "amd64"))
    assert calls == [] and not layer.measured
    threads = [threading.Thread(target=lambda: image.digest) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and layer.measured
    assert b"".join(layer.chunks()) == b"".join(layer.chunks())  # small: served from cache
    assert calls == [1]


def test_large_layers_are_regenerated_not_cached():
    layer = build_image(layers=1, layer_size=3 * 1024 * 1024, seed=1).layers[0]
    first = Digest.of_stream(layer.chunks())
    assert first == (layer.digest, layer.size) == Digest.of_stream(layer.chunks())
    with pytest.raises(ValueError, match="more than read\\(\\) allows"):
        layer.read(limit=1024)

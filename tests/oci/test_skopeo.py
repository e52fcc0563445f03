"""A real client reads synthetic images: skopeo (containers/image, Go's gzip and zstd decoders)
copies them out of an OCI layout, decompressing every layer; the decompressed digests must be
the config's diff_ids."""

import json
import subprocess

import pytest

from flakymirror.oci import Descriptor, Image, Index, build_image, build_index
from tests.helpers.optional_tools import require_binary


def write_layout(image: Image | None, path, tag: str, index=None) -> None:
    """An OCI image layout (image-spec layout.md) holding ``image`` (or ``index``) as ``tag``."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    images = index.images if index is not None else (image,)
    for img in images:
        for blob in img.blobs():
            with open(blobs / blob.digest.hex, "wb") as f:
                for chunk in blob.chunks():
                    f.write(chunk)
        (blobs / img.digest.hex).write_bytes(img.manifest_bytes)
    top = index if index is not None else image
    if index is not None:
        (blobs / index.digest.hex).write_bytes(index.index_bytes)
    ref = {"org.opencontainers.image.ref.name": tag}
    desc = Descriptor(top.media_type, top.digest, top.size, annotations=ref)
    (path / "index.json").write_bytes(Index((desc,)).to_bytes())


def skopeo(*args: str) -> str:
    out = subprocess.run([require_binary("skopeo"), *args], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.real_client
@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_skopeo_decompresses_layers_to_the_diff_ids(compression, tmp_path):
    require_binary("skopeo")
    image = build_image(layers=3, seed=21, layer_size=200_000, compression=compression,
                        labels={"org.example": "yes"})  # fmt: skip
    write_layout(image, tmp_path / "src", "v1")
    config = json.loads(skopeo("inspect", "--config", f"oci:{tmp_path / 'src'}:v1"))
    assert config["config"]["Labels"] == {"org.example": "yes"}
    assert config["rootfs"]["diff_ids"] == [str(x.diff_id) for x in image.layers]
    skopeo("copy", "--dest-decompress", f"oci:{tmp_path / 'src'}:v1", f"dir:{tmp_path / 'out'}")
    copied = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [x["digest"] for x in copied["layers"]] == config["rootfs"]["diff_ids"]
    assert copied["config"]["digest"] == str(image.config_blob.digest)


@pytest.mark.real_client
def test_skopeo_picks_a_platform_from_an_index(tmp_path):
    require_binary("skopeo")
    ix = build_index(platforms=("linux/amd64", "linux/arm64/v8"), seed=2, layers=1)
    write_layout(None, tmp_path / "src", "multi", index=ix)
    out = skopeo("--override-arch", "arm64", "--override-variant", "v8", "inspect",
                 f"oci:{tmp_path / 'src'}:multi")  # fmt: skip
    info = json.loads(out)
    arm = ix.image_for("linux/arm64")
    assert info["Digest"] == str(ix.digest)  # skopeo reports the top-level (index) digest
    assert info["Architecture"] == "arm64"
    assert info["Layers"] == [str(x.digest) for x in arm.layers]
    assert info["Layers"] != [str(x.digest) for x in ix.image_for("linux/amd64").layers]
    raw = skopeo("inspect", "--raw", f"oci:{tmp_path / 'src'}:multi")
    assert raw.encode() == ix.index_bytes

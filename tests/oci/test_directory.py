"""image_from_directory: a deterministic one-layer image of a directory tree."""

import gzip
import io
import os
import tarfile

import pytest

from flakymirror.oci import Digest, image_from_directory
from flakymirror.oci import mediatypes as mt


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "etc" / "empty").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o700)
    (root / "etc" / "conf").write_text("a=1\n")
    (root / "etc" / "conf").chmod(0o600)
    (root / "b.txt").write_bytes(b"B" * 3000)
    (root / "a.txt").write_bytes(b"")
    os.symlink("etc/conf", root / "link")
    return root


def tar_of(image):
    raw = gzip.decompress(image.layers[0].read())
    return tarfile.open(fileobj=io.BytesIO(raw))


def test_members_sorted_and_normalised(tree):
    image = image_from_directory(tree)
    with tar_of(image) as tf:
        ms = tf.getmembers()
        assert [m.name for m in ms] == [
            "a.txt", "b.txt", "bin", "bin/tool", "etc", "etc/conf", "etc/empty", "link"
        ]  # fmt: skip
        modes = {m.name: m.mode for m in ms}
        assert modes["bin/tool"] == 0o755 and modes["etc/conf"] == 0o644
        assert modes["bin"] == modes["etc/empty"] == 0o755
        link = tf.getmember("link")
        assert link.issym() and link.linkname == "etc/conf"
        assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "") for m in ms)
        assert len({m.mtime for m in ms}) == 1
        assert tf.extractfile("b.txt").read() == b"B" * 3000
        assert tf.extractfile("bin/tool").read() == b"#!/bin/sh\necho hi\n"
    layer = image.layers[0]
    assert Digest.of(gzip.decompress(layer.read())) == layer.diff_id == image.config.diff_ids[0]
    assert image.manifest.layers[0].digest == layer.digest


def test_deterministic_whatever_the_disk_metadata(tree):
    first = image_from_directory(tree, labels={"k": "v"})
    os.utime(tree / "b.txt", (1, 1))
    (tree / "etc" / "conf").chmod(0o644)
    os.utime(tree / "bin", (2, 2))
    second = image_from_directory(tree, labels={"k": "v"})
    assert second.manifest_bytes == first.manifest_bytes
    assert second.layers[0].read() == first.layers[0].read()
    (tree / "b.txt").write_bytes(b"C" * 3000)
    assert image_from_directory(tree).layers[0].diff_id != first.layers[0].diff_id


def test_prefix_mtime_flavor_and_compression(tree):
    image = image_from_directory(tree, prefix="/app/", mtime=0, flavor="docker",
                                 compression="none", cmd=["/app/bin/tool"])  # fmt: skip
    assert image.media_type == mt.DOCKER_MANIFEST
    layer = image.layers[0]
    assert layer.media_type == mt.DOCKER_LAYER_UNCOMPRESSED and layer.digest == layer.diff_id
    with tarfile.open(fileobj=io.BytesIO(layer.read())) as tf:
        names = tf.getnames()
        assert names[:3] == ["app", "app/a.txt", "app/b.txt"]
        assert {m.mtime for m in tf.getmembers()} == {0}
    assert image.config.cmd == ("/app/bin/tool",)


def test_file_changing_size_before_streaming_is_an_error(tree):
    image = image_from_directory(tree)
    (tree / "b.txt").write_bytes(b"B" * 3001)
    with pytest.raises(OSError, match="b.txt changed size since the image was built"):
        _ = image.digest


def test_not_a_directory(tmp_path):
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        image_from_directory(tmp_path / "missing")


def test_special_files_are_refused(tree):
    os.mkfifo(tree / "pipe")
    with pytest.raises(ValueError, match="pipe' is not a regular file"):
        image_from_directory(tree)


def test_empty_directory(tmp_path):
    image = image_from_directory(tmp_path)
    with tar_of(image) as tf:
        assert tf.getmembers() == []
    assert image.layers[0].uncompressed_size == 1024

"""The deterministic layer builder (lifecycle's layer factory shapes)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import pytest

from flakymirror.client.layers import (
    NORMALIZED_MTIME,
    FileEntry,
    LayerBuilder,
    escape_id,
)


def _tar(layer) -> list[tarfile.TarInfo]:
    raw = gzip.decompress(layer.read())
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == str(layer.diff_id)
    assert "sha256:" + hashlib.sha256(layer.read()).hexdigest() == str(layer.digest)
    assert layer.uncompressed_size == len(raw) and layer.size == len(layer.read())
    return list(tarfile.open(fileobj=io.BytesIO(raw)))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "app"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_bytes(b"bee")
    (root / "a.txt").write_bytes(b"hello")
    (root / "run.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "run.sh", 0o755)
    os.symlink("a.txt", root / "link")
    return root


def test_directory_layer_is_normalised_and_walk_ordered(tree):
    layer = LayerBuilder(uid=1000, gid=1001).from_directory("app", tree, "/workspace", "App")
    entries = _tar(layer)
    assert [e.name for e in entries] == [
        "workspace",
        "workspace/a",
        "workspace/a/b",  # depth first, like Go's filepath.Walk
        "workspace/a.txt",
        "workspace/link",
        "workspace/run.sh",
    ]
    assert {e.mtime for e in entries} == {NORMALIZED_MTIME}
    assert {(e.uid, e.gid, e.uname, e.gname) for e in entries} == {(1000, 1001, "", "")}
    by_name = {e.name: e for e in entries}
    assert by_name["workspace/link"].issym() and by_name["workspace/link"].linkname == "a.txt"
    assert by_name["workspace/run.sh"].mode == 0o755
    assert layer.id == "app" and layer.created_by == "App"


def test_same_input_same_digests_in_memory_or_spooled(tree, tmp_path):
    a = LayerBuilder().from_directory("x", tree, "/layers/bp/x", "c")
    b = LayerBuilder(tmp_path / "work").from_directory("x", tree, "/layers/bp/x", "c")
    assert (a.digest, a.diff_id, a.size) == (b.digest, b.diff_id, b.size)
    (tree / "a.txt").write_bytes(b"changed")
    c = LayerBuilder().from_directory("x", tree, "/layers/bp/x", "c")
    assert c.diff_id != a.diff_id


def test_parent_directories_are_included(tree):
    layer = LayerBuilder().from_directory("x", tree / "a", "/layers/acme_node/deps", "c")
    names = [e.name for e in _tar(layer)]
    assert names[:4] == [
        "layers",
        "layers/acme_node",
        "layers/acme_node/deps",
        "layers/acme_node/deps/b",
    ]


def test_large_layers_spool_to_the_work_dir_and_stream_back(tmp_path):
    work = tmp_path / "work"
    big = os.urandom(3 * 1024 * 1024)  # incompressible: the blob stays > 1 MiB
    layer = LayerBuilder(work).from_files("big", {"blob.bin": big}, "/data", "c")
    assert layer._path is not None and layer._path.parent == work
    chunks = list(layer.chunks())
    assert len(chunks) > 1 and all(len(c) <= 256 * 1024 for c in chunks)
    assert b"".join(chunks) == b"".join(layer.chunks())  # re-iterable
    assert [e.name for e in _tar(layer)][-1] == "data/blob.bin"


def test_synthetic_files_launcher_and_process_types():
    b = LayerBuilder(uid=1000, gid=1000)
    files = b.from_files("f", {"x/y.txt": b"1", "sh": FileEntry(b"2", mode=0o700)}, "/w", "c")
    entries = {e.name: e for e in _tar(files)}
    assert list(entries) == ["w", "w/sh", "w/x", "w/x/y.txt"]
    assert entries["w/sh"].mode == 0o700 and entries["w/x/y.txt"].uid == 1000

    launcher = {e.name: e for e in _tar(b.launcher(b"ELF"))}
    assert launcher["cnb/lifecycle/launcher"].mode == 0o755
    assert launcher["cnb/lifecycle/launcher"].uid == 0  # /cnb belongs to root

    types = {e.name: e for e in _tar(b.process_types(["web", "worker"]))}
    assert types["cnb/process/web"].issym()
    assert types["cnb/process/worker"].linkname == "/cnb/lifecycle/launcher"


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="layer 'bp:x': .* is not a directory"):
        LayerBuilder().from_directory("bp:x", tmp_path / "missing", "/l", "c")
    with pytest.raises(ValueError, match="unknown kind 'pipe'"):
        LayerBuilder().from_files("f", {"p": FileEntry(kind="pipe")}, "/w", "c")


def test_escape_id():
    assert escape_id("acme/node") == "acme_node"

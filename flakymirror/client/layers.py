"""Deterministic layer tarballs, built the way lifecycle's layer factory builds them.

Every layer is a tar stream (entries sorted, parent directories included, mtime fixed at
1980-01-01T00:00:01Z, user and group names empty, uid/gid normalised) compressed with gzip
(header mtime 0, no file name). The same input always gives the same diffID and digest, which is
what makes previous-image layer reuse possible.

Layers are written once while both digests are computed; small ones stay in memory, larger ones
are spooled to a file in a caller-owned work directory and read back in chunks, so a big app
directory is never held whole in memory.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from flakymirror.oci.digest import Digest, Hasher

__all__ = [
    "APP_LAYER_NAME",
    "BUILDPACK_LAYER_NAME",
    "EXTENSION_LAYER_NAME",
    "LAUNCHER_CONFIG_LAYER_NAME",
    "LAUNCHER_LAYER_NAME",
    "LAUNCHER_PATH",
    "NORMALIZED_MTIME",
    "PROCESS_DIR",
    "PROCESS_TYPES_LAYER_NAME",
    "FileEntry",
    "LayerBuilder",
    "LocalLayer",
    "escape_id",
]

#: ``created_by`` texts of lifecycle's ``layers`` package.
APP_LAYER_NAME = "Application Layer"
BUILDPACK_LAYER_NAME = "Layer: '{name}', Created by buildpack: {bp}"
EXTENSION_LAYER_NAME = "Layer: '{name}', Created by extension: {ext}"
LAUNCHER_CONFIG_LAYER_NAME = "Buildpacks Launcher Config"
LAUNCHER_LAYER_NAME = "Buildpacks Application Launcher"
PROCESS_TYPES_LAYER_NAME = "Buildpacks Process Types"

LAUNCHER_PATH = "/cnb/lifecycle/launcher"
PROCESS_DIR = "/cnb/process"
LIFECYCLE_DIR = "/cnb/lifecycle"

#: imgutil's ``NormalizedDateTime`` (1980-01-01T00:00:01Z) as a Unix timestamp.
NORMALIZED_MTIME = 315532801
#: Layers up to this compressed size stay in memory; larger ones go to the work directory.
MEMORY_LIMIT = 1024 * 1024
_CHUNK = 256 * 1024


def escape_id(buildpack_id: str) -> str:
    """``launch.EscapeID``: a buildpack id as a directory name (``/`` becomes ``_``)."""
    return buildpack_id.replace("/", "_")


@dataclass(frozen=True)
class FileEntry:
    """One synthetic tar entry: a regular file (``data``), a directory or a symlink."""

    data: bytes = b""
    mode: int = 0o644
    kind: str = "file"  # "file" | "dir" | "symlink"
    target: str = ""


class _Hashing(io.RawIOBase):
    """A write-only sink that hashes what passes and forwards it."""

    def __init__(self, forward) -> None:  # forward: callable(bytes)
        self.hasher = Hasher()
        self._forward = forward

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        data = bytes(b)
        self.hasher.update(data)
        self._forward(data)
        return len(data)


@dataclass
class LocalLayer:
    """A layer built on this machine: compressed bytes in memory or in a spool file.

    ``id`` is lifecycle's layer identifier (``<buildpack>:<layer>``, ``app``,
    ``buildpacksio/lifecycle:launcher``...), ``created_by`` the history text.
    ``chunks()`` can be called any number of times, from any thread.
    """

    id: str
    created_by: str
    digest: Digest
    diff_id: Digest
    size: int
    uncompressed_size: int
    _data: bytes | None = field(default=None, repr=False)
    _path: Path | None = field(default=None, repr=False)

    def chunks(self) -> Iterator[bytes]:
        """The compressed layer bytes in chunks, from memory or from the spool file."""
        if self._data is not None:
            for i in range(0, len(self._data), _CHUNK):
                yield self._data[i : i + _CHUNK]
            if not self._data:
                yield b""
            return
        assert self._path is not None
        with open(self._path, "rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    def read(self) -> bytes:
        """The whole compressed blob (tests and small layers only)."""
        return b"".join(self.chunks())


class LayerBuilder:
    """Builds :class:`LocalLayer` values; spool files live under ``work_dir`` (or memory).

    ``uid``/``gid`` are written on entries below the layers and app directories, as lifecycle
    does with the build user's ids; ``/cnb`` entries always belong to root.
    """

    def __init__(self, work_dir: str | Path | None = None, *, uid: int = 0, gid: int = 0) -> None:
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.uid = uid
        self.gid = gid
        self._lock = threading.Lock()
        self._counter = 0

    # --- public builders ------------------------------------------------------------------

    def from_directory(
        self, layer_id: str, source: str | Path, dest: str, created_by: str
    ) -> LocalLayer:
        """A layer holding the contents of local directory ``source`` at image path ``dest``."""
        src = Path(source)
        if not src.is_dir():
            raise FileNotFoundError(f"layer {layer_id!r}: {str(src)!r} is not a directory")
        return self._build(layer_id, created_by, self._dir_entries(src, dest))

    def from_files(
        self,
        layer_id: str,
        files: Mapping[str, bytes | FileEntry],
        dest: str,
        created_by: str,
        *,
        owner: tuple[int, int] | None = None,
    ) -> LocalLayer:
        """A layer of synthetic content: ``files`` maps paths relative to ``dest`` to bytes
        (mode 0644) or :class:`FileEntry` values."""
        uid, gid = owner if owner is not None else (self.uid, self.gid)
        entries: dict[str, tuple[FileEntry, int, int]] = {}
        for parent in _parents(dest):
            entries[parent] = (FileEntry(kind="dir", mode=0o755), uid, gid)
        entries[_norm(dest)] = (FileEntry(kind="dir", mode=0o755), uid, gid)
        for rel, value in files.items():
            entry = value if isinstance(value, FileEntry) else FileEntry(data=bytes(value))
            path = _norm(f"{dest}/{rel}")
            for parent in _parents(path):
                entries.setdefault(parent, (FileEntry(kind="dir", mode=0o755), uid, gid))
            entries[path] = (entry, uid, gid)
        return self._build(layer_id, created_by, _synthetic_entries(entries))

    def launcher(self, content: bytes) -> LocalLayer:
        """``/cnb/lifecycle/launcher`` (mode 0755, root-owned)."""
        return self.from_files(
            "buildpacksio/lifecycle:launcher",
            {"launcher": FileEntry(data=content, mode=0o755)},
            LIFECYCLE_DIR,
            LAUNCHER_LAYER_NAME,
            owner=(0, 0),
        )

    def process_types(self, types: Iterable[str]) -> LocalLayer:
        """``/cnb/process/<type>`` symlinks to the launcher, one per process type."""
        links = {t: FileEntry(kind="symlink", target=LAUNCHER_PATH, mode=0o777) for t in types}
        return self.from_files(
            "buildpacksio/lifecycle:process-types",
            links,
            PROCESS_DIR,
            PROCESS_TYPES_LAYER_NAME,
            owner=(0, 0),
        )

    # --- internals --------------------------------------------------------------------------

    def _dir_entries(self, src: Path, dest: str) -> Iterator[tarfile.TarInfo | tuple]:
        for parent in _parents(dest):
            yield _dir_info(parent, 0o755, self.uid, self.gid), None
        root_mode = stat.S_IMODE(src.stat().st_mode)
        yield _dir_info(_norm(dest), root_mode, self.uid, self.gid), None
        for path in _walk(src):
            rel = path.relative_to(src).as_posix()
            name = _norm(f"{dest}/{rel}")
            st = path.lstat()
            info = tarfile.TarInfo(name.lstrip("/"))
            info.mtime = NORMALIZED_MTIME
            info.uid, info.gid = self.uid, self.gid
            info.uname = info.gname = ""
            info.mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(path)
                yield info, None
            elif stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                yield info, None
            elif stat.S_ISREG(st.st_mode):
                info.size = st.st_size
                yield info, path
            # sockets, fifos and devices are skipped, as lifecycle does

    def _spool(self) -> tuple[Path | None, object]:
        if self.work_dir is None:
            return None, io.BytesIO()
        with self._lock:
            self._counter += 1
            n = self._counter
        self.work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"layer-{n}-", suffix=".tar.gz", dir=self.work_dir)
        return Path(name), os.fdopen(fd, "wb")

    def _build(self, layer_id: str, created_by: str, entries: Iterable[tuple]) -> LocalLayer:
        path, sink = self._spool()
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, mtime 0, no name
        outer = _Hashing(sink.write)  # type: ignore[attr-defined]

        def compress(data: bytes) -> None:
            out = compressor.compress(data)
            if out:
                outer.write(out)

        inner = _Hashing(compress)
        with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for info, source in entries:
                if isinstance(source, Path):
                    with open(source, "rb") as f:
                        tar.addfile(info, f)
                elif isinstance(source, bytes):
                    tar.addfile(info, io.BytesIO(source))
                else:
                    tar.addfile(info)
        outer.write(compressor.flush())
        digest, size = outer.hasher.digest(), outer.hasher.size
        diff_id, usize = inner.hasher.digest(), inner.hasher.size
        if path is None:
            data = sink.getvalue()  # type: ignore[attr-defined]
            return LocalLayer(layer_id, created_by, digest, diff_id, size, usize, _data=data)
        sink.close()  # type: ignore[attr-defined]
        if size <= MEMORY_LIMIT:
            data = path.read_bytes()
            path.unlink()
            return LocalLayer(layer_id, created_by, digest, diff_id, size, usize, _data=data)
        return LocalLayer(layer_id, created_by, digest, diff_id, size, usize, _path=path)


def _norm(path: str) -> str:
    return "/" + str(PurePosixPath("/" + path)).strip("/")


def _parents(path: str) -> list[str]:
    parts = PurePosixPath(_norm(path)).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _walk(root: Path) -> Iterator[Path]:
    """Depth first, names in lexical order within each directory (Go's ``filepath.Walk``);
    symlinked directories are not followed."""
    for name in sorted(os.listdir(root)):
        path = root / name
        yield path
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path)


def _dir_info(name: str, mode: int, uid: int, gid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = NORMALIZED_MTIME
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    return info


def _synthetic_entries(
    entries: Mapping[str, tuple[FileEntry, int, int]],
) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    for name in sorted(entries):
        entry, uid, gid = entries[name]
        if entry.kind == "dir":
            yield _dir_info(name, entry.mode, uid, gid), None
            continue
        info = tarfile.TarInfo(name.lstrip("/"))
        info.mtime = NORMALIZED_MTIME
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mode = entry.mode
        if entry.kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = entry.target
            yield info, None
        elif entry.kind == "file":
            info.size = len(entry.data)
            yield info, entry.data
        else:
            raise ValueError(f"tar entry {name!r}: unknown kind {entry.kind!r}")

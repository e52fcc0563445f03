"""Deterministic tar streams, generated piece by piece (never a whole archive in memory).

Headers are PAX-format (plain ustar unless a name needs more), with owner 0:0, empty user and
group names, a fixed mtime and normalised modes, so the same input always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PIECE_SIZE",
    "TarEntry",
    "directory_entries",
    "synthetic_entries",
    "tar_stream",
]

#: Size of the content pieces a tar stream yields.
PIECE_SIZE = 1024 * 1024
_BLOCK = 512
_END = b"\0" * (2 * _BLOCK)


@dataclass(frozen=True)
class TarEntry:
    """One archive member. Content comes from ``source`` (a file path) or ``seed`` (a PRNG)."""

    name: str
    kind: bytes = tarfile.REGTYPE
    size: int = 0
    mode: int = 0o644
    linkname: str = ""
    source: Path | None = None
    seed: bytes | None = None
    data: bytes | None = None

    def header(self, mtime: int) -> bytes:
        """The tar header block(s) of this entry."""
        info = tarfile.TarInfo(self.name)
        info.type = self.kind
        info.size = self.size if self.kind == tarfile.REGTYPE else 0
        info.mode = self.mode
        info.mtime = mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.linkname = self.linkname
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def content(self) -> Iterator[bytes]:
        """The member's data in pieces of at most :data:`PIECE_SIZE` bytes."""
        if self.kind != tarfile.REGTYPE or self.size == 0:
            return
        if self.data is not None:
            yield self.data
        elif self.seed is not None:
            rng = random.Random(int.from_bytes(hashlib.sha256(self.seed).digest(), "big"))
            left = self.size
            while left:
                n = min(left, PIECE_SIZE)
                yield rng.randbytes(n)
                left -= n
        elif self.source is not None:
            yield from _read_exactly(self.source, self.size)


def _read_exactly(path: Path, size: int) -> Iterator[bytes]:
    left = size
    with open(path, "rb") as f:
        while left:
            piece = f.read(min(left, PIECE_SIZE))
            if not piece:
                break
            left -= len(piece)
            yield piece
        extra = f.read(1)
    if left or extra:
        raise OSError(f"{path} changed size since the image was built (expected {size} bytes)")


def tar_stream(entries: list[TarEntry], mtime: int) -> Iterator[bytes]:
    """The tar archive of ``entries``: headers, data, padding, and the two zero end blocks."""
    for entry in entries:
        yield entry.header(mtime)
        written = 0
        for piece in entry.content():
            written += len(piece)
            yield piece
        pad = -written % _BLOCK
        if pad:
            yield b"\0" * pad
    yield _END


def synthetic_entries(key: str, index: int, size: int, *, file_max: int) -> list[TarEntry]:
    """Members of synthetic layer ``index``: two directories, an ``ID`` file naming ``key``,
    and ``size`` bytes of seeded pseudo-random data split into files of at most ``file_max``."""
    top = f"flakymirror/layer-{index}"
    ident = f"flakymirror synthetic layer {index}\nkey={key}\nsize={size}\n".encode()
    entries = [
        TarEntry("flakymirror", tarfile.DIRTYPE, mode=0o755),
        TarEntry(top, tarfile.DIRTYPE, mode=0o755),
        TarEntry(f"{top}/ID", size=len(ident), data=ident),
    ]
    left, k = size, 0
    while left:
        n = min(left, file_max)
        seed = f"{key}/{index}/{k}".encode()
        entries.append(TarEntry(f"{top}/data-{k:04d}.bin", size=n, seed=seed))
        left -= n
        k += 1
    return entries


def directory_entries(root: str | os.PathLike[str], prefix: str = "") -> list[TarEntry]:
    """Members for every file, directory and symlink under ``root`` (not ``root`` itself), in
    sorted order, with modes normalised to 0755 (directories, executables) or 0644."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"image_from_directory: {str(base)!r} is not a directory")
    prefix = prefix.strip("/")
    entries: list[TarEntry] = []
    parts = prefix.split("/") if prefix else []
    for i in range(len(parts)):
        entries.append(TarEntry("/".join(parts[: i + 1]), tarfile.DIRTYPE, mode=0o755))

    def walk(directory: Path, rel: str) -> None:
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda e: e.name)
        for child in children:
            name = f"{rel}/{child.name}" if rel else child.name
            arcname = f"{prefix}/{name}" if prefix else name
            st = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                entries.append(
                    TarEntry(arcname, tarfile.SYMTYPE, mode=0o777, linkname=os.readlink(child.path))
                )
            elif stat.S_ISDIR(st.st_mode):
                entries.append(TarEntry(arcname, tarfile.DIRTYPE, mode=0o755))
                walk(Path(child.path), name)
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                entries.append(
                    TarEntry(arcname, size=st.st_size, mode=mode, source=Path(child.path))
                )
            else:
                raise ValueError(
                    f"image_from_directory: {child.path!r} is not a regular file, directory "
                    "or symlink (sockets, FIFOs and devices are not supported)"
                )

    walk(base, "")
    return entries

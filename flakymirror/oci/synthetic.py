"""Deterministic synthetic images: :func:`build_image`, :func:`build_index`,
:func:`image_from_directory`.

The same arguments give byte-identical blobs, configs and manifests on every call and in every
process (seeded PRNG content, fixed tar headers, gzip with mtime 0). Different seeds, layer
indexes or platforms give different content. Layers are real tar archives, gzip-compressed (or
zstd-framed, or uncompressed): the blob digest is that of the compressed bytes and the config's
diff_id that of the uncompressed tar.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import partial

from .blobs import Layer, layer_media_type
from .config import History, ImageConfig
from .image import Image, ImageIndex, _flavor
from .model import Platform
from .tarstream import directory_entries, synthetic_entries, tar_stream

__all__ = [
    "AUTO_GZIP_THRESHOLD",
    "DEFAULT_ENV",
    "FILE_MAX",
    "SYNTHETIC_CREATED",
    "SYNTHETIC_EPOCH",
    "build_image",
    "build_index",
    "image_from_directory",
]

#: Fixed timestamp of synthetic content: 2024-01-01T00:00:00Z.
SYNTHETIC_EPOCH = 1704067200
SYNTHETIC_CREATED = "2024-01-01T00:00:00Z"
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
#: Largest data file inside a synthetic layer (bigger layers hold several files).
FILE_MAX = 64 * 1024 * 1024
#: With ``gzip_level=None``, layers with more content than this are stored (level 0): random
#: content does not compress, and level 1 would cost ~20 s per GiB instead of ~3 s.
AUTO_GZIP_THRESHOLD = 16 * 1024 * 1024


def _env(env: Mapping[str, str] | Iterable[str] | None) -> tuple[str, ...]:
    if env is None:
        return DEFAULT_ENV
    if isinstance(env, Mapping):
        return tuple(f"{k}={v}" for k, v in env.items())
    if isinstance(env, str):
        raise TypeError(f"env must be a mapping or a list of 'KEY=value' strings, got {env!r}")
    return tuple(env)


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _base_config(
    platform: Platform | str,
    *,
    labels: Mapping[str, str] | None,
    env: Mapping[str, str] | Iterable[str] | None,
    entrypoint: Sequence[str] | None,
    cmd: Sequence[str] | None,
    working_dir: str | None,
    created: str | None,
    history: Sequence[History],
) -> ImageConfig:
    p = Platform.parse(platform)
    return ImageConfig(
        os=p.os,
        architecture=p.architecture,
        variant=p.variant,
        os_version=p.os_version,
        history=tuple(history),
        labels=dict(labels or {}),
        env=_env(env),
        entrypoint=tuple(entrypoint) if entrypoint is not None else None,
        cmd=tuple(cmd) if cmd is not None else None,
        working_dir=working_dir,
        created=created,
    )


def build_image(
    layers: int = 3,
    seed: int | str = 0,
    layer_size: int = 4096,
    platform: Platform | str = "linux/amd64",
    labels: Mapping[str, str] | None = None,
    env: Mapping[str, str] | Iterable[str] | None = None,
    flavor: str = "oci",
    compression: str = "gzip",
    history: bool = True,
    created: str | None = SYNTHETIC_CREATED,
    *,
    layer_sizes: Sequence[int] | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    working_dir: str | None = None,
    annotations: Mapping[str, str] | None = None,
    gzip_level: int | None = None,
    file_max: int = FILE_MAX,
) -> Image:
    """A deterministic image of ``layers`` layers holding ``layer_size`` bytes of seeded random
    file content each (``layer_sizes`` sets them per layer and wins over ``layers``).

    Nothing is streamed until a digest is needed; large layers are never held in memory.
    ``flavor="docker"`` uses Docker schema 2 media types. ``gzip_level=None`` picks level 1, or
    0 (stored) for layers over :data:`AUTO_GZIP_THRESHOLD`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | str):
        raise TypeError(f"seed must be an int or a str, got {seed!r}")
    _flavor(flavor)
    media_type = layer_media_type(flavor, compression)
    if layer_sizes is None:
        sizes = [_check_count("layer_size", layer_size)] * _check_count("layers", layers)
    else:
        sizes = [_check_count(f"layer_sizes[{i}]", n) for i, n in enumerate(layer_sizes)]
        if layers not in (3, len(sizes)):
            raise ValueError(f"layers={layers} disagrees with {len(sizes)} layer_sizes")
    if file_max < 1:
        raise ValueError(f"file_max must be positive, got {file_max!r}")
    if gzip_level is not None and not 0 <= gzip_level <= 9:
        raise ValueError(f"gzip_level must be 0..9 or None, got {gzip_level!r}")
    plat = Platform.parse(platform)
    key = f"seed={seed!r} platform={plat}"
    built = []
    for i, n in enumerate(sizes):
        entries = synthetic_entries(key, i, n, file_max=file_max)
        level = gzip_level if gzip_level is not None else (1 if n <= AUTO_GZIP_THRESHOLD else 0)
        built.append(
            Layer(
                partial(tar_stream, entries, SYNTHETIC_EPOCH),
                media_type=media_type,
                compression=compression,
                gzip_level=level,
                description=f"synthetic seed={seed!r} layer={i}",
            )
        )
    hist = [
        History(created=created, created_by=f"flakymirror: layer {i} of seed {seed!r}, {n} bytes")
        for i, n in enumerate(sizes)
    ]
    config = _base_config(
        plat,
        labels=labels,
        env=env,
        entrypoint=entrypoint,
        cmd=cmd,
        working_dir=working_dir,
        created=created,
        history=hist if history else (),
    )
    return Image(built, config, flavor=flavor, annotations=annotations)


def build_index(
    platforms: Sequence[Platform | str] = ("linux/amd64", "linux/arm64"),
    seed: int | str = 0,
    flavor: str = "oci",
    *,
    annotations: Mapping[str, str] | None = None,
    **image_kw: object,
) -> ImageIndex:
    """A multi-platform index (Docker manifest list for ``flavor="docker"``): one
    :func:`build_image` per platform, same seed, different content per platform."""
    if not platforms:
        raise ValueError("build_index needs at least one platform")
    images = [
        build_image(seed=seed, platform=p, flavor=flavor, **image_kw)  # type: ignore[arg-type]
        for p in platforms
    ]
    seen = set()
    for image in images:
        if str(image.platform) in seen:
            raise ValueError(f"platform {str(image.platform)!r} is listed twice")
        seen.add(str(image.platform))
    return ImageIndex(images, flavor=flavor, annotations=annotations)


def image_from_directory(
    path: str | os.PathLike[str],
    *,
    platform: Platform | str = "linux/amd64",
    flavor: str = "oci",
    compression: str = "gzip",
    labels: Mapping[str, str] | None = None,
    env: Mapping[str, str] | Iterable[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    working_dir: str | None = None,
    created: str | None = SYNTHETIC_CREATED,
    prefix: str = "",
    mtime: int = SYNTHETIC_EPOCH,
    gzip_level: int = 1,
    annotations: Mapping[str, str] | None = None,
) -> Image:
    """A one-layer image of the tree under ``path`` (optionally placed under ``prefix``).

    The tar is deterministic: entries sorted by name, owner 0:0, mtime ``mtime``, modes 0755
    (directories and executables) or 0644, symlinks kept as links. The file list is read now;
    file contents are streamed when needed, and a file that changed size raises ``OSError``.
    """
    _flavor(flavor)
    media_type = layer_media_type(flavor, compression)
    entries = directory_entries(path, prefix)
    layer = Layer(
        partial(tar_stream, entries, mtime),
        media_type=media_type,
        compression=compression,
        gzip_level=gzip_level,
        verify=True,
        description=f"directory {os.fspath(path)!r}",
    )
    config = _base_config(
        platform,
        labels=labels,
        env=env,
        entrypoint=entrypoint,
        cmd=cmd,
        working_dir=working_dir,
        created=created,
        history=[History(created=created, created_by=f"flakymirror: directory {prefix or '/'}")],
    )
    return Image([layer], config, flavor=flavor, annotations=annotations)

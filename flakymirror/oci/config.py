"""The image configuration blob (OCI ``config.v1`` and Docker ``container.image.v1``).

Both flavours share one JSON shape; :class:`ImageConfig` models the fields tools look at and keeps
every other key (``extra`` at the top level, ``config_extra`` inside ``config``) so that
``ImageConfig.parse(b).to_bytes() == b`` for bytes this module produced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._validate import (
    ManifestError,
    canonical_json,
    check_object,
    freeze_extra,
    load_json,
    opt_str,
    opt_str_list,
    opt_str_map,
    req_str,
)
from .digest import Digest, DigestError
from .platform import Platform

__all__ = ["History", "ImageConfig"]


def _hash(obj: Any) -> int:
    return hash((type(obj).__name__, obj.to_bytes()))


@dataclass(frozen=True)
class History:
    """One entry of the config's ``history`` (one per layer, or ``empty_layer=True``)."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("created", "created_by", "author", "comment"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ManifestError(f"{name}: must be a string, got {value!r}")
        if not isinstance(self.empty_layer, bool):
            raise ManifestError(f"empty_layer: must be a boolean, got {self.empty_layer!r}")
        object.__setattr__(self, "extra", freeze_extra(self.extra))

    __hash__ = _hash

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        d: dict[str, Any] = {}
        for name in ("created", "created_by", "author", "comment"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.empty_layer:
            d["empty_layer"] = True
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> History:
        """Validate and build from a JSON object; errors name the field under ``path``."""
        check_object(d, path)
        empty = d.get("empty_layer", False)
        if not isinstance(empty, bool):
            raise ManifestError(f"{path}.empty_layer: must be a boolean, got {empty!r}")
        known = ("created", "created_by", "author", "comment", "empty_layer")
        return cls(
            created=opt_str(d, "created", path),
            created_by=opt_str(d, "created_by", path),
            author=opt_str(d, "author", path),
            comment=opt_str(d, "comment", path),
            empty_layer=empty,
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json(self.to_dict())


def _str_tuple(value: Iterable[str] | None, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ManifestError(f"{name}: must be a list of strings, got the string {value!r}")
    out = tuple(value)
    for i, item in enumerate(out):
        if not isinstance(item, str):
            raise ManifestError(f"{name}[{i}]: must be a string, got {item!r}")
    return out


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration. ``diff_ids`` are the digests of the *uncompressed* layer tars."""

    os: str
    architecture: str
    variant: str | None = None
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str | None = None
    created: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    os_version: str | None = None
    author: str | None = None
    user: str | None = None
    config_extra: Mapping[str, Any] = field(default_factory=dict)
    rootfs_type: str = "layers"

    def __post_init__(self) -> None:
        for name in ("os", "architecture"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ManifestError(f"{name}: must be a non-empty string, got {value!r}")
        for name in ("variant", "working_dir", "created", "os_version", "author", "user"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ManifestError(f"{name}: must be a string, got {value!r}")
        diff_ids = []
        for i, d in enumerate(self.diff_ids):
            if isinstance(d, str):
                try:
                    d = Digest.parse(d)
                except DigestError as e:
                    raise ManifestError(f"rootfs.diff_ids[{i}]: {e}") from None
            elif not isinstance(d, Digest):
                raise ManifestError(f"rootfs.diff_ids[{i}]: must be a Digest, got {d!r}")
            diff_ids.append(d)
        object.__setattr__(self, "diff_ids", tuple(diff_ids))
        history = []
        for i, h in enumerate(self.history):
            if isinstance(h, Mapping):
                h = History.from_dict(dict(h), f"history[{i}]")
            elif not isinstance(h, History):
                raise ManifestError(f"history[{i}]: must be a History, got {h!r}")
            history.append(h)
        object.__setattr__(self, "history", tuple(history))
        labels = dict(self.labels or {})
        for k, v in labels.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ManifestError(f"config.Labels[{k!r}]: must map strings to strings")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "env", _str_tuple(self.env, "config.Env") or ())
        object.__setattr__(self, "entrypoint", _str_tuple(self.entrypoint, "config.Entrypoint"))
        object.__setattr__(self, "cmd", _str_tuple(self.cmd, "config.Cmd"))
        object.__setattr__(self, "extra", freeze_extra(self.extra))
        object.__setattr__(self, "config_extra", freeze_extra(self.config_extra))

    __hash__ = _hash

    @property
    def platform(self) -> Platform:
        """The platform this config declares."""
        return Platform(self.os, self.architecture, self.variant, self.os_version)

    def with_diff_ids(self, diff_ids: Iterable[Digest | str]) -> ImageConfig:
        """A copy with other ``rootfs.diff_ids``."""
        return dataclasses.replace(self, diff_ids=tuple(diff_ids))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (OCI image-spec key order, unknown keys last)."""
        d: dict[str, Any] = {}
        if self.created is not None:
            d["created"] = self.created
        if self.author is not None:
            d["author"] = self.author
        d["architecture"] = self.architecture
        d["os"] = self.os
        if self.os_version is not None:
            d["os.version"] = self.os_version
        if self.variant is not None:
            d["variant"] = self.variant
        c: dict[str, Any] = {}
        if self.user is not None:
            c["User"] = self.user
        if self.env:
            c["Env"] = list(self.env)
        if self.entrypoint is not None:
            c["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            c["Cmd"] = list(self.cmd)
        if self.working_dir is not None:
            c["WorkingDir"] = self.working_dir
        if self.labels:
            c["Labels"] = dict(self.labels)
        c.update(self.config_extra)
        d["config"] = c
        d["rootfs"] = {"type": self.rootfs_type, "diff_ids": [str(x) for x in self.diff_ids]}
        if self.history:
            d["history"] = [h.to_dict() for h in self.history]
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> ImageConfig:
        """Validate and build from a JSON object; errors name the field."""
        check_object(d, "")
        c = d.get("config")
        if c is None:
            c = {}
        check_object(c, "config")
        rootfs = d.get("rootfs")
        if rootfs is None:
            raise ManifestError("rootfs: required")
        check_object(rootfs, "rootfs")
        rootfs_type = req_str(rootfs, "type", "rootfs")
        if rootfs_type != "layers":
            raise ManifestError(f"rootfs.type: must be 'layers', got {rootfs_type!r}")
        raw_ids = rootfs.get("diff_ids")
        if raw_ids is None:
            raise ManifestError("rootfs.diff_ids: required")
        if not isinstance(raw_ids, list):
            raise ManifestError(f"rootfs.diff_ids: must be a list, got {raw_ids!r}")
        diff_ids = []
        for i, text in enumerate(raw_ids):
            try:
                diff_ids.append(Digest.parse(text))
            except DigestError as e:
                raise ManifestError(f"rootfs.diff_ids[{i}]: {e}") from None
        raw_history = d.get("history")
        if raw_history is None:
            raw_history = []
        if not isinstance(raw_history, list):
            raise ManifestError(f"history: must be a list, got {raw_history!r}")
        history = tuple(History.from_dict(h, f"history[{i}]") for i, h in enumerate(raw_history))
        extra_keys = ("created", "author", "architecture", "os", "os.version", "variant",
                      "config", "rootfs", "history")  # fmt: skip
        config_keys = ("User", "Env", "Entrypoint", "Cmd", "WorkingDir", "Labels")
        return cls(
            os=req_str(d, "os", ""),
            architecture=req_str(d, "architecture", ""),
            variant=opt_str(d, "variant", ""),
            diff_ids=tuple(diff_ids),
            history=history,
            labels=opt_str_map(c, "Labels", "config") or {},
            env=tuple(opt_str_list(c, "Env", "config") or ()),
            entrypoint=_opt_tuple(opt_str_list(c, "Entrypoint", "config")),
            cmd=_opt_tuple(opt_str_list(c, "Cmd", "config")),
            working_dir=opt_str(c, "WorkingDir", "config"),
            created=opt_str(d, "created", ""),
            extra={k: v for k, v in d.items() if k not in extra_keys},
            os_version=opt_str(d, "os.version", ""),
            author=opt_str(d, "author", ""),
            user=opt_str(c, "User", "config"),
            config_extra={k: v for k, v in c.items() if k not in config_keys},
            rootfs_type=rootfs_type,
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (the config blob)."""
        return canonical_json(self.to_dict())

    @classmethod
    def parse(cls, data: bytes) -> ImageConfig:
        """Parse and validate config blob bytes."""
        return cls.from_dict(load_json(data))

    @property
    def digest(self) -> Digest:
        """Digest of :meth:`to_bytes`."""
        return Digest.of(self.to_bytes())


def _opt_tuple(v: list[str] | None) -> tuple[str, ...] | None:
    return tuple(v) if v is not None else None

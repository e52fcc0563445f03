"""Lifecycle's image metadata: label names, the ``io.buildpacks.lifecycle.metadata`` JSON value
types and their errors. The build metadata label lives in :mod:`flakymirror.client.buildmeta`,
a base image's target and mixins in :mod:`flakymirror.client.target`, exit codes and
:class:`LifecycleError` in :mod:`flakymirror.client.lifecycle_error`.

The JSON produced here follows Go's ``encoding/json`` as lifecycle uses it: struct fields in
declaration order, ``omitempty`` where lifecycle has it, map keys sorted, compact separators and
``<``, ``>``, ``&`` escaped as ``\\u003c`` etc. ``LayersMetadata.from_json(...).to_json()``
therefore gives back what lifecycle would write for the same values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flakymirror.client.goformat import go_json

__all__ = [
    "BUILD_METADATA_LABEL",
    "DISTRO_NAME_LABEL",
    "DISTRO_VERSION_LABEL",
    "LIFECYCLE_METADATA_LABEL",
    "MIXINS_LABEL",
    "PROJECT_METADATA_LABEL",
    "REBASABLE_LABEL",
    "STACK_ID_LABEL",
    "TARGET_ID_LABEL",
    "BuildpackLayerMetadata",
    "BuildpackLayersMetadata",
    "LayerMetadata",
    "LayersMetadata",
    "MetadataError",
    "RunImageForExport",
    "RunImageForRebase",
    "api_less_than",
    "decode_json",
    "go_json",
    "parse_api",
    "repository_name",
]

LIFECYCLE_METADATA_LABEL = "io.buildpacks.lifecycle.metadata"
BUILD_METADATA_LABEL = "io.buildpacks.build.metadata"
PROJECT_METADATA_LABEL = "io.buildpacks.project.metadata"
STACK_ID_LABEL = "io.buildpacks.stack.id"
MIXINS_LABEL = "io.buildpacks.stack.mixins"
REBASABLE_LABEL = "io.buildpacks.rebasable"
TARGET_ID_LABEL = "io.buildpacks.base.id"
DISTRO_NAME_LABEL = "io.buildpacks.base.distro.name"
DISTRO_VERSION_LABEL = "io.buildpacks.base.distro.version"


class MetadataError(ValueError):
    """Metadata JSON of the wrong shape; the message names the offending key path."""


def decode_json(text: str) -> Any:
    """Label text as JSON; bad JSON raises :class:`MetadataError` (``invalid JSON: …``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(f"invalid JSON: {e}") from e


def parse_api(version: str) -> tuple[int, int]:
    """Parse a Platform API version such as ``0.12``; raise ``ValueError`` naming it if bad."""
    parts = version.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"invalid Platform API version {version!r}: expected '<major>.<minor>'")
    return int(parts[0]), int(parts[1])


def api_less_than(version: str, other: str) -> bool:
    """``api.MustParse(version).LessThan(other)``."""
    return parse_api(version) < parse_api(other)


def repository_name(ref: str) -> str:
    """The repository part of an image reference without tag or digest (``parseMaybe``).

    ``127.0.0.1:5000/run:v1`` and ``127.0.0.1:5000/run@sha256:…`` both give
    ``127.0.0.1:5000/run``; text that is not a reference is returned unchanged.
    """
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return name


# --- small JSON readers that name the key path on error -------------------------------------


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MetadataError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _typed(d: Mapping[str, Any], key: str, path: str, kind: type, what: str, default: Any) -> Any:
    """``d[key]`` when it is a ``kind``; ``default`` when missing or null."""
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise MetadataError(f"{path}.{key}: expected {what}, got {type(value).__name__}")
    return value


def _str(d: Mapping[str, Any], key: str, path: str) -> str:
    return _typed(d, key, path, str, "a string", "")


def _bool(d: Mapping[str, Any], key: str, path: str) -> bool:
    return _typed(d, key, path, bool, "a boolean", False)


def _strs(d: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = d.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MetadataError(f"{path}.{key}: expected a list of strings")
    return tuple(value)


def _list(d: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
    return _typed(d, key, path, list, "a list", None)


# --- value types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerMetadata:
    """``{"sha": "sha256:<diffID>"}`` for the app, launcher, config and process-types layers."""

    sha: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"sha": …}`` as the metadata label holds it."""
        return {"sha": self.sha}

    @classmethod
    def from_dict(cls, d: Any, path: str = "layer") -> LayerMetadata:
        """Read ``{"sha": …}``; a bad shape raises :class:`MetadataError` naming ``path``."""
        return cls(_str(_obj(d, path), "sha", path))


@dataclass(frozen=True)
class BuildpackLayerMetadata:
    """One buildpack layer: its diffID plus the ``data``/``build``/``launch``/``cache`` flags."""

    sha: str = ""
    data: Any = None
    build: bool = False
    launch: bool = False
    cache: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The layer entry as the metadata label holds it (``sha``, ``data``, the three flags)."""
        return {
            "sha": self.sha,
            "data": self.data,
            "build": self.build,
            "launch": self.launch,
            "cache": self.cache,
        }

    @classmethod
    def from_dict(cls, d: Any, path: str = "layer") -> BuildpackLayerMetadata:
        """Read a buildpack layer entry; a bad shape raises :class:`MetadataError` at ``path``."""
        o = _obj(d, path)
        return cls(
            sha=_str(o, "sha", path),
            data=o.get("data"),
            build=_bool(o, "build", path),
            launch=_bool(o, "launch", path),
            cache=_bool(o, "cache", path),
        )


@dataclass(frozen=True)
class BuildpackLayersMetadata:
    """The layers one buildpack contributed (``buildpacks[]`` entries; ``key`` is the id)."""

    key: str
    version: str = ""
    layers: Mapping[str, BuildpackLayerMetadata] = field(default_factory=dict)
    store: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The buildpack entry as the metadata label holds it, layers sorted by name."""
        out: dict[str, Any] = {
            "key": self.key,
            "version": self.version,
            "layers": {name: self.layers[name].to_dict() for name in sorted(self.layers)},
        }
        if self.store is not None:
            out["store"] = self.store
        return out

    @classmethod
    def from_dict(cls, d: Any, path: str = "buildpacks[]") -> BuildpackLayersMetadata:
        """Read a ``buildpacks[]`` entry; a bad shape raises :class:`MetadataError` at ``path``."""
        o = _obj(d, path)
        layers = _obj(o.get("layers"), f"{path}.layers")
        return cls(
            key=_str(o, "key", path),
            version=_str(o, "version", path),
            layers={
                name: BuildpackLayerMetadata.from_dict(v, f"{path}.layers.{name}")
                for name, v in layers.items()
            },
            store=o.get("store"),
        )


@dataclass(frozen=True)
class RunImageForExport:
    """``{"image": …, "mirrors": […]}`` (both ``omitempty``): where the run image lives."""

    image: str = ""
    mirrors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``image`` and ``mirrors``, each left out when empty (Go's omitempty)."""
        out: dict[str, Any] = {}
        if self.image:
            out["image"] = self.image
        if self.mirrors:
            out["mirrors"] = list(self.mirrors)
        return out

    @classmethod
    def from_dict(cls, d: Any, path: str = "runImage") -> RunImageForExport:
        """Read ``image``/``mirrors``; a bad shape raises :class:`MetadataError` naming ``path``."""
        o = _obj(d, path)
        return cls(_str(o, "image", path), _strs(o, "mirrors", path))

    def contains(self, ref: str) -> bool:
        """True when ``ref``'s repository is ``image`` or one of ``mirrors`` (lifecycle's
        ``Contains``: tags and digests are ignored)."""
        wanted = repository_name(ref)
        return any(repository_name(r) == wanted for r in (self.image, *self.mirrors))


@dataclass(frozen=True)
class RunImageForRebase:
    """The ``runImage`` object: ``topLayer`` (a diffID), ``reference`` (``repo@sha256:…``)
    and, flattened in, ``image``/``mirrors`` (Platform API >= 0.12)."""

    top_layer: str = ""
    reference: str = ""
    image: str = ""
    mirrors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``topLayer``, ``reference`` and the flattened ``image``/``mirrors``."""
        out: dict[str, Any] = {"topLayer": self.top_layer, "reference": self.reference}
        out.update(self.for_export().to_dict())
        return out

    @classmethod
    def from_dict(cls, d: Any, path: str = "runImage") -> RunImageForRebase:
        """Read a ``runImage`` value; a bad shape raises :class:`MetadataError` naming ``path``."""
        o = _obj(d, path)
        return cls(
            top_layer=_str(o, "topLayer", path),
            reference=_str(o, "reference", path),
            image=_str(o, "image", path),
            mirrors=_strs(o, "mirrors", path),
        )

    def for_export(self) -> RunImageForExport:
        """The ``image``/``mirrors`` part (the embedded ``RunImageForExport``)."""
        return RunImageForExport(self.image, self.mirrors)

    def contains(self, ref: str) -> bool:
        """True when the repository of ``ref`` is ``image`` or a mirror (tags, digests aside)."""
        return self.for_export().contains(ref)


@dataclass(frozen=True)
class LayersMetadata:
    """The ``io.buildpacks.lifecycle.metadata`` label (lifecycle's ``files.LayersMetadata``).

    ``app`` is a tuple of :class:`LayerMetadata` (``None`` marshals as ``null``, as Go's nil
    slice does). Read from an image, an ``app`` value of any other shape is kept as is, like
    lifecycle's ``LayersMetadataCompat`` does during a rebase.
    """

    app: Any = None
    sbom: LayerMetadata | None = None
    buildpacks: tuple[BuildpackLayersMetadata, ...] | None = None
    config: LayerMetadata = LayerMetadata()
    launcher: LayerMetadata = LayerMetadata()
    process_types: LayerMetadata = LayerMetadata()
    run_image: RunImageForRebase = RunImageForRebase()
    stack: RunImageForExport | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``io.buildpacks.lifecycle.metadata`` value as a dict, in lifecycle's order."""
        if isinstance(self.app, tuple):
            app: Any = [a.to_dict() if isinstance(a, LayerMetadata) else a for a in self.app]
        else:
            app = self.app
        out: dict[str, Any] = {"app": app}
        if self.sbom is not None:
            out["sbom"] = self.sbom.to_dict()
        out["buildpacks"] = (
            None if self.buildpacks is None else [b.to_dict() for b in self.buildpacks]
        )
        out["config"] = self.config.to_dict()
        out["launcher"] = self.launcher.to_dict()
        out["process-types"] = self.process_types.to_dict()
        out["runImage"] = self.run_image.to_dict()
        if self.stack is not None:
            out["stack"] = {"runImage": self.stack.to_dict()}
        return out

    def to_json(self) -> str:
        """The ``io.buildpacks.lifecycle.metadata`` label text, as Go's ``json.Marshal`` writes."""
        return go_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any) -> LayersMetadata:
        """Read a decoded metadata label; a bad shape raises :class:`MetadataError`."""
        o = _obj(d, "metadata")
        app: Any = o.get("app")
        if isinstance(app, list) and all(isinstance(a, Mapping) for a in app):
            app = tuple(LayerMetadata.from_dict(a, f"app[{i}]") for i, a in enumerate(app))
        bps = _list(o, "buildpacks", "metadata")
        sbom = o.get("sbom")
        stack = o.get("stack")
        return cls(
            app=app,
            sbom=None if sbom is None else LayerMetadata.from_dict(sbom, "sbom"),
            buildpacks=None
            if bps is None
            else tuple(
                BuildpackLayersMetadata.from_dict(b, f"buildpacks[{i}]") for i, b in enumerate(bps)
            ),
            config=LayerMetadata.from_dict(o.get("config"), "config"),
            launcher=LayerMetadata.from_dict(o.get("launcher"), "launcher"),
            process_types=LayerMetadata.from_dict(o.get("process-types"), "process-types"),
            run_image=RunImageForRebase.from_dict(o.get("runImage"), "runImage"),
            stack=None
            if stack is None
            else RunImageForExport.from_dict(
                _obj(stack, "stack").get("runImage"), "stack.runImage"
            ),
        )

    @classmethod
    def from_json(cls, text: str) -> LayersMetadata:
        """Parse label text; bad JSON or a bad shape raises :class:`MetadataError`."""
        return cls.from_dict(decode_json(text))

    def buildpack(self, key: str) -> BuildpackLayersMetadata | None:
        """``LayersMetadataFor``: the entry of one buildpack, if any."""
        return next((b for b in self.buildpacks or () if b.key == key), None)

    def app_shas(self) -> tuple[str, ...]:
        """The diffIDs of the app layers (none when ``app`` has another shape)."""
        if not isinstance(self.app, tuple):
            return ()
        return tuple(a.sha for a in self.app if isinstance(a, LayerMetadata))

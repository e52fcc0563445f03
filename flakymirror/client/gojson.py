"""The forms ggcr marshals images in. ggcr re-marshals configs and manifests through its Go
structs: fields in struct order, ``omitempty`` where ggcr has it, unknown keys dropped, map keys
sorted; :func:`ggcr_config_bytes`, :func:`ggcr_manifest_bytes` and :func:`ggcr_descriptor` give
those bytes, written by :func:`flakymirror.client.goformat.go_json` (``json.Marshal``, also
importable from here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flakymirror.client.goformat import go_json

__all__ = ["ggcr_config_bytes", "ggcr_descriptor", "ggcr_manifest_bytes", "go_json"]


_CONFIG_KEYS = (
    ("AttachStderr", "bool"), ("AttachStdin", "bool"), ("AttachStdout", "bool"),
    ("Cmd", "list"), ("Healthcheck", "any"), ("Domainname", "str"), ("Entrypoint", "list"),
    ("Env", "list"), ("Hostname", "str"), ("Image", "str"), ("Labels", "map"),
    ("OnBuild", "list"), ("OpenStdin", "bool"), ("StdinOnce", "bool"), ("Tty", "bool"),
    ("User", "str"), ("Volumes", "map"), ("WorkingDir", "str"), ("ExposedPorts", "map"),
    ("ArgsEscaped", "bool"), ("NetworkDisabled", "bool"), ("MacAddress", "str"),
    ("StopSignal", "str"), ("Shell", "list"),
)  # fmt: skip
_HISTORY_KEYS = ("author", "created", "created_by", "comment", "empty_layer")
_ZERO_TIME = "0001-01-01T00:00:00Z"


def _sorted_map(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: value[k] for k in sorted(value)}
    return value


def _go_config(c: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, kind in _CONFIG_KEYS:
        value = c.get(key)
        if not value:  # omitempty: false, "", null, empty list or map
            continue
        out[key] = _sorted_map(value) if kind == "map" else value
    return out


def _go_history(h: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _HISTORY_KEYS:
        value = h.get(key)
        if key == "created":
            out[key] = value or _ZERO_TIME  # v1.Time is a struct: never omitted
        elif value:
            out[key] = value
    return out


def ggcr_config_bytes(cfg: Mapping[str, Any]) -> bytes:
    """A config document as ggcr's ``v1.ConfigFile`` marshals it."""
    out: dict[str, Any] = {"architecture": cfg.get("architecture") or ""}
    for key in ("author", "container"):
        if cfg.get(key):
            out[key] = cfg[key]
    out["created"] = cfg.get("created") or _ZERO_TIME
    if cfg.get("docker_version"):
        out["docker_version"] = cfg["docker_version"]
    history = cfg.get("history")
    if history:
        out["history"] = [_go_history(h) for h in history]
    out["os"] = cfg.get("os") or ""
    rootfs = cfg.get("rootfs") if isinstance(cfg.get("rootfs"), Mapping) else {}
    out["rootfs"] = {"type": rootfs.get("type") or "", "diff_ids": rootfs.get("diff_ids")}
    out["config"] = _go_config(cfg.get("config") or {})
    for key in ("os.version", "variant", "os.features"):
        if cfg.get(key):
            out[key] = cfg[key]
    return go_json(out).encode()


def ggcr_descriptor(d: Mapping[str, Any]) -> dict[str, Any]:
    """A descriptor as ggcr's ``v1.Descriptor`` marshals it."""
    out: dict[str, Any] = {"mediaType": d.get("mediaType", ""), "size": d.get("size", 0)}
    out["digest"] = d.get("digest", "")
    for key in ("data", "urls", "annotations", "platform", "artifactType"):
        if d.get(key):
            out[key] = _sorted_map(d[key]) if key == "annotations" else d[key]
    return out


def ggcr_manifest_bytes(
    media_type: str,
    config: Mapping[str, Any],
    layers: Sequence[Mapping[str, Any]],
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """An image manifest as ggcr's ``v1.Manifest`` marshals it."""
    out: dict[str, Any] = {"schemaVersion": 2}
    if media_type:
        out["mediaType"] = media_type
    out["config"] = ggcr_descriptor(config)
    out["layers"] = [ggcr_descriptor(layer) for layer in layers]
    if annotations:
        out["annotations"] = _sorted_map(annotations)
    return go_json(out).encode()

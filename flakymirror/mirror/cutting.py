"""Manifest surgery for the sync view: parsed documents, cut manifests, cut configs, rewritten
indexes. Works on the JSON documents themselves so unknown fields survive untouched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest
from flakymirror.registry.store import StoredManifest

__all__ = ["CUT_FROM", "Doc", "cut_config", "cut_image", "parse_doc", "rewrite_index"]

#: The top-level key of a cut config that names the config it was cut from. Image configs of
#: different images can cut down to the same bytes (0 layers, equal labels); this keeps each
#: image's cut views distinct, so a content store that deduplicates by digest cannot mix them
#: up. Clients ignore unknown config keys (ggcr, containers/image, containerd all do).
CUT_FROM = "x-flakymirror-cut-from"


@dataclass(frozen=True)
class Doc:
    """A manifest as stored upstream plus what the sync model needs from it."""

    stored: StoredManifest
    doc: dict[str, Any]
    is_index: bool
    config: dict[str, Any] | None
    layers: tuple[dict[str, Any], ...]
    children: tuple[dict[str, Any], ...]

    @property
    def digest(self) -> str:
        """The stored manifest's digest string."""
        return str(self.stored.digest)

    def blob_digests(self) -> list[str]:
        """Config then layers (image manifests only)."""
        out = [self.config["digest"]] if self.config else []
        return out + [layer["digest"] for layer in self.layers]


def _descriptors(value: Any) -> tuple[dict[str, Any], ...] | None:
    if not isinstance(value, list):
        return None
    if not all(isinstance(d, dict) and isinstance(d.get("digest"), str) for d in value):
        return None
    if not all(isinstance(d.get("size"), int) for d in value):
        return None
    return tuple(value)


def parse_doc(stored: StoredManifest) -> Doc | None:
    """Parse a stored manifest; ``None`` for anything the sync model cannot reason about (it is
    then served as is, as an opaque, always-synced document)."""
    try:
        doc = json.loads(stored.data)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    media_type = stored.media_type
    if mt.is_index(media_type) or (media_type not in mt.IMAGE_MANIFESTS and "manifests" in doc):
        children = _descriptors(doc.get("manifests"))
        if children is None:
            return None
        return Doc(stored, doc, True, None, (), children)
    config = doc.get("config")
    layers = _descriptors(doc.get("layers", []))
    if layers is None or _descriptors([config]) is None:
        return None
    return Doc(stored, doc, False, config, layers, ())


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def cut_config(config_bytes: bytes, k: int) -> bytes:
    """An image config with ``rootfs.diff_ids`` (and the layer-making ``history`` entries) cut
    to the first ``k`` layers, naming the original config's digest under :data:`CUT_FROM`."""
    cfg = json.loads(config_bytes)
    cfg[CUT_FROM] = str(Digest.of(config_bytes))
    rootfs = dict(cfg.get("rootfs") or {"type": "layers"})
    rootfs["diff_ids"] = list(rootfs.get("diff_ids") or [])[:k]
    cfg["rootfs"] = rootfs
    history = cfg.get("history")
    if isinstance(history, list):
        kept, layers = [], 0
        for entry in history:
            makes_layer = not (isinstance(entry, dict) and entry.get("empty_layer"))
            if makes_layer:
                if layers == k:
                    break
                layers += 1
            kept.append(entry)
        cfg["history"] = kept
    return _encode(cfg)


def cut_image(doc: Doc, k: int, config: bytes | None = None) -> StoredManifest:
    """``doc`` with only its first ``k`` layers; with ``config`` (cut config bytes) the config
    descriptor points at that config instead."""
    new = dict(doc.doc)
    new["layers"] = [dict(layer) for layer in doc.layers[:k]]
    if config is not None:
        assert doc.config is not None
        new["config"] = {**doc.config, "digest": str(Digest.of(config)), "size": len(config)}
    data = _encode(new)
    return StoredManifest(data, doc.stored.media_type, Digest.of(data))


def rewrite_index(
    doc: Doc, children: list[tuple[dict[str, Any], StoredManifest | None]]
) -> StoredManifest:
    """``doc`` listing exactly ``children`` (descriptor, current manifest or None to keep the
    descriptor as is); returns the original when nothing changed."""
    descriptors = []
    for desc, current in children:
        if current is not None and str(current.digest) != desc["digest"]:
            desc = {**desc, "digest": str(current.digest), "size": current.size}
        descriptors.append(desc)
    if descriptors == list(doc.children):
        return doc.stored
    new = dict(doc.doc)
    new["manifests"] = descriptors
    data = _encode(new)
    return StoredManifest(data, doc.stored.media_type, Digest.of(data))

"""The image being built: imgutil's ``CNBImageCore`` analogue shared by the exporter and the
rebaser.

A :class:`WorkingImage` starts from a base :class:`~flakymirror.client.remote.RemoteImage`
(its layers stay mountable from the base repository), takes new local layers or layers reused
from a previous image, edits the config (labels, env, entrypoint, ...) and renders the manifest,
config and blobs that :func:`~flakymirror.client.push.push_image` writes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flakymirror.client.errors import ClientError
from flakymirror.client.gojson import ggcr_config_bytes, ggcr_manifest_bytes
from flakymirror.client.layers import LocalLayer
from flakymirror.client.push import MountSource, PushBlob
from flakymirror.client.remote import RemoteImage
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest

__all__ = ["NORMALIZED_TIME", "WorkingImage", "image_labels", "normalized_history"]

#: imgutil ``NormalizedDateTime``: the ``created`` time of every exported image.
NORMALIZED_TIME = "1980-01-01T00:00:01Z"


@dataclass
class _Entry:
    descriptor: dict[str, Any]
    diff_id: str
    blob: PushBlob


def _mount_source(image: RemoteImage) -> MountSource:
    return MountSource(image.ref.registry or "", image.ref.repository, image.transport)


def image_labels(image: RemoteImage) -> dict[str, str]:
    """The config labels of an opened image (none for an empty one)."""
    return dict((image.config_dict.get("config") or {}).get("Labels") or {})


def normalized_history(history: Any, n_layers: int) -> list[dict[str, Any]]:
    """imgutil ``NormalizedHistory``: drop empty-layer entries; a count that does not match
    the layers gives ``n_layers`` blank entries."""
    kept = [dict(h) for h in history or () if isinstance(h, Mapping) and not h.get("empty_layer")]
    return kept if len(kept) == n_layers else [{} for _ in range(n_layers)]


class WorkingImage:
    """An image being built on top of a base :class:`RemoteImage` (imgutil ``remote.Image``
    opened with ``FromBaseImage`` and maybe ``WithPreviousImage``).

    Keeps the base manifest's media type flavour: new layers get the Docker or OCI gzip layer
    type to match. ``top_layer()`` is the base's until layers are added (the opener's sniff).
    """

    def __init__(
        self,
        name: str,
        base: RemoteImage,
        previous: RemoteImage | None = None,
        *,
        history: bool = True,
        created: str = NORMALIZED_TIME,
    ) -> None:
        self.name = name
        self.base = base
        self.previous = previous
        self.preserve_history = history
        self.created = created
        self.media_type = base.media_type or mt.DOCKER_MANIFEST
        self.docker = self.media_type == mt.DOCKER_MANIFEST
        self.config: dict[str, Any] = copy.deepcopy(dict(base.config_dict))
        self.config.setdefault("config", {})
        diff_ids = [str(d) for d in base.diff_ids] if not base.empty else []
        raw_layers = (base.manifest_dict.get("layers") or []) if not base.empty else []
        source = _mount_source(base)
        self.entries: list[_Entry] = []
        for desc, diff_id in zip(raw_layers, diff_ids, strict=False):
            d = dict(desc)
            blob = PushBlob(
                Digest.parse(str(d.get("digest", ""))),
                int(d.get("size") or 0),
                str(d.get("mediaType", "")),
                source=source,
            )
            self.entries.append(_Entry(d, diff_id, blob))
        self._base_count = len(self.entries)
        self.history = normalized_history(self.config.get("history"), len(self.entries))

    # the opener's sniff test and imgutil getters
    def top_layer(self) -> str:
        """The last layer's diffID; before any layer is added, the base's ``top_layer()``
        (with its ``image has no layers`` / ``mismatched fs layers`` errors)."""
        if len(self.entries) == self._base_count:
            return self.base.top_layer()
        return self.entries[-1].diff_id

    @property
    def layer_type(self) -> str:
        """The media type new layers get: Docker or OCI gzip, matching the base manifest."""
        return mt.DOCKER_LAYER if self.docker else mt.OCI_LAYER_GZIP

    @property
    def config_type(self) -> str:
        """The config media type of the saved image, matching the base manifest."""
        return mt.DOCKER_CONFIG if self.docker else mt.OCI_CONFIG

    def labels(self) -> dict[str, str]:
        """The config labels (a copy)."""
        return dict(self.config["config"].get("Labels") or {})

    def label(self, key: str) -> str:
        """One config label, ``""`` when it is not set."""
        return self.labels().get(key, "")

    def env(self, key: str) -> str:
        """The value of ``key`` in the config's ``Env``, ``""`` when it is not set."""
        for item in self.config["config"].get("Env") or []:
            k, _, v = item.partition("=")
            if k == key:
                return v
        return ""

    # mutators
    def set_label(self, key: str, value: str) -> None:
        """Set a config label."""
        labels = self.labels()
        labels[key] = value
        self.config["config"]["Labels"] = labels

    def remove_label(self, key: str) -> None:
        """Remove a config label (no error when it is absent)."""
        labels = self.labels()
        labels.pop(key, None)
        self.config["config"]["Labels"] = labels

    def set_env(self, key: str, value: str) -> None:
        """Set ``key=value`` in the config's ``Env``, in place when the key is there."""
        env = list(self.config["config"].get("Env") or [])
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["config"]["Env"] = env

    def set_working_dir(self, path: str) -> None:
        """Set the config's ``WorkingDir``."""
        self.config["config"]["WorkingDir"] = path

    def set_entrypoint(self, *entrypoint: str) -> None:
        """Set the config's ``Entrypoint``."""
        self.config["config"]["Entrypoint"] = list(entrypoint)

    def set_cmd(self, *cmd: str) -> None:
        """Set the config's ``Cmd``; none given leaves it out, as Go's nil slice does."""
        self.config["config"]["Cmd"] = list(cmd) or None  # nil: omitted, as in Go

    def add_layer(self, layer: LocalLayer, created_by: str) -> None:
        """``AddLayerWithDiffIDAndHistory``: a new local layer, uploaded on save."""
        blob = PushBlob(layer.digest, layer.size, self.layer_type, chunks=layer.chunks)
        self.entries.append(_Entry(blob.descriptor(), str(layer.diff_id), blob))
        self.history.append({"created_by": created_by})

    def reuse_layer(self, diff_id: str, created_by: str) -> None:
        """``ReuseLayerWithHistory``: the previous image's layer with that diffID, mountable
        from the previous image's repository (no upload when it is already there)."""
        prev = self.previous
        if prev is None or prev.empty:
            raise ValueError("failed to reuse layer because no previous image was provided")
        try:
            ids = [str(d) for d in prev.diff_ids]  # the previous image's config, read now
        except ClientError as err:
            raise ValueError(f"failed to get layer by diffID: {err}") from err
        if diff_id not in ids:
            raise ValueError(f"failed to get layer by diffID: unknown diffID {diff_id}")
        desc = dict(prev.manifest_dict["layers"][ids.index(diff_id)])
        blob = PushBlob(
            Digest.parse(desc["digest"]),
            int(desc["size"]),
            desc["mediaType"],
            source=_mount_source(prev),
        )
        self.entries.append(_Entry(desc, diff_id, blob))
        self.history.append({"created_by": created_by})

    # saving
    def build(self) -> tuple[bytes, bytes, list[PushBlob]]:
        """(manifest bytes, config bytes, blobs) as imgutil's ``SaveAs`` writes them."""
        cfg = dict(self.config)
        cfg["created"] = self.created
        cfg.pop("container", None)
        cfg.pop("docker_version", None)
        if self.preserve_history:
            history = [dict(h, created=self.created) for h in self.history]
        else:
            history = [{"created": self.created} for _ in self.history]
        cfg["history"] = history
        cfg["rootfs"] = {"type": "layers", "diff_ids": [e.diff_id for e in self.entries]}
        config_bytes = ggcr_config_bytes(cfg)
        config_blob = PushBlob(
            Digest.of(config_bytes),
            len(config_bytes),
            self.config_type,
            chunks=lambda: [config_bytes],
        )
        annotations = self.base.manifest_dict.get("annotations") if not self.base.empty else None
        manifest = ggcr_manifest_bytes(
            self.media_type,
            config_blob.descriptor(),
            [e.descriptor for e in self.entries],
            annotations,
        )
        return manifest, config_bytes, [e.blob for e in self.entries] + [config_blob]

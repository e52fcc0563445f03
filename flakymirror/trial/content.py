"""What a client ended up with, read from its own output or storage into a :class:`Content`.

One reader per kind of output; none of them raises (a broken output is
:meth:`Content.unreadable` or a Content holding what could be read):

* :func:`read_blob_store` — a content-addressed store (``blobs/<alg>/<hex>``) with a known
  top-level digest: an OCI image layout (skopeo-copy, the Python clients), containerd's content
  store. The index (when there is one) is followed to the child for the platform; every blob
  present is hashed (``verified``); a missing or damaged blob leaves ``partial`` set.
* :func:`read_layout` — an OCI image layout (``index.json`` names the top-level digest).
* :func:`read_skopeo_inspect` — ``skopeo inspect``'s JSON (``Digest``, ``Layers``).
* :func:`read_podman_inspect`, :func:`read_buildah_inspect` — the JSON of ``podman image
  inspect`` / ``buildah inspect --type image``; :func:`storage_layers` counts the layers a
  containers-storage root holds (a failed pull that kept some).
* :func:`ctr_image_digest` — the target digest of an image in ``ctr images ls``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flakymirror.trial.cell import Content

__all__ = [
    "ctr_image_digest",
    "hash_file",
    "pick_child",
    "read_blob_store",
    "read_buildah_inspect",
    "read_layout",
    "read_podman_inspect",
    "read_skopeo_inspect",
    "safe_read",
    "storage_layers",
]

#: Largest manifest, index or config document a reader parses.
_MAX_DOCUMENT = 4 << 20


def safe_read(reader: Callable[[], Content]) -> Content:
    """``reader()``, or :meth:`Content.unreadable` naming the exception it raised."""
    try:
        return reader()
    except Exception as exc:  # a reader never raises: the verdict falls back to the journal
        return Content.unreadable(f"reading the client's output failed: {type(exc).__name__}: {exc}")


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    """``algorithm:hex`` of the file's bytes, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}"


def _blob_path(blobs: Path, digest: str) -> Path | None:
    algorithm, sep, hexpart = digest.partition(":")
    if not sep or not algorithm.isalnum() or not hexpart.isalnum():
        return None
    return blobs / algorithm / hexpart


def _platform_matches(entry: Mapping[str, Any], wanted: str) -> bool:
    p = entry.get("platform")
    if not isinstance(p, Mapping):
        return False
    parts = wanted.split("/")
    if len(parts) < 2:
        return False
    if p.get("os") != parts[0] or p.get("architecture") != parts[1]:
        return False
    return len(parts) < 3 or p.get("variant") == parts[2]


def pick_child(index: Mapping[str, Any], platform: str) -> str | None:
    """The digest of ``index``'s manifest for ``platform`` (``os/arch[/variant]``), or None."""
    for entry in index.get("manifests") or ():
        if isinstance(entry, Mapping) and _platform_matches(entry, platform):
            digest = entry.get("digest")
            return digest if isinstance(digest, str) else None
    return None


def _is_index(doc: Mapping[str, Any]) -> bool:
    return "manifests" in doc and "layers" not in doc


def _load(path: Path) -> Any:
    if path.stat().st_size > _MAX_DOCUMENT:
        raise ValueError(f"{path.name} is larger than {_MAX_DOCUMENT} bytes")
    return json.loads(path.read_bytes())


def _stored_blobs(blobs: Path) -> list[Path]:
    if not blobs.is_dir():
        return []
    return [p for alg in blobs.iterdir() if alg.is_dir() for p in alg.iterdir() if p.is_file()]


def read_blob_store(
    blobs: Path, top: str | None, platform: str, *, where: str, incomplete: int = 0
) -> Content:
    """Read the image whose top-level digest is ``top`` from a ``blobs/<alg>/<hex>`` store.

    ``top`` None: no image was recorded (the store may still hold blobs of a failed pull,
    which makes it ``partial``). ``incomplete`` counts downloads the store holds unfinished
    with some bytes in them.
    ``where`` names the store in ``detail``.
    """
    stored = _stored_blobs(blobs)
    if top is None:
        if stored or incomplete:
            return Content(
                readable=True,
                partial=True,
                detail=f"no image in {where}; {len(stored)} blobs and {incomplete} unfinished "
                "downloads kept",
                extra={"blobs": len(stored), "incomplete": incomplete},
            )
        return Content(readable=True, detail=f"no image and no blob in {where}")
    checked: dict[str, bool] = {}

    def present(digest: str) -> bool:
        path = _blob_path(blobs, digest)
        if path is None or not path.is_file():
            return False
        if digest not in checked:
            checked[digest] = hash_file(path, digest.partition(":")[0]) == digest
        return True

    def document(digest: str) -> Any:
        path = _blob_path(blobs, digest)
        return None if path is None or not present(digest) else _load(path)

    extra: dict[str, Any] = {"top": top}
    doc = document(top)
    manifest = top
    if doc is not None and _is_index(doc):
        child = pick_child(doc, platform)
        extra["index"] = top
        if child is None:
            return Content(readable=True, partial=True, verified=all(checked.values()),
                           detail=f"an index in {where} without a {platform} manifest",
                           extra=extra)  # fmt: skip
        manifest, doc = child, document(child)
    if doc is None:
        return Content(readable=True, partial=True, verified=all(checked.values()) or None,
                       detail=f"{where} names {manifest} but does not hold it",
                       extra=extra)  # fmt: skip
    config = (doc.get("config") or {}).get("digest")
    named = [layer.get("digest") for layer in doc.get("layers") or () if isinstance(layer, dict)]
    held = tuple(d for d in named if isinstance(d, str) and present(d))
    config_held = isinstance(config, str) and present(config)
    missing = len(named) - len(held) + (0 if config_held else 1)
    verified = all(checked.values())
    extra.update(blobs=len(stored), missing=missing, incomplete=incomplete)
    detail = (
        f"{where}: manifest {manifest[:19]}, {len(held)}/{len(named)} layers"
        + ("" if config_held else ", no config")
        + ("" if verified else ", a blob does not match its digest")
    )
    return Content(
        readable=True,
        manifest=manifest,
        config=config if config_held else None,
        layers=held,
        verified=verified,
        partial=bool(missing or incomplete or not verified),
        detail=detail,
        extra=extra,
    )


def read_layout(path: Path, platform: str, where: str = "the OCI layout") -> Content:
    """An OCI image layout (``index.json`` + ``blobs/``): the image its first entry names."""
    index_file = path / "index.json"
    top = None
    if index_file.is_file():
        entries = _load(index_file).get("manifests") or []
        if entries and isinstance(entries[0], dict) and isinstance(entries[0].get("digest"), str):
            top = entries[0]["digest"]
    return read_blob_store(path / "blobs", top, platform, where=where)


def _json(text: str) -> Any:
    """The JSON document that starts at the first line opening with ``{`` or ``[`` (a tool
    may print warnings before it)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                return json.loads("\n".join(lines[i:]))
    raise ValueError("no JSON document in the output")


def read_skopeo_inspect(stdout: str) -> Content:
    """``skopeo inspect``'s JSON: ``Digest`` (for an index: the index's) and ``Layers`` (the
    platform's manifest). It holds no config digest."""
    try:
        doc = _json(stdout)
    except ValueError as exc:
        return Content.unreadable(f"skopeo inspect printed no JSON: {exc}")
    layers = doc.get("Layers")
    return Content(
        readable=True,
        manifest=doc.get("Digest"),
        layers=tuple(layers) if isinstance(layers, list) else None,
        detail=f"skopeo inspect: {doc.get('Digest', '?')[:19]}, "
        f"{len(layers) if isinstance(layers, list) else '?'} layers",
    )


def read_podman_inspect(stdout: str, kept_layers: int = 0) -> Content:
    """``podman image inspect``'s JSON: ``Digest``, ``Id`` (the config digest's hex) and
    ``RootFS.Layers`` (diff IDs). ``kept_layers`` (from :func:`storage_layers`) marks a store
    without the image but with layers as partial."""
    try:
        docs = _json(stdout)
    except ValueError:
        docs = []
    if not docs:
        return Content(readable=True, partial=kept_layers > 0,
                       detail=f"no image in podman's storage; {kept_layers} layers kept",
                       extra={"layers_kept": kept_layers})  # fmt: skip
    doc = docs[0]
    diff_ids = (doc.get("RootFS") or {}).get("Layers") or []
    return Content(
        readable=True,
        manifest=doc.get("Digest"),
        config=f"sha256:{doc['Id']}" if doc.get("Id") else None,
        diff_ids=tuple(diff_ids),
        detail=f"podman storage: {str(doc.get('Digest'))[:19]}, {len(diff_ids)} layers",
        extra={"layers_kept": kept_layers},
    )


def read_buildah_inspect(stdout: str, kept_layers: int = 0) -> Content:
    """``buildah inspect --type image``'s JSON: ``FromImageDigest``, ``FromImageID``, the
    manifest it stored (its layers) and ``OCIv1.rootfs.diff_ids``."""
    try:
        doc = _json(stdout)
    except ValueError:
        return Content(readable=True, partial=kept_layers > 0,
                       detail=f"no image in buildah's storage; {kept_layers} layers kept",
                       extra={"layers_kept": kept_layers})  # fmt: skip
    diff_ids = ((doc.get("OCIv1") or {}).get("rootfs") or {}).get("diff_ids") or []
    layers = None
    try:
        manifest = json.loads(doc.get("Manifest") or "{}")
        layers = tuple(x["digest"] for x in manifest.get("layers") or ())
    except (ValueError, TypeError, KeyError):
        pass
    return Content(
        readable=True,
        manifest=doc.get("FromImageDigest"),
        config=f"sha256:{doc['FromImageID']}" if doc.get("FromImageID") else None,
        layers=layers,
        diff_ids=tuple(diff_ids),
        detail=f"buildah storage: {str(doc.get('FromImageDigest'))[:19]}, {len(diff_ids)} layers",
        extra={"layers_kept": kept_layers},
    )


def storage_layers(root: Path, driver: str = "vfs") -> int:
    """How many layers a containers-storage root holds (its ``<driver>-layers/layers.json``)."""
    path = root / f"{driver}-layers" / "layers.json"
    try:
        layers = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return 0
    return len(layers) if isinstance(layers, list) else 0


def ctr_image_digest(images_ls: str, ref: str) -> str | None:
    """The target digest of ``ref`` in the table ``ctr images ls`` prints (None: absent)."""
    for line in images_ls.splitlines()[1:]:
        words = line.split()
        if len(words) >= 3 and words[0] == ref and words[2].startswith("sha"):
            return words[2]
    return None

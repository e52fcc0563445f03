"""lifecycle's exporter in registry mode: an app image on top of a run image, pushed like ggcr.

:func:`export` does what ``lifecycle exporter`` does on the wire:

* opens the working image through the retrying opener exactly like ``initRemoteAppImage``:
  every attempt re-opens the previous image (when given) and the run image (``FromBaseImage``)
  and sniffs ``top_layer()``; the failure is ``failed to create new app image: <err>`` (exit 1);
* opens the run image once more for its identifier (``failed to get run image ID: …``);
* builds, in lifecycle's order, the buildpack launch layers (reused from the previous image
  when their diffID matches its metadata), the app layer, the launcher, the launcher config
  and the process-types layers; sets the ``io.buildpacks.*`` labels, the ``CNB_*`` env, PATH,
  WorkingDir and Entrypoint; errors are ``failed to export: …`` (exit 62);
* saves to every tag with :func:`~flakymirror.client.push.push_image`, logging ``Saving …`` and
  ``*** Images (<digest>):``.

:class:`WorkingImage` is the imgutil ``CNBImageCore`` analogue shared with the rebaser.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flakymirror.client.auth import Credentials, Keychain
from flakymirror.client.layers import (
    APP_LAYER_NAME,
    BUILDPACK_LAYER_NAME,
    LAUNCHER_CONFIG_LAYER_NAME,
    LAUNCHER_PATH,
    LIFECYCLE_DIR,
    PROCESS_DIR,
    LayerBuilder,
    LocalLayer,
    escape_id,
)
from flakymirror.client.metadata import (
    BUILD_METADATA_LABEL,
    CODE_EXPORT_ERROR,
    LIFECYCLE_METADATA_LABEL,
    PROJECT_METADATA_LABEL,
    BuildMetadata,
    BuildpackLayerMetadata,
    BuildpackLayersMetadata,
    GroupElement,
    LayerMetadata,
    LayersMetadata,
    LifecycleError,
    MetadataError,
    Process,
    RunImageForExport,
    RunImageForRebase,
    api_less_than,
    go_json,
)
from flakymirror.client.opener import LIFECYCLE_DELAYS, open_remote_image
from flakymirror.client.push import (
    MountSource,
    PushBlob,
    PushResult,
    ggcr_config_bytes,
    ggcr_manifest_bytes,
    push_image,
)
from flakymirror.client.remote import RemoteImage, new_remote_image
from flakymirror.client.retry import RetryProfile
from flakymirror.client.transport import RequestRecord
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest

__all__ = [
    "DEFAULT_LAUNCHER",
    "Buildpack",
    "ExportReport",
    "LayerSpec",
    "WorkingImage",
    "export",
]

_log = logging.getLogger("flakymirror.client.export")
#: imgutil ``NormalizedDateTime``: the ``created`` time of every exported image.
NORMALIZED_TIME = "1980-01-01T00:00:01Z"
#: Content of the synthetic ``/cnb/lifecycle/launcher`` when none is given.
DEFAULT_LAUNCHER = b'#!/bin/sh\n# flakymirror synthetic CNB launcher\nexec "$@"\n'


# --- the working image (imgutil CNBImageCore) -------------------------------------------------


@dataclass
class _Entry:
    descriptor: dict[str, Any]
    diff_id: str
    blob: PushBlob


def _mount_source(image: RemoteImage) -> MountSource:
    return MountSource(image.ref.registry or "", image.ref.repository, image.transport)


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
        return mt.DOCKER_LAYER if self.docker else mt.OCI_LAYER_GZIP

    @property
    def config_type(self) -> str:
        return mt.DOCKER_CONFIG if self.docker else mt.OCI_CONFIG

    def labels(self) -> dict[str, str]:
        return dict(self.config["config"].get("Labels") or {})

    def label(self, key: str) -> str:
        return self.labels().get(key, "")

    def env(self, key: str) -> str:
        for item in self.config["config"].get("Env") or []:
            k, _, v = item.partition("=")
            if k == key:
                return v
        return ""

    # mutators
    def set_label(self, key: str, value: str) -> None:
        labels = self.labels()
        labels[key] = value
        self.config["config"]["Labels"] = labels

    def remove_label(self, key: str) -> None:
        labels = self.labels()
        labels.pop(key, None)
        self.config["config"]["Labels"] = labels

    def set_env(self, key: str, value: str) -> None:
        env = list(self.config["config"].get("Env") or [])
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["config"]["Env"] = env

    def set_working_dir(self, path: str) -> None:
        self.config["config"]["WorkingDir"] = path

    def set_entrypoint(self, *entrypoint: str) -> None:
        self.config["config"]["Entrypoint"] = list(entrypoint)

    def set_cmd(self, *cmd: str) -> None:
        self.config["config"]["Cmd"] = list(cmd) or None  # nil: omitted, as in Go

    def add_layer(self, layer: LocalLayer, created_by: str) -> None:
        """``AddLayerWithDiffIDAndHistory``: a new local layer, uploaded on save."""
        desc = {"mediaType": self.layer_type, "size": layer.size, "digest": str(layer.digest)}
        blob = PushBlob(layer.digest, layer.size, self.layer_type, chunks=layer.chunks)
        self.entries.append(_Entry(desc, str(layer.diff_id), blob))
        self.history.append({"created_by": created_by})

    def reuse_layer(self, diff_id: str, created_by: str) -> None:
        """``ReuseLayerWithHistory``: the previous image's layer with that diffID, mountable
        from the previous image's repository (no upload when it is already there)."""
        prev = self.previous
        if prev is None or prev.empty:
            raise ValueError("failed to reuse layer because no previous image was provided")
        ids = [str(d) for d in prev.diff_ids]
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
        config_desc = {
            "mediaType": self.config_type,
            "size": len(config_bytes),
            "digest": str(Digest.of(config_bytes)),
        }
        annotations = self.base.manifest_dict.get("annotations") if not self.base.empty else None
        manifest = ggcr_manifest_bytes(
            self.media_type, config_desc, [e.descriptor for e in self.entries], annotations
        )
        config_blob = PushBlob(
            Digest.of(config_bytes),
            len(config_bytes),
            self.config_type,
            chunks=lambda: [config_bytes],
        )
        return manifest, config_bytes, [e.blob for e in self.entries] + [config_blob]


# --- export inputs and report -------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """A buildpack launch layer: a local ``directory``, synthetic ``files`` (relative path →
    bytes), or neither (the layer is reused from the previous image by its metadata)."""

    name: str
    directory: str | Path | None = None
    files: Mapping[str, bytes] | None = None
    build: bool = False
    cache: bool = False
    data: Any = None


@dataclass(frozen=True)
class Buildpack:
    """A buildpack of the build group and the launch layers it left."""

    id: str
    version: str
    layers: tuple[LayerSpec, ...] = ()
    api: str = "0.10"
    homepage: str = ""


@dataclass
class ExportReport:
    """What :func:`export` did. ``layers`` lists ``(layer id, "added" | "reused")`` in image
    order; ``requests`` every HTTP exchange (opens and pushes) in order."""

    image: str
    tags: list[str]
    digest: Digest
    manifest_size: int
    run_image_reference: str
    top_layer: str
    metadata: LayersMetadata
    layers: list[tuple[str, str]] = field(default_factory=list)
    pushes: list[PushResult] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)


@dataclass
class _Ctx:
    """Connection settings shared by every open and push of one export or rebase."""

    insecure: bool
    keychain: Any
    profile: str | RetryProfile
    sleep: Callable[[float], None] | None
    platform: str | None
    record: list[RequestRecord]
    jobs: int
    logger: logging.Logger | logging.LoggerAdapter
    opened: list[RemoteImage] = field(default_factory=list)

    def open(self, ref: str) -> RemoteImage:
        image = new_remote_image(
            ref,
            insecure=self.insecure,
            keychain=self.keychain,
            platform=self.platform,
            profile=self.profile,
            sleep=self.sleep,
            record=self.record,
        )
        self.opened.append(image)
        return image

    def close(self) -> None:
        """Close the connections of every image opened (their transports stay open for
        reading blobs until the save is done)."""
        for image in self.opened:
            if image.transport is not None:
                image.transport.close()
        self.opened.clear()

    def found(self, image: RemoteImage) -> bool:
        """imgutil ``Found()`` (a manifest HEAD), with its request recorded."""
        before = len(image.requests)
        ok = image.exists()
        self.record.extend(image.requests[before:])
        return ok

    def save(
        self, image: WorkingImage, name: str, additional: Sequence[str], code: int, action: str
    ) -> tuple[Digest, int, list[str], list[PushResult]]:
        """``saveImageAs``: push to every name; per-tag failures become imgutil's SaveError."""
        self.logger.info("Saving %s...", name)
        manifest, _config, blobs = image.build()
        pushes: list[PushResult] = []
        failures: list[tuple[str, BaseException]] = []
        names = [name, *additional]
        for n in names:
            try:
                pushes.append(
                    push_image(
                        n,
                        manifest,
                        image.media_type,
                        blobs,
                        insecure=self.insecure,
                        keychain=self.keychain,
                        profile=self.profile,
                        sleep=self.sleep,
                        jobs=self.jobs,
                        record=self.record,
                        logger=self.logger,  # type: ignore[arg-type]
                    )
                )
            except Exception as err:  # noqa: BLE001 - every tag is attempted, like imgutil
                failures.append((n, err))
        digest = Digest.of(manifest)
        self.logger.info("*** Images (%s):", digest)
        failed = dict(failures)
        tags = []
        for n in names:
            if n in failed:
                self.logger.info("      %s - %s", n, failed[n])
            else:
                self.logger.info("      %s", n)
                tags.append(n)
        if failures:
            text = ",".join(f"[{n}: {e}]" for n, e in failures)
            err = LifecycleError.fail(
                action, f"failed to write image to the following tags: {text}", code
            )
            err.__cause__ = failures[0][1]
            raise err
        return digest, len(manifest), tags, pushes


def _previous_metadata(previous: RemoteImage | None) -> LayersMetadata:
    if previous is None or previous.empty:
        return LayersMetadata()
    labels = (previous.config_dict.get("config") or {}).get("Labels") or {}
    text = labels.get(LIFECYCLE_METADATA_LABEL, "")
    if not text:
        return LayersMetadata()
    try:
        return LayersMetadata.from_json(text)
    except MetadataError:
        return LayersMetadata()  # the analyzer treats unreadable metadata as none


def _add_or_reuse(
    img: WorkingImage, layer: LocalLayer, previous_sha: str, report: list, log: Any
) -> str:
    """``addOrReuseBuildpackLayer``."""
    if str(layer.diff_id) == previous_sha:
        log.info("Reusing layer '%s'", layer.id)
        img.reuse_layer(previous_sha, layer.created_by)
        report.append((layer.id, "reused"))
    else:
        log.info("Adding layer '%s'", layer.id)
        img.add_layer(layer, layer.created_by)
        report.append((layer.id, "added"))
    return str(layer.diff_id)


def _config_toml(buildpacks: Sequence[Buildpack], processes: Sequence[Process]) -> bytes:
    """``<layers>/config/metadata.toml`` (the launcher's config) for the given group."""
    lines: list[str] = []
    for bp in buildpacks:
        lines += [
            "[[buildpacks]]",
            f"  id = {go_json(bp.id)}",
            f"  version = {go_json(bp.version)}",
        ]
        lines += [f"  api = {go_json(bp.api)}", ""]
    for p in processes:
        lines += ["[[processes]]", f"  type = {go_json(p.type)}"]
        lines += [f"  command = {go_json(list(p.command))}", f"  args = {go_json(list(p.args))}"]
        lines += [f"  direct = {'true' if p.direct else 'false'}"]
        lines += [f"  buildpack-id = {go_json(p.buildpack_id)}", ""]
    return "\n".join(lines).encode()


def _build(
    img: WorkingImage,
    *,
    run_reference: str,
    run_for_export: RunImageForExport,
    orig: LayersMetadata,
    buildpacks: Sequence[Buildpack],
    app_dir: str | Path | None,
    app_files: Mapping[str, bytes] | None,
    launcher: bytes,
    processes: Sequence[Process],
    default_process: str,
    labels: Mapping[str, str],
    project: Mapping[str, Any] | None,
    platform_api: str,
    layers_path: str,
    app_path: str,
    builder: LayerBuilder,
    log: Any,
) -> tuple[LayersMetadata, list[tuple[str, str]]]:
    """``Exporter.Export`` up to (not including) the save."""
    report: list[tuple[str, str]] = []
    try:
        top = img.top_layer()
    except Exception as err:  # noqa: BLE001
        raise LifecycleError.fail(
            "export", f"get run image top layer SHA: {err}", CODE_EXPORT_ERROR
        ) from err
    new_api = not api_less_than(platform_api, "0.12")
    run_md = RunImageForRebase(
        top_layer=top,
        reference=run_reference,
        image=run_for_export.image if new_api else "",
        mirrors=run_for_export.mirrors if new_api else (),
    )
    bp_mds: list[BuildpackLayersMetadata] = []
    for bp in buildpacks:
        orig_bp = orig.buildpack(bp.id)
        layer_mds: dict[str, BuildpackLayerMetadata] = {}
        for spec in bp.layers:
            ident = f"{bp.id}:{spec.name}"
            created_by = BUILDPACK_LAYER_NAME.format(name=spec.name, bp=f"{bp.id}@{bp.version}")
            prev = orig_bp.layers.get(spec.name) if orig_bp is not None else None
            dest = f"{layers_path}/{escape_id(bp.id)}/{spec.name}"
            if spec.directory is not None or spec.files is not None:
                if spec.directory is not None:
                    layer = builder.from_directory(ident, spec.directory, dest, created_by)
                else:
                    layer = builder.from_files(ident, spec.files or {}, dest, created_by)
                sha = _add_or_reuse(img, layer, prev.sha if prev else "", report, log)
            else:
                if spec.cache:
                    raise ValueError(f"layer '{ident}' is cache=true but has no contents")
                if prev is None:
                    raise ValueError(
                        f"cannot reuse '{ident}', previous image has no metadata for layer '{ident}'"
                    )
                log.info("Reusing layer '%s'", ident)
                try:
                    img.reuse_layer(prev.sha, created_by)
                except ValueError as err:
                    raise ValueError(f"reusing layer: '{ident}': {err}") from err
                report.append((ident, "reused"))
                sha = prev.sha
            layer_mds[spec.name] = BuildpackLayerMetadata(
                sha, spec.data, spec.build, True, spec.cache
            )
        bp_mds.append(BuildpackLayersMetadata(bp.id, bp.version, layer_mds))
    app_mds: list[LayerMetadata] = []
    if app_dir is not None or app_files is not None:
        if app_dir is not None:
            app = builder.from_directory("app", app_dir, app_path, APP_LAYER_NAME)
        else:
            app = builder.from_files("app", app_files or {}, app_path, APP_LAYER_NAME)
        if str(app.diff_id) in orig.app_shas():
            img.reuse_layer(str(app.diff_id), APP_LAYER_NAME)
            log.info("Reusing 1/1 app layer(s)")
            report.append(("app", "reused"))
        else:
            img.add_layer(app, APP_LAYER_NAME)
            log.info("Adding 1/1 app layer(s)")
            report.append(("app", "added"))
        app_mds.append(LayerMetadata(str(app.diff_id)))
    launcher_sha = _add_or_reuse(img, builder.launcher(launcher), orig.launcher.sha, report, log)
    config_layer = builder.from_files(
        "buildpacksio/lifecycle:config",
        {"metadata.toml": _config_toml(buildpacks, processes)},
        f"{layers_path}/config",
        LAUNCHER_CONFIG_LAYER_NAME,
    )
    config_sha = _add_or_reuse(img, config_layer, orig.config.sha, report, log)
    pt_sha = ""
    if processes:
        pt_layer = builder.process_types([p.type for p in processes])
        pt_sha = _add_or_reuse(img, pt_layer, orig.process_types.sha, report, log)
    meta = LayersMetadata(
        app=tuple(app_mds) if app_mds else None,
        buildpacks=tuple(bp_mds) if bp_mds else None,
        config=LayerMetadata(config_sha),
        launcher=LayerMetadata(launcher_sha),
        process_types=LayerMetadata(pt_sha),
        run_image=run_md,
        stack=run_for_export,
    )
    build_md = BuildMetadata(
        buildpacks=tuple(GroupElement(b.id, b.version, b.api, b.homepage) for b in buildpacks),
        processes=tuple(processes),
    )
    for key, value in (
        (LIFECYCLE_METADATA_LABEL, meta.to_json()),
        (BUILD_METADATA_LABEL, build_md.to_json()),
        (PROJECT_METADATA_LABEL, go_json(dict(project or {}))),
        *labels.items(),
    ):
        log.info("Adding label '%s'", key)
        img.set_label(key, value)
    img.set_env("CNB_LAYERS_DIR", layers_path)
    img.set_env("CNB_APP_DIR", app_path)
    img.set_env("CNB_PLATFORM_API", platform_api)
    img.set_env("CNB_DEPRECATION_MODE", "quiet")
    img.set_env("PATH", ":".join([PROCESS_DIR, LIFECYCLE_DIR, img.env("PATH")]))
    img.set_working_dir(app_path)
    if default_process:
        if default_process not in {p.type for p in processes}:
            raise ValueError(
                f"determining entrypoint: tried to set {default_process} to default "
                "but it doesn't exist"
            )
        log.info("Setting default process type '%s'", default_process)
        img.set_entrypoint(f"{PROCESS_DIR}/{default_process}")
    else:
        log.info("no default process type")
        img.set_entrypoint(LAUNCHER_PATH)
    img.set_cmd()
    return meta, report


def export(
    image: str,
    run_image: str,
    *,
    additional_tags: Sequence[str] = (),
    previous_image: str | None = None,
    previous_metadata: LayersMetadata | None = None,
    buildpacks: Sequence[Buildpack] = (),
    app_dir: str | Path | None = None,
    app_files: Mapping[str, bytes] | None = None,
    launcher: bytes = DEFAULT_LAUNCHER,
    processes: Sequence[Process] = (),
    default_process: str = "",
    run_image_name: str | None = None,
    run_image_mirrors: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    project_metadata: Mapping[str, Any] | None = None,
    platform_api: str = "0.12",
    layers_path: str = "/layers",
    app_path: str = "/workspace",
    uid: int = 0,
    gid: int = 0,
    history: bool = True,
    insecure: bool = False,
    keychain: Keychain | Credentials | Mapping[str, Credentials] | None = None,
    profile: str | RetryProfile = "ggcr-v0.21.9",
    platform: str | None = None,
    sleep: Callable[[float], None] | None = None,
    delays: Sequence[float] = LIFECYCLE_DELAYS,
    jobs: int = 4,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
    work_dir: str | Path | None = None,
) -> ExportReport:
    """Export an app image ``image`` on top of ``run_image`` (see the module docstring).

    ``previous_metadata`` plays analyzed.toml's part; without it the previous image's
    ``io.buildpacks.lifecycle.metadata`` label is used. ``run_image_name``/``run_image_mirrors``
    are written as ``runImage.image``/``mirrors`` and ``stack.runImage`` (default: the run
    image reference as given). ``sleep`` receives every sleep (opener delays and ggcr backoff).
    Failures raise :class:`LifecycleError` carrying lifecycle's text and exit code.
    """
    log = logger if logger is not None else _log
    record: list[RequestRecord] = []
    ctx = _Ctx(insecure, keychain, profile, sleep, platform, record, jobs, log)
    try:
        if previous_image:
            log.info("Reusing layers from image '%s'", previous_image)

        def new_working() -> WorkingImage:
            prev = ctx.open(previous_image) if previous_image else None
            return WorkingImage(image, ctx.open(run_image), prev, history=history)

        try:
            working = open_remote_image(new_working, logger=log, delays=delays, sleep=sleep)
        except Exception as err:  # noqa: BLE001 - lifecycle wraps whatever failed
            raise LifecycleError.fail("create new app image", err) from err
        try:
            run_id = ctx.open(run_image).identifier
        except Exception as err:  # noqa: BLE001
            raise LifecycleError.fail(
                "get run image ID", f"failed to access run image: {err}"
            ) from err

        orig = (
            previous_metadata
            if previous_metadata is not None
            else _previous_metadata(working.previous)
        )
        for_export = RunImageForExport(run_image_name or run_image, tuple(run_image_mirrors))
        with tempfile.TemporaryDirectory(prefix="flakymirror-export-", dir=work_dir) as tmp:
            builder = LayerBuilder(tmp, uid=uid, gid=gid)
            try:
                meta, layer_report = _build(
                    working,
                    run_reference=run_id,
                    run_for_export=for_export,
                    orig=orig,
                    buildpacks=buildpacks,
                    app_dir=app_dir,
                    app_files=app_files,
                    launcher=launcher,
                    processes=processes,
                    default_process=default_process,
                    labels=labels or {},
                    project=project_metadata,
                    platform_api=platform_api,
                    layers_path=layers_path,
                    app_path=app_path,
                    builder=builder,
                    log=log,
                )
            except LifecycleError:
                raise
            except (ValueError, OSError) as err:
                raise LifecycleError.fail("export", err, CODE_EXPORT_ERROR) from err
            digest, size, tags, pushes = ctx.save(
                working, image, additional_tags, CODE_EXPORT_ERROR, "export"
            )
        return ExportReport(
            image=image,
            tags=tags,
            digest=digest,
            manifest_size=size,
            run_image_reference=run_id,
            top_layer=meta.run_image.top_layer,
            metadata=meta,
            layers=layer_report,
            pushes=pushes,
            requests=record,
        )
    finally:
        ctx.close()

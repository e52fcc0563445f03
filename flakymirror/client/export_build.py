"""The exporter's image build: lifecycle's ``Exporter.Export`` up to (not including) the save.

:func:`build_app_image` adds, in lifecycle's order, the buildpack launch layers (reused from the
previous image when their diffID matches its metadata), the app layer, the launcher, the launcher
config and the process-types layers to a :class:`WorkingImage`, then sets the ``io.buildpacks.*``
labels, the ``CNB_*`` env, PATH, WorkingDir and Entrypoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flakymirror.client.buildmeta import BuildMetadata, GroupElement, Process
from flakymirror.client.goformat import go_json
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
from flakymirror.client.lifecycle_error import CODE_EXPORT_ERROR, LifecycleError
from flakymirror.client.metadata import (
    BUILD_METADATA_LABEL,
    LIFECYCLE_METADATA_LABEL,
    PROJECT_METADATA_LABEL,
    BuildpackLayerMetadata,
    BuildpackLayersMetadata,
    LayerMetadata,
    LayersMetadata,
    RunImageForExport,
    RunImageForRebase,
    api_less_than,
)
from flakymirror.client.working_image import WorkingImage

__all__ = ["Buildpack", "LayerSpec", "build_app_image"]


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


def build_app_image(
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

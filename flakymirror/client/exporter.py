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

The build is :func:`~flakymirror.client.export_build.build_app_image`, the image being built a
:class:`~flakymirror.client.working_image.WorkingImage` (shared with the rebaser), the opens and
the save a :class:`~flakymirror.client.export_context.ExportContext`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flakymirror.client.auth import Credentials, Keychain
from flakymirror.client.buildmeta import Process
from flakymirror.client.errors import ClientError
from flakymirror.client.export_build import Buildpack, LayerSpec, build_app_image
from flakymirror.client.export_context import ExportContext
from flakymirror.client.layers import LayerBuilder
from flakymirror.client.lifecycle_error import CODE_EXPORT_ERROR, LifecycleError
from flakymirror.client.metadata import (
    LIFECYCLE_METADATA_LABEL,
    LayersMetadata,
    MetadataError,
    RunImageForExport,
)
from flakymirror.client.opener import LIFECYCLE_DELAYS, open_remote_image
from flakymirror.client.push import PushResult
from flakymirror.client.remote import RemoteImage
from flakymirror.client.retry import RetryProfile
from flakymirror.client.transport import RequestRecord
from flakymirror.client.working_image import WorkingImage, image_labels
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
#: Content of the synthetic ``/cnb/lifecycle/launcher`` when none is given.
DEFAULT_LAUNCHER = b'#!/bin/sh\n# flakymirror synthetic CNB launcher\nexec "$@"\n'


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


def _previous_metadata(previous: RemoteImage | None) -> LayersMetadata:
    if previous is None or previous.empty:
        return LayersMetadata()
    text = image_labels(previous).get(LIFECYCLE_METADATA_LABEL, "")
    if not text:
        return LayersMetadata()
    try:
        return LayersMetadata.from_json(text)
    except MetadataError:
        return LayersMetadata()  # the analyzer treats unreadable metadata as none


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
    ctx = ExportContext(insecure, keychain, profile, sleep, platform, record, jobs, log)
    try:
        if previous_image:
            log.info("Reusing layers from image '%s'", previous_image)

        def new_working() -> WorkingImage:
            # imgutil WithPreviousImage: the manifest now, the config when a layer is reused
            prev = ctx.open(previous_image, fetch_config=False) if previous_image else None
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

        try:
            orig = (
                previous_metadata
                if previous_metadata is not None
                else _previous_metadata(working.previous)
            )
        except ClientError as err:  # the previous image's config, first read here
            raise LifecycleError.fail(
                "export", f"read previous image metadata: {err}", CODE_EXPORT_ERROR
            ) from err
        for_export = RunImageForExport(run_image_name or run_image, tuple(run_image_mirrors))
        with tempfile.TemporaryDirectory(prefix="flakymirror-export-", dir=work_dir) as tmp:
            builder = LayerBuilder(tmp, uid=uid, gid=gid)
            try:
                meta, layer_report = build_app_image(
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

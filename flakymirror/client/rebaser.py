"""lifecycle's rebaser in registry mode: swap an app image's run image layers for new ones.

:func:`rebase` follows ``cmd/lifecycle/rebaser.go`` and ``phase/rebaser.go``:

1. ``setAppImage``: open the app image (``-previous-image`` or the output name) once, **not**
   retried; ``Found()`` (a manifest HEAD); decode ``io.buildpacks.lifecycle.metadata``; without
   ``run_image`` pick one from ``runImage.image``/``mirrors`` (or ``stack.runImage``), preferring
   a readable one in the app's registry. Failures: ``failed to set app image: …`` (exit 72).
2. Open the new run image through the retrying opener, then ``Found()``:
   ``failed to access run image: <err>`` (exit 1).
3. Validate: the app's ``CNB_PLATFORM_API`` < 0.12 checks stack id and mixins, otherwise the
   target and ``io.buildpacks.rebasable`` (``force`` turns those into warnings).
4. Swap the layers below ``runImage.topLayer``, take OS/arch from the new base, update
   ``topLayer``/``reference``, check the new name is in the metadata (Platform API >= 0.12),
   sync the ``io.buildpacks.stack.*``/``base.*`` labels, save. Failures: ``failed to rebase: …``
   (exit 72).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flakymirror.client.auth import Credentials, Keychain, repository_scope
from flakymirror.client.errors import ClientError
from flakymirror.client.export_context import ExportContext
from flakymirror.client.goformat import go_json
from flakymirror.client.lifecycle_error import CODE_INVALID_ARGS, CODE_REBASE_ERROR, LifecycleError
from flakymirror.client.metadata import (
    LIFECYCLE_METADATA_LABEL,
    LayersMetadata,
    MetadataError,
    RunImageForRebase,
    api_less_than,
)
from flakymirror.client.opener import LIFECYCLE_DELAYS, open_remote_image
from flakymirror.client.push import PushResult
from flakymirror.client.rebase_checks import (
    FORCE_HINT,
    RebaseError,
    best_run_image_mirror,
    run_image_from_metadata,
    sync_labels,
    validate_mixins,
    validate_stack_id,
    validate_target,
)
from flakymirror.client.remote import RemoteImage, parse_reference
from flakymirror.client.retry import RetryProfile
from flakymirror.client.target import TargetMetadata
from flakymirror.client.transport import RequestRecord, Transport
from flakymirror.client.urls import manifest_path
from flakymirror.client.working_image import WorkingImage, image_labels
from flakymirror.oci import mediatypes as mt
from flakymirror.oci.digest import Digest

__all__ = [
    "RebaseError",
    "RebaseReport",
    "best_run_image_mirror",
    "rebase",
    "run_image_from_metadata",
    "sync_labels",
    "validate_mixins",
    "validate_stack_id",
    "validate_target",
]

_log = logging.getLogger("flakymirror.client.rebase")


@dataclass
class RebaseReport:
    """What :func:`rebase` did; ``requests`` lists every HTTP exchange in order."""

    image: str
    tags: list[str]
    digest: Digest
    manifest_size: int
    run_image: str
    top_layer: str
    reference: str
    metadata: LayersMetadata
    pushes: list[PushResult] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)


def _can_read(ctx: ExportContext, ref: str) -> bool:
    """imgutil ``CheckReadAccess``: a manifest HEAD answered 200."""
    r = parse_reference(ref)
    with Transport(
        r.registry or "",
        insecure=ctx.insecure,
        keychain=ctx.keychain,
        profile=ctx.profile,
        sleep=ctx.sleep,
        record=ctx.record,
    ) as t:
        try:
            t.request(
                "HEAD",
                manifest_path(r.repository, r.identifier),
                scope=repository_scope(r.repository),
                headers={"Accept": mt.GGCR_MANIFEST_ACCEPT},
            )
        except ClientError:
            return False
    return True


def _decode(ctx: ExportContext, image: RemoteImage, labels: Mapping[str, str]) -> LayersMetadata:
    """``image.DecodeLabel`` of the lifecycle metadata (``Found()`` first: a HEAD)."""
    if not ctx.found(image):
        return LayersMetadata()
    text = labels.get(LIFECYCLE_METADATA_LABEL, "")
    if not text:
        return LayersMetadata()
    try:
        return LayersMetadata.from_json(text)
    except MetadataError as err:
        raise RebaseError(
            f"failed to unmarshal context of label '{LIFECYCLE_METADATA_LABEL}': {err}"
        ) from err


def _set_app_image(
    ctx: ExportContext, target: str, run_image: str | None, platform_api: str
) -> tuple[RemoteImage, str]:
    """``rebaseCmd.setAppImage``: the app image and the run image reference to use."""

    def fail(err: Any) -> LifecycleError:
        return LifecycleError.fail("set app image", err, CODE_REBASE_ERROR)

    try:
        app = ctx.open(target)
    except Exception as err:  # noqa: BLE001 - imgutil wraps whatever failed
        raise fail(LifecycleError.fail("access image to rebase", err)) from err
    if not ctx.found(app):
        raise fail(LifecycleError.fail("access image to rebase", None))
    try:
        md = _decode(ctx, app, image_labels(app))
    except RebaseError as err:
        raise fail(err) from err
    if run_image:
        return app, run_image
    chosen = run_image_from_metadata(platform_api, md)
    if chosen is None:
        text = "-run-image is required when there is no run image metadata available"
        raise fail(LifecycleError.fail("parse arguments", text, CODE_INVALID_ARGS))
    try:
        registry = parse_reference(target).registry or ""
        return app, best_run_image_mirror(registry, chosen, lambda ref: _can_read(ctx, ref))
    except RebaseError as err:
        raise fail(err) from err


def _rebase(
    ctx: ExportContext,
    app: RemoteImage,
    new_base: RemoteImage,
    image: str,
    run_image: str,
    *,
    force: bool,
    platform_api: str,
) -> tuple[WorkingImage, LayersMetadata]:
    """``Rebaser.Rebase`` up to the save; raises :class:`RebaseError` with lifecycle's text."""
    # the app image is opened without WithHistory: imgutil blanks the history on save
    working = WorkingImage(image, app, history=False)
    base = WorkingImage(run_image, new_base)
    app_labels, new_labels = working.labels(), base.labels()
    app_api = working.env("CNB_PLATFORM_API")
    try:
        old_rules = not app_api or api_less_than(app_api, "0.12")
    except ValueError as err:
        raise RebaseError(f"failed to get app image platform API: {err}") from err
    if old_rules:
        validate_stack_id(app_labels, new_labels)
        ctx.found(app)  # DecodeLabel(appImg, mixins) checks Found()
        ctx.found(new_base)  # DecodeLabel(newBaseImg, mixins)
        validate_mixins(app_labels, new_labels)
    else:
        cfg, ncfg = working.config, base.config
        validate_target(
            TargetMetadata.of(cfg.get("os", ""), cfg.get("architecture", ""), cfg.get("variant"),
                              app_labels),
            TargetMetadata.of(ncfg.get("os", ""), ncfg.get("architecture", ""),
                              ncfg.get("variant"), new_labels),
            app_labels,
            force=force,
            warn=ctx.logger.warning,
        )  # fmt: skip
    try:
        orig = _decode(ctx, app, app_labels)
    except RebaseError as err:
        raise RebaseError(f"get image metadata: {err}") from err
    cut = next(
        (i for i, e in enumerate(working.entries) if e.diff_id == orig.run_image.top_layer), None
    )
    if cut is None:
        raise RebaseError("rebase app image: could not find base layer in image")
    working.entries = base.entries + working.entries[cut + 1 :]
    working.history = base.history + working.history[cut + 1 :]
    working._base_count = -1  # the image now has its own layers
    # ggcr mutate.Rebase keeps only the app's container config; OS, arch and OS version come
    # from the new base (imgutil sets them again); other top-level fields are not carried over
    working.config = {
        "architecture": base.config.get("architecture", ""),
        "os": base.config.get("os", ""),
        "os.version": base.config.get("os.version", ""),
        "config": working.config.get("config") or {},
    }
    try:
        top = new_base.top_layer()
    except Exception as err:  # noqa: BLE001
        raise RebaseError(f"get rebase run image top layer SHA: {err}") from err
    run_md = RunImageForRebase(
        top, new_base.identifier, orig.run_image.image, orig.run_image.mirrors
    )
    stack = orig.stack
    if not api_less_than(platform_api, "0.12"):
        listed = run_md.contains(run_image) or (stack is not None and stack.contains(run_image))
        if not listed:
            if run_md.image:
                existing = go_json(run_md.to_dict())
            elif stack is not None:
                existing = go_json(stack.to_dict())
            else:
                existing = "not found"
            text = (
                f"rebase app image: new base image '{run_image}' not found in existing run "
                f"image metadata: {existing}"
            )
            if not force:
                raise RebaseError(f"{text}; {FORCE_HINT}")
            ctx.logger.warning(text)
            run_md = RunImageForRebase(run_md.top_layer, run_md.reference, run_image, ())
            stack = run_md.for_export()
    meta = LayersMetadata(
        app=orig.app,
        sbom=orig.sbom,
        buildpacks=orig.buildpacks,
        config=orig.config,
        launcher=orig.launcher,
        process_types=orig.process_types,
        run_image=run_md,
        stack=stack,
    )
    working.set_label(LIFECYCLE_METADATA_LABEL, meta.to_json())
    working.config["config"]["Labels"] = sync_labels(working.labels(), new_labels, platform_api)
    return working, meta


def rebase(
    image: str,
    *,
    run_image: str | None = None,
    previous_image: str | None = None,
    additional_tags: Sequence[str] = (),
    force: bool = False,
    platform_api: str = "0.12",
    insecure: bool = False,
    keychain: Keychain | Credentials | Mapping[str, Credentials] | None = None,
    profile: str | RetryProfile = "ggcr-v0.21.9",
    platform: str | None = None,
    sleep: Callable[[float], None] | None = None,
    delays: Sequence[float] = LIFECYCLE_DELAYS,
    jobs: int = 4,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> RebaseReport:
    """Rebase the app image ``image`` (read from ``previous_image`` when given) onto
    ``run_image`` (or the run image its metadata names) and save it as ``image`` plus
    ``additional_tags``. ``platform_api`` is the platform's (the lifecycle's) Platform API.
    Failures raise :class:`LifecycleError` with lifecycle's text and exit code."""
    log = logger if logger is not None else _log
    record: list[RequestRecord] = []
    ctx = ExportContext(insecure, keychain, profile, sleep, platform, record, jobs, log)
    try:
        target = previous_image or image
        app, run_ref = _set_app_image(ctx, target, run_image, platform_api)
        try:
            new_base = open_remote_image(
                lambda: ctx.open(run_ref), logger=log, delays=delays, sleep=sleep
            )
        except Exception as err:  # noqa: BLE001
            raise LifecycleError.fail("access run image", err) from err
        if not ctx.found(new_base):
            raise LifecycleError.fail("access run image", None)
        try:
            working, meta = _rebase(
                ctx, app, new_base, image, run_ref, force=force, platform_api=platform_api
            )
        except RebaseError as err:
            raise LifecycleError.fail("rebase", err, CODE_REBASE_ERROR) from err
        digest, size, tags, pushes = ctx.save(
            working, image, additional_tags, CODE_REBASE_ERROR, "rebase"
        )
        return RebaseReport(
            image=image,
            tags=tags,
            digest=digest,
            manifest_size=size,
            run_image=run_ref,
            top_layer=meta.run_image.top_layer,
            reference=meta.run_image.reference,
            metadata=meta,
            pushes=pushes,
            requests=record,
        )
    finally:
        ctx.close()

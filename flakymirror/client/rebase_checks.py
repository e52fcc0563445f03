"""lifecycle's rebase checks, pure functions of labels and metadata (``phase/rebaser.go``):
the stack id and mixins (Platform API < 0.12), the target and ``io.buildpacks.rebasable``
(>= 0.12), the label sync, and the choice of a run image from the app's metadata. Each
failure is a :class:`RebaseError` with lifecycle's exact text; :mod:`flakymirror.client.rebaser`
runs them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flakymirror.client.metadata import (
    MIXINS_LABEL,
    REBASABLE_LABEL,
    STACK_ID_LABEL,
    LayersMetadata,
    MetadataError,
    RunImageForExport,
    api_less_than,
)
from flakymirror.client.remote import parse_reference
from flakymirror.client.target import TargetMetadata, parse_mixins, strip_stage_prefixes

__all__ = [
    "FORCE_HINT",
    "RebaseError",
    "best_run_image_mirror",
    "run_image_from_metadata",
    "sync_labels",
    "validate_mixins",
    "validate_stack_id",
    "validate_target",
]

#: What lifecycle appends to a check that ``-force`` turns into a warning.
FORCE_HINT = "please provide -force to override"


class RebaseError(ValueError):
    """A rebase validation failure with lifecycle's exact text."""


def validate_stack_id(app_labels: Mapping[str, str], new_labels: Mapping[str, str]) -> None:
    """``validateStackID`` (Platform API < 0.12)."""
    app_stack = app_labels.get(STACK_ID_LABEL, "")
    new_stack = new_labels.get(STACK_ID_LABEL, "")
    if not app_stack:
        raise RebaseError("stack not defined on app image")
    if not new_stack:
        raise RebaseError("stack not defined on new base image")
    if app_stack != new_stack:
        raise RebaseError(f"incompatible stack: '{new_stack}' is not compatible with '{app_stack}'")


def validate_mixins(app_labels: Mapping[str, str], new_labels: Mapping[str, str]) -> None:
    """``validateMixins``: every app mixin (stage prefixes stripped) must be on the new base."""
    label_err = f"failed to unmarshal context of label '{MIXINS_LABEL}'"
    try:
        app = strip_stage_prefixes(parse_mixins(app_labels.get(MIXINS_LABEL)))
    except MetadataError as err:
        raise RebaseError(f"get app image mixins: {label_err}: {err}") from err
    try:
        new = set(strip_stage_prefixes(parse_mixins(new_labels.get(MIXINS_LABEL))))
    except MetadataError as err:
        raise RebaseError(f"get run image mixins: {label_err}: {err}") from err
    missing = sorted({m for m in app if m not in new})
    if missing:
        raise RebaseError(f"missing required mixin(s): {', '.join(missing)}")


def validate_target(
    app: TargetMetadata,
    new: TargetMetadata,
    app_labels: Mapping[str, str],
    *,
    force: bool,
    warn: Callable[[str], None],
) -> None:
    """``validateTarget`` (Platform API >= 0.12): ``io.buildpacks.rebasable`` and the target
    constraints; with ``force`` both become warnings."""
    if app_labels.get(REBASABLE_LABEL, "") == "false":
        if not force:
            raise RebaseError(f"app image is not marked as rebasable; {FORCE_HINT}")
        warn("app image is not marked as rebasable")
    if not new.satisfies_for_rebase(app):
        text = (
            "unable to satisfy target os/arch constraints; "
            f"new run image: {new.to_json()}, old run image: {app.to_json()}"
        )
        if not force:
            raise RebaseError(f"{text}; {FORCE_HINT}")
        warn(text)


def sync_labels(
    app_labels: Mapping[str, str], new_labels: Mapping[str, str], platform_api: str
) -> dict[str, str]:
    """``image.SyncLabels``: drop the app's ``io.buildpacks.stack.*`` (and ``base.*`` for
    Platform API >= 0.12) labels, then copy the new base's."""
    prefixes = ("io.buildpacks.stack.",)
    if not api_less_than(platform_api, "0.12"):
        prefixes += ("io.buildpacks.base.",)
    out = {k: v for k, v in app_labels.items() if not k.startswith(prefixes)}
    out.update({k: v for k, v in new_labels.items() if k.startswith(prefixes)})
    return out


def run_image_from_metadata(platform_api: str, md: LayersMetadata) -> RunImageForExport | None:
    """``GetRunImageFromMetadata``: ``runImage`` (Platform API >= 0.12), else ``stack``."""
    if not api_less_than(platform_api, "0.12") and md.run_image.image:
        return md.run_image.for_export()
    if md.stack is not None and md.stack.image:
        return md.stack
    return None


def best_run_image_mirror(
    registry: str, run_image: RunImageForExport, can_read: Callable[[str], bool]
) -> str:
    """``BestRunImageMirrorFor``: a readable image in ``registry`` first, then the first
    readable one; ``failed to find accessible run image`` otherwise."""
    if not run_image.image:
        raise RebaseError("missing run image metadata")
    candidates = [run_image.image, *run_image.mirrors]
    for ref in candidates:
        if parse_reference(ref).registry == registry and can_read(ref):
            return ref
    for ref in candidates:
        if can_read(ref):
            return ref
    raise RebaseError("failed to find accessible run image")

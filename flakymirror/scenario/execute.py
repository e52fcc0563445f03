"""Run a scenario's client action (open, export, rebase) against a mirror, through the recorder.

Only this module (and the runner) imports :mod:`flakymirror.client`. The client sees nothing of
the mirror but its ``host``; it talks plain HTTP (``insecure=True``) and sleeps through the
recorder, which sleeps through the mirror's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flakymirror.scenario.model import Action, Scenario
from flakymirror.scenario.recorder import Recorder

__all__ = ["Outcome", "action_image", "prepare", "resolve", "run_action"]


@dataclass(frozen=True)
class Outcome:
    """What the action ended with: an error (text, type, status, exit code) or a top layer."""

    error: str | None = None
    error_type: str | None = None
    status: int | None = None
    exit_code: int | None = None
    top_layer: str | None = None
    digest: str | None = None


def action_image(scenario: Scenario, built: dict[str, Any], ref: str | None = None) -> Any:
    """The built image (or index) ``ref`` names (default: the reference client's action image):
    by ``repo:tag``, or for ``repo@digest`` the first image pushed to that repository."""
    if ref is None:
        ref = scenario.reference_action.image
    if ref in built:
        return built[ref]
    repo = ref.split("@", 1)[0]
    return next((img for r, img in built.items() if r.rpartition(":")[0] == repo), None)


def resolve(ref: str, scenario: Scenario, built: dict[str, Any], platform: str | None = None) -> str:
    """``ref`` with ``@{digest}`` / ``@{index_digest}`` replaced by the digest of the image
    pushed to that repository (``{digest}`` of an index: its child for ``platform``)."""
    if ref.endswith(("@{digest}", "@{index_digest}")):
        image = action_image(scenario, built, ref)
        if image is None:
            raise ValueError(f"{ref!r}: no image pushed to that repository")
        if ref.endswith("@{digest}") and hasattr(image, "image_for"):
            image = image.image_for(platform or "linux/amd64")
        return f"{ref.split('@', 1)[0]}@{image.digest}"
    return ref


def _keychain(scenario: Scenario) -> Any:
    spec = scenario.mirror.auth
    if spec is None or not spec.client_credentials:
        return None
    from flakymirror.client import BasicCredentials

    return BasicCredentials(spec.username, spec.password)


def _failure(err: BaseException) -> Outcome:
    from flakymirror.client import find_transport_error

    terr = find_transport_error(err)
    return Outcome(
        error=str(err),
        error_type=type(err).__name__,
        status=terr.status_code if terr is not None else None,
        exit_code=getattr(err, "exit_code", None),
    )


def run_action(
    scenario: Scenario, action: Action, host: str, rec: Recorder, built: dict[str, Any]
) -> Outcome:
    """Run ``action`` (the scenario's, or the one a client spec made of it) against the mirror
    at ``host`` and say how it ended."""
    runners = {"open": _open, "export": _export, "rebase": _rebase}
    try:
        return runners[action.kind](scenario, action, host, rec, built)
    except Exception as err:  # noqa: BLE001 - whatever the client raised is the outcome
        return _failure(err)


def _new_image_factory(scenario: Scenario, action: Action, ref: str, rec: Recorder) -> Any:
    from flakymirror.client import new_remote_image

    keychain = _keychain(scenario)

    def new_image() -> Any:
        rec.attempt()
        return new_remote_image(
            ref,
            insecure=True,
            keychain=keychain,
            platform=action.platform,
            profile=action.profile,
            sleep=rec.transport_sleep,
            seed=action.seed,
        )

    return new_image


def _open(
    scenario: Scenario, action: Action, host: str, rec: Recorder, built: dict[str, Any]
) -> Outcome:
    from flakymirror.client import open_remote_image

    ref = f"{host}/{resolve(action.image, scenario, built, action.platform)}"
    image = open_remote_image(
        _new_image_factory(scenario, action, ref, rec),
        logger=rec.logger,
        delays=action.delays,
        sleep=rec.opener_sleep,
    )
    return Outcome(top_layer=str(image.top_layer()), digest=str(image.digest))


def _command_options(scenario: Scenario, action: Action, rec: Recorder) -> dict[str, Any]:
    """The keywords the recorded export and rebase share: the action's client settings, with
    the recorder's sleep and logger."""
    return {
        "insecure": True,
        "keychain": _keychain(scenario),
        "profile": action.profile,
        "platform": action.platform,
        "sleep": rec.sleep,
        "delays": action.delays,
        "logger": rec.logger,
    }


def _export(
    scenario: Scenario, action: Action, host: str, rec: Recorder, built: dict[str, Any]
) -> Outcome:
    """lifecycle's exporter: the run image (``action.image``) from the mirror, the app image
    pushed to the mirror as ``action.output``."""
    from flakymirror.client import export

    assert action.output is not None  # the loader requires it
    rec.attempt()  # the exporter's first step is the retrying open of the working image
    report = export(
        f"{host}/{action.output}",
        f"{host}/{resolve(action.image, scenario, built, action.platform)}",
        previous_image=f"{host}/{action.previous_image}" if action.previous_image else None,
        **_command_options(scenario, action, rec),
    )
    return Outcome(top_layer=str(report.top_layer), digest=str(report.digest))


def prepare(
    scenario: Scenario, action: Action, host: str, built: dict[str, Any], sleep: Any
) -> None:
    """Set-up before the recorded action: a rebase needs an app image built by lifecycle's
    exporter, so one is exported to ``app_image`` on top of ``base_image`` (its metadata names
    ``image`` as the run image, as if the tag had moved on since)."""
    if action.kind != "rebase":
        return
    import logging

    from flakymirror.client import export

    assert action.app_image is not None and action.base_image is not None
    quiet = logging.Logger("flakymirror.scenario.setup", logging.CRITICAL)
    export(
        f"{host}/{action.app_image}",
        f"{host}/{action.base_image}",
        run_image_name=f"{host}/{action.image}",
        insecure=True,
        keychain=_keychain(scenario),
        profile=action.profile,
        platform=action.platform,
        sleep=sleep,
        logger=quiet,
    )


def _rebase(
    scenario: Scenario, action: Action, host: str, rec: Recorder, built: dict[str, Any]
) -> Outcome:
    """lifecycle's rebaser: ``app_image`` onto the new run image ``image`` (from the app's
    metadata), saved to ``output`` (default: ``app_image``)."""
    from flakymirror.client import rebase

    assert action.app_image is not None
    # the app image is opened first (not retried); the opener's first attempt follows it
    rec.attempt(mark=False)
    output = action.output or action.app_image
    report = rebase(
        f"{host}/{output}",
        previous_image=f"{host}/{action.app_image}" if output != action.app_image else None,
        force=action.force,
        **_command_options(scenario, action, rec),
    )
    return Outcome(top_layer=str(report.top_layer), digest=str(report.digest))

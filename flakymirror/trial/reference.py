"""The reference client as a column of the matrix: lifecycle's retrying opener on the virtual
clock, judged like any other client — by what it ended up with."""

from __future__ import annotations

from typing import Any

from flakymirror.trial.cell import Target
from flakymirror.trial.clients import ReferenceClient
from flakymirror.trial.result import TrialResult
from flakymirror.trial.verdict import (
    FAILED_LOUD,
    FAILED_SILENT,
    HARNESS_ERROR,
    NOT_APPLICABLE,
    SURVIVED,
    Judgement,
)

__all__ = ["judge_reference", "run_reference"]


def judge_reference(result: Any, target: Target, kind: str) -> Judgement:
    """``failed-loud`` for an error (lifecycle exits non-zero); after a success, ``survived``
    when the image it opened is the complete one (the top layer it reports, and for an
    ``open`` the manifest digest, are the upstream image's), else ``failed-silent``."""
    if result.outcome == "error":
        return Judgement(FAILED_LOUD, f"error: {result.error}")
    top = target.diff_ids[-1] if target.diff_ids else None
    if result.top_layer != top:
        return Judgement(
            FAILED_SILENT,
            f"success, but the run image's top layer is {result.top_layer}, not {top}",
        )
    if kind == "open" and result.digest not in (None, target.manifest):
        return Judgement(
            FAILED_SILENT, f"success, but it opened {result.digest}, not {target.manifest}"
        )
    return Judgement(SURVIVED, "success with the complete image")


def _gaps(result: Any) -> tuple[float, ...]:
    starts = [e.time for e in result.events if e.type == "attempt"]
    return tuple(round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False))


def run_reference(
    scenario: Any, client: ReferenceClient, target: Target, expected: str
) -> TrialResult:
    """Replay ``scenario`` with the reference client (``client``'s profile and delays) and
    judge it. On an origin scenario the reference is ``n/a``: it has no mirror configuration."""
    from flakymirror.scenario import ScenarioError
    from flakymirror.scenario.runner import run_scenario

    base = {"scenario": scenario.name, "client": client.name}
    if scenario.origin is not None:
        return TrialResult(
            **base,
            verdict=NOT_APPLICABLE,
            expected=NOT_APPLICABLE,
            error="the reference client has no mirror configuration (it cannot fall back)",
        )
    action = client.action(scenario)
    try:
        result = run_scenario(scenario, action=action)
    except (ScenarioError, OSError) as exc:
        return TrialResult(**base, verdict=HARNESS_ERROR, expected=expected, error=str(exc))
    judgement = judge_reference(result, target, action.kind)
    return TrialResult(
        **base,
        verdict=judgement.verdict,
        expected=expected,
        reason=judgement.reason,
        attempts=result.attempts,
        gaps=_gaps(result),
        wall_s=result.wall,
        requests=dict(result.requests),
    )

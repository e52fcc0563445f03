"""Verdicts: one word for how a client fared against an incident, and the rules that give it.

:func:`judge` decides from the outside only: how the process ended (:class:`~flakymirror.trial.
cell.Completed`), what the mirror and the origin saw (:class:`~flakymirror.trial.observe.
Observations`) and what the client ended up with (:class:`~flakymirror.trial.cell.Content`,
which wins where it can be read). :func:`ideal` says what a client *should* get from an incident,
from the incident alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from flakymirror.trial.cell import Completed, Content, Target
from flakymirror.trial.observe import Observations

__all__ = [
    "FAILED_LOUD",
    "FAILED_SILENT",
    "HARNESS_ERROR",
    "HUNG",
    "NOT_APPLICABLE",
    "SURVIVED",
    "VERDICTS",
    "Judgement",
    "content_matches",
    "ideal",
    "judge",
]

SURVIVED = "survived"
FAILED_SILENT = "failed-silent"
FAILED_LOUD = "failed-loud"
HUNG = "hung"
HARNESS_ERROR = "harness-error"
NOT_APPLICABLE = "n/a"
#: Every verdict, best first.
VERDICTS = (SURVIVED, FAILED_LOUD, FAILED_SILENT, HUNG, HARNESS_ERROR, NOT_APPLICABLE)


@dataclass(frozen=True)
class Judgement:
    """A verdict and the one-line reason it was given; ``kept_partial`` for a failure that left
    part of an image behind."""

    verdict: str
    reason: str
    kept_partial: bool = False


def content_matches(content: Content, target: Target) -> str | None:
    """None when what the client holds is the target image, else what differs."""
    if content.verified is False:
        return "a blob it holds does not match its digest"
    if content.manifest is not None and content.manifest not in (target.manifest, target.index):
        held = content.layers if content.layers is not None else content.diff_ids
        count = f" ({len(held)} of the image's {len(target.layers)} layers)" if held is not None else ""
        return f"it holds manifest {content.manifest}{count}, not {target.manifest}"
    if content.manifest is None and content.layers is None and content.diff_ids is None:
        return "it holds no manifest"
    if content.config is not None and content.config != target.config:
        return f"it holds config {content.config}, not {target.config}"
    if content.layers is not None and tuple(content.layers) != target.layers:
        return f"it holds {len(content.layers)} of the image's {len(target.layers)} layers"
    if content.diff_ids is not None and tuple(content.diff_ids) != target.diff_ids:
        return (
            f"it holds {len(content.diff_ids)} layers (diff IDs) where the image has "
            f"{len(target.diff_ids)}"
        )
    return None


def _last_line(text: str, width: int = 160) -> str:
    """The last non-empty line of a client's output, shortened to ``width`` characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= width else last[: width - 1] + "…"


def judge(
    completed: Completed,
    observations: Observations,
    content: Content,
    target: Target,
    *,
    manifest_only: bool = False,
) -> Judgement:
    """The verdict of one external client run.

    ``hung`` when it was killed at the timeout; ``failed-loud`` for a non-zero exit;
    ``harness-error`` when the journal dropped entries (the evidence is incomplete), the
    harness refused a request on one of its own caps (outcome ``"limit"``), or the program
    could not be started at all. An exit 0 is ``survived`` only on positive evidence:
    what the client holds is the target image (when its output can be read, this wins), or else
    the journal shows a complete manifest as the last one it took and every blob it needs
    delivered whole; otherwise ``failed-silent``.
    """
    differs = content_matches(content, target) if content.readable else None
    # a failure that left an image behind, other than the one wanted
    partial = content.partial or (differs is not None and content.manifest is not None)
    if observations.dropped:
        return Judgement(
            HARNESS_ERROR,
            f"the mirror's journal dropped {observations.dropped} entries: the evidence is "
            "incomplete (raise the journal size)",
        )
    limited = [s for s in observations.timeline if s.outcome == "limit"]
    if limited:
        return Judgement(
            HARNESS_ERROR,
            f"the harness refused {len(limited)} requests on its own ({limited[0].reason}): "
            "the client is not to blame",
        )
    if completed.error is not None:
        return Judgement(HARNESS_ERROR, f"the client could not be started: {completed.error}")
    if completed.timed_out:
        return Judgement(HUNG, f"still running after {completed.wall:.1f}s: killed", partial)
    if completed.exit_code != 0:
        said = _last_line(completed.stderr) or _last_line(completed.stdout)
        return Judgement(
            FAILED_LOUD, f"exit code {completed.exit_code}" + (f": {said}" if said else ""), partial
        )
    if observations.requests_seen == 0:
        return Judgement(FAILED_SILENT, "exit 0 without a single request to the mirror or origin")
    if content.readable:
        if differs is None:
            return Judgement(SURVIVED, f"exit 0 and {content.detail or 'the complete image'}")
        return Judgement(FAILED_SILENT, f"exit 0 but {differs}")
    missing = observations.missing_evidence(target, manifest_only=manifest_only)
    if missing is None:
        return Judgement(SURVIVED, "exit 0; the journal shows the complete image delivered")
    return Judgement(FAILED_SILENT, f"exit 0 but {missing}")


def ideal(
    *,
    survivable: bool,
    converges_after: float | None,
    timeout: float,
    has_what_it_needs: bool = True,
) -> str:
    """The verdict a client *should* get: ``survived`` when the incident is survivable, the
    mirror converges within half the cell's ``timeout`` (a client backing off sensibly needs
    up to about twice that long) and the client has what the incident needs (mirror
    configuration where only the origin can serve); ``failed-loud`` otherwise — a client that
    cannot get the image must say so."""
    if not survivable or not has_what_it_needs:
        return FAILED_LOUD
    if converges_after is not None and converges_after > timeout / 2:
        return FAILED_LOUD
    return SURVIVED

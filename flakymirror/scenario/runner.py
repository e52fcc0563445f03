"""Replay a scenario: build a FlakyMirror, run the client action against it, check expectations.

:func:`run_scenario` is the whole replay; :func:`apply_to_mirror` is the part that loads a
scenario into a mirror someone else owns (the pytest plugin's ``mirror_scenario`` marker).

Under the virtual clock every client sleep (the opener's delays and ggcr's transport backoff)
is the clock's ``sleep``: it returns at once and moves the mirror's time forward, so sync plans
progress exactly as the client waits and a 3.8 s backoff replays in milliseconds.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flakymirror.mirror.clock import RealClock, VirtualClock
from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE
from flakymirror.mirror.mirror import FlakyMirror
from flakymirror.registry.auth import BasicAuth, BearerAuth
from flakymirror.scenario.checks import check
from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.execute import Outcome, action_image, prepare, run_action
from flakymirror.scenario.model import Action, Expectations, Scenario
from flakymirror.scenario.recorder import Recorder
from flakymirror.scenario.result import Event, ScenarioResult
from flakymirror.scenario.stage import build_auth

__all__ = ["apply_to_mirror", "build_mirror", "placeholders", "run_scenario"]

_PLACEHOLDER = re.compile(r"\{(host|digest|index_digest|config|layer\d+|diff_id\d+)\}")


def build_mirror(scenario: Scenario) -> Any:
    """A new (not yet started) FlakyMirror for ``scenario``: its clock and its auth."""
    clock = VirtualClock() if scenario.clock == "virtual" else RealClock()
    return FlakyMirror(
        clock=clock,
        auth=build_auth(scenario.mirror.auth, clock),
        journal_size=scenario.mirror.journal_size or DEFAULT_JOURNAL_SIZE,
    )


def apply_to_mirror(scenario: Scenario, mirror: Any) -> dict[str, Any]:
    """Load ``scenario`` into a running ``mirror``: push its images to the (in-process)
    upstream, set its sync plans and add its fault rules (after any already there).

    Returns the built images (``Image``/``ImageIndex``) by ``repo:tag``. The mirror's clock and
    auth are the mirror's own: a scenario that needs auth needs a mirror built with it
    (:func:`build_mirror`).
    """
    _check_auth(scenario, mirror)
    built: dict[str, Any] = {}
    for spec in scenario.images:
        image = spec.build()
        mirror.push_upstream(image, spec.ref)
        built[spec.ref] = image
    if scenario.mirror.plans:
        plans = scenario.mirror.plans
        mirror.set_plan(plans if len(plans) > 1 else plans[0])
    for rule in scenario.mirror.faults:
        mirror.add_fault(rule)
    return built


def _check_auth(scenario: Scenario, mirror: Any) -> None:
    """A scenario with ``[mirror.auth]`` cannot be replayed on a mirror without that auth."""
    spec = scenario.mirror.auth
    app = getattr(mirror, "registry_app", None)
    if spec is None or app is None:
        return
    wanted = {"basic": BasicAuth, "bearer": BearerAuth}[spec.kind]
    have = getattr(app, "auth", None)
    if not isinstance(have, wanted):
        raise ScenarioError(
            f"needs a mirror with {spec.kind} auth, this one has {type(have).__name__}; "
            "build it with flakymirror.scenario.runner.build_mirror(scenario)",
            path=scenario.path,
            key="mirror.auth",
        )


def placeholders(
    scenario: Scenario, built: dict[str, Any], host: str, action: Action | None = None
) -> dict[str, str]:
    """Values for ``{host}``, ``{digest}``, ``{index_digest}``, ``{config}``, ``{layerN}`` and
    ``{diff_idN}`` in expected texts: the mirror's host and the action image's digests (for an
    index: the child for the action's platform; ``{index_digest}`` is the index's). ``action``
    defaults to the scenario's reference action."""
    action = action if action is not None else scenario.reference_action
    values = {"host": host}
    image = action_image(scenario, built, action.image)
    if image is None:
        return values
    if hasattr(image, "image_for"):
        values["index_digest"] = str(image.digest)
        image = image.image_for(action.platform or "linux/amd64")
    values["digest"] = str(image.digest)
    values["config"] = str(image.config_blob.digest)
    for i, layer in enumerate(image.layers, start=1):
        values[f"layer{i}"] = str(layer.digest)
        values[f"diff_id{i}"] = str(layer.diff_id)
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace known ``{placeholders}``; anything else in braces stays as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _expanded(expect: Expectations, values: dict[str, str]) -> Expectations:
    def sub(text: str | None) -> str | None:
        return None if text is None else substitute(text, values)

    return replace(
        expect,
        error=sub(expect.error),
        error_contains=tuple(substitute(t, values) for t in expect.error_contains),
        logs=None if expect.logs is None else tuple(substitute(t, values) for t in expect.logs),
        top_layer=sub(expect.top_layer),
    )


@contextlib.contextmanager
def _staged(scenario: Scenario, mirror: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The mirror to replay on and the built images: the scenario applied to ``mirror``, or a
    :class:`~flakymirror.scenario.stage.Stage` of its own (origin, auth, ``down`` and all)."""
    if mirror is not None:
        try:
            built = apply_to_mirror(scenario, mirror)
        except ScenarioError:
            raise
        except (KeyError, ValueError) as e:
            raise ScenarioError(f"cannot load into the mirror: {e}", path=scenario.path) from e
        yield mirror, built
        return
    from flakymirror.scenario.stage import Stage, StageOptions

    try:
        stage = Stage(scenario, StageOptions(clock=scenario.clock)).start()
    except ScenarioError:
        raise
    except (KeyError, ValueError) as e:
        raise ScenarioError(f"cannot load into the mirror: {e}", path=scenario.path) from e
    try:
        yield stage.mirror, stage.images
    finally:
        stage.close()


def _position(journal: Any) -> int:
    return len(journal) + getattr(journal, "dropped", 0)


def _timeline(entries: list[Any], recorder: Recorder) -> tuple[Event, ...]:
    events: list[Event] = []
    marks = sorted(recorder.marks, key=lambda m: m.position)  # stable: keeps creation order
    attempt: int | None = None
    i = 0
    for entry in entries:
        while i < len(marks) and marks[i].position < entry.seq:
            if marks[i].event.type == "attempt":
                attempt = marks[i].event.attempt
            events.append(marks[i].event)
            i += 1
        events.append(
            Event(
                time=round(entry.clock_time - recorder.t0, 6),
                type="request",
                attempt=attempt,
                method=entry.method,
                path=entry.path + (f"?{entry.query}" if entry.query else ""),
                endpoint=entry.kind,
                status=entry.status,
                fault=entry.fault,
                sync=entry.sync,
                bytes=entry.bytes_sent,
            )
        )
    events.extend(m.event for m in marks[i:])
    return tuple(events)


def run_scenario(
    scenario: Scenario, mirror: Any = None, *, action: Action | None = None
) -> ScenarioResult:
    """Replay ``scenario`` and check its expectations (a scenario without ``[expect]`` checks
    nothing).

    With ``mirror=None`` a FlakyMirror is built (virtual or real clock, auth as the file says),
    used and stopped. With a running ``mirror`` the scenario is applied to it
    (:func:`apply_to_mirror`) and the mirror's clock is used. ``action`` replaces what the
    reference client runs (default: the scenario's ``[action]``, else an ``open`` of the
    incident image).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"run_scenario needs a Scenario, got {type(scenario).__name__}")
    action = action if action is not None else scenario.reference_action
    with _staged(scenario, mirror) as (m, built):
        clock = m.clock
        journal = m.journal
        try:
            prepare(scenario, action, m.host, built, clock.sleep)
        except Exception as e:  # noqa: BLE001 - the set-up is part of the scenario's input
            raise ScenarioError(
                f"the rebase set-up (exporting the app image) failed: {e}",
                path=scenario.path,
                key="action.base_image",
            ) from e
        first_seq = _position(journal) + 1
        # counts come from the journal's totals, which never drop, not from its bounded entries
        totals_before, dropped_before = journal.totals(), journal.dropped
        recorder = Recorder(now=clock.now, position=lambda: _position(journal), sleep=clock.sleep)
        wall0 = time.perf_counter()
        outcome: Outcome = run_action(scenario, action, m.host, recorder, built)
        wall = time.perf_counter() - wall0
        elapsed = recorder.elapsed()
        entries = journal.settled(first_seq)
        counts = journal.totals() - totals_before
        dropped = journal.dropped - dropped_before
        values = placeholders(scenario, built, m.host, action)
    result = ScenarioResult(
        name=scenario.name,
        description=scenario.description,
        source=scenario.source,
        path=scenario.path,
        action=action.kind,
        image=action.image,
        profile=action.profile,
        clock="virtual" if getattr(clock, "virtual", False) else "real",
        outcome="error" if outcome.error is not None else "success",
        error=outcome.error,
        error_type=outcome.error_type,
        status=outcome.status,
        exit_code=outcome.exit_code,
        attempts=recorder.attempts,
        opener_sleeps=tuple(recorder.opener_sleeps),
        transport_sleeps=tuple(recorder.transport_sleeps),
        requests=tuple(sorted(counts.items())),
        journal_dropped=dropped,
        elapsed=elapsed,
        wall=round(wall, 6),
        events=_timeline(entries, recorder),
        logs=tuple(recorder.logs),
        failures=(),
        top_layer=outcome.top_layer,
        digest=outcome.digest,
    )
    if scenario.expect is None:
        return replace(result, checked=False)
    return replace(result, failures=check(_expanded(scenario.expect, values), result))

"""Replay a scenario: build a FlakyMirror, run the client action against it, check expectations.

:func:`run_scenario` is the whole replay; :func:`apply_to_mirror` is the part that loads a
scenario into a mirror someone else owns (the pytest plugin's ``mirror_scenario`` marker).

Under the virtual clock every client sleep (the opener's delays and ggcr's transport backoff)
is the clock's ``sleep``: it returns at once and moves the mirror's time forward, so sync plans
progress exactly as the client waits and a 3.8 s backoff replays in milliseconds.
"""

from __future__ import annotations

import collections
import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flakymirror.scenario.checks import check
from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.execute import Outcome, action_image, prepare, run_action
from flakymirror.scenario.model import Expectations, Scenario
from flakymirror.scenario.recorder import Recorder
from flakymirror.scenario.result import Event, ScenarioResult

__all__ = ["apply_to_mirror", "build_mirror", "placeholders", "run_scenario"]

_PLACEHOLDER = re.compile(r"\{(host|digest|index_digest|config|layer\d+|diff_id\d+)\}")
_SETTLE_SECONDS = 2.0


def _auth(scenario: Scenario, clock: Any) -> Any:
    spec = scenario.mirror.auth
    if spec is None:
        return None
    from flakymirror.registry.auth import BasicAuth, BearerAuth

    users = {spec.username: spec.password}
    if spec.kind == "basic":
        return BasicAuth(users)
    return BearerAuth(
        users, token_ttl=spec.token_ttl, clock=clock.now, token_field=spec.token_field
    )


def build_mirror(scenario: Scenario) -> Any:
    """A new (not yet started) FlakyMirror for ``scenario``: its clock and its auth."""
    from flakymirror.scenario.mirror_values import mirror_name

    clock_cls = mirror_name("VirtualClock" if scenario.clock == "virtual" else "RealClock", "clock")
    clock = clock_cls()
    return mirror_name("FlakyMirror", "mirror")(clock=clock, auth=_auth(scenario, clock))


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
    wanted = {"basic": "BasicAuth", "bearer": "BearerAuth"}[spec.kind]
    have = type(getattr(app, "auth", None)).__name__
    if have != wanted:
        raise ScenarioError(
            f"needs a mirror with {spec.kind} auth, this one has {have}; "
            "build it with flakymirror.scenario.runner.build_mirror(scenario)",
            path=scenario.path,
            key="mirror.auth",
        )


def placeholders(scenario: Scenario, built: dict[str, Any], host: str) -> dict[str, str]:
    """Values for ``{host}``, ``{digest}``, ``{index_digest}``, ``{config}``, ``{layerN}`` and
    ``{diff_idN}`` in expected texts: the mirror's host and the action image's digests (for an
    index: the child for the action's platform; ``{index_digest}`` is the index's)."""
    values = {"host": host}
    image = action_image(scenario, built)
    if image is None:
        return values
    if hasattr(image, "image_for"):
        values["index_digest"] = str(image.digest)
        image = image.image_for(scenario.action.platform or "linux/amd64")
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
def _mirror_for(scenario: Scenario, mirror: Any) -> Iterator[Any]:
    if mirror is not None:
        yield mirror
        return
    with build_mirror(scenario) as own:
        yield own


def _position(journal: Any) -> int:
    return len(journal) + getattr(journal, "dropped", 0)


def _settled_entries(journal: Any, first_seq: int) -> list[Any]:
    """Journal entries from ``first_seq`` on, once every one of them is closed (responses are
    closed by the server thread a moment after the client has read them)."""
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        entries = [e for e in journal.entries if e.seq >= first_seq]
        if all(e.done for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.002)


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


def run_scenario(scenario: Scenario, mirror: Any = None) -> ScenarioResult:
    """Replay ``scenario`` and check its expectations.

    With ``mirror=None`` a FlakyMirror is built (virtual or real clock, auth as the file says),
    used and stopped. With a running ``mirror`` the scenario is applied to it
    (:func:`apply_to_mirror`) and the mirror's clock is used.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"run_scenario needs a Scenario, got {type(scenario).__name__}")
    with _mirror_for(scenario, mirror) as m:
        try:
            built = apply_to_mirror(scenario, m)
        except ScenarioError:
            raise
        except (KeyError, ValueError) as e:
            raise ScenarioError(f"cannot load into the mirror: {e}", path=scenario.path) from e
        clock = m.clock
        journal = m.journal
        try:
            prepare(scenario, m.host, built, clock.sleep)
        except Exception as e:  # noqa: BLE001 - the set-up is part of the scenario's input
            raise ScenarioError(
                f"the rebase set-up (exporting the app image) failed: {e}",
                path=scenario.path,
                key="action.base_image",
            ) from e
        first_seq = _position(journal) + 1
        recorder = Recorder(now=clock.now, position=lambda: _position(journal), sleep=clock.sleep)
        wall0 = time.perf_counter()
        outcome: Outcome = run_action(scenario, m.host, recorder, built)
        wall = time.perf_counter() - wall0
        elapsed = recorder.elapsed()
        entries = _settled_entries(journal, first_seq)
        values = placeholders(scenario, built, m.host)
    counts = collections.Counter(f"{e.method} {e.kind}" for e in entries)
    result = ScenarioResult(
        name=scenario.name,
        description=scenario.description,
        source=scenario.source,
        path=scenario.path,
        action=scenario.action.kind,
        image=scenario.action.image,
        profile=scenario.action.profile,
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
        elapsed=elapsed,
        wall=round(wall, 6),
        events=_timeline(entries, recorder),
        logs=tuple(recorder.logs),
        failures=(),
        top_layer=outcome.top_layer,
        digest=outcome.digest,
    )
    return replace(result, failures=check(_expanded(scenario.expect, values), result))

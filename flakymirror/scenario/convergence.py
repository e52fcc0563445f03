"""When an incident stops misbehaving, computed from its plans and faults.

Each mirror value states its own part (``SyncPlan.settles`` and ``FaultRule.settles``); this
module picks the values that touch the image under test and combines them: the incident
converges when the last of them has settled (the latest time, the most requests), and never when
one never settles, or when the mirror is down. :func:`convergence` is what the matrix uses: the
file's ``[incident] converges_after`` when it states one, else the computed value.
:func:`check_incident` is the loader's consistency check.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from flakymirror.mirror.form_error import KeyPath, format_path
from flakymirror.scenario.model import Convergence, Scenario

__all__ = ["check_incident", "computed", "convergence"]

_PLAN: KeyPath = ("mirror", "plan")


def _units(image: Any, partial_index: bool) -> list[list[Any]]:
    """The units a plan syncs: an image's layers; an index's children as one list of units
    (``partial-index``), else each child's layers. Nothing is measured."""
    if not hasattr(image, "image_for"):
        return [list(image.layers)]
    if partial_index:
        return [list(image.images)]
    return [list(child.layers) for child in image.images]


def _counts(spec: Any, partial_index: bool) -> list[int]:
    """How many units each list of :func:`_units` holds, from the ``[[images]]`` values alone
    (nothing is built)."""
    if not spec.platforms:
        return [spec.layer_count]
    if partial_index:
        return [len(spec.platforms)]
    return [spec.layer_count] * len(spec.platforms)


def _size(unit: Any) -> int:
    """A unit's bytes: a layer's size, or a whole child image (manifest, config, layers)."""
    if hasattr(unit, "layers"):
        return len(unit.manifest_bytes) + unit.config_blob.size + sum(x.size for x in unit.layers)
    return unit.size


def _combine(parts: list[Any]) -> Convergence:
    if any(p.never or not p.known for p in parts):
        return Convergence(never=True)
    seconds = [p.seconds for p in parts if p.seconds is not None]
    requests = [p.requests for p in parts if p.requests is not None]
    return Convergence(
        seconds=max(seconds) if seconds else None,
        requests=max(requests) if requests else None,
    )


def _touches(rule: Any, repo: str) -> bool:
    glob = rule.match.repo
    return glob is None or fnmatchcase(repo, glob)


def computed(scenario: Scenario) -> tuple[Convergence, KeyPath]:
    """The convergence the plans and faults give for the image under test, and which value
    decided it (its key path in the file, ``("mirror", "faults", 1)``)."""
    from flakymirror.mirror.plans import select_plan

    if scenario.mirror.down:
        return Convergence(never=True), ("mirror", "down")
    ref = scenario.incident_image
    repo = ref.split("@", 1)[0].rpartition(":")[0] if "@" not in ref else ref.split("@", 1)[0]
    spec = next((i for i in scenario.images if i.ref == ref), None) or next(
        i for i in scenario.images if i.repository == repo
    )
    plan = select_plan(scenario.mirror.plans, spec.repository, spec.tag)
    partial = plan.mode == "partial-index"
    # Most schedules need only how many units there are, which the spec says; building the
    # image (and compressing every layer to measure it) is done only for a schedule that
    # cannot settle on a count (bandwidth).
    parts: list[tuple[Any, KeyPath]] = [(plan.settles(n), _PLAN) for n in _counts(spec, partial)]
    if any(not p.known for p, _ in parts):
        image = spec.build()
        parts = [
            (plan.settles([_size(u) for u in units]), _PLAN) for units in _units(image, partial)
        ]
    for i, rule in enumerate(scenario.mirror.faults):
        if _touches(rule, spec.repository):
            parts.append((rule.settles(), ("mirror", "faults", i)))
    result = _combine([p for p, _ in parts])
    why = next((w for p, w in parts if p.never or not p.known), None)
    if why is None:
        why = next(
            (w for p, w in parts if p.seconds is not None and p.seconds == result.seconds),
            _PLAN,
        )
    return result, why


def convergence(scenario: Scenario) -> Convergence:
    """The file's ``[incident] converges_after`` when it states one, else :func:`computed`."""
    stated = scenario.incident.converges_after
    return stated if stated is not None else computed(scenario)[0]


def check_incident(scenario: Scenario) -> tuple[KeyPath, str, KeyPath] | None:
    """``(key path, message, source)`` when the file's ``[incident]`` contradicts its plans
    and faults; ``source`` is the key path of the value that decided it.

    A stated ``converges_after`` may be earlier than the computed one (a client can succeed
    while the mirror still misbehaves elsewhere, e.g. HEAD-only 404s) but not later. A
    survivable incident whose mirror never settles must say when a client can succeed
    (``converges_after``) unless it has an ``[origin]`` to fall back to.
    """
    auto, why = computed(scenario)
    stated = scenario.incident.converges_after
    later = stated is not None and not stated.never and not auto.never and (
        (stated.seconds or 0) > (auto.seconds or 0) + 1e-9
        or (stated.requests or 0) > (auto.requests or 0)
    )
    if later:
        return (
            ("incident", "converges_after"),
            f"says {stated}, but {format_path(why)} settles after {auto}; "
            "a client can succeed no later",
            why,
        )
    if (
        scenario.incident.survivable
        and auto.never
        and stated is None
        and scenario.origin is None
    ):
        return (
            ("incident", "survivable"),
            f"is true, but {format_path(why)} never settles (or cannot be computed); state "
            "when a client can succeed with converges_after, or set survivable = false",
            why,
        )
    return None

"""What one scenario may make the harness create, when the scenario comes over the wire.

A scenario file on the command line is the user's own; a scenario sent to a running mirror
(``POST /_flakymirror/scenario``) comes from anyone who can reach the control API, and a few
lines of TOML can ask for gigabytes of layers, a million blobs or a journal that fills the
memory. :class:`Budget` bounds each of those; :func:`cost` says what a scenario asks for;
:func:`over_budget` names the first figure over its bound. Nothing is built to measure:
the figures come from the scenario's values alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from flakymirror.mirror.forms import KeyPath
from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE
from flakymirror.scenario.model import ImageSpec, Scenario

__all__ = ["DEFAULT_BUDGET", "Budget", "Cost", "cost", "over_budget"]


@dataclass(frozen=True)
class Budget:
    """Bounds on what one scenario creates; every field is a positive integer.

    ``layer_bytes``: the layer content its images total (an index counts each platform's
    layers). ``blobs``: the blobs and manifests pushed (per image: its layers, a config and a
    manifest; an index adds its own manifest). ``rules``: sync plans and fault rules together.
    ``journal_size``: the journal entries the mirror keeps (the scenario's ``[mirror]
    journal_size``, or the default).
    """

    layer_bytes: int = 256 << 20
    blobs: int = 10_000
    rules: int = 1_000
    journal_size: int = 100_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Budget.{f.name} must be a positive integer, got {value!r}")


#: The budget of ``POST /_flakymirror/scenario``.
DEFAULT_BUDGET = Budget()


@dataclass(frozen=True)
class Cost:
    """What a scenario asks for, in :class:`Budget`'s terms."""

    layer_bytes: int
    blobs: int
    rules: int
    journal_size: int


def _image_cost(spec: ImageSpec) -> tuple[int, int]:
    """``(layer bytes, blobs)`` of one ``[[images]]`` entry."""
    per_image = sum(spec.layer_sizes) if spec.layer_sizes else spec.layers * spec.layer_size
    images = max(1, len(spec.platforms))
    return per_image * images, (spec.layer_count + 2) * images + (1 if spec.platforms else 0)


def cost(scenario: Scenario) -> Cost:
    """What standing ``scenario`` up creates (computed from its values; nothing is built)."""
    per_image = [_image_cost(spec) for spec in scenario.images]
    return Cost(
        layer_bytes=sum(b for b, _ in per_image),
        blobs=sum(n for _, n in per_image),
        rules=len(scenario.mirror.plans) + len(scenario.mirror.faults),
        journal_size=scenario.mirror.journal_size or DEFAULT_JOURNAL_SIZE,
    )


def over_budget(scenario: Scenario, budget: Budget) -> tuple[KeyPath, str] | None:
    """``(key path, message)`` for the first figure of ``scenario`` over ``budget``, or None."""
    c = cost(scenario)
    rules_key: KeyPath = ("mirror", "faults") if scenario.mirror.faults else ("mirror", "plan")
    checks: tuple[tuple[KeyPath, str, int, int], ...] = (
        (("images",), "layer bytes", c.layer_bytes, budget.layer_bytes),
        (("images",), "blobs and manifests", c.blobs, budget.blobs),
        (rules_key, "plans and fault rules", c.rules, budget.rules),
        (("mirror", "journal_size"), "journal entries", c.journal_size, budget.journal_size),
    )
    for key, what, asked, bound in checks:
        if asked > bound:
            return key, f"the scenario asks for {asked:,} {what}, over the limit of {bound:,}"
    return None

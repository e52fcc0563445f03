"""Which client a trial runs: a named preset, the reference client, or a command template.

:func:`parse_client` reads a client spec as ``flakymirror matrix --client`` takes it:

* ``reference``, ``reference:ggcr-v0.21.5``, ``reference:ggcr-v0.21.9;delays=0.5,1,2,4,8`` —
  flakymirror's reference client (lifecycle's retrying opener over go-containerregistry's
  transport) on the virtual clock; the profile and the delays override the scenario's;
* a preset name (``skopeo-copy``, ``ctr-pull`` …; see :mod:`flakymirror.trial.presets`);
* anything else is a command template, split like a shell line (never run through a shell),
  with placeholders such as ``{ref}`` (see :mod:`flakymirror.trial.placeholders`).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shutil
from dataclasses import dataclass, replace
from typing import Any

from flakymirror.trial.placeholders import IMAGE_PLACEHOLDERS, Template, TemplateError

__all__ = [
    "ClientError",
    "CommandClient",
    "ReferenceClient",
    "in_ci",
    "parse_client",
    "parse_clients",
    "unavailable",
]

REFERENCE = "reference"
_BARE = re.compile(r"^[^\s{}]+$")
#: Placeholders through which a command can reach the origin (mirror configuration).
ORIGIN_PLACEHOLDERS = frozenset({"origin_ref", "origin", "registries_conf", "hosts_dir"})


class ClientError(ValueError):
    """A client spec that cannot be run: unknown preset, bad template, bad reference policy."""


@dataclass(frozen=True)
class ReferenceClient:
    """flakymirror's reference client: the scenario's ``[action]`` (else an ``open`` of the
    incident image), with ``profile`` and ``delays`` overriding the scenario's when given."""

    spec: str = REFERENCE
    profile: str | None = None
    delays: tuple[float, ...] | None = None

    name = property(lambda self: self.spec)
    manifest_only = False
    mirror_config = False

    def action(self, scenario: Any) -> Any:
        """The action the reference runs on ``scenario``, with this spec's overrides."""
        action = scenario.reference_action
        changes: dict[str, Any] = {}
        if self.profile is not None:
            changes["profile"] = self.profile
        if self.delays is not None:
            changes["delays"] = self.delays
        return replace(action, **changes) if changes else action


@dataclass(frozen=True)
class CommandClient:
    """A user's own command: a :class:`Template` run against each cell."""

    spec: str
    template: Template

    name = property(lambda self: self.spec)
    manifest_only = False

    @property
    def mirror_config(self) -> bool:
        """Whether the command can reach an origin: it uses an origin placeholder."""
        return bool(self.template.names & ORIGIN_PLACEHOLDERS)

    def unavailable(self) -> str | None:
        """Why the command cannot run here (its program is not found), or None."""
        first = self.template.words[0]
        if any(name is not None for _, name in first):
            return None  # the program itself comes from a placeholder
        program = "".join(literal for literal, _ in first)
        if os.sep in program:
            return None if os.access(program, os.X_OK) else f"{program} is not executable"
        return None if shutil.which(program) else f"{program} is not on PATH"

    def version(self) -> str | None:
        """Unknown for a user's command."""
        return None


def in_ci() -> bool:
    """True when the ``CI`` environment variable is 1/true/yes (any case): a client that is
    missing is then an error, never a skipped column."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(client: object) -> str | None:
    """Why ``client`` cannot run on this machine (a missing binary or module), or None."""
    check = getattr(client, "unavailable", None)
    return check() if callable(check) else None


def _reference(spec: str) -> ReferenceClient:
    from flakymirror.client import PROFILES

    head, _, options = spec.partition(";")
    _, sep, profile = head.partition(":")
    if sep and profile not in PROFILES:
        close = difflib.get_close_matches(profile, list(PROFILES), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ClientError(
            f"client {spec!r}: unknown reference profile {profile!r}{hint}; "
            f"known: {', '.join(sorted(PROFILES))}"
        )
    delays: tuple[float, ...] | None = None
    for option in filter(None, (o.strip() for o in options.split(";"))):
        key, eq, value = option.partition("=")
        if key.strip() != "delays" or not eq:
            raise ClientError(
                f"client {spec!r}: unknown option {option!r} (the reference takes delays=S,S,...)"
            )
        delays = _delays(spec, value)
    return ReferenceClient(spec, profile if sep else None, delays)


def _delays(spec: str, text: str) -> tuple[float, ...]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            value = float(part)
        except ValueError:
            raise ClientError(f"client {spec!r}: delay {part!r} is not a number of seconds") from None
        if not math.isfinite(value) or not 0 <= value <= 3600:
            raise ClientError(f"client {spec!r}: delay {part!r} must be between 0 and 3600 s")
        out.append(value)
    return tuple(out)


def parse_client(spec: str) -> Any:
    """A :class:`ReferenceClient`, a preset or a :class:`CommandClient` for ``spec``.

    A word without spaces or braces must be ``reference[...]`` or a preset name; a misspelt
    preset is an error with a "did you mean". A template must name the image through
    ``{ref}``, ``{origin_ref}`` or ``{digest_ref}``.
    """
    from flakymirror.trial.presets import PRESETS

    text = spec.strip()
    if text == REFERENCE or text.startswith((REFERENCE + ":", REFERENCE + ";")):
        return _reference(text)
    if text in PRESETS:
        return PRESETS[text]
    try:
        template = Template.parse(text)
    except TemplateError as exc:
        raise ClientError(str(exc)) from None
    if not template.names & set(IMAGE_PLACEHOLDERS):
        close = difflib.get_close_matches(text, [*PRESETS, REFERENCE], n=1, cutoff=0.6)
        if close or _BARE.match(text):
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ClientError(
                f"unknown client preset {text!r}{hint}; presets: {', '.join(PRESETS)}, "
                f"{REFERENCE}[:PROFILE][;delays=...]; or give a command template using {{ref}}"
            )
        raise ClientError(
            f"client template {text!r} never names the image: use {{ref}} (the mirror "
            "reference), {origin_ref} or {digest_ref}"
        )
    return CommandClient(text, template)


def parse_clients(specs: list[str]) -> list[Any]:
    """Every spec parsed; a spec given twice is an error."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        client = parse_client(spec)
        if client.name in seen:
            raise ClientError(f"client {spec!r} is given twice")
        seen.add(client.name)
        out.append(client)
    return out

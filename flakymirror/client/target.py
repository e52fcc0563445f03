"""The rebaser's view of a base image: its target (OS, arch, variant, distro) and its stack
mixins, with lifecycle's comparison rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flakymirror.client.goformat import go_json
from flakymirror.client.metadata import (
    DISTRO_NAME_LABEL,
    DISTRO_VERSION_LABEL,
    TARGET_ID_LABEL,
    MetadataError,
    decode_json,
)

__all__ = ["TargetMetadata", "parse_mixins", "strip_stage_prefixes"]


@dataclass(frozen=True)
class TargetMetadata:
    """A base image's target (``files.TargetMetadata``) as the rebaser compares it."""

    os: str = ""
    arch: str = ""
    arch_variant: str = ""
    id: str = ""
    distro: tuple[str, str] | None = None  # (name, version)

    @classmethod
    def of(
        cls, os: str, arch: str, variant: str | None, labels: Mapping[str, str]
    ) -> TargetMetadata:
        """``platform.GetTargetMetadata``: OS/arch/variant from the config, distro and id
        from the ``io.buildpacks.base.*`` labels."""
        distro = None
        if DISTRO_NAME_LABEL in labels or DISTRO_VERSION_LABEL in labels:
            distro = (labels.get(DISTRO_NAME_LABEL, ""), labels.get(DISTRO_VERSION_LABEL, ""))
        return cls(os or "", arch or "", variant or "", labels.get(TARGET_ID_LABEL, ""), distro)

    def to_dict(self) -> dict[str, Any]:
        """The target as lifecycle's JSON has it: ``os``, ``arch``, and ``id``, ``arch-variant``,
        ``distro`` only when set."""
        out: dict[str, Any] = {}
        if self.id:
            out["id"] = self.id
        out["os"] = self.os
        out["arch"] = self.arch
        if self.arch_variant:
            out["arch-variant"] = self.arch_variant
        if self.distro is not None:
            out["distro"] = {"name": self.distro[0], "version": self.distro[1]}
        return out

    def to_json(self) -> str:
        """The target as JSON, as Go's ``json.Marshal`` writes it."""
        return go_json(self.to_dict())

    def satisfies_for_rebase(self, app: TargetMetadata) -> bool:
        """``TargetSatisfiedForRebase(newBase=self, app)``: OS and arch equal, variant equal
        unless one is empty, and a distro on the new base must be matched by the app's."""
        if self.os != app.os or self.arch != app.arch:
            return False
        if self.arch_variant and app.arch_variant and self.arch_variant != app.arch_variant:
            return False
        if self.distro is not None:
            if app.distro is None:
                return False
            name, version = self.distro
            if name and name != app.distro[0]:
                return False
            if version and version != app.distro[1]:
                return False
        return True


def parse_mixins(text: str | None) -> list[str]:
    """Decode the ``io.buildpacks.stack.mixins`` JSON array (missing label: empty)."""
    if not text:
        return []
    value = decode_json(text)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MetadataError("expected a JSON array of strings")
    return value


def strip_stage_prefixes(mixins: Iterable[str]) -> list[str]:
    """Remove lifecycle's ``build:``/``run:`` stage prefixes."""
    out = []
    for m in mixins:
        for prefix in ("build:", "run:"):
            if m.startswith(prefix):
                m = m[len(prefix) :]
                break
        out.append(m)
    return out

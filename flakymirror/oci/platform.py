"""Platforms (``os/architecture[/variant]``) of images and index entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._validate import (
    ManifestError,
    canonical_json,
    check_object,
    freeze_extra,
    opt_str,
    opt_str_list,
    req_str,
)

__all__ = ["Platform"]


def _hash(obj: Any) -> int:
    return hash((type(obj).__name__, obj.to_bytes()))


@dataclass(frozen=True)
class Platform:
    """Where an image runs: ``Platform("linux", "arm64", "v8")``; ``str()`` is ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("os", "architecture"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ManifestError(f"{name}: must be a non-empty string, got {value!r}")
        for name in ("variant", "os_version"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ManifestError(f"{name}: must be a string, got {value!r}")
        object.__setattr__(self, "os_features", tuple(self.os_features))
        object.__setattr__(self, "extra", freeze_extra(self.extra))

    __hash__ = _hash

    @classmethod
    def parse(cls, text: str | Platform) -> Platform:
        """Parse ``os/arch[/variant]`` (e.g. ``linux/arm64/v8``); a Platform passes through."""
        if isinstance(text, Platform):
            return text
        if not isinstance(text, str):
            raise ManifestError(f"platform must be a string like 'linux/amd64', got {text!r}")
        parts = text.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise ManifestError(f"invalid platform {text!r}: expected 'os/arch[/variant]'")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, wanted: Platform | str) -> bool:
        """True when this platform satisfies ``wanted`` (a missing variant/os_version in
        ``wanted`` matches any)."""
        w = Platform.parse(wanted)
        return (
            self.os == w.os
            and self.architecture == w.architecture
            and (w.variant is None or self.variant == w.variant)
            and (w.os_version is None or self.os_version == w.os_version)
        )

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (image-spec key order)."""
        d: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version is not None:
            d["os.version"] = self.os_version
        if self.os_features:
            d["os.features"] = list(self.os_features)
        if self.variant is not None:
            d["variant"] = self.variant
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "") -> Platform:
        """Validate and build from a JSON object; errors name the field under ``path``."""
        check_object(d, path)
        known = ("architecture", "os", "os.version", "os.features", "variant")
        return cls(
            os=req_str(d, "os", path),
            architecture=req_str(d, "architecture", path),
            variant=opt_str(d, "variant", path),
            os_version=opt_str(d, "os.version", path),
            os_features=tuple(opt_str_list(d, "os.features", path) or ()),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json(self.to_dict())

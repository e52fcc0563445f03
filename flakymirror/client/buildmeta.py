"""The ``io.buildpacks.build.metadata`` label: the build group and the launch processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flakymirror.client.goformat import go_json

__all__ = ["BuildMetadata", "GroupElement", "Process"]


@dataclass(frozen=True)
class GroupElement:
    """A buildpack of the build group (``id``, ``version``, optional ``api``/``homepage``)."""

    id: str
    version: str = ""
    api: str = ""
    homepage: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The element as lifecycle's build metadata JSON writes it (empty fields left out)."""
        out: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.api:
            out["api"] = self.api
        if self.homepage:
            out["homepage"] = self.homepage
        return out


@dataclass(frozen=True)
class Process:
    """A launch process type contributed by a buildpack."""

    type: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    direct: bool = False
    default: bool = False
    buildpack_id: str = ""
    working_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The process as the build metadata JSON has it (``args`` null when empty; ``default``
        and ``working-dir`` only when set)."""
        out: dict[str, Any] = {
            "type": self.type,
            "command": list(self.command),
            "args": list(self.args) if self.args else None,
            "direct": self.direct,
        }
        if self.default:
            out["default"] = True
        out["buildpackID"] = self.buildpack_id
        if self.working_dir:
            out["working-dir"] = self.working_dir
        return out


@dataclass(frozen=True)
class BuildMetadata:
    """``io.buildpacks.build.metadata`` as written for Platform API >= 0.9 (no ``bom``)."""

    buildpacks: tuple[GroupElement, ...] = ()
    processes: tuple[Process, ...] = ()
    launcher_version: str = ""
    launcher_repository: str = ""
    launcher_commit: str = ""
    buildpack_default_process_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``io.buildpacks.build.metadata`` value as a dict, in lifecycle's field order."""
        out: dict[str, Any] = {
            "buildpacks": [b.to_dict() for b in self.buildpacks] if self.buildpacks else None,
            "launcher": {
                "version": self.launcher_version,
                "source": {
                    "git": {
                        "repository": self.launcher_repository,
                        "commit": self.launcher_commit,
                    }
                },
            },
            "processes": [p.to_dict() for p in self.processes] if self.processes else None,
        }
        if self.buildpack_default_process_type:
            out["buildpack-default-process-type"] = self.buildpack_default_process_type
        return out

    def to_json(self) -> str:
        """The ``io.buildpacks.build.metadata`` label text, as Go's ``json.Marshal`` writes it."""
        return go_json(self.to_dict())

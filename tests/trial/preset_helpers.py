"""Build a :class:`Cell` for a preset from a running mirror (and origin), as the trial runner
does, without a scenario: the preset tests drive ``FlakyMirror`` directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flakymirror.trial.cell import Cell, Completed, Content, Target
from flakymirror.trial.configs import write_configs
from flakymirror.trial.environment import clean_env
from flakymirror.trial.process import run


def make_cell(
    workdir: Path,
    mirror: Any,
    image: Any,
    reference: str,
    *,
    origin: Any = None,
    ca_pem: bytes | None = None,
    auth: str | None = None,
    credentials: tuple[str, str] | None = None,
    platform: str = "linux/amd64",
    timeout: float = 60.0,
) -> Cell:
    """A cell pulling ``reference`` (``repo:tag``) of ``image`` from ``mirror`` (and through
    it from ``origin``, when given)."""
    repo = reference.rpartition(":")[0]
    top = image.digest
    values = {
        "ref": f"{mirror.host}/{reference}",
        "digest_ref": f"{mirror.host}/{repo}@{top}",
        "platform": platform,
        "mirror": mirror.host,
        "workdir": str(workdir / "work"),
    }
    (workdir / "work").mkdir(parents=True)
    if origin is not None:
        values["origin"] = origin.host
        values["origin_ref"] = f"{origin.host}/{reference}"
    if credentials is not None:
        values["username"], values["password"] = credentials
    values.update(
        write_configs(
            workdir / "config",
            mirror=mirror.host,
            origin=origin.host if origin is not None else None,
            ca_pem=ca_pem,
            credentials=credentials,
        )
    )
    return Cell(
        workdir=workdir,
        values=values,
        target=Target.of(image, reference, platform),
        env=clean_env(workdir),
        timeout=timeout,
        origin=origin is not None,
        auth=auth,
        tls=ca_pem is not None,
    )


def run_preset(preset: Any, cell: Cell) -> tuple[Completed, Content]:
    """Run ``preset`` in ``cell``: how it ended and what it ended up with."""
    with preset.session(cell) as session:
        completed = run(session.argv, session.env, cell.timeout, cwd=cell.workdir)
        return completed, session.read(completed)

"""What a cell leaves behind for a human: the exact command, its output, the merged
mirror/origin timeline, the row, and a ``serve --scenario`` line that stands the incident up
again so the cell can be reproduced by hand."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from flakymirror.trial.cell import Completed, Content
from flakymirror.trial.observe import Observations
from flakymirror.trial.result import TrialResult

__all__ = ["cell_folder", "serve_line", "write_artifacts"]

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def cell_folder(root: Path, scenario: str, client: str) -> Path:
    """``root/<scenario>/<client>``; a command template gets ``cmd-<hash>``."""
    if " " in client or "{" in client:
        slug = "cmd-" + hashlib.sha256(client.encode()).hexdigest()[:10]
    else:
        slug = _SLUG.sub("_", client)
    return root / scenario / slug


def serve_line(scenario: Any, options: Any) -> str:
    """The ``flakymirror serve`` command that stands this scenario up as the cell had it."""
    words = ["flakymirror", "serve", "--scenario", scenario.path or scenario.name]
    if options.time_scale != 1:
        words += ["--time-scale", f"{options.time_scale:g}"]
    if options.tls:
        words.append("--tls")
    return shlex.join(words)


def write_artifacts(
    root: Path,
    label: str,
    result: TrialResult,
    completed: Completed,
    observations: Observations,
    content: Content,
    *,
    serve: str | None = None,
) -> TrialResult:
    """Write the cell's folder under ``root/<label>/<client>``; the result with ``artifacts``
    set. ``serve`` is the command that stands the incident up again (None: none)."""
    folder = cell_folder(root, label, result.client)
    folder.mkdir(parents=True, exist_ok=True)
    result = replace(result, artifacts=str(folder))
    (folder / "command.txt").write_text(shlex.join(completed.argv) + "\n")
    (folder / "stdout.txt").write_text(completed.stdout)
    (folder / "stderr.txt").write_text(completed.stderr)
    lines = [s.line() for s in observations.timeline]
    if observations.dropped:
        lines.insert(0, f"({observations.dropped} journal entries dropped)")
    (folder / "timeline.txt").write_text("\n".join(lines) + "\n")
    (folder / "content.txt").write_text(
        f"readable: {content.readable}\nmanifest: {content.manifest}\nconfig: {content.config}\n"
        f"layers: {content.layers}\ndiff_ids: {content.diff_ids}\nverified: {content.verified}\n"
        f"partial: {content.partial}\ndetail: {content.detail}\n"
    )
    (folder / "result.json").write_text(json.dumps(result.to_row(), indent=1) + "\n")
    if serve is not None:
        (folder / "reproduce.txt").write_text(
            "# stand the incident up (it prints the references to pull), then run the client\n"
            "# (its files under /tmp/fm-* were removed: serve --json names new ones):\n"
            f"{serve}\n{shlex.join(completed.argv)}\n"
        )
    return result

"""The matrix as text, Markdown and JSON.

Each cell shows the verdict, the attempts and the seconds to the end of the run, e.g.
``survived 2x 0.84s``; a cell that does not hold is marked ``!`` and shows the verdict wanted
(``! failed-silent (want survived)``); ``~`` marks a verdict that changed across ``--repeat``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from flakymirror.trial.matrix import Matrix
from flakymirror.trial.result import TrialResult
from flakymirror.trial.verdict import NOT_APPLICABLE

__all__ = ["cell_text", "column_names", "render_json", "render_markdown", "render_text"]


def column_names(clients: Sequence[str]) -> dict[str, str]:
    """Short column titles: presets and reference specs as they are, templates as
    ``cmd1``, ``cmd2``… (listed under the table)."""
    names, n = {}, 0
    for client in clients:
        if " " in client or "{" in client:
            n += 1
            names[client] = f"cmd{n}"
        else:
            names[client] = client
    return names


def cell_text(r: TrialResult) -> str:
    """One cell: verdict, attempts and wall seconds, with ``!``/``~`` marks."""
    text = r.verdict
    if r.verdict != NOT_APPLICABLE:
        if r.attempts is not None:
            text += f" {r.attempts}x"
        if r.wall_s is not None:
            text += f" {r.wall_s:.2f}s"
        if r.fell_back_at is not None:
            text += f" fallback@{r.fell_back_at:.2f}s"
    if r.flaky:
        text = "~ " + text + f" (runs: {', '.join((r.verdict, *r.repeats))})"
    if not r.holds:
        text = "! " + text + f" (want {r.wanted})"
    return text


def _grid(matrix: Matrix) -> tuple[list[str], list[str], dict[tuple[str, str], TrialResult]]:
    scenarios: list[str] = []
    clients: list[str] = []
    cells = {}
    for r in matrix.results:
        if r.scenario not in scenarios:
            scenarios.append(r.scenario)
        if r.client not in clients:
            clients.append(r.client)
        cells[(r.scenario, r.client)] = r
    return scenarios, clients, cells


def _summary(matrix: Matrix) -> str:
    total = len(matrix.results)
    held = sum(r.holds for r in matrix.results)
    text = f"{total} cells, {held} hold, {total - held} do not; {matrix.wall_s:.1f}s"
    if matrix.skipped:
        text += "; skipped: " + "; ".join(f"{c} ({why})" for c, why in matrix.skipped.items())
    return text


def render_text(matrix: Matrix) -> str:
    """A plain-text table (scenarios down, clients across) and a summary line."""
    scenarios, clients, cells = _grid(matrix)
    names = column_names(clients)
    header = ["scenario", *(names[c] for c in clients)]
    rows = [[s, *(cell_text(cells[(s, c)]) for c in clients)] for s in scenarios]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    legend = [f"{short} = {client}" for client, short in names.items() if short != client]
    lines += legend
    lines.append(_summary(matrix))
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(matrix: Matrix) -> str:
    """A Markdown table, the client versions, and every cell that falls short of its ideal
    verdict with the baseline's reason."""
    scenarios, clients, cells = _grid(matrix)
    names = column_names(clients)
    out = ["| scenario | " + " | ".join(f"`{names[c]}`" for c in clients) + " |"]
    out.append("|---" * (len(clients) + 1) + "|")
    for s in scenarios:
        out.append(f"| `{s}` | " + " | ".join(_md(cell_text(cells[(s, c)])) for c in clients) + " |")
    out.append("")
    for client, short in names.items():
        if short != client:
            out.append(f"- `{short}`: `{_md(client)}`")
    out.append("")
    out.append("Client versions: " + ", ".join(
        f"`{c}` {v or 'unknown'}" for c, v in matrix.clients.items()
    ) + ".")
    out.append("")
    short = [r for r in matrix.results if r.verdict not in (r.expected, NOT_APPLICABLE)]
    if short:
        out.append("Cells that fall short of the ideal verdict, and why:")
        out.append("")
        out.append("| scenario | client | verdict | ideal | why |")
        out.append("|---|---|---|---|---|")
        for r in short:
            why = r.baseline_reason or r.reason or ""
            out.append(
                f"| `{r.scenario}` | `{_md(names[r.client])}` | {r.verdict} | {r.expected} | "
                f"{_md(why)} |"
            )
        out.append("")
    out.append(_summary(matrix) + ".")
    return "\n".join(out)


def render_json(matrix: Matrix) -> str:
    """``{"rows": [...], "clients": {...}, ...}`` (see :meth:`Matrix.to_dict`)."""
    return json.dumps(matrix.to_dict(), indent=1)

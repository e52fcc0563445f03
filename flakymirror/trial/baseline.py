"""The known verdicts: which scenario × client cells are *expected* to fall short of the ideal.

Real clients fall short of what an incident allows (every containers/image and containerd tool
takes lifecycle #1674's empty manifest and exits 0). The matrix would always fail on those, so
the project checks in a **baseline**: one entry per known cell, with the verdict measured and the
reason. A cell holds when its verdict equals its baseline entry, or — with no entry — its ideal
verdict; the matrix fails on a *change*, not on a known shortfall. The format (TOML)::

    [[cell]]
    scenario = "lifecycle-1674-empty-layers"
    client = "skopeo-copy"
    verdict = "failed-silent"
    reason = "copies a manifest with no layers and exits 0; containers/image does not retry"

The bundled baseline (:data:`BUNDLED`) covers the incident library and the shipped presets;
``--baseline FILE`` adds entries (a later file wins for the same cell).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flakymirror.mirror.forms import FormError
from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.fields import toml_form
from flakymirror.trial.verdict import VERDICTS

__all__ = ["BUNDLED", "Baseline", "BaselineEntry", "load_baseline"]

#: The baseline shipped with flakymirror.
BUNDLED = Path(__file__).with_name("baseline.toml")


@dataclass(frozen=True)
class BaselineEntry:
    """The known verdict of one cell and why."""

    verdict: str
    reason: str
    source: str | None = None


@dataclass(frozen=True)
class Baseline:
    """Known verdicts by ``(scenario, client)``."""

    entries: Mapping[tuple[str, str], BaselineEntry]

    def get(self, scenario: str, client: str) -> BaselineEntry | None:
        """The entry for a cell, or None."""
        return self.entries.get((scenario, client))

    def merged(self, other: Baseline) -> Baseline:
        """This baseline with ``other``'s entries added (``other`` wins for the same cell)."""
        return Baseline({**self.entries, **other.entries})

    def __len__(self) -> int:
        return len(self.entries)


def _parse(text: str, path: str) -> Baseline:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"invalid TOML: {exc}", path=path) from exc
    entries: dict[tuple[str, str], BaselineEntry] = {}
    try:
        top = toml_form(data)
        cells = top.raw("cell", [])
        if not isinstance(cells, list):
            raise FormError(("cell",), "expected an array of tables ([[cell]])")
        top.done()
        for i, raw in enumerate(cells):
            t = toml_form(raw, ("cell", i))
            key = (t.string("scenario"), t.string("client"))
            entry = BaselineEntry(
                verdict=t.string("verdict", choices=VERDICTS),
                reason=t.string("reason"),
                source=path,
            )
            t.done()
            if not entry.reason.strip():
                raise FormError(t.key("reason"), "say why this cell falls short of the ideal")
            if key in entries:
                raise FormError(t.key("client"), f"a second entry for {key[0]} × {key[1]}")
            entries[key] = entry
    except FormError as exc:
        raise ScenarioError.from_form(exc, path=path, text=text) from None
    return Baseline(entries)


def load_baseline(paths: Iterable[str | Path] = (), *, bundled: bool = True) -> Baseline:
    """The bundled baseline (unless ``bundled=False``) plus every file in ``paths``; a bad
    file raises :class:`~flakymirror.scenario.errors.ScenarioError` naming file, key and line."""
    baseline = Baseline({})
    files = ([BUNDLED] if bundled and BUNDLED.is_file() else []) + [Path(p) for p in paths]
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read baseline: {exc.strerror or exc}", path=str(file)) from exc
        baseline = baseline.merged(_parse(text, str(file)))
    return baseline

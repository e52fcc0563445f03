"""A scenario's request counts never depend on how many journal entries the mirror keeps: they
come from counters that never drop, the report says when the timeline lost entries, and a
scenario may size the journal (``[mirror] journal_size``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flakymirror.scenario import ScenarioError, load_scenario, loads, run_scenario
from flakymirror.scenario.report import render_timeline

NAME = "lifecycle-1674-empty-layers"


def test_counts_are_exact_when_the_journal_drops_entries() -> None:
    full = run_scenario(load_scenario(NAME))
    assert full.journal_dropped == 0 and full.passed
    total = sum(n for _, n in full.requests)
    small = load_scenario(NAME)
    small = replace(small, mirror=replace(small.mirror, journal_size=3))
    cut = run_scenario(small)
    assert cut.requests == full.requests  # the [expect] request counts still hold
    assert cut.passed
    assert cut.journal_dropped == total - 3
    assert sum(1 for e in cut.events if e.type == "request") == 3  # the newest three
    assert cut.to_dict()["journal_dropped"] == total - 3
    assert f"({total - 3} requests are missing from this timeline" in render_timeline(cut)
    assert "missing from this timeline" not in render_timeline(full)


HEAD = """name = "sized"
description = "a journal of its own size"
source = "https://github.com/buildpacks/lifecycle/issues/1674"

[[images]]
ref = "lib/app:1"
"""


def test_journal_size_is_read_bounded_and_written_back() -> None:
    s = loads(HEAD + "[mirror]\njournal_size = 50000\n", path="s.toml")
    assert s.mirror.journal_size == 50000
    assert s.mirror.to_dict() == {"journal_size": 50000}
    assert loads(HEAD, path="s.toml").mirror.journal_size is None
    for bad in ("0", "1000001", '"big"'):
        with pytest.raises(ScenarioError, match=r"mirror\.journal_size"):
            loads(HEAD + f"[mirror]\njournal_size = {bad}\n", path="s.toml")

"""No example in README.md or docs/ is left out: every fenced block either runs (python,
console, toml) or says why it does not, in a directive on the line before it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.docs import ROOT, RUN, SHOWN, commands, normalise, output_matches

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```(\S*)[^\n]*\n.*?^```$", re.M | re.S)
DIRECTIVE = re.compile(r"^<!-- (docs: shown|docs: scenario|skip: next\b.*) -->$")


def unaccounted(text: str) -> list[tuple[int, str]]:
    """(line, language) of each fenced block that neither runs nor follows a directive."""
    out = []
    for m in FENCE.finditer(text):
        language = m.group(1)
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if language in RUN or DIRECTIVE.match(before):
            continue
        out.append((text.count("\n", 0, m.start()) + 1, language or "(none)"))
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs_or_says_why_not(page: Path):
    assert unaccounted(page.read_text(encoding="utf-8")) == []


def test_the_check_sees_a_block_left_out():
    text = (
        f"Output:\n\n```text\nhello\n```\n\n{SHOWN}\n```text\nshown\n```\n\n```python\nx = 1\n```\n"
    )
    assert unaccounted(text) == [(3, "text")]
    assert unaccounted("```\nbare\n```\n") == [(1, "(none)")]


def test_console_blocks_split_into_commands_and_outputs():
    block = "$ echo a \\\n    b\na b\n$ true\n"
    assert commands(block) == [("echo a b", "a b"), ("true", "")]
    with pytest.raises(ValueError, match="output before any"):
        commands("stray\n$ true\n")


def test_outputs_match_after_normalising_what_varies():
    assert normalise("on 127.0.0.1:40123 at sha256:" + "ab" * 32 + " in 0.015s") == (
        "on 127.0.0.1:PORT at sha256:DIGEST in TIME"
    )
    assert output_matches("a\n...\nz", "a\nb\nc\nz")
    assert output_matches("wall 0.011s", "wall 0.5s")
    assert not output_matches("exit 0", "exit 1")
    assert not output_matches("a\n...\nz", "a\nb")


def test_the_readme_is_a_front_page():
    """The manual is the site in docs/; the README stays a front page under 300 lines."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines"

"""Helpers shared by the scenario tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

#: A small valid scenario without a [mirror] table (loading it needs nothing from the mirror).
MINIMAL = """\
name = "minimal"
description = "a healthy mirror; the image opens at once"
source = "https://github.com/buildpacks/lifecycle/pull/1675"

[[images]]
ref = "cnb/run:jammy"
layers = 2
seed = 7

[action]
kind = "open"
image = "cnb/run:jammy"

[expect]
outcome = "success"
attempts = 1

[expect.sleeps]
opener = []
transport = []

[expect.requests]
manifest = 1
"GET blob" = 1
"""


@pytest.fixture
def write_scenario(tmp_path: Path):
    """Write TOML text (dedented) to ``tmp_path/<name>.toml`` and return the path."""

    def write(text: str, name: str = "scenario") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write

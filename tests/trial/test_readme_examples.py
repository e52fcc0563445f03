"""The Python examples of the README's "Any client under test" section run as written: test
functions through pytester, scripts in-process (what they print must be in the block)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import flakymirror.client  # noqa: F401 - before any pytester run (see test_plugin_trial)
import flakymirror.trial.live  # noqa: F401
from conftest import require_binary

README = Path(__file__).parents[2] / "README.md"
pytest_plugins = ["pytester"]


def blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Any client under test")
    end = text.index("## The flaky mirror", start)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_section_has_examples():
    assert len(blocks()) >= 2


def test_the_run_client_examples_run(pytester: pytest.Pytester) -> None:
    require_binary("skopeo")
    block = next(b for b in blocks() if "def test_" in b)
    pytester.makepyfile(test_example=block)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.real_client
def test_the_preset_example_prints_what_it_says():
    require_binary("skopeo")
    block = next(b for b in blocks() if "get_preset" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the documented example
    printed = out.getvalue().strip()
    assert printed
    for line in printed.splitlines():  # images are deterministic: digests included
        assert line in block, f"prints {line!r}, the README does not show it"

"""The suite's own rules for optional tools: a missing binary or test extra skips outside CI
and fails in CI (``CI`` = 1/true/yes), so CI can never go green by skipping real clients."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.helpers.optional_tools import require_binary, require_module

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CI_ON = ["1", "true", "TRUE", "yes", "Yes"]
CI_OFF = [None, "", "0", "false", "no"]


def _set_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holding one empty directory: no binary can be found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.mark.parametrize("ci", CI_OFF)
def test_a_missing_binary_skips_outside_ci(empty_path, monkeypatch, ci):
    _set_ci(monkeypatch, ci)
    with pytest.raises(pytest.skip.Exception, match="skopeo is not installed"):
        require_binary("skopeo")


@pytest.mark.parametrize("ci", CI_ON)
def test_a_missing_binary_fails_in_ci(empty_path, monkeypatch, ci):
    _set_ci(monkeypatch, ci)
    with pytest.raises(pytest.fail.Exception, match="skopeo is required in CI"):
        require_binary("skopeo")


@pytest.mark.parametrize("ci", [*CI_ON, None])
def test_a_present_binary_is_returned_by_name_or_path(empty_path, monkeypatch, ci):
    _set_ci(monkeypatch, ci)
    tool = empty_path / "fake-skopeo"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    assert require_binary("fake-skopeo") == str(tool)
    assert require_binary(str(tool)) == str(tool)


def test_a_file_that_is_not_executable_counts_as_missing(empty_path, monkeypatch):
    _set_ci(monkeypatch, "true")
    (empty_path / "skopeo").write_text("not a program")
    with pytest.raises(pytest.fail.Exception):
        require_binary("skopeo")


@pytest.mark.parametrize("ci", CI_OFF)
def test_a_missing_test_extra_skips_outside_ci(monkeypatch, ci):
    _set_ci(monkeypatch, ci)
    with pytest.raises(pytest.skip.Exception, match="'flakymirror_no_such_extra' is not installed"):
        require_module("flakymirror_no_such_extra")


@pytest.mark.parametrize("ci", CI_ON)
def test_a_missing_test_extra_fails_in_ci(monkeypatch, ci):
    _set_ci(monkeypatch, ci)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_module("flakymirror_no_such_extra")
    monkeypatch.setitem(sys.modules, "dxf", None)  # as if python-dxf were not installed
    with pytest.raises(pytest.fail.Exception, match="'dxf' is required in CI"):
        require_module("dxf")


def test_a_present_test_extra_is_returned():
    assert require_module("json").dumps([]) == "[]"


OUTCOMES = """
import pytest
from tests.helpers.optional_tools import require_binary, require_module

def test_missing_binary():
    require_binary("flakymirror-no-such-binary")

def test_present_binary():
    assert require_binary("sh")

def test_missing_extra():
    require_module("flakymirror_no_such_extra")

def test_present_extra():
    assert require_module("json")
"""


@pytest.mark.parametrize(("ci", "skipped", "failed"), [(None, 2, 0), ("true", 0, 2)])
def test_the_outcomes_a_real_pytest_run_reports(pytester, monkeypatch, ci, skipped, failed):
    """Run the real helpers in a child pytest: skipped vs failed, not just raised."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # tests.helpers, wherever the child runs
    pytester.makepyfile(test_outcomes=OUTCOMES)
    monkeypatch.setenv("PATH", os.environ["PATH"])
    _set_ci(monkeypatch, ci)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist", "-rsf")
    result.assert_outcomes(passed=2, skipped=skipped, failed=failed)
    if failed:
        result.stdout.fnmatch_lines(["*flakymirror-no-such-binary is required in CI*"])
        result.stdout.fnmatch_lines(["*'flakymirror_no_such_extra' is required in CI*"])

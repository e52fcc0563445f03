"""The ``flakymirror`` command line as a shell runs it: a process writing into a pipe whose reader
has gone away (``flakymirror replay | head -1``) exits quietly with the exit code it computed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flakymirror.scenario import library_dir

QUICK = "registry-401-without-body"


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``args`` with stdout a pipe whose read end is closed before the process starts, so
    its first write to stdout fails with EPIPE (what ``| head -1`` does, without the race)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            args, stdout=write_end, stderr=subprocess.PIPE, cwd=cwd, timeout=120, check=False
        )
    finally:
        os.close(write_end)


@pytest.fixture
def quick_dir(tmp_path: Path) -> Path:
    """A folder with one quick library scenario."""
    folder = tmp_path / "quick"
    folder.mkdir()
    shutil.copy(library_dir() / f"{QUICK}.toml", folder)
    return folder


@pytest.fixture
def failing_dir(tmp_path: Path) -> Path:
    """A folder with one valid scenario whose expectation does not hold."""
    folder = tmp_path / "failing"
    folder.mkdir()
    text = (library_dir() / f"{QUICK}.toml").read_text()
    assert "attempts = 1" in text
    (folder / "wrong.toml").write_text(
        text.replace(f'name = "{QUICK}"', 'name = "wrong"').replace("attempts = 1", "attempts = 2")
    )
    return folder


MAINS = {
    "cli": [sys.executable, "-m", "flakymirror.cli"],
    "scenario.commands": [sys.executable, "-m", "flakymirror.scenario.commands"],
}


@pytest.mark.parametrize("entry", sorted(MAINS))
@pytest.mark.parametrize(("folder", "code"), [("quick_dir", 0), ("failing_dir", 1)])
def test_replay_into_a_closed_pipe(request, tmp_path, entry, folder, code):
    where = request.getfixturevalue(folder)
    done = run_into_closed_pipe([*MAINS[entry], "replay", str(where)], tmp_path)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert done.returncode == code, stderr


@pytest.mark.parametrize("entry", sorted(MAINS))
def test_scenarios_into_a_closed_pipe(tmp_path, entry):
    done = run_into_closed_pipe([*MAINS[entry], "scenarios"], tmp_path)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert done.returncode == 0, stderr


def test_scenarios_into_a_closed_pipe_keeps_bad_input_code(tmp_path, quick_dir):
    (quick_dir / "broken.toml").write_text('name = "broken"\n')
    done = run_into_closed_pipe([*MAINS["cli"], "scenarios", str(quick_dir)], tmp_path)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert "broken.toml" in stderr  # stderr still works: the error is reported
    assert done.returncode == 2, stderr


def test_help_into_a_closed_pipe(tmp_path):
    done = run_into_closed_pipe([*MAINS["cli"], "--help"], tmp_path)
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    assert done.returncode == 0


def test_export_into_a_closed_pipe(tmp_path):
    """``flakymirror export`` logs lifecycle's lines on stdout; with nobody reading them the
    export still happens and still exits 0."""
    from flakymirror.oci.synthetic import build_image
    from flakymirror.registry import Registry

    with Registry() as registry:
        registry.push(build_image(layers=1, seed=3, labels={"io.buildpacks.stack.id": "s"}),
                      "run:1")  # fmt: skip
        argv = ["export", "--run-image", f"{registry.host}/run:1",
                "--image", f"{registry.host}/app:1", "--insecure"]  # fmt: skip
        done = run_into_closed_pipe([*MAINS["cli"], *argv], tmp_path)
        stderr = done.stderr.decode()
        assert "Traceback" not in stderr and "Logging error" not in stderr, stderr
        assert done.returncode == 0, stderr
        assert "app" in registry.store.repositories()


def test_help_imports_no_command_module():
    """``flakymirror --help`` lists every command from cli.COMMANDS without importing any of
    them (nor werkzeug, requests, hypothesis or freezegun): the command line starts fast."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from flakymirror import cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    cli.main(['--help'])\n"
        "heavy = {'werkzeug', 'requests', 'hypothesis', 'freezegun', 'flakymirror.mirror',\n"
        "         'flakymirror.client', 'flakymirror.scenario', 'flakymirror.trial'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "print(all(name in out.getvalue() for name in cli.COMMANDS))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["[]", "True"], done.stderr


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        # listing the library loads and checks every file, and needs no server or client
        (["scenarios"], ["werkzeug", "requests", "freezegun", "flakymirror.mirror.mirror"]),
        # a replay runs a mirror and the reference client under a virtual clock that holds
        # its own time: freezegun (and asyncio) load only when time is frozen globally
        (["replay", "lifecycle-1674-empty-layers"], ["freezegun", "asyncio"]),
    ],
)
def test_a_command_imports_only_what_it_uses(argv: list[str], absent: list[str]) -> None:
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from flakymirror import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = cli.main({argv!r})\n"
        f"print(code, sorted(set({absent!r}) & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "0 []", done.stderr


def test_each_command_module_registers_the_commands_it_is_listed_for():
    from flakymirror.cli import COMMANDS, build_parser

    for name in COMMANDS:
        parser = build_parser([name])
        args = parser.parse_args([name, *_minimal(name)])
        assert args.command == name


def _minimal(name: str) -> list[str]:
    """The fewest arguments ``name`` parses with."""
    return {"export": ["--run-image", "r", "--image", "i"], "rebase": ["--image", "i"]}.get(
        name, []
    )

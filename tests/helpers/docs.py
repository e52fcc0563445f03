"""Every example in README.md and docs/ runs in the suite, through Sybil.

* ```` ```python ```` blocks run as they are, in order, one namespace per page. A block that
  defines ``test_*`` functions has them called at once, each with the pytest fixtures its
  parameters name (``flaky_mirror``, ``mirror_clock``, ``tmp_path`` …) and its markers.
* ```` ```console ```` blocks: each ``$ command`` runs with bash (a trailing ``\\`` continues it)
  in a scratch folder that links the repository's ``scenarios/``, with ``.venv/bin`` first on
  ``PATH``; it must exit 0, and the lines up to the next ``$`` are its expected standard output,
  compared after :func:`normalise` (ports, digests, durations, temporary paths, runs of spaces);
  ``...`` matches anything (on a line of its own: any number of lines).
* ```` ```toml ```` blocks must parse; after ``<!-- docs: scenario -->`` the block is loaded as a
  scenario file and replayed, and its expectations must hold.
* Anything else (program output, a config fragment) follows ``<!-- docs: shown -->``, or Sybil's
  ``<!-- skip: next "why" -->`` / ``<!-- skip: next if(not CI, reason="why") -->`` for an example
  that needs root, a daemon or a fixed port: it is reported as skipped with that reason.
  ``tests/docs/test_every_block.py`` checks that no block is left out.

A page's blocks share a namespace and a ``skip: next`` acts on the block after it, so a page
must run in order on one pytest-xdist worker: ``tests/helpers/scheduling.py`` schedules them so.
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sybil import Example, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from flakymirror.trial.clients import in_ci

ROOT = Path(__file__).resolve().parents[2]
#: Languages whose blocks run; any other block needs a directive before it.
RUN = ("python", "console", "toml")
SHOWN = "<!-- docs: shown -->"
SCENARIO = "<!-- docs: scenario -->"
COMMAND_TIMEOUT = 60

_NORMALISE = (
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:PORT"),
    (re.compile(r"\bsha256:[0-9a-f]{6,64}…?"), "sha256:DIGEST"),
    (re.compile(r"(?<![\w.])\+?\d+(?:\.\d+)?(?:ns|µs|ms|s)\b"), "TIME"),
    (re.compile(r"/tmp/[^\s\"',)]+"), "/tmp/PATH"),
    (re.compile(r"[ \t]+"), " "),
)


def normalise(text: str) -> str:
    """Output with what varies between runs replaced by placeholders, lines stripped."""
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    return "\n".join(line.strip() for line in text.strip().splitlines())


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` matches ``expected`` after :func:`normalise` (``...`` = anything)."""
    parts = normalise(expected).split("...")
    pattern = ".*?".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, normalise(actual), re.DOTALL) is not None


def commands(block: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block."""
    out: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1].rstrip() + " " + lines[i].strip()
            out.append((command, []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"console block: output before any '$ ' command: {line!r}")
        i += 1
    return [(c, "\n".join(e)) for c, e in out]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["REPO"] = str(ROOT)
    env["PYTHONPATH"] = str(ROOT)  # the checkout's package, whatever the venv points at
    env.pop("FLAKYMIRROR_SCENARIOS", None)
    return env


def run_console(example: Example) -> None:
    """Run a console block's commands in one bash session and compare their outputs."""
    pairs = commands(example.parsed)
    script = ["cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; }", "trap cleanup EXIT"]
    for i, (command, _) in enumerate(pairs):
        script += [f"echo '@@docs {i}@@'", command, f'echo "@@rc {i} $?@@"']
    with tempfile.TemporaryDirectory(prefix="flakymirror-docs-") as scratch:
        (Path(scratch) / "scenarios").symlink_to(ROOT / "scenarios")
        # a session of its own: whatever the block leaves running dies with it, timeout or not
        bash = subprocess.Popen(
            ["bash", "-c", "\n".join(script)],
            cwd=scratch,
            env=_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = bash.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(bash.pid, signal.SIGKILL)
            stdout, stderr = bash.communicate()
            raise AssertionError(
                f"the block did not finish in {COMMAND_TIMEOUT} s; stdout:\n{stdout}\n"
                f"stderr:\n{stderr}"
            ) from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(bash.pid, signal.SIGKILL)
    done = subprocess.CompletedProcess(bash.args, bash.returncode, stdout, stderr)
    chunks = re.split(r"@@docs (\d+)@@\n", done.stdout)
    for i, (command, expected) in enumerate(pairs):
        try:
            body = chunks[chunks.index(str(i)) + 1]
        except ValueError:
            raise AssertionError(f"$ {command}\nnever ran; stderr:\n{done.stderr}") from None
        m = re.search(rf"@@rc {i} (\d+)@@\n?", body)
        output, rc = (body[: m.start()], int(m.group(1))) if m else (body, -1)
        if rc != 0:
            raise AssertionError(
                f"$ {command}\nexited {rc}; stdout:\n{output}\nstderr:\n{done.stderr}"
            )
        if expected.strip() and not output_matches(expected, output):
            raise AssertionError(
                f"$ {command}\nexpected (normalised):\n{normalise(expected)}\n"
                f"got (normalised):\n{normalise(output)}"
            )


_python = PythonEvaluator(future_imports=("annotations",))


def run_doctest(example: Example) -> None:
    """A ``>>>`` session in a Python block, run by the standard library's doctest."""
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    test = doctest.DocTestParser().get_doctest(
        example.parsed, example.namespace, str(example.path), str(example.path), example.line
    )
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=flags)
    result = runner.run(test, out=out.append, clear_globs=False)
    if result.failed:
        raise AssertionError("".join(out))


def run_python(example: Example) -> None:
    """Run a Python block (a ``>>>`` session: :func:`run_doctest`); then call the ``test_*``
    functions it defined, with their fixtures and markers."""
    if example.parsed.lstrip().startswith(">>>"):
        run_doctest(example)
        return
    namespace = example.namespace
    before = {k: v for k, v in namespace.items() if k.startswith("test_")}
    _python(example)
    request = namespace.get("request")
    for name, fn in list(namespace.items()):
        if not (name.startswith("test_") and callable(fn)) or before.get(name) is fn:
            continue
        for mark in getattr(fn, "pytestmark", ()):  # e.g. @pytest.mark.mirror_scenario(...)
            request.node.add_marker(getattr(pytest.mark, mark.name)(*mark.args, **mark.kwargs))
        args = {p: request.getfixturevalue(p) for p in inspect.signature(fn).parameters}
        fn(**args)


def _preceding_directive(example: Example) -> str:
    text = example.document.text[: example.start].rstrip()
    last = text.rsplit("\n", 1)[-1].strip()
    return last


def run_toml(example: Example) -> None:
    """A TOML block parses; after ``<!-- docs: scenario -->`` it is replayed as a scenario."""
    text = example.parsed
    tomllib.loads(text)
    if _preceding_directive(example) != SCENARIO:
        return
    from flakymirror.scenario import loads, run_scenario

    scenario = loads(text, path=f"{example.path}:{example.line}")
    result = run_scenario(scenario)
    assert result.passed, f"the documented scenario does not hold: {result.failures}"


def _setup(namespace: dict[str, Any]) -> None:
    """What a page's ``skip: next if(...)`` conditions may use: ``CI`` and ``which``."""
    namespace["CI"] = in_ci()
    namespace["which"] = shutil.which


def collector() -> Any:
    """The ``pytest_collect_file`` hook for README.md and docs/**/*.md."""
    return Sybil(
        parsers=[
            CodeBlockParser("python", run_python),
            CodeBlockParser("console", run_console),
            CodeBlockParser("toml", run_toml),
            SkipParser(),
        ],
        patterns=["*.md"],
        path=str(ROOT),
        setup=_setup,
        fixtures=["request"],
    ).pytest()

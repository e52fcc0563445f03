"""Where the incident library lives, and loading scenarios by name, file or folder.

:func:`library_dir` finds the library, first match wins:

1. the directory named by the ``FLAKYMIRROR_SCENARIOS`` environment variable;
2. ``flakymirror/scenario/library/`` inside the installed package (a wheel built with the
   repository's ``scenarios/`` force-included there);
3. ``scenarios/`` of the source checkout the package was imported from (editable installs);
4. ``scenarios/`` in the current directory.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path

from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.loader import load_file
from flakymirror.scenario.model import Scenario

__all__ = [
    "ENV_VAR",
    "discover",
    "library_dir",
    "library_scenarios",
    "load_all",
    "load_scenario",
]

ENV_VAR = "FLAKYMIRROR_SCENARIOS"
_HERE = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get(ENV_VAR)
    if env:
        out.append(Path(env))
    out.append(_HERE / "library")
    out.append(_HERE.parents[1] / "scenarios")
    out.append(Path.cwd() / "scenarios")
    return out


def library_dir() -> Path:
    """The incident library's directory (see the module docstring for the search order)."""
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).is_dir():
        raise ScenarioError(f"{ENV_VAR}={env!r} is not a directory", path=env)
    for candidate in _candidates():
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in _candidates())
    raise ScenarioError(f"cannot find the scenario library (tried {tried})")


def library_files() -> list[Path]:
    """The library's scenario files, sorted by name."""
    return sorted(library_dir().glob("*.toml"))


def library_scenarios() -> list[Scenario]:
    """Every scenario of the library, loaded and validated, sorted by file name."""
    return [load_file(p) for p in library_files()]


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith(".toml")


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario by library name (``lifecycle-1674-empty-layers``) or by file path."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return load_file(path)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
        raise ScenarioError("no such scenario file", path=text)
    candidate = library_dir() / f"{text}.toml"
    if candidate.is_file():
        return load_file(candidate)
    names = [p.stem for p in library_files()]
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise ScenarioError(f"no scenario named {text!r} in {library_dir()}{hint}", path=text)


def discover(paths: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Scenario files named by ``paths``: files, folders (``*.toml`` inside, recursively) or
    library names. No paths means the whole library. Missing paths raise :class:`ScenarioError`.
    """
    paths = list(paths)
    if not paths:
        return library_files()
    out: list[Path] = []
    for item in paths:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            found = sorted(path.rglob("*.toml"))
            if not found:
                raise ScenarioError("folder holds no *.toml scenario files", path=text)
            out.extend(found)
        elif path.is_file():
            out.append(path)
        elif not _looks_like_path(text) and (library_dir() / f"{text}.toml").is_file():
            out.append(library_dir() / f"{text}.toml")
        else:
            raise ScenarioError("no such file, folder or library scenario", path=text)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def load_all(
    paths: Iterable[str | os.PathLike[str]] = (),
) -> tuple[list[Scenario], list[ScenarioError]]:
    """Load every scenario named by ``paths`` (see :func:`discover`).

    Returns the scenarios that loaded and the errors of those that did not, so a command can
    report every broken file at once. A path that does not exist is reported as an error too.
    """
    items = list(paths)
    files: list[Path] = []
    errors: list[ScenarioError] = []
    for group in [[item] for item in items] or [[]]:
        try:
            files.extend(p for p in discover(group) if p not in files)
        except ScenarioError as e:
            errors.append(e)
    scenarios: list[Scenario] = []
    names: dict[str, str] = {}
    for path in files:
        try:
            scenario = load_file(path)
        except ScenarioError as e:
            errors.append(e)
            continue
        if scenario.name in names:
            errors.append(
                ScenarioError(
                    f"scenario name {scenario.name!r} is also used by {names[scenario.name]}",
                    path=str(path),
                    key="name",
                )
            )
            continue
        names[scenario.name] = str(path)
        scenarios.append(scenario)
    return scenarios, errors

"""Where the incident library lives, and loading scenarios by name, file or folder.

The library directories, in search order (:func:`library_dirs` lists those that exist):

1. the directory named by the ``FLAKYMIRROR_SCENARIOS`` environment variable (an explicit
   setting wins over anything found by looking around);
2. ``scenarios/`` in the current directory (a project's own incidents);
3. the bundled library: ``flakymirror/scenario/library/`` inside the installed package (a wheel
   built with the repository's ``scenarios/`` force-included there), else ``scenarios/`` of the
   source checkout the package was imported from (editable installs).

:func:`library_dir` is the first of them: what ``flakymirror replay`` and ``flakymirror
scenarios`` use when given no PATH. A scenario *name* is looked up in every one, in that order,
so a project's folder adds to the bundled library (and shadows a bundled file of the same name).
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
    "library_dirs",
    "library_scenarios",
    "load_all",
    "load_scenario",
]

ENV_VAR = "FLAKYMIRROR_SCENARIOS"
_HERE = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    env = os.environ.get(ENV_VAR)
    out = [Path(env)] if env else []
    out.append(Path.cwd() / "scenarios")
    out.append(_HERE / "library")
    out.append(_HERE.parents[1] / "scenarios")
    return out


def library_dirs() -> list[Path]:
    """The library directories that exist, in search order (see the module docstring)."""
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).is_dir():
        raise ScenarioError(f"{ENV_VAR}={env!r} is not a directory", path=env)
    out: list[Path] = []
    seen: set[Path] = set()
    for candidate in _candidates():
        if candidate.is_dir() and candidate.resolve() not in seen:
            seen.add(candidate.resolve())
            out.append(candidate)
    if not out:
        tried = ", ".join(str(c) for c in _candidates())
        raise ScenarioError(f"cannot find the scenario library (tried {tried})")
    return out


def library_dir() -> Path:
    """The default library: the first of :func:`library_dirs`."""
    return library_dirs()[0]


def _named(name: str) -> Path | None:
    """The file of library scenario ``name`` in the first library directory holding one."""
    for folder in library_dirs():
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


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
    candidate = _named(text)
    if candidate is not None:
        return load_file(candidate)
    folders = library_dirs()
    names = sorted({p.stem for folder in folders for p in folder.glob("*.toml")})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    where = ", ".join(str(f) for f in folders)
    raise ScenarioError(f"no scenario named {text!r} in {where}{hint}", path=text)


def discover(paths: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Scenario files named by ``paths``: files, folders (``*.toml`` inside, recursively) or
    library names. No paths means every file of :func:`library_dir`. Missing paths raise
    :class:`ScenarioError`.
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
        elif not _looks_like_path(text) and (named := _named(text)) is not None:
            out.append(named)
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

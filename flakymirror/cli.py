"""The ``flakymirror`` command line: each area registers its own sub-commands.

``serve`` (the flaky mirror, or a scenario's with ``--scenario``), ``export``/``rebase`` (the
reference client), ``replay``/``scenarios`` (the incident library), ``matrix`` (the incident
library against any client). Every handler returns the process exit code.

Only the module of the command that runs is imported (``flakymirror --help`` imports none), so
the command line starts fast: the one-line help of each command lives here, in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from flakymirror import __version__
from flakymirror._stdout import run_handler

#: command → (the module whose ``register(subparsers)`` adds it, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "flakymirror.trial.serve",
        "run a flaky registry mirror in the foreground (optionally a scenario's)",
    ),
    "replay": (
        "flakymirror.scenario.commands",
        "replay incident scenarios against a flaky mirror and check their expectations",
    ),
    "scenarios": (
        "flakymirror.scenario.commands",
        "list the incident library, one line per scenario",
    ),
    "matrix": (
        "flakymirror.trial.commands",
        "run incident scenarios against real clients and judge each from the outside",
    ),
    "export": (
        "flakymirror.client.commands",
        "export an app image on top of a run image, like lifecycle's exporter",
    ),
    "rebase": (
        "flakymirror.client.commands",
        "rebase an app image onto a new run image, like lifecycle's rebaser",
    ),
}


class _Subparsers:
    """``add_subparsers()``'s action, handing each command its one-line help from COMMANDS."""

    def __init__(self, action: Any) -> None:
        self._action = action
        self.added: set[str] = set()

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        kw.setdefault("help", COMMANDS[name][1])
        self.added.add(name)
        return self._action.add_parser(name, **kw)


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The ``flakymirror`` parser: every sub-command's options when ``commands`` is None, else
    only those of ``commands`` (the others are listed, with their help, but not loaded)."""
    parser = argparse.ArgumentParser(
        prog="flakymirror",
        description="A test harness that simulates flaky OCI/Docker registry mirrors.",
    )
    parser.add_argument("--version", action="version", version=f"flakymirror {__version__}")
    sub = _Subparsers(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    names = set(COMMANDS) if commands is None else set(commands)
    modules = {COMMANDS[name][0] for name in names}  # a module registers all of its commands
    for name, (module, help_text) in COMMANDS.items():
        if name in sub.added:
            continue
        if module in modules:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flakymirror`` script; returns the exit code."""
    args_in = list(argv) if argv is not None else sys.argv[1:]
    command = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser([command] if command in COMMANDS else [])
    args = parser.parse_args(args_in)
    handler = getattr(args, "handler", None) or args.func
    # a reader that went away (`flakymirror replay | head -1`) is not an error of ours
    return run_handler(handler, args)


if __name__ == "__main__":
    sys.exit(main())

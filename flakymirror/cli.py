"""The ``flakymirror`` command line: each area registers its own sub-commands.

``serve`` (the flaky mirror, or a scenario's with ``--scenario``), ``export``/``rebase`` (the
reference client), ``replay``/``scenarios`` (the incident library), ``matrix`` (the incident
library against any client). Every handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flakymirror import __version__
from flakymirror.client import commands as client_commands
from flakymirror.scenario import commands as scenario_commands
from flakymirror.trial import commands as trial_commands
from flakymirror.trial import serve as serve_face


def build_parser() -> argparse.ArgumentParser:
    """The full ``flakymirror`` parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="flakymirror",
        description="A test harness that simulates flaky OCI/Docker registry mirrors.",
    )
    parser.add_argument("--version", action="version", version=f"flakymirror {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_face.register(sub)
    scenario_commands.register(sub)
    trial_commands.register(sub)
    client_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flakymirror`` script; returns the exit code."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    handler = getattr(args, "handler", None) or args.func
    # a reader that went away (`flakymirror replay | head -1`) is not an error of ours
    return scenario_commands.run_handler(handler, args)


if __name__ == "__main__":
    sys.exit(main())

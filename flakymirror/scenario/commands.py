"""The ``replay`` and ``scenarios`` sub-commands of the ``flakymirror`` command line.

``register(subparsers)`` adds both to an ``argparse`` sub-parser set; each sets ``func`` to a
callable taking the parsed arguments and returning the exit code::

    flakymirror replay [PATH ...] [--json] [--verbose]
    flakymirror scenarios [PATH ...]

Exit codes of ``replay``: 0 every expectation held, 1 at least one did not, 2 bad input (an
invalid scenario file, reported on stderr with its file, line and key; nothing is replayed),
3 the replay itself crashed (a bug in flakymirror). This module also runs on its own:
``python -m flakymirror.scenario.commands replay scenarios/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from flakymirror._stdout import run_handler, stdout_to_devnull
from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.library import ENV_VAR, load_all

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CRASH",
    "EXIT_FAILED",
    "EXIT_OK",
    "main",
    "register",
    "run_handler",
    "stdout_to_devnull",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CRASH = 0, 1, 2, 3

_PATHS_HELP = (
    "scenario files, folders of *.toml files, or library scenario names (default: every "
    f"scenario in ${ENV_VAR}, else in ./scenarios, else in the bundled incident library)"
)


def register(subparsers: Any) -> None:
    """Add ``replay`` and ``scenarios`` to ``subparsers`` (from ``add_subparsers()``)."""
    replay = subparsers.add_parser(
        "replay",
        description=(
            "Replay each scenario: build a flaky mirror, push the images, run the client "
            "action, print a timeline per scenario and a summary table. Exit code 0 when "
            "every expectation held, 1 when one did not, 2 on an invalid scenario file."
        ),
    )
    replay.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    replay.add_argument("--json", action="store_true", help="print the results as JSON")
    replay.add_argument(
        "-v", "--verbose", action="store_true",
        help="add client log lines, full digests and byte counts to the timelines",
    )  # fmt: skip
    replay.set_defaults(func=replay_command)
    listing = subparsers.add_parser(
        "scenarios",
        description="List scenarios: name, description and source, one line each.",
    )
    listing.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    listing.set_defaults(func=scenarios_command)


def _report_errors(errors: Sequence[ScenarioError], err: TextIO) -> None:
    for e in errors:
        print(f"flakymirror: invalid scenario: {e}", file=err)


def _emit(lines: Sequence[str], out: TextIO) -> None:
    """Print ``lines`` and flush; a reader that went away silences stdout instead of failing."""
    try:
        for line in lines:
            print(line, file=out)
        out.flush()
    except BrokenPipeError:
        if out is not sys.stdout:
            raise
        stdout_to_devnull()


def replay_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``replay``; returns the exit code."""
    import traceback

    # the replay's own modules (the mirror, the reference client) are not paid by `scenarios`
    from flakymirror.scenario.report import render_json, render_result
    from flakymirror.scenario.runner import run_scenario

    out = out or sys.stdout
    err = err or sys.stderr
    scenarios, errors = load_all(args.paths)
    if errors:
        _report_errors(errors, err)
        return EXIT_BAD_INPUT
    results = []
    for scenario in scenarios:
        try:
            results.append(run_scenario(scenario))
        except ScenarioError as e:
            _report_errors([e], err)
            return EXIT_BAD_INPUT
        except Exception:  # noqa: BLE001 - a crash must not look like a failed expectation
            print(f"flakymirror: replay of {scenario.name} crashed:", file=err)
            traceback.print_exc(file=err)
            return EXIT_CRASH
    text = render_json(results) if args.json else render_result(results, verbose=args.verbose)
    code = EXIT_FAILED if any(r.failures for r in results) else EXIT_OK
    _emit([text], out)
    return code


def scenarios_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``scenarios``: ``name — description [source, …]`` per line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    scenarios, errors = load_all(args.paths)
    _emit([f"{s.name} — {s.description} [{', '.join(s.source)}]" for s in scenarios], out)
    if errors:
        _report_errors(errors, err)
        return EXIT_BAD_INPUT
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with just these two sub-commands."""
    parser = argparse.ArgumentParser(
        prog="flakymirror", description="Replay and list flaky-mirror incident scenarios."
    )
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit code (argparse errors: 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse reports usage errors itself, with code 2
        return int(e.code or 0)
    return run_handler(args.func, args)


if __name__ == "__main__":
    sys.exit(main())

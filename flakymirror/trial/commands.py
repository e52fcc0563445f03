"""``flakymirror matrix``: the incident library against any client, judged from the outside.

::

    flakymirror matrix [SCENARIO|PATH ...] --client NAME_OR_TEMPLATE [--client ...]
                       [--json | --markdown] [--timeout S] [-j N] [--repeat N]
                       [--time-scale F] [--baseline FILE] [--artifacts DIR] [--tls]

Exit codes: 0 every cell holds (its verdict is the baseline's, or the ideal one without a
baseline entry), 1 one does not, 2 bad input (a bad scenario, client spec or option; a missing
client binary in CI), 3 a cell is ``harness-error``. Outside CI a missing binary skips its
column with a warning.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from flakymirror.scenario.errors import ScenarioError

__all__ = ["EXIT_HARNESS", "matrix_command", "register"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_HARNESS = 0, 1, 2, 3


def _positive(kind: type, what: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{what} must be > 0, got {text!r}")
        return value

    return parse


def register(subparsers: Any) -> None:
    """Add ``matrix`` to ``subparsers`` (from ``argparse``'s ``add_subparsers()``)."""
    p = subparsers.add_parser(
        "matrix",
        description=(
            "Run every scenario against every --client, each cell on a mirror of its own, and "
            "print incident x client with a verdict per cell (survived, failed-loud, "
            "failed-silent, hung, harness-error, n/a). Exit 0 when every cell holds (its "
            "verdict is the baseline's, or the ideal one), 1 when one does not, 2 on bad "
            "input, 3 on a harness error."
        ),
    )
    p.add_argument(
        "paths", nargs="*", metavar="SCENARIO",
        help="scenario names, files or folders (default: the whole incident library)",
    )  # fmt: skip
    p.add_argument(
        "--client", "-c", action="append", default=[], metavar="NAME_OR_TEMPLATE",
        help="a preset (skopeo-inspect, skopeo-copy, podman-pull, buildah-pull, ctr-pull, "
        "oras-py, python-dxf), reference[:PROFILE][;delays=S,...], or a command template "
        "such as 'mytool pull {ref}' (repeatable; at least one)",
    )  # fmt: skip
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the rows as JSON")
    out.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--timeout", type=_positive(float, "--timeout"), default=60.0,
                   help="real seconds each external client may run (default %(default)s)")
    p.add_argument("-j", "--jobs", type=_positive(int, "-j"), default=1,
                   help="cells run at once, each on its own mirror (default 1)")
    p.add_argument("--repeat", type=_positive(int, "--repeat"), default=1,
                   help="run every cell N times and flag verdicts that change")
    p.add_argument("--time-scale", type=_positive(float, "--time-scale"), default=1.0,
                   help="divide the scenarios' times and Retry-After values by F for "
                   "external clients (default 1)")
    p.add_argument("--baseline", action="append", default=[], metavar="FILE",
                   help="known verdicts to add to the bundled baseline (repeatable)")
    p.add_argument("--no-bundled-baseline", action="store_true",
                   help="judge against the given --baseline files (or the ideal) only")
    p.add_argument("--artifacts", metavar="DIR",
                   help="keep each cell's command, output and timeline under DIR "
                   "(default: a new temporary folder, printed at the end)")
    p.add_argument("--tls", action="store_true",
                   help="serve every external cell over HTTPS with a generated CA")
    p.set_defaults(func=matrix_command)


def _progress(err: TextIO) -> Any:
    def show(result: Any) -> None:
        from flakymirror.trial.render import cell_text

        print(f"flakymirror matrix: {result.scenario} × {result.client}: {cell_text(result)}",
              file=err, flush=True)

    return show


def matrix_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``matrix``; returns the exit code."""
    from flakymirror.scenario.library import load_all
    from flakymirror.trial.baseline import load_baseline
    from flakymirror.trial.clients import ClientError, in_ci, parse_clients, unavailable
    from flakymirror.trial.matrix import run_matrix
    from flakymirror.trial.render import render_json, render_markdown, render_text
    from flakymirror.trial.runner import TrialOptions

    out = out or sys.stdout
    err = err or sys.stderr
    if not args.client:
        print("flakymirror matrix: give at least one --client (a preset, reference, or a "
              "command template using {ref})", file=err)
        return EXIT_BAD_INPUT
    try:
        clients = parse_clients(args.client)
        baseline = load_baseline(args.baseline, bundled=not args.no_bundled_baseline)
    except (ClientError, ScenarioError) as exc:
        print(f"flakymirror matrix: {exc}", file=err)
        return EXIT_BAD_INPUT
    scenarios, errors = load_all(args.paths)
    if errors:
        for e in errors:
            print(f"flakymirror matrix: invalid scenario: {e}", file=err)
        return EXIT_BAD_INPUT
    skipped: dict[str, str] = {}
    for client in clients:
        reason = unavailable(client)
        if reason is None:
            continue
        if in_ci():
            print(f"flakymirror matrix: client {client.name}: {reason} (required in CI)",
                  file=err)
            return EXIT_BAD_INPUT
        print(f"flakymirror matrix: warning: skipping {client.name}: {reason}", file=err)
        skipped[client.name] = reason
    runnable = [c for c in clients if c.name not in skipped]
    artifacts = Path(args.artifacts) if args.artifacts else Path(
        tempfile.mkdtemp(prefix="flakymirror-matrix-")
    )
    options = TrialOptions(
        timeout=args.timeout, time_scale=args.time_scale, artifacts=artifacts, tls=args.tls
    )
    matrix = run_matrix(
        scenarios,
        runnable,
        options,
        baseline=baseline,
        jobs=args.jobs,
        repeat=args.repeat,
        skipped=skipped,
        progress=_progress(err),
    )
    if args.json:
        text = render_json(matrix)
    elif args.markdown:
        text = render_markdown(matrix)
    else:
        text = render_text(matrix)
    from flakymirror.scenario.commands import _emit

    _emit([text], out)
    print(f"flakymirror matrix: artifacts in {artifacts}", file=err)
    if matrix.harness_errors:
        return EXIT_HARNESS
    return EXIT_OK if matrix.holds else EXIT_FAILED

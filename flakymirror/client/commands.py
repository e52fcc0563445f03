"""``flakymirror export`` and ``flakymirror rebase``: the exporter and rebaser as commands.

They work against any registry (a real distribution registry, a :class:`Registry`, a flaky
mirror) and print lifecycle's log lines: plain info lines, ``Warning: `` for warnings and
``ERROR: <err>`` on failure, exiting with lifecycle's code (1, 62, 72; 3 for bad arguments).

Wiring into a parent parser::

    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(argv)
    return args.handler(args)

:func:`main` does the same on its own parser, with injectable output streams (for tests).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from flakymirror.client.auth import BasicCredentials, StaticToken
from flakymirror.client.buildmeta import Process
from flakymirror.client.exporter import Buildpack, LayerSpec, export
from flakymirror.client.lifecycle_error import CODE_FAILED, CODE_INVALID_ARGS, LifecycleError
from flakymirror.client.rebaser import rebase
from flakymirror.client.retry import PROFILES

__all__ = ["main", "register", "run_export", "run_rebase"]

DEFAULT_BUILDPACK_ID = "flakymirror/cli"
DEFAULT_BUILDPACK = f"{DEFAULT_BUILDPACK_ID}@0.0.1"


class _LifecycleFormatter(logging.Formatter):
    """lifecycle's default logger: ``Warning: `` and ``ERROR: `` prefixes, plain info."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"ERROR: {text}"
        if record.levelno >= logging.WARNING:
            return f"Warning: {text}"
        return text


class _PipeSafeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that stops writing, quietly, once the reader of stdout went away
    (``flakymirror export | head -1``); the command still runs to the end and keeps its code."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """Silence stdout on ``BrokenPipeError``; any other error as logging does."""
        if isinstance(sys.exc_info()[1], BrokenPipeError) and self.stream is sys.stdout:
            # the Python docs' recipe: what is still buffered goes to devnull at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, sys.stdout.fileno())
            finally:
                os.close(devnull)
            return
        super().handleError(record)


def _logger(out: TextIO, verbose: bool) -> logging.Logger:
    # an unregistered logger: nothing leaks into logging's global registry between runs
    log = logging.Logger("flakymirror.cli", logging.DEBUG if verbose else logging.INFO)
    handler = _PipeSafeHandler(out)
    handler.setFormatter(_LifecycleFormatter())
    log.addHandler(handler)
    return log


class _ArgError(ValueError):
    """A command-line value that cannot be used; exit code 3."""


def _pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _ArgError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _buildpacks(values: Sequence[str] | None) -> list[Buildpack]:
    """``--layer-dir [BP_ID[@VERSION]:NAME=]DIR`` values grouped by buildpack, in order."""
    order: list[tuple[str, str]] = []
    layers: dict[tuple[str, str], list[LayerSpec]] = {}
    for item in values or ():
        spec, sep, directory = item.rpartition("=")
        if not sep:
            spec, directory = "", item
        path = Path(directory)
        if not path.is_dir():
            raise _ArgError(f"--layer-dir {item!r}: {directory!r} is not a directory")
        bp, colon, name = spec.rpartition(":") if spec else ("", "", "")
        if spec and not colon:
            bp, name = "", spec
        bp_id, _, version = (bp or DEFAULT_BUILDPACK).partition("@")
        name = name or path.resolve().name
        key = (bp_id, version or "0.0.1")
        if key not in layers:
            order.append(key)
            layers[key] = []
        layers[key].append(LayerSpec(name, directory=path))
    return [Buildpack(bp_id, version, tuple(layers[(bp_id, version)])) for bp_id, version in order]


def _processes(values: Sequence[str] | None) -> list[Process]:
    out = []
    for kind, command in _pairs(values, "--process").items():
        if not command.strip():
            raise _ArgError(f"--process {kind!r}: empty command")
        out.append(Process(kind, tuple(command.split()), buildpack_id=DEFAULT_BUILDPACK_ID))
    return out


def _keychain(args: argparse.Namespace) -> Any:
    if args.token:
        return StaticToken(args.token)
    if args.username:
        password = (
            args.password
            if args.password is not None
            else os.environ.get("FLAKYMIRROR_PASSWORD", "")
        )
        return BasicCredentials(args.username, password)
    return None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="output image, e.g. 127.0.0.1:5000/app:1")
    p.add_argument(
        "--tag", action="append", default=[], metavar="REF", help="additional output tag"
    )
    p.add_argument("--previous-image", metavar="REF", help="image to reuse layers from / rebase")
    p.add_argument("--insecure", action="store_true", help="plain HTTP to the registries")
    p.add_argument("--username", help="registry user name (password: --password or "
                   "FLAKYMIRROR_PASSWORD)")  # fmt: skip
    p.add_argument("--password", help="registry password")
    p.add_argument("--token", help="registry token sent as Bearer")
    p.add_argument("--profile", choices=sorted(PROFILES), default="ggcr-v0.21.9",
                   help="ggcr transport retry behaviour (default: %(default)s)")  # fmt: skip
    p.add_argument("--platform", default=None, help="os/arch[/variant] (default linux/amd64)")
    p.add_argument("--platform-api", default="0.12", help="Platform API (default %(default)s)")
    p.add_argument("--report", metavar="FILE", help="write a JSON report here")
    p.add_argument("--verbose", action="store_true", help="debug output")


def register(subparsers: Any) -> None:
    """Add the ``export`` and ``rebase`` sub-commands (each sets ``handler``)."""
    ex = subparsers.add_parser(
        "export",
        description="Build buildpack/app/launcher layers, label them as lifecycle does, and "
        "push the app image on top of the run image (opened through the retrying opener).",
    )
    _common(ex)
    ex.add_argument("--run-image", required=True, metavar="REF", help="run image reference")
    ex.add_argument("--run-image-mirror", action="append", default=[], metavar="REF")
    ex.add_argument("--app-dir", metavar="DIR", help="directory for the app layer")
    ex.add_argument(
        "--layer-dir",
        action="append",
        default=[],
        metavar="[BP[@VER]:NAME=]DIR",
        help=f"a buildpack launch layer from DIR (default buildpack {DEFAULT_BUILDPACK})",
    )
    ex.add_argument("--process", action="append", default=[], metavar="TYPE=COMMAND")
    ex.add_argument("--default-process", default="", metavar="TYPE")
    ex.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    ex.add_argument("--launcher", metavar="FILE", help="launcher binary (default: synthetic)")
    ex.add_argument("--no-history", action="store_true", help="blank layer history")
    ex.set_defaults(handler=run_export)

    rb = subparsers.add_parser(
        "rebase",
        description="Swap the run image layers of an app image for those of a new run image, "
        "with lifecycle's validations, and push the result.",
    )
    _common(rb)
    rb.add_argument("--run-image", metavar="REF", help="new run image (default: from metadata)")
    rb.add_argument("--force", action="store_true", help="turn target checks into warnings")
    rb.set_defaults(handler=run_rebase)


def _finish(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")


def _run(
    args: argparse.Namespace,
    fn: Any,
    out: TextIO | None,
    err: TextIO | None,
    sleep: Callable[[float], None] | None,
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    log = _logger(out, args.verbose)
    try:
        report = fn(args, log, sleep)
    except _ArgError as exc:
        print(f"ERROR: failed to parse arguments: {exc}", file=err)
        return CODE_INVALID_ARGS
    except LifecycleError as exc:
        print(f"ERROR: {exc}", file=err)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a command reports, it does not trace back
        print(f"ERROR: {exc}", file=err)
        return CODE_FAILED
    _finish(args, report)
    return 0


def _common_kwargs(
    args: argparse.Namespace, log: logging.Logger, sleep: Callable[[float], None] | None
) -> dict[str, Any]:
    """The keyword arguments of :func:`export` and :func:`rebase` that the options added by
    ``_common`` give (``--image`` aside)."""
    return {
        "additional_tags": args.tag,
        "previous_image": args.previous_image,
        "platform_api": args.platform_api,
        "insecure": args.insecure,
        "keychain": _keychain(args),
        "profile": args.profile,
        "platform": args.platform,
        "sleep": sleep,
        "logger": log,
    }


def _image_report(r: Any) -> dict[str, Any]:
    """The ``image`` part of an export or rebase ``--report``."""
    return {"tags": r.tags, "digest": str(r.digest), "manifest-size": r.manifest_size}


def _export(
    args: argparse.Namespace, log: logging.Logger, sleep: Callable[[float], None] | None
) -> dict[str, Any]:
    launcher = Path(args.launcher).read_bytes() if args.launcher else None
    if args.app_dir and not Path(args.app_dir).is_dir():
        raise _ArgError(f"--app-dir {args.app_dir!r} is not a directory")
    kwargs = {"launcher": launcher} if launcher is not None else {}
    r = export(
        args.image,
        args.run_image,
        buildpacks=_buildpacks(args.layer_dir),
        app_dir=args.app_dir,
        processes=_processes(args.process),
        default_process=args.default_process,
        run_image_mirrors=args.run_image_mirror,
        labels=_pairs(args.label, "--label"),
        history=not args.no_history,
        **_common_kwargs(args, log, sleep),
        **kwargs,
    )
    return {
        "image": _image_report(r),
        "run-image": {"reference": r.run_image_reference, "top-layer": r.top_layer},
        "layers": [{"id": i, "action": a} for i, a in r.layers],
        "requests": len(r.requests),
    }


def _rebase(
    args: argparse.Namespace, log: logging.Logger, sleep: Callable[[float], None] | None
) -> dict[str, Any]:
    r = rebase(
        args.image,
        run_image=args.run_image,
        force=args.force,
        **_common_kwargs(args, log, sleep),
    )
    return {
        "image": _image_report(r),
        "run-image": {"name": r.run_image, "reference": r.reference, "top-layer": r.top_layer},
        "requests": len(r.requests),
    }


def run_export(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Handler of ``flakymirror export``; returns the exit code (``sleep``: for tests)."""
    return _run(args, _export, out, err, sleep)


def run_rebase(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Handler of ``flakymirror rebase``; returns the exit code (``sleep``: for tests)."""
    return _run(args, _rebase, out, err, sleep)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """``flakymirror export|rebase …`` on a parser of its own; argparse errors exit 2.
    ``sleep`` replaces every sleep (opener delays and ggcr backoff), for tests."""
    parser = argparse.ArgumentParser(prog="flakymirror")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv) if argv is not None else None)
    return args.handler(args, out, err, sleep)

"""``flakymirror serve``: run a flaky mirror in the foreground until Ctrl-C or SIGTERM.

``register(subparsers)`` adds the sub-command (setting both ``func`` and ``handler`` to
:func:`serve_command`); ``python -m flakymirror.mirror.commands serve ...`` runs it alone::

    flakymirror serve                       # built-in upstream seeded with demo images
    flakymirror serve --upstream http://127.0.0.1:5000 --port 5001 --plan plan.json

The first line printed is ``flakymirror: mirror serving on http://HOST:PORT``. Exit codes: 0 after
a clean stop, 2 on bad arguments or a bad plan/fault file (the message names the key).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from flakymirror.mirror._forms import FormError
from flakymirror.mirror.clock import RealClock, VirtualClock
from flakymirror.mirror.faults import rules_from_dict
from flakymirror.mirror.plans import plans_from_dict

__all__ = ["DEMO_IMAGES", "main", "register", "serve_command"]

#: What the built-in upstream holds when no ``--upstream`` is given.
DEMO_IMAGES = ("library/demo:latest", "library/demo:2", "library/multi:latest")
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def register(subparsers: Any) -> None:
    """Add ``serve`` to ``subparsers`` (from ``argparse``'s ``add_subparsers()``)."""
    p = subparsers.add_parser(
        "serve",
        help="run a flaky registry mirror in the foreground",
        description=(
            "Serve a flaky mirror of --upstream (default: a built-in registry seeded with demo "
            "images). Script it over HTTP under /_flakymirror/ (plan, faults, clock, journal, "
            "reset). Stops cleanly on Ctrl-C or SIGTERM."
        ),
    )
    p.add_argument("--upstream", metavar="URL", help="registry to mirror (pull-through over HTTP)")
    p.add_argument("--credentials", metavar="USER:PASSWORD", help="for the upstream's auth")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    p.add_argument("--plan", metavar="FILE.json", help="sync plan (a table or a list of them)")
    p.add_argument("--faults", metavar="FILE.json", help="fault rules (a table or a list)")
    p.add_argument(
        "--virtual-clock", action="store_true",
        help="run on a virtual clock advanced through POST /_flakymirror/clock/advance",
    )  # fmt: skip
    p.set_defaults(func=serve_command, handler=serve_command)


def _load(path: str, what: str, parse: Any) -> Any:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise FormError(what, f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise FormError(what, f"{path} is not valid JSON: {exc}") from None
    try:
        return parse(data, what)
    except FormError as exc:
        raise FormError(exc.path, f"{exc.reason} (in {path})") from None


def _seed(mirror: Any) -> None:
    from flakymirror.oci import build_image, build_index

    mirror.push_upstream(build_image(layers=3, seed=1), DEMO_IMAGES[0])
    mirror.push_upstream(build_image(layers=2, seed=2), DEMO_IMAGES[1])
    mirror.push_upstream(build_index(seed=3, layers=2), DEMO_IMAGES[2])


def serve_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the mirror until SIGINT/SIGTERM (or ``stop`` is set); return the exit code."""
    from flakymirror.mirror.mirror import FlakyMirror

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        plans = _load(args.plan, "plan", plans_from_dict) if args.plan else None
        faults = _load(args.faults, "faults", rules_from_dict) if args.faults else ()
        credentials = None
        if args.credentials:
            user, sep, password = args.credentials.partition(":")
            if not sep:
                raise FormError("--credentials", "expected USER:PASSWORD")
            credentials = (user, password)
        if not 0 <= args.port <= 65535:
            raise FormError("--port", f"must be 0-65535, got {args.port}")
    except FormError as exc:
        print(f"flakymirror serve: {exc}", file=err)
        return EXIT_BAD_INPUT
    clock = VirtualClock() if args.virtual_clock else RealClock()
    stop = stop or threading.Event()
    try:
        mirror = FlakyMirror(
            args.upstream,
            clock=clock,
            plan=plans,
            faults=faults,
            host=args.host,
            port=args.port,
            credentials=credentials,
        )
    except (TypeError, ValueError) as exc:
        print(f"flakymirror serve: {exc}", file=err)
        return EXIT_BAD_INPUT
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        if args.upstream is None:
            _seed(mirror)
        try:
            mirror.start()
        except OSError as exc:
            print(f"flakymirror serve: cannot listen on {args.host}:{args.port}: {exc}", file=err)
            return EXIT_BAD_INPUT
        print(f"flakymirror: mirror serving on {mirror.url}", file=out, flush=True)
        print(f"flakymirror: upstream: {mirror.adapter.describe()}", file=out)
        if args.upstream is None:
            for ref in DEMO_IMAGES:
                print(f"flakymirror:   {mirror.host}/{ref}", file=out)
        print(f"flakymirror: control API: {mirror.url}/_flakymirror/state", file=out, flush=True)
        while not stop.wait(0.5):
            pass
        print("flakymirror: stopping", file=out, flush=True)
        return EXIT_OK
    finally:
        mirror.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m flakymirror.mirror.commands serve ...``."""
    parser = argparse.ArgumentParser(prog="flakymirror")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

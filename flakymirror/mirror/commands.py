"""``flakymirror serve``: run a flaky mirror in the foreground until Ctrl-C or SIGTERM.

``register(subparsers)`` adds the sub-command (setting both ``func`` and ``handler`` to
:func:`serve_command`); ``python -m flakymirror.mirror.commands serve ...`` runs it alone::

    flakymirror serve                       # built-in upstream seeded with demo images
    flakymirror serve --upstream http://127.0.0.1:5000 --port 5001 --plan plan.json
    flakymirror serve --auth bearer --mirror-credentials alice:secret --tls --control-port 0

The first line printed is ``flakymirror: mirror serving on http://HOST:PORT``. Exit codes: 0 after
a clean stop, 2 on bad arguments or a bad plan/fault file (the message names the option or key).

``serve_command`` is three reusable steps, so a higher layer can offer its own ``serve``
(``serve --scenario``) without touching this module: :func:`add_serve_arguments` adds the
options to a parser, :func:`mirror_from_args` builds the ``FlakyMirror`` they describe (or the
caller builds its own, after :func:`check_serve_arguments`), and :func:`run_mirror` runs a
started mirror until SIGINT/SIGTERM or an event, printing the standard lines (with the caller's
own first line and image lines if it has them).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from flakymirror.mirror.clock import RealClock, VirtualClock
from flakymirror.mirror.control_guard import is_loopback
from flakymirror.mirror.faults import rules_from_dict
from flakymirror.mirror.forms import FormError
from flakymirror.mirror.plans import plans_from_dict
from flakymirror.registry.own_url import check_public_url

__all__ = [
    "DEMO_IMAGES",
    "ServeSettings",
    "add_serve_arguments",
    "check_serve_arguments",
    "main",
    "mirror_from_args",
    "register",
    "run_mirror",
    "serve_command",
]

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
            "listener, reset). Stops cleanly on Ctrl-C or SIGTERM."
        ),
    )
    add_serve_arguments(p)
    p.set_defaults(func=serve_command, handler=serve_command)


def add_serve_arguments(p: argparse.ArgumentParser, *, mirror_content: bool = True) -> None:
    """Add the ``serve`` options to ``p``: where and how to listen (``--host``, ``--port``,
    ``--tls``, ``--control-port``, ``--virtual-clock``), the mirror's own auth (``--auth``,
    ``--mirror-credentials``, ``--token-ttl``) and, with ``mirror_content``, what it mirrors
    and how (``--upstream``, ``--credentials``, ``--plan``, ``--faults``)."""
    if mirror_content:
        p.add_argument(
            "--upstream", metavar="URL", help="registry to mirror (pull-through over HTTP)"
        )
        p.add_argument(
            "--credentials", metavar="USER:PW",
            help="the upstream's credentials (the mirror's own: --mirror-credentials)",
        )  # fmt: skip
        p.add_argument("--plan", metavar="FILE.json", help="sync plan (a table or a list of them)")
        p.add_argument("--faults", metavar="FILE.json", help="fault rules (a table or a list)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    p.add_argument(
        "--virtual-clock", action="store_true",
        help="run on a virtual clock advanced through POST /_flakymirror/clock/advance",
    )  # fmt: skip
    p.add_argument(
        "--auth", choices=("basic", "bearer"),
        help="the mirror's own auth (with --mirror-credentials); bearer serves /token",
    )  # fmt: skip
    p.add_argument(
        "--mirror-credentials", metavar="USER:PW",
        help="the mirror's own user, for --auth (the upstream's: --credentials)",
    )  # fmt: skip
    p.add_argument(
        "--token-ttl", type=float, metavar="SECONDS",
        help="lifetime of a bearer token, for --auth bearer (default 300)",
    )  # fmt: skip
    p.add_argument(
        "--tls", action="store_true",
        help="serve HTTPS with a generated CA (its file is printed); needs flakymirror[tls]",
    )  # fmt: skip
    p.add_argument(
        "--control-port", type=int, metavar="N",
        help="serve the control API on its own 127.0.0.1 listener (0: any free port), so the "
        "mirror's listener can be taken down (PUT /_flakymirror/listener)",
    )  # fmt: skip
    p.add_argument(
        "--control-token", metavar="TOKEN",
        help="every control request must send it as X-Flakymirror-Token (needed, or "
        "--control-port, with a --host that is not loopback)",
    )  # fmt: skip
    p.add_argument(
        "--public-url", metavar="URL",
        help="the URL clients reach the mirror by (http[s]://host[:port], e.g. behind a proxy "
        "or by a DNS name): the Bearer realm and the Host the control API accepts follow it",
    )  # fmt: skip


@dataclass(frozen=True)
class ServeSettings:
    """The checked ``serve`` options: listening (``host``, ``port``, ``tls``,
    ``control_port``, ``control_token``, ``public_url``, ``virtual_clock``) and the mirror's
    own ``auth`` (``"basic"``, ``"bearer"`` or None) with its ``user``/``password`` and
    ``token_ttl``."""

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    control_port: int | None = None
    virtual_clock: bool = False
    auth: str | None = None
    user: str | None = None
    password: str | None = None
    token_ttl: float | None = None
    control_token: str | None = None
    public_url: str | None = None

    def make_auth(self, clock: Any = None) -> Any:
        """The mirror's ``BasicAuth``/``BearerAuth`` (None: anonymous); a bearer token's
        lifetime reads ``clock`` (a ``Clock``; None: wall time, which a ``FlakyMirror``
        switches to its own clock)."""
        if self.auth is None:
            return None
        from flakymirror.registry.auth import BasicAuth, BearerAuth

        users = {self.user or "": self.password or ""}
        if self.auth == "basic":
            return BasicAuth(users)
        ttl = self.token_ttl if self.token_ttl is not None else 300.0
        if clock is None:
            return BearerAuth(users, token_ttl=ttl)
        return BearerAuth(users, token_ttl=ttl, clock=clock.now)

    def make_clock(self) -> Any:
        """A ``VirtualClock`` with ``--virtual-clock``, else a ``RealClock``."""
        return VirtualClock() if self.virtual_clock else RealClock()


def _user_pw(value: str, option: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise FormError(option, f"expected USER:PW, got {value[:80]!r}")
    return user, password


def _port(value: int, option: str) -> int:
    if not 0 <= value <= 65535:
        raise FormError(option, f"must be 0-65535, got {value}")
    return value


def check_serve_arguments(args: argparse.Namespace) -> ServeSettings:
    """Check the options :func:`add_serve_arguments` added; a bad value raises ``FormError``
    naming the option (``serve`` prints it and exits 2)."""
    _port(args.port, "--port")
    control_port = args.control_port
    if control_port is not None:
        _port(control_port, "--control-port")
    user = password = None
    if args.mirror_credentials is not None:
        if args.auth is None:
            raise FormError("--mirror-credentials", "needs --auth basic|bearer")
        user, password = _user_pw(args.mirror_credentials, "--mirror-credentials")
    elif args.auth is not None:
        raise FormError("--auth", "needs --mirror-credentials USER:PW (the mirror's own user)")
    ttl = args.token_ttl
    if ttl is not None:
        if args.auth != "bearer":
            raise FormError("--token-ttl", "only with --auth bearer")
        if not 0 < ttl <= 10 * 366 * 86400:  # also refuses nan
            raise FormError(
                "--token-ttl", f"must be > 0 seconds (and at most ten years), got {ttl}"
            )
    token = args.control_token
    if token is not None and not token:
        raise FormError("--control-token", "must not be empty")
    if not is_loopback(args.host) and token is None and control_port is None:
        raise FormError(
            "--host",
            f"{args.host} is reachable from other machines, and so would be the control API "
            "that arms faults: give --control-token TOKEN, or --control-port N (the control "
            "API then listens on 127.0.0.1 only)",
        )
    public_url = args.public_url
    if public_url is not None:
        try:
            public_url = check_public_url(public_url)
        except ValueError as exc:
            raise FormError("--public-url", str(exc)) from None
    return ServeSettings(
        control_token=token,
        public_url=public_url,
        host=args.host,
        port=args.port,
        tls=bool(args.tls),
        control_port=control_port,
        virtual_clock=bool(args.virtual_clock),
        auth=args.auth,
        user=user,
        password=password,
        token_ttl=ttl,
    )


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
        raise FormError(exc.key_path, f"{exc.reason} (in {path})") from None


def _seed(mirror: Any) -> None:
    from flakymirror.oci import build_image, build_index

    mirror.push_upstream(build_image(layers=3, seed=1), DEMO_IMAGES[0])
    mirror.push_upstream(build_image(layers=2, seed=2), DEMO_IMAGES[1])
    mirror.push_upstream(build_index(seed=3, layers=2), DEMO_IMAGES[2])


def mirror_from_args(args: argparse.Namespace) -> Any:
    """The (unstarted) ``FlakyMirror`` the ``serve`` options describe; a bad option or file
    raises ``FormError`` naming it (a missing ``trustme`` for ``--tls`` too)."""
    from flakymirror.mirror.mirror import FlakyMirror

    settings = check_serve_arguments(args)
    plans = _load(args.plan, "plan", plans_from_dict) if args.plan else None
    faults = _load(args.faults, "faults", rules_from_dict) if args.faults else ()
    credentials = _user_pw(args.credentials, "--credentials") if args.credentials else None
    clock = settings.make_clock()
    try:
        return FlakyMirror(
            args.upstream,
            clock=clock,
            plan=plans,
            faults=faults,
            auth=settings.make_auth(clock),
            host=settings.host,
            port=settings.port,
            credentials=credentials,
            tls=settings.tls,
            control_port=settings.control_port,
            control_token=settings.control_token,
            public_url=settings.public_url,
        )
    except ImportError as exc:
        raise FormError("--tls", str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise FormError("--upstream" if args.upstream else "serve", str(exc)) from None


def run_mirror(
    mirror: Any,
    *,
    images: Iterable[str] = (),
    first_line: str | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve a started ``mirror`` until SIGINT/SIGTERM (handlers installed when called on the
    main thread, restored after) or until ``stop`` is set; returns 0. It does not close the
    mirror. Prints ``first_line`` (if any) first, then the standard lines: the URL, the
    upstream, one line per full image reference in ``images``, the CA file (``tls``), the
    control API; and ``flakymirror: stopping`` at the end."""
    out = out or sys.stdout
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        if first_line is not None:
            print(first_line, file=out, flush=True)
        print(f"flakymirror: mirror serving on {mirror.url}", file=out, flush=True)
        if mirror.server.public_url is not None:
            print(f"flakymirror: public URL: {mirror.server.public_url}", file=out)
        print(f"flakymirror: upstream: {mirror.upstream_reader.describe()}", file=out)
        for ref in images:
            print(f"flakymirror:   {ref}", file=out)
        if mirror.ca_file is not None:
            print(f"flakymirror: CA certificate: {mirror.ca_file}", file=out)
        print(
            f"flakymirror: control API: {mirror.control_url}/_flakymirror/state",
            file=out,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print("flakymirror: stopping", file=out, flush=True)
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the mirror until SIGINT/SIGTERM (or ``stop`` is set); return the exit code."""
    err = err or sys.stderr
    try:
        mirror = mirror_from_args(args)
    except FormError as exc:
        print(f"flakymirror serve: {exc}", file=err)
        return EXIT_BAD_INPUT
    warn_if_exposed(args.host, err)
    try:
        if args.upstream is None:
            _seed(mirror)
        try:
            mirror.start()
        except OSError as exc:
            where = f"{args.host}:{args.port}"
            control = mirror.control_server
            if control is not None and not control.is_running():
                where = f"127.0.0.1:{args.control_port} (--control-port)"
            print(f"flakymirror serve: cannot listen on {where}: {exc}", file=err)
            return EXIT_BAD_INPUT
        images = [f"{mirror.host}/{ref}" for ref in DEMO_IMAGES] if args.upstream is None else []
        return run_mirror(mirror, images=images, out=out, stop=stop)
    finally:
        mirror.close()


def warn_if_exposed(host: str, err: TextIO) -> None:
    """The warning ``serve`` prints when it listens where other machines may reach it."""
    if not is_loopback(host):
        print(
            f"flakymirror serve: warning: listening on {host}: other machines can reach this "
            "mirror (a test harness, with no protection of its registry content)",
            file=err,
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m flakymirror.mirror.commands serve ...``."""
    parser = argparse.ArgumentParser(prog="flakymirror")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

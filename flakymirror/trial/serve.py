"""``flakymirror serve`` with ``--scenario``: any incident stood up for any client.

The plain ``serve`` options come from :mod:`flakymirror.mirror.commands` (which knows nothing of
scenarios); this face adds::

    flakymirror serve --scenario NAME|PATH [--json] [--time-scale F] [--host] [--port]
                      [--tls] [--control-port N] [--virtual-clock]

The mirror is set up as the scenario's ``[[images]]``, ``[mirror]`` plan, faults, auth and
``[origin]`` say (on the real clock unless ``--virtual-clock``), and client configuration files
putting it first (``registries.conf``, a containerd ``hosts.toml`` directory, certs and auth
files) are written to a temporary directory removed on exit. With ``--json`` the first line on
stdout is one JSON object: ``url``, ``host``, ``images`` (each ``repo:tag`` → the reference to
pull), ``origin`` (its URL or null), ``configs`` (the paths of those files) and more. While it
runs, ``POST /_flakymirror/scenario`` loads another scenario (``{"name": ...}`` as JSON, or the
TOML text with ``Content-Type: application/toml``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

__all__ = ["register", "serve_command"]

EXIT_OK, EXIT_BAD_INPUT = 0, 2
_NAME_ONLY = "name"


def register(subparsers: Any) -> None:
    """Add ``serve`` (the mirror's options plus ``--scenario``, ``--json``, ``--time-scale``)."""
    from flakymirror.mirror.commands import add_serve_arguments

    p = subparsers.add_parser(
        "serve",
        description=(
            "Serve a flaky mirror: of --upstream, of a built-in registry seeded with demo "
            "images, or as --scenario says (images, plan, faults, auth, origin). Script it over "
            "HTTP under /_flakymirror/. Stops cleanly on Ctrl-C or SIGTERM."
        ),
    )
    add_serve_arguments(p)
    p.add_argument(
        "--scenario", metavar="NAME|PATH",
        help="stand this incident scenario up (a library name or a TOML file)",
    )  # fmt: skip
    p.add_argument(
        "--json", action="store_true",
        help="with --scenario: print one JSON object (url, host, images, origin, configs) as "
        "the first line",
    )  # fmt: skip
    p.add_argument(
        "--time-scale", type=float, default=1.0, metavar="F",
        help="with --scenario: divide the scenario's times and Retry-After values by F",
    )  # fmt: skip
    p.set_defaults(func=serve_command, handler=serve_command)


def _conflicts(args: argparse.Namespace) -> str | None:
    if args.scenario is None:
        if args.json:
            return "--json needs --scenario"
        if args.time_scale != 1.0:
            return "--time-scale needs --scenario"
        return None
    for option in ("upstream", "plan", "faults", "credentials", "auth"):
        if getattr(args, option) is not None:
            return (
                f"--{option} cannot be combined with --scenario (the scenario says what the "
                "mirror serves, its faults and its auth)"
            )
    if not args.time_scale > 0 or args.time_scale == float("inf"):
        return f"--time-scale must be > 0, got {args.time_scale}"
    return None


def _configs(stage: Any, folder: Path) -> dict[str, str]:
    from flakymirror.trial.configs import write_configs

    auth = stage.scenario.mirror.auth
    credentials = (auth.username, auth.password) if auth is not None else None
    if folder.exists():
        shutil.rmtree(folder)
    return write_configs(
        folder,
        mirror=stage.mirror.host,
        origin=stage.origin_host,
        ca_pem=stage.mirror.ca_pem,
        credentials=credentials,
    )


def _describe(stage: Any, configs: dict[str, str]) -> dict[str, Any]:
    doc = stage.describe()
    doc["scenario"] = stage.scenario.name
    doc["configs"] = configs
    return doc


def _scenario_endpoint(stage: Any, folder: Path, lock: threading.Lock) -> dict[str, Any]:
    """The ``/_flakymirror/scenario`` handlers of a served stage."""
    from flakymirror.mirror.control import ControlError, json_response, read_json, read_text
    from flakymirror.scenario import ScenarioError, load_scenario, loads
    from flakymirror.scenario.budget import DEFAULT_BUDGET

    state: dict[str, Any] = {}

    def load(request: Any) -> Any:
        mimetype = request.mimetype or "application/json"
        try:
            if mimetype == "application/toml":
                scenario = loads(
                    read_text(request), path="<POST /_flakymirror/scenario>", budget=DEFAULT_BUDGET
                )
            elif mimetype == "application/json":
                doc = read_json(request)
                if not isinstance(doc, dict) or set(doc) != {_NAME_ONLY} or not isinstance(
                    doc[_NAME_ONLY], str
                ):
                    raise ControlError(
                        "body", 'expected {"name": "<library scenario>"} or TOML text '
                        "with Content-Type: application/toml",
                    )  # fmt: skip
                name = doc[_NAME_ONLY]
                if "/" in name or "\\" in name or name.endswith(".toml"):
                    raise ControlError("name", "a library scenario name, not a path")
                scenario = load_scenario(name)
            else:
                raise ControlError(
                    "Content-Type",
                    f"{mimetype!r}: send application/json ({{\"name\": ...}}) or "
                    "application/toml (the scenario file)",
                    415,
                )
            with lock:
                stage.load(scenario, budget=DEFAULT_BUDGET)
                state["configs"] = _configs(stage, folder)
        except ScenarioError as exc:
            raise ControlError(exc.key or "scenario", str(exc)) from None
        return json_response(_describe(stage, state["configs"]))

    def current(request: Any) -> Any:
        with lock:
            return json_response(_describe(stage, state.get("configs") or {}))

    return {"state": state, "handlers": {"POST": load, "GET": current}}


def serve_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """``serve``: the mirror's own command without ``--scenario``, else a stage."""
    from flakymirror.mirror import commands as mirror_commands
    from flakymirror.mirror.forms import FormError

    out = out or sys.stdout
    err = err or sys.stderr
    problem = _conflicts(args)
    if problem is not None:
        print(f"flakymirror serve: {problem}", file=err)
        return EXIT_BAD_INPUT
    if args.scenario is None:
        return mirror_commands.serve_command(args, out, err, stop)
    from flakymirror.scenario import ScenarioError, load_scenario
    from flakymirror.scenario.stage import Stage, StageOptions

    try:
        settings = mirror_commands.check_serve_arguments(args)
        scenario = load_scenario(args.scenario)
        stage = Stage(
            scenario,
            StageOptions(
                clock="virtual" if settings.virtual_clock else "real",
                time_scale=args.time_scale,
                tls=settings.tls,
                host=settings.host,
                port=settings.port,
                control_port=settings.control_port,
                control_token=settings.control_token,
                public_url=settings.public_url,
            ),
        )
    except (FormError, ScenarioError, ValueError) as exc:
        print(f"flakymirror serve: {exc}", file=err)
        return EXIT_BAD_INPUT
    mirror_commands.warn_if_exposed(settings.host, err)
    folder = Path(tempfile.mkdtemp(prefix="flakymirror-serve-"))
    try:
        try:
            stage.start()
        except ImportError as exc:
            print(f"flakymirror serve: --tls: {exc}", file=err)
            return EXIT_BAD_INPUT
        except OSError as exc:
            print(f"flakymirror serve: cannot listen: {exc}", file=err)
            return EXIT_BAD_INPUT
        except ScenarioError as exc:
            print(f"flakymirror serve: {exc}", file=err)
            return EXIT_BAD_INPUT
        lock = threading.Lock()
        endpoint = _scenario_endpoint(stage, folder / "configs", lock)
        endpoint["state"]["configs"] = _configs(stage, folder / "configs")
        stage.mirror.control.register("scenario", endpoint["handlers"])
        doc = _describe(stage, endpoint["state"]["configs"])
        first = json.dumps(doc) if args.json else None
        if not args.json:
            extra = [f"scenario {scenario.name}: {scenario.description}"]
            if stage.origin_url:
                extra.append(f"origin: {stage.origin_url}")
            if doc["down"]:
                extra.append("the mirror's listener is down ([mirror] down = true)")
            for name, path in sorted(doc["configs"].items()):
                extra.append(f"{name}: {path}")
            for line in extra:
                print(f"flakymirror: {line}", file=out)
        return mirror_commands.run_mirror(
            stage.mirror, images=list(doc["images"].values()), first_line=first, out=out,
            stop=stop,
        )  # fmt: skip
    finally:
        stage.close()
        shutil.rmtree(folder, ignore_errors=True)

"""The trial side of the pytest plugin: incident scenario files collected as one test item per
scenario × client (only when clients are given), and the ``run_client`` fixture.

``pytest scenarios/ --flakymirror-client skopeo-copy --flakymirror-client ctr-pull`` collects
every ``*.toml`` file that loads as a scenario (never ``pyproject.toml``) and makes one item per
client; an item fails when its verdict changes from the baseline (or, without a baseline entry,
differs from the ideal verdict). Items are ordinary pytest items, so ``pytest -n auto``
(pytest-xdist) spreads them over cores and pytest-split (``--splits N --group K``) over machines.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flakymirror._plugin_scenario import MARKER, load_marked, scenario_marker

if TYPE_CHECKING:
    from flakymirror.scenario import Scenario
    from flakymirror.trial import TrialResult

OPTION = "--flakymirror-client"
INI_CLIENTS = "flakymirror_clients"
INI_BASELINE = "flakymirror_baseline"
_SETTINGS = pytest.StashKey["TrialSettings"]()


class TrialSettings:
    """The trial options of this pytest run, read once."""

    def __init__(self, config: pytest.Config) -> None:
        specs = list(config.getoption(OPTION) or []) or list(config.getini(INI_CLIENTS))
        self.specs = specs
        self.timeout = config.getoption("--flakymirror-timeout")
        self.time_scale = config.getoption("--flakymirror-time-scale")
        files = list(config.getoption("--flakymirror-baseline") or [])
        files += [str(p) for p in config.getini(INI_BASELINE)]
        self.baseline_files = files
        self._clients: list[Any] | None = None
        self._baseline: Any = None

    def clients(self) -> list[Any]:
        """The parsed clients (a bad spec is a usage error)."""
        if self._clients is None:
            from flakymirror.trial.clients import ClientError, parse_clients

            try:
                self._clients = parse_clients(self.specs)
            except ClientError as exc:
                raise pytest.UsageError(f"{OPTION}: {exc}") from None
        return self._clients

    def baseline(self) -> Any:
        """The bundled baseline plus the configured files."""
        if self._baseline is None:
            from flakymirror.scenario import ScenarioError
            from flakymirror.trial.baseline import load_baseline

            try:
                self._baseline = load_baseline(self.baseline_files)
            except ScenarioError as exc:
                raise pytest.UsageError(f"flakymirror baseline: {exc}") from None
        return self._baseline

    def options(self) -> Any:
        """The trial options for external clients."""
        from flakymirror.trial.runner import TrialOptions

        return TrialOptions(timeout=self.timeout, time_scale=self.time_scale)


def add_options(parser: pytest.Parser, group: Any) -> None:
    """The trial options and ini keys."""
    parser.addini(
        INI_CLIENTS,
        "flakymirror: clients (presets, reference, or command templates) to run against every "
        "scenario file collected (one per line); --flakymirror-client overrides",
        type="linelist",
        default=[],
    )
    parser.addini(
        INI_BASELINE,
        "flakymirror: baseline files of known verdicts, added to the bundled one",
        type="paths",
        default=[],
    )
    group.addoption(
        OPTION, action="append", default=None, metavar="CLIENT",
        help="collect scenario *.toml files as one test per scenario x CLIENT (a preset, "
        "reference[:PROFILE], or a command template using {ref}); repeatable",
    )  # fmt: skip
    group.addoption(
        "--flakymirror-baseline", action="append", default=None, metavar="FILE",
        help="known verdicts to add to the bundled baseline (repeatable)",
    )  # fmt: skip
    group.addoption(
        "--flakymirror-timeout", type=float, default=60.0, metavar="SECONDS",
        help="real seconds each external client may run (default 60)",
    )  # fmt: skip
    group.addoption(
        "--flakymirror-time-scale", type=float, default=1.0, metavar="F",
        help="divide the scenarios' times by F for external clients (default 1)",
    )  # fmt: skip


def configure(config: pytest.Config) -> None:
    """Read the trial settings; check the numbers."""
    settings = TrialSettings(config)
    if not settings.timeout > 0:
        raise pytest.UsageError(f"--flakymirror-timeout must be > 0, got {settings.timeout}")
    if not settings.time_scale > 0:
        raise pytest.UsageError(
            f"--flakymirror-time-scale must be > 0, got {settings.time_scale}"
        )
    if settings.specs:  # a bad client spec or baseline is a usage error before collection
        settings.clients()
        settings.baseline()
    config.stash[_SETTINGS] = settings


def _looks_like_scenario(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "images" in data and "name" in data


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A :class:`ScenarioFile` for a scenario ``*.toml`` when clients are configured."""
    settings = parent.config.stash.get(_SETTINGS, None)
    if settings is None or not settings.specs:
        return None
    if file_path.suffix != ".toml" or file_path.name == "pyproject.toml":
        return None
    if not _looks_like_scenario(file_path):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    """A scenario file: one :class:`ClientCell` per configured client."""

    def collect(self) -> Any:
        """Load the scenario (a broken file is a collection error naming file, key, line)."""
        from flakymirror.scenario import load_file

        scenario = load_file(self.path)
        settings = self.config.stash[_SETTINGS]
        for client in settings.clients():
            yield ClientCell.from_parent(
                self, name=f"{scenario.name}[{client.name}]", scenario=scenario, client=client
            )


class CellChanged(Exception):  # noqa: N818 - a test outcome, not an error of ours
    """The cell's verdict is not the one wanted."""

    def __init__(self, result: TrialResult) -> None:
        super().__init__(result.verdict)
        self.result = result


class ClientCell(pytest.Item):
    """One scenario × client: runs the trial and compares it with the baseline."""

    def __init__(self, *, scenario: Scenario, client: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.client = client

    def runtest(self) -> None:
        """Run the cell; fail when its verdict is not the baseline's (or the ideal one)."""
        from dataclasses import replace

        from flakymirror.trial.clients import in_ci, unavailable
        from flakymirror.trial.runner import run_trial

        settings = self.config.stash[_SETTINGS]
        reason = unavailable(self.client)
        if reason is not None:
            if in_ci():
                pytest.fail(f"{self.client.name}: {reason} (required in CI)", pytrace=False)
            pytest.skip(f"{self.client.name}: {reason}")
        result = run_trial(self.scenario, self.client, settings.options())
        entry = settings.baseline().get(self.scenario.name, self.client.name)
        if entry is not None:
            result = replace(result, baseline=entry.verdict, baseline_reason=entry.reason)
        self.user_properties.append(("flakymirror_verdict", result.verdict))
        if not result.holds:
            raise CellChanged(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        """The verdict, the one wanted, why, and the end of the merged timeline."""
        if isinstance(excinfo.value, CellChanged):
            return describe_failure(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from."""
        return self.path, None, f"{self.scenario.name} × {self.client.name}"


def describe_failure(r: TrialResult) -> str:
    """A failed cell as the test report shows it."""
    lines = [
        f"{r.scenario} × {r.client}: verdict {r.verdict}, wanted {r.wanted} "
        f"({'baseline' if r.baseline is not None else 'ideal'})",
        f"why: {r.reason or r.error or '-'}",
    ]
    if r.baseline_reason:
        lines.append(f"baseline says: {r.baseline_reason}")
    if r.command:
        import shlex

        lines.append(f"command: {shlex.join(r.command)}")
    lines.append(f"exit code {r.exit_code}, attempts {r.attempts}, gaps {list(r.gaps)}, "
                 f"wall {r.wall_s}s, origin requests {r.origin_requests}")
    if r.timeline:
        lines.append("timeline (mirror and origin, last 40 requests):")
        lines.extend(r.timeline[-40:])
    if r.output:
        lines.append("client output (tail):")
        lines.append(r.output)
    return "\n".join(lines)


# -- run_client ------------------------------------------------------------------------------
@pytest.fixture
def run_client(request: pytest.FixtureRequest) -> Callable[..., TrialResult]:
    """Run a client against an incident and judge it from the outside:
    ``run_client(client, scenario=None, *, timeout=60.0, time_scale=1.0, tls=False)``.

    ``client`` is a command template (``"mytool pull {ref}"``, split like a shell line, never
    run through a shell; placeholders as ``flakymirror matrix`` has them), a preset
    (``"skopeo-copy"``) or ``"reference[:PROFILE]"``. ``scenario`` is a library name, a path or
    a ``Scenario`` (default: the test's ``@pytest.mark.mirror_scenario``). The scenario is
    stood up on a mirror of its own on the real clock; the result (a ``TrialResult``) has
    ``.verdict`` (``survived``, ``failed-loud``, ``failed-silent``, ``hung`` …), ``.expected``
    (the ideal verdict), ``.attempts``, ``.gaps``, ``.reason`` and ``.timeline``. With
    ``mirror=<a running FlakyMirror>, image="repo:tag"`` (and ``credentials=(user, pw)`` for
    its auth) the client runs against that mirror as you set it up instead (``expected`` is
    ``n/a``: there is no incident file); mind that ``flaky_mirror`` runs on a virtual clock
    that only your test advances."""
    from flakymirror.trial.runner import TrialOptions, run_trial

    def run(
        client: Any,
        scenario: Any = None,
        *,
        mirror: Any = None,
        image: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout: float = 60.0,
        time_scale: float = 1.0,
        tls: bool = False,
    ) -> TrialResult:
        from flakymirror.scenario import Scenario
        from flakymirror.trial.clients import parse_client

        spec = client if not isinstance(client, str) else parse_client(client)
        if mirror is not None:
            if scenario is not None or image is None:
                pytest.fail("run_client(mirror=...) takes image='repo:tag' and no scenario",
                            pytrace=False)  # fmt: skip
            from flakymirror.trial.live import run_on_mirror

            options = TrialOptions(timeout=timeout)
            return run_on_mirror(mirror, image, spec, options, credentials=credentials)
        if scenario is None:
            arg = scenario_marker(request.node)
            if arg is None:
                pytest.fail(
                    "run_client needs a scenario: pass one, or mark the test with "
                    f"@pytest.mark.{MARKER}(...)",
                    pytrace=False,
                )
            scenario = load_marked(request.node, arg)
        elif not isinstance(scenario, Scenario):
            scenario = load_marked(request.node, scenario)
        options = TrialOptions(timeout=timeout, time_scale=time_scale, tls=tls)
        return run_trial(scenario, spec, options)

    return run

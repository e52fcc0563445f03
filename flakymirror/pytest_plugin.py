"""pytest plugin of flakymirror, registered through the ``pytest11`` entry point as
``flakymirror``: fixtures for a flaky mirror and a healthy registry, the ``mirror_scenario``
marker, and the mirror's journal in the report of a failed test.

Fixtures (see ``pytest --fixtures``): ``flaky_mirror``, ``make_flaky_mirror``, ``oci_registry``,
``mirror_clock``, ``flaky_mirror_scenario``, ``run_client``, and the overridable session fixtures
``flakymirror_listen_address`` and ``flakymirror_ssl_context`` (in the manner of
pytest-httpserver's ``httpserver_listen_address`` / ``httpserver_ssl_context``). With
``--flakymirror-client`` (or the ini option ``flakymirror_clients``), scenario ``*.toml`` files
are collected as one test per scenario × client (see :mod:`flakymirror._plugin_trial`).

Everything heavy is imported inside the fixtures, so projects that merely have flakymirror
installed pay nothing at pytest start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from flakymirror._plugin_journal import (
    INI_JOURNAL_LINES,
    JOURNAL_SECTION,
    MIRRORS,
    remember,
    render_journal,
)
from flakymirror._plugin_scenario import (
    INI_SCENARIOS,
    MARKER,
    SCENARIO,
    LoadedScenario,
    check_marker_use,
    load_marked,
    scenario_marker,
)
from flakymirror._plugin_trial import add_options as _add_trial_options
from flakymirror._plugin_trial import collect_file as _collect_file
from flakymirror._plugin_trial import configure as _configure_trial
from flakymirror._plugin_trial import run_client

if TYPE_CHECKING:
    from ssl import SSLContext

    from flakymirror.mirror import Clock, FlakyMirror
    from flakymirror.registry import Registry

__all__ = ["JOURNAL_SECTION", "LoadedScenario", "render_journal", "run_client"]

_SETTINGS = pytest.StashKey["_Settings"]()

_INI_JOURNAL_SIZE = "flakymirror_journal_size"
_INI_HANDLER_ERRORS = "flakymirror_handler_errors"


# -- registration ----------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's ini options and its one command-line option."""
    parser.addini(
        _INI_JOURNAL_SIZE,
        "flakymirror: journal entries each mirror keeps (oldest dropped first; default: "
        "the mirror's own, flakymirror.mirror.journal.DEFAULT_JOURNAL_SIZE)",
        default="",
    )
    parser.addini(
        INI_JOURNAL_LINES,
        "flakymirror: journal lines shown per mirror in a failed test's report "
        "(the most recent ones; 0 disables the section; default 200)",
        default="200",
    )
    parser.addini(
        INI_SCENARIOS,
        "flakymirror: directories searched for @pytest.mark.mirror_scenario names "
        "(relative to the ini file), before the built-in incident library",
        type="paths",
        default=[],
    )
    parser.addini(
        _INI_HANDLER_ERRORS,
        "flakymirror: fail a test at teardown when a mirror's request handler raised "
        "(a bug in flakymirror, not an injected fault; default true)",
        type="bool",
        default=True,
    )
    group = parser.getgroup("flakymirror", "flakymirror (flaky registry mirrors)")
    group.addoption(
        "--flakymirror-journal-lines",
        type=int,
        default=None,
        metavar="N",
        help=f"journal lines shown per mirror for failed tests (overrides {INI_JOURNAL_LINES})",
    )
    _add_trial_options(parser, group)


@dataclass(frozen=True)
class _Settings:
    """The plugin's numeric options, checked once at start-up."""

    journal_size: int | None  # None: the mirror's default
    journal_lines: int


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mirror_scenario`` marker (``--strict-markers`` clean) and check the
    plugin's options: a bad value is a usage error (exit code 4) before any test runs."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name_or_path): load an incident scenario (a library name or a TOML file, "
        "relative to the test file or to the flakymirror_scenarios directories) into the "
        "flaky_mirror fixture before the test runs",
    )
    config.stash[_SETTINGS] = _Settings(
        journal_size=(
            _int_ini(config, _INI_JOURNAL_SIZE, 1) if config.getini(_INI_JOURNAL_SIZE) else None
        ),
        journal_lines=_journal_lines(config),
    )
    _configure_trial(config)


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    """Scenario ``*.toml`` files become one item per scenario × client, when clients are
    given (``--flakymirror-client`` / ``flakymirror_clients``)."""
    return _collect_file(file_path, parent)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A ``mirror_scenario`` marker on a test that does not use ``flaky_mirror`` is a mistake."""
    check_marker_use(item)


def _journal_size(config: pytest.Config) -> dict[str, int]:
    """``{"journal_size": N}`` when the ini option sets one, else nothing (the default)."""
    size = config.stash[_SETTINGS].journal_size
    return {} if size is None else {"journal_size": size}


def _int_ini(config: pytest.Config, name: str, minimum: int) -> int:
    raw = config.getini(name)
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"ini option {name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise pytest.UsageError(f"ini option {name}: must be >= {minimum}, got {value}")
    return value


def _journal_lines(config: pytest.Config) -> int:
    option = config.getoption("--flakymirror-journal-lines")
    if option is not None:
        if option < 0:
            raise pytest.UsageError(f"--flakymirror-journal-lines must be >= 0, got {option}")
        return option
    return _int_ini(config, INI_JOURNAL_LINES, 0)


def _check_handler_errors(config: pytest.Config, server: Any, label: str) -> None:
    """Clear the server's handler errors; raise the first when the ini option says so."""
    errors = list(getattr(server, "handler_errors", ()))
    if not errors:
        return
    server.handler_errors.clear()
    if config.getini(_INI_HANDLER_ERRORS):
        raise RuntimeError(
            f"{label}: a request handler raised {len(errors)} error(s); the first one follows"
        ) from errors[0]


# -- addresses ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def flakymirror_listen_address() -> tuple[str, int]:
    """Where flaky_mirror's session server listens: ``(host, port)``, default
    ``("127.0.0.1", 0)`` (0 = an ephemeral port, safe under pytest-xdist). Environment
    variables FLAKYMIRROR_HOST / FLAKYMIRROR_PORT change the default. Override this fixture
    (session scope) in your conftest.py to pin it; the other servers (oci_registry,
    make_flaky_mirror) use the same host on ephemeral ports."""
    host = os.environ.get("FLAKYMIRROR_HOST", "127.0.0.1")
    port = os.environ.get("FLAKYMIRROR_PORT", "0")
    try:
        return host, int(port)
    except ValueError:
        raise pytest.UsageError(f"FLAKYMIRROR_PORT must be an integer, got {port!r}") from None


@pytest.fixture(scope="session")
def flakymirror_ssl_context() -> SSLContext | None:
    """The ``ssl.SSLContext`` the plugin's servers use; ``None`` (plain HTTP) by default.
    Override it (session scope) to serve HTTPS, e.g. with a trustme CA's server context."""
    return None


def _listen(address: Any) -> tuple[str, int]:
    if (
        not isinstance(address, tuple | list)
        or len(address) != 2
        or not isinstance(address[0], str)
        or isinstance(address[1], bool)
        or not isinstance(address[1], int)
    ):
        raise pytest.UsageError(
            f"flakymirror_listen_address must return (host: str, port: int), got {address!r}"
        )
    return address[0], address[1]


# -- flaky_mirror ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _flakymirror_session(
    pytestconfig: pytest.Config,
    flakymirror_listen_address: tuple[str, int],
    flakymirror_ssl_context: SSLContext | None,
) -> Iterator[FlakyMirror]:
    """The session's mirror server behind ``flaky_mirror`` (reset before every test)."""
    from flakymirror.mirror import FlakyMirror, VirtualClock

    host, port = _listen(flakymirror_listen_address)
    mirror = FlakyMirror(
        clock=VirtualClock(),
        host=host,
        port=port,
        ssl_context=flakymirror_ssl_context,
        **_journal_size(pytestconfig),
    )
    with mirror:
        yield mirror


@pytest.fixture
def flaky_mirror(
    request: pytest.FixtureRequest, _flakymirror_session: FlakyMirror
) -> Iterator[FlakyMirror]:
    """A clean FlakyMirror for this test, on a virtual clock: no images, no plan (everything
    syncs at once), no faults, an empty journal, the clock at its start. Seed it with
    ``flaky_mirror.push_upstream(image, "repo:tag")``; misbehave with ``set_plan`` /
    ``add_fault``; point clients at ``flaky_mirror.host``. One server per session (per xdist
    worker) is reset between tests: well under a millisecond. With
    ``@pytest.mark.mirror_scenario(...)`` the scenario is loaded first (a scenario that needs
    auth or a real clock gets a mirror of its own). Its journal is shown when the test fails."""
    mirror = _flakymirror_session
    # a fresh, empty upstream only when the last test left something in it
    mirror.reset(upstream=bool(mirror.upstream.store.repositories()))
    mirror.server.clear_log()
    mirror.server.clear_handler_errors()
    arg = scenario_marker(request.node)
    if arg is not None:
        scenario = load_marked(request.node, arg)
        if scenario.mirror.auth is not None or scenario.clock != "virtual":
            from flakymirror.scenario.runner import build_mirror

            mirror = build_mirror(scenario).start()
            request.addfinalizer(mirror.close)
        from flakymirror.scenario import apply_to_mirror

        images = apply_to_mirror(scenario, mirror)
        request.node.stash[SCENARIO] = LoadedScenario(scenario, images, mirror)
    remember(request.node, "flaky_mirror", mirror)
    yield mirror
    _check_handler_errors(request.config, mirror.server, "flaky_mirror")


@pytest.fixture
def flaky_mirror_scenario(
    request: pytest.FixtureRequest, flaky_mirror: FlakyMirror
) -> LoadedScenario:
    """The scenario ``@pytest.mark.mirror_scenario`` loaded into flaky_mirror: ``.scenario``
    (its expectations, action...), ``.images`` (built images by "repo:tag"), ``.mirror``."""
    loaded = request.node.stash.get(SCENARIO, None)
    if loaded is None:
        pytest.fail(
            f"flaky_mirror_scenario needs @pytest.mark.{MARKER}(...) on the test", pytrace=False
        )
    return loaded


@pytest.fixture
def mirror_clock(flaky_mirror: FlakyMirror) -> Clock:
    """The clock of flaky_mirror (a VirtualClock unless a scenario asked for real time): give
    ``mirror_clock.sleep`` to your client as its sleep function, so backoffs pass instantly
    and move the mirror's time; ``mirror_clock.sleeps`` lists the sleeps, ``advance(d)`` moves
    time without recording a sleep."""
    return flaky_mirror.clock


@pytest.fixture
def make_flaky_mirror(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    flakymirror_listen_address: tuple[str, int],
    flakymirror_ssl_context: SSLContext | None,
) -> Iterator[Callable[..., FlakyMirror]]:
    """Factory of extra mirrors: ``make_flaky_mirror(upstream=None, *, clock=None, plan=None,
    faults=(), auth=None, **kwargs)`` starts a FlakyMirror (keywords as FlakyMirror's; the
    clock defaults to a new VirtualClock, the host to flakymirror_listen_address's on an
    ephemeral port). Everything it made is stopped when the test ends; their journals are
    shown when the test fails."""
    from flakymirror.mirror import FlakyMirror, VirtualClock

    host, _ = _listen(flakymirror_listen_address)
    made: list[FlakyMirror] = []

    def make(upstream: Any = None, **kwargs: Any) -> FlakyMirror:
        kwargs.setdefault("clock", None)
        if kwargs["clock"] is None:
            kwargs["clock"] = VirtualClock()
        kwargs.setdefault("host", host)
        kwargs.setdefault("ssl_context", flakymirror_ssl_context)
        for key, value in _journal_size(pytestconfig).items():
            kwargs.setdefault(key, value)
        mirror = FlakyMirror(upstream, **kwargs)
        made.append(mirror)
        mirror.start()
        remember(request.node, f"make_flaky_mirror #{len(made)}", mirror)
        return mirror

    yield make
    errors: list[BaseException] = []
    for i, mirror in enumerate(reversed(made)):
        try:
            _check_handler_errors(
                pytestconfig, mirror.server, f"make_flaky_mirror #{len(made) - i}"
            )
        except RuntimeError as exc:
            errors.append(exc)
        mirror.close()
    if errors:
        raise errors[0]


# -- oci_registry ----------------------------------------------------------------------------
@pytest.fixture
def oci_registry(
    pytestconfig: pytest.Config,
    flakymirror_listen_address: tuple[str, int],
    flakymirror_ssl_context: SSLContext | None,
) -> Iterator[Registry]:
    """A healthy, empty OCI registry (``flakymirror.Registry``) for this test, anonymous and
    lenient about ``Accept``: ``oci_registry.push(image, "repo:tag")``, ``.url``, ``.host``,
    ``.store``. A fresh one per test (start + stop cost about 0.3 ms), on an ephemeral port of
    flakymirror_listen_address's host; stopped when the test ends."""
    from flakymirror.registry import Registry

    host, _ = _listen(flakymirror_listen_address)
    with Registry(host=host, ssl_context=flakymirror_ssl_context) as registry:
        yield registry
        _check_handler_errors(pytestconfig, registry.server, "oci_registry")


# -- journal on failure ----------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Add the journals of the test's mirrors to the report of a failed call phase."""
    report = yield
    if report.when == "call" and report.failed:
        mirrors = item.stash.get(MIRRORS, None)
        max_lines = item.config.stash[_SETTINGS].journal_lines
        if mirrors and max_lines > 0:
            text = "\n\n".join(render_journal(m, label, max_lines) for label, m in mirrors)
            report.sections.append((JOURNAL_SECTION, text))
    return report

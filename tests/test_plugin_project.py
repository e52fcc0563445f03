"""The pytest plugin used the way a downstream project uses it: a small project (its tests,
incident files and ini) written to a temporary directory and run with ``pytester`` —
in-process, and with ``-n 2`` (xdist starts real worker processes) — asserting every test's
outcome and what the report shows. Each run is a whole pytest session, so one run checks a
lot at once; every project test first checks it starts from a clean state, so the tests pass
in any order and on any worker.
"""

from __future__ import annotations

import pytest
import requests  # noqa: F401

# Imported before any in-process run: pytester restores sys.modules after each run, and a
# module first imported inside a run (requests' cookie jar, say) would come back as a second,
# incompatible copy in the next one.
import flakymirror.client  # noqa: F401
import flakymirror.mirror  # noqa: F401
import flakymirror.registry  # noqa: F401
import flakymirror.scenario.runner  # noqa: F401

pytest_plugins = ["pytester"]

DOWNSTREAM = '''
import socket

import pytest
import requests

from flakymirror.client import new_remote_image, open_remote_image
from flakymirror.mirror import FlakyMirror, RealClock, Status, SyncPlan, Timeline, fail
from flakymirror.oci import build_image
from flakymirror.registry import Registry

IMAGE = build_image(layers=3, layer_size=256, seed=5)
PORTS = pytest.StashKey[set]()


def assert_clean(mirror, clock):
    assert mirror.upstream.store.repositories() == []
    assert len(mirror.journal) == 0 and mirror.journal.maxlen == 50  # from the ini file
    assert mirror.faults.rules == [] and mirror.plans == ()
    assert clock.sleeps == [] and clock.now() == clock.start
    assert requests.get(mirror.url + "/v2/lib/app/manifests/1").status_code == 404


@pytest.mark.parametrize("round", range(3))
def test_clean_mirror_each_time(flaky_mirror, mirror_clock, round):
    assert mirror_clock is flaky_mirror.clock
    assert_clean(flaky_mirror, mirror_clock)
    flaky_mirror.push_upstream(IMAGE, "lib/app:1")
    flaky_mirror.set_plan(SyncPlan(Timeline.per_layer([0.05, 0.2, 0.25]), mode="empty"))
    flaky_mirror.add_fault(fail(1, Status(503), kind="blob"))
    ref = f"{flaky_mirror.host}/lib/app:1"
    image = open_remote_image(
        lambda: new_remote_image(ref, insecure=True, profile="none", sleep=mirror_clock.sleep),
        sleep=mirror_clock.sleep,
    )
    assert image.top_layer() == str(IMAGE.layers[-1].diff_id)
    assert mirror_clock.sleeps == [0.1, 0.2]
    assert flaky_mirror.journal.count(kind="manifest", status=200) == 3


@pytest.mark.parametrize("round", range(2))
def test_one_session_server(flaky_mirror, request, round):
    ports = request.config.stash.setdefault(PORTS, set())
    ports.add(flaky_mirror.server.port)
    assert len(ports) == 1


@pytest.fixture
def stopped_after():
    """Set up before make_flaky_mirror, so torn down after it: what it made must be gone."""
    made = []
    yield made
    assert made
    for mirror in made:
        assert not mirror.is_running()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", mirror.server.port), timeout=1).close()


def test_factory(stopped_after, make_flaky_mirror, oci_registry, flaky_mirror):
    oci_registry.push(IMAGE, "lib/base:1")
    in_front = make_flaky_mirror(oci_registry, plan=SyncPlan(mode="missing"))
    real_time = make_flaky_mirror(clock=RealClock())
    stopped_after.extend([in_front, real_time])
    assert len({in_front.url, real_time.url, flaky_mirror.url, oci_registry.url}) == 4
    assert isinstance(in_front, FlakyMirror) and in_front.upstream is oci_registry
    assert in_front.journal.maxlen == 50
    assert isinstance(real_time.clock, RealClock)
    assert in_front.clock is not flaky_mirror.clock
    got = requests.get(in_front.url + "/v2/lib/base/manifests/1")
    assert got.status_code == 200 and got.content == IMAGE.manifest_bytes


@pytest.mark.parametrize("round", range(2))
def test_registry_clean_each_time(oci_registry, round):
    assert isinstance(oci_registry, Registry) and oci_registry.store.repositories() == []
    oci_registry.push(IMAGE, "lib/app:1")
    assert requests.get(oci_registry.url + "/v2/lib/app/manifests/1").status_code == 200
'''

FAILING = """
import requests
from flakymirror.mirror import Status, fail

def test_first(flaky_mirror):
    requests.get(flaky_mirror.url + "/v2/first/app/manifests/old")

def test_fails(flaky_mirror, make_flaky_mirror):
    other = make_flaky_mirror()
    flaky_mirror.add_fault(fail(2, Status(503), kind="manifest"))
    for _ in range(3):
        requests.get(flaky_mirror.url + "/v2/lib/app/manifests/1")
    requests.get(other.url + "/v2/")
    assert False, "deliberately"

def test_passes(flaky_mirror):
    requests.get(flaky_mirror.url + "/v2/lib/app/manifests/1")
"""

HANDLER = """
import requests

def broken(request, store=None):
    raise ZeroDivisionError("a bug in a handler")

def test_bug(flaky_mirror, monkeypatch):
    monkeypatch.setattr(flaky_mirror.registry_app, "handle", broken)
    assert requests.get(flaky_mirror.url + "/v2/").status_code == 500

def test_next_is_clean(flaky_mirror):
    assert requests.get(flaky_mirror.url + "/v2/").status_code == 200
"""

SCENARIOS = """
import pytest
import requests

from flakymirror.client import new_remote_image, open_remote_image
from flakymirror.registry import BearerAuth


def open_with(mirror, clock, ref, **kw):
    return open_remote_image(
        lambda: new_remote_image(f"{mirror.host}/{ref}", insecure=True, sleep=clock.sleep, **kw),
        sleep=clock.sleep,
    )


@pytest.mark.mirror_scenario("lifecycle-1674-empty-layers")
def test_library_name(flaky_mirror, flaky_mirror_scenario, mirror_clock):
    loaded = flaky_mirror_scenario
    assert loaded.mirror is flaky_mirror and loaded.scenario.name == "lifecycle-1674-empty-layers"
    assert flaky_mirror.plans == loaded.scenario.mirror.plans
    image = loaded.images["cnb/run:jammy"]
    opened = open_with(flaky_mirror, mirror_clock, "cnb/run:jammy")
    assert opened.top_layer() == str(image.layers[-1].diff_id)
    assert mirror_clock.sleeps == list(loaded.scenario.expect.sleeps.opener) == [0.1, 0.2]


@pytest.mark.mirror_scenario("incidents/local-503.toml")
def test_path_relative_to_the_test_file(flaky_mirror, flaky_mirror_scenario, mirror_clock):
    assert flaky_mirror.faults.rules == list(flaky_mirror_scenario.scenario.mirror.faults)
    opened = open_with(flaky_mirror, mirror_clock, "team/app:2", profile="none")
    assert opened.found and mirror_clock.sleeps == [0.1, 0.2]


@pytest.mark.mirror_scenario("from-the-ini-dir")
def test_name_from_the_ini_directory(flaky_mirror_scenario):
    assert flaky_mirror_scenario.scenario.name == "from-the-ini-dir"
    assert list(flaky_mirror_scenario.images) == ["other/app:1"]


@pytest.mark.mirror_scenario("token-expires-mid-transfer")
def test_scenario_with_auth_gets_its_own_mirror(flaky_mirror, flaky_mirror_scenario):
    assert isinstance(flaky_mirror.registry_app.auth, BearerAuth)
    assert requests.get(flaky_mirror.url + "/v2/").status_code == 401
    assert flaky_mirror_scenario.mirror is flaky_mirror


@pytest.mark.mirror_scenario("no-such-incident")
def test_unknown_name(flaky_mirror):
    pass


@pytest.mark.mirror_scenario()
def test_no_argument(flaky_mirror):
    pass


@pytest.mark.mirror_scenario("lifecycle-1674-empty-layers")
def test_without_fixture():
    pass


@pytest.mark.mirror_scenario("broken.toml")
def test_broken_file(flaky_mirror):
    pass


def test_scenario_fixture_without_marker(flaky_mirror_scenario):
    pass


def test_unmarked_mirror_is_clean(flaky_mirror):
    assert flaky_mirror.faults.rules == [] and flaky_mirror.plans == ()
    assert flaky_mirror.upstream.store.repositories() == []
    assert flaky_mirror.registry_app.auth.__class__.__name__ == "AnonymousAuth"
"""

LOCAL_503 = """
name = "local-503"
description = "two 503s on the manifest, then the mirror behaves"
source = "https://example.invalid/incident/1"

[[images]]
ref = "team/app:2"
layers = 1
seed = 3

[[mirror.faults]]
match = { kind = "manifest" }
action = { kind = "sequence", steps = [{ times = 2, action = { kind = "status", status = 503 } }] }

[action]
kind = "open"
image = "team/app:2"
profile = "none"

[expect]
outcome = "success"
attempts = 3
"""

FROM_INI_DIR = """
name = "from-the-ini-dir"
description = "found through the flakymirror_scenarios ini option"
source = "https://example.invalid/incident/2"

[[images]]
ref = "other/app:1"
layers = 1

[action]
kind = "open"
image = "other/app:1"

[expect]
outcome = "success"
"""

BROKEN = """
name = "broken"
description = "a typo in a key"
source = "https://example.invalid/incident/3"

[action]
kind = "open"
imag = "team/app:2"

[expect]
outcome = "success"
"""

EXPECTED = {
    **{f"test_downstream.py::test_clean_mirror_each_time[{i}]": "passed" for i in range(3)},
    **{f"test_downstream.py::test_one_session_server[{i}]": "passed" for i in range(2)},
    "test_downstream.py::test_factory": "passed",
    **{f"test_downstream.py::test_registry_clean_each_time[{i}]": "passed" for i in range(2)},
    "test_failing.py::test_first": "passed",
    "test_failing.py::test_fails": "failed",
    "test_failing.py::test_passes": "passed",
    "test_handler.py::test_bug": "passed+error",
    "test_handler.py::test_next_is_clean": "passed",
    "test_scenarios.py::test_library_name": "passed",
    "test_scenarios.py::test_path_relative_to_the_test_file": "passed",
    "test_scenarios.py::test_name_from_the_ini_directory": "passed",
    "test_scenarios.py::test_scenario_with_auth_gets_its_own_mirror": "passed",
    "test_scenarios.py::test_unknown_name": "error",
    "test_scenarios.py::test_no_argument": "error",
    "test_scenarios.py::test_without_fixture": "error",
    "test_scenarios.py::test_broken_file": "error",
    "test_scenarios.py::test_scenario_fixture_without_marker": "error",
    "test_scenarios.py::test_unmarked_mirror_is_clean": "passed",
}


def write_project(pytester: pytest.Pytester) -> None:
    """The downstream project: four test modules, three incident files, an ini file."""
    pytester.makepyfile(
        test_downstream=DOWNSTREAM, test_failing=FAILING, test_handler=HANDLER,
        test_scenarios=SCENARIOS,
    )  # fmt: skip
    pytester.mkdir("incidents")
    (pytester.path / "incidents" / "local-503.toml").write_text(LOCAL_503)
    (pytester.path / "broken.toml").write_text(BROKEN)
    pytester.mkdir("more_scenarios")
    (pytester.path / "more_scenarios" / "from-the-ini-dir.toml").write_text(FROM_INI_DIR)
    pytester.makeini(
        "[pytest]\nflakymirror_journal_size = 50\nflakymirror_scenarios = more_scenarios\n"
    )


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """nodeid (without the file's directory) → "passed" / "failed" / "error" / "skipped";
    a test that passed but whose teardown failed counts as "passed+error"."""
    seen: dict[str, str] = {}
    for rep in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        if rep.when == "call" or (rep.when == "setup" and not rep.passed):
            seen[rep.nodeid] = "error" if rep.when == "setup" and rep.failed else rep.outcome
        elif rep.when == "teardown" and rep.failed:
            seen[rep.nodeid] = seen.get(rep.nodeid, "passed") + "+error"
    return seen


JOURNAL_LINES = [
    "*- flakymirror journal -*",
    "flaky_mirror http://127.0.0.1:* (virtual clock, t=0.000s)",
    "client sleeps: none",
    "fault #0: *'status': 503* (saw 3, fired 3)",
    "*t  method kind      target*",
    "*0.000s  GET    manifest  lib/app:1 * 503 *fault=#0:status",
    "*0.000s  GET    manifest  lib/app:1 * 503 *fault=#0:status",
    "*0.000s  GET    manifest  lib/app:1 * 404 *sync=unknown upstream",
    "",
    "make_flaky_mirror #1 http://127.0.0.1:* (virtual clock, t=0.000s)",
    "*",
    "*0.000s  GET    ping * 200 *",
]


def test_downstream_project(pytester: pytest.Pytester) -> None:
    """Fixtures, clean state per test, the factory, the registry, the scenario marker (library
    name, relative path, ini directory, a scenario with auth, every misuse), handler errors,
    and the journal of the one failing test."""
    write_project(pytester)
    result = pytester.runpytest("--strict-markers", "-p", "no:randomly", "-rA")
    assert outcomes(result) == EXPECTED
    result.stdout.fnmatch_lines(JOURNAL_LINES)
    text = result.stdout.str()
    assert text.count("- flakymirror journal -") == 1  # only the failed call phase has one
    assert "first/app" not in text  # the previous test's requests were reset away
    result.stdout.fnmatch_lines_random(
        [
            "*@pytest.mark.mirror_scenario('no-such-incident'): *no scenario named "
            "'no-such-incident' in *scenarios (also tried */no-such-incident, "
            "*/more_scenarios/no-such-incident, */more_scenarios/no-such-incident.toml)",
            "*@pytest.mark.mirror_scenario takes one scenario name or path, got args=() kwargs={}",
            "*test_without_fixture: @pytest.mark.mirror_scenario loads into the flaky_mirror "
            "fixture, but the test does not use it",
            "*@pytest.mark.mirror_scenario('broken.toml'): *broken.toml:8: action.imag: "
            "unknown key (did you mean 'image'?)",
            "*flaky_mirror_scenario needs @pytest.mark.mirror_scenario(...) on the test",
            "*ZeroDivisionError: a bug in a handler",
            "*RuntimeError: flaky_mirror: a request handler raised 1 error(s)*",
        ]
    )


def test_downstream_project_under_xdist(pytester: pytest.Pytester) -> None:
    """The same project on two worker processes (each with its own session server), with
    the handler-error check turned off (the ini option)."""
    write_project(pytester)
    result = pytester.runpytest(
        "-n", "2", "--strict-markers", "-p", "no:randomly", "-o", "flakymirror_handler_errors=0"
    )
    result.stdout.fnmatch_lines(["*2 workers*"])
    assert outcomes(result) == {**EXPECTED, "test_handler.py::test_bug": "passed"}
    result.stdout.fnmatch_lines(JOURNAL_LINES)


def test_journal_lines_option_and_ini(pytester: pytest.Pytester) -> None:
    write_project(pytester)
    result = pytester.runpytest(
        "test_failing.py", "-o", "flakymirror_journal_lines=5", "--flakymirror-journal-lines=1"
    )
    result.stdout.fnmatch_lines(
        ["(2 earlier lines not shown; see flakymirror_journal_lines)", "*404*unknown upstream"]
    )
    result = pytester.runpytest("test_failing.py", "--flakymirror-journal-lines=0")
    result.assert_outcomes(passed=2, failed=1)
    assert "flakymirror journal" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "flakymirror_journal_size=lots"],
         "ini option flakymirror_journal_size: expected an integer, got 'lots'"),
        (["-o", "flakymirror_journal_size=0"],
         "ini option flakymirror_journal_size: must be >= 1, got 0"),
        (["-o", "flakymirror_journal_lines=-1"],
         "ini option flakymirror_journal_lines: must be >= 0, got -1"),
        (["-o", "flakymirror_journal_lines=many"],
         "ini option flakymirror_journal_lines: expected an integer, got 'many'"),
        (["--flakymirror-journal-lines=-3"], "--flakymirror-journal-lines must be >= 0, got -3"),
    ],
)  # fmt: skip
def test_bad_ini_values_are_usage_errors(pytester: pytest.Pytester, args, message) -> None:
    """Checked at start-up, before any test runs, whether a test fails or not (exit code 4)."""
    write_project(pytester)
    result = pytester.runpytest("test_handler.py", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "passed" not in result.stdout.str() and "collected" not in result.stdout.str()


def test_bad_ini_value_in_the_ini_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nflakymirror_journal_lines = -1\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: ini option flakymirror_journal_lines: must be >= 0, got -1"]
    )

"""The pytest plugin's registration and overridable fixtures, checked in small projects run
with ``pytester`` (the big downstream project is in ``test_plugin_project.py``)."""

from __future__ import annotations

import socket

import pytest
import requests  # noqa: F401

# Imported before any in-process run: pytester restores sys.modules after each run, and a
# module first imported inside a run (requests' cookie jar, say) would come back as a second,
# incompatible copy in the next one.
import flakymirror.mirror  # noqa: F401
from tests.helpers.optional_tools import require_module

pytest_plugins = ["pytester"]


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "flaky_mirror -- *pytest_plugin.py:*",
            "*A clean FlakyMirror for this test, on a virtual clock*",
            "make_flaky_mirror -- *",
            "*Factory of extra mirrors*",
            "oci_registry -- *",
            "*A healthy, empty OCI registry*",
            "mirror_clock -- *",
            "*The clock of flaky_mirror*",
            "flakymirror_listen_address [[]session scope[]] -- *",
            "*Where flaky_mirror's session server listens*",
            "flakymirror_ssl_context [[]session scope[]] -- *",
            "*The ``ssl.SSLContext`` the plugin's servers use*",
            "flaky_mirror_scenario -- *",
            "*The scenario ``@pytest.mark.mirror_scenario`` loaded into flaky_mirror*",
        ]
    )
    assert "_flakymirror_session" not in result.stdout.str()


def test_marker_and_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mirror_scenario(name_or_path): *"])
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines_random(
        [
            "*flakymirror_journal_size*",
            "*flakymirror_journal_lines*",
            "*flakymirror_scenarios*",
            "*flakymirror_handler_errors*",
            "*--flakymirror-journal-lines=N*",
        ]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_listen_address_and_ssl_context_overrides(pytester: pytest.Pytester) -> None:
    require_module("trustme")
    port = _free_port()
    pytester.makeconftest(
        f"""
        import ssl

        import pytest
        import trustme

        CA = trustme.CA()

        @pytest.fixture(scope="session")
        def flakymirror_listen_address():
            return ("127.0.0.1", {port})

        @pytest.fixture(scope="session")
        def flakymirror_ssl_context():
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            CA.issue_cert("127.0.0.1").configure_cert(context)
            return context

        @pytest.fixture
        def ca_file(tmp_path):
            path = tmp_path / "ca.pem"
            CA.cert_pem.write_to_path(str(path))
            return str(path)
        """
    )
    pytester.makepyfile(
        f"""
        import requests

        def test_pinned_and_https(flaky_mirror, make_flaky_mirror, oci_registry, ca_file):
            assert flaky_mirror.url == "https://127.0.0.1:{port}"
            extra = make_flaky_mirror()
            assert extra.server.port not in (0, {port})
            for server in (flaky_mirror, oci_registry, extra):
                assert server.url.startswith("https://127.0.0.1:")
                assert requests.get(server.url + "/v2/", verify=ca_file).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_listen_address_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    monkeypatch.setenv("FLAKYMIRROR_PORT", str(port))
    pytester.makepyfile(
        f"""
        from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE

        def test_env(flaky_mirror, make_flaky_mirror):
            assert flaky_mirror.server.port == {port}
            # no flakymirror_journal_size in the ini: the mirror's own default
            assert flaky_mirror.journal.maxlen == DEFAULT_JOURNAL_SIZE
            assert make_flaky_mirror().journal.maxlen == DEFAULT_JOURNAL_SIZE
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("FLAKYMIRROR_PORT", "eighty")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*FLAKYMIRROR_PORT must be an integer, got 'eighty'*"])


def test_bad_listen_address_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def flakymirror_listen_address():
            return "127.0.0.1:5000"
        """
    )
    pytester.makepyfile("def test_x(flaky_mirror): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*flakymirror_listen_address must return (host: str, port: int), got '127.0.0.1:5000'*"]
    )


def test_marker_names_resolve_in_the_projects_scenarios_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's ``scenarios/`` (the current directory's) adds to the bundled library."""
    monkeypatch.delenv("FLAKYMIRROR_SCENARIOS", raising=False)
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "ours.toml").write_text(
        'name = "ours"\ndescription = "a project incident"\nsource = "https://example.invalid/1"\n'
        '[[images]]\nref = "team/app:1"\nlayers = 1\n'
        '[action]\nkind = "open"\nimage = "team/app:1"\n'
        '[expect]\noutcome = "success"\n'
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mirror_scenario("ours")
        def test_ours(flaky_mirror_scenario):
            assert flaky_mirror_scenario.scenario.name == "ours"
            assert list(flaky_mirror_scenario.images) == ["team/app:1"]

        @pytest.mark.mirror_scenario("lifecycle-1674-empty-layers")
        def test_bundled(flaky_mirror_scenario):
            assert flaky_mirror_scenario.scenario.name == "lifecycle-1674-empty-layers"
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)

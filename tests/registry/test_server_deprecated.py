"""Server's own interface, and the pytest-httpserver members it had until 0.1: each old name
still works for one release and warns DeprecationWarning naming what to use instead."""

from __future__ import annotations

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from flakymirror.registry import Server
from flakymirror.registry.server_deprecated import DEPRECATED_MEMBERS
from tests.helpers.wire import hello


def test_server_is_standalone():
    # no pytest-httpserver base class: the runtime does not need that package
    assert [c.__name__ for c in Server.__mro__] == ["Server", "object"]


def test_httpserver_error_is_the_server_state_error_and_warns():
    from flakymirror.registry import server
    from flakymirror.registry.server import ServerStateError

    with pytest.warns(DeprecationWarning, match="HTTPServerError.*ServerStateError"):
        old = server.HTTPServerError
    assert old is ServerStateError and issubclass(old, RuntimeError)


def _boom(environ, start_response):
    raise ValueError("handler bug")


def test_check_handler_errors_and_check_assertions_are_check():
    with Server(_boom) as srv:
        assert requests.get(srv.url).status_code == 500
        with pytest.warns(DeprecationWarning, match=r"check_handler_errors.*use check\(\)"):
            check = srv.check_handler_errors
        with pytest.raises(ValueError, match="handler bug"):
            check()
        with pytest.warns(DeprecationWarning, match="check_assertions"):
            srv.check_assertions()  # nothing left to raise


def test_clear_forgets_the_log_and_the_errors():
    with Server(_boom) as srv:
        requests.get(srv.url)
        assert len(srv.log) == 1 and len(srv.handler_errors) == 1
        with pytest.warns(DeprecationWarning, match=r"clear_log\(\) and clear_handler_errors"):
            srv.clear()
        assert len(srv.log) == 0 and srv.handler_errors == []
        srv.check()


def test_assertions_add_assertion_and_with_check():
    with Server(hello) as srv:
        with pytest.warns(DeprecationWarning, match="assertions"):
            assert srv.assertions == []
        with pytest.warns(DeprecationWarning, match="add_assertion"):
            srv.add_assertion("wrong")
        with pytest.raises(AssertionError, match="wrong"):
            srv.check()
        with pytest.warns(DeprecationWarning, match="with_check"):
            checked = srv.with_check()
        srv.handler_errors.append(RuntimeError("late"))
        with pytest.raises(RuntimeError, match="late"), checked as same:
            assert same is srv
        with pytest.warns(DeprecationWarning, match="clear_assertions"):
            srv.clear_assertions()


def test_dispatch_runs_the_app_in_process():
    srv = Server(hello)
    request = Request(EnvironBuilder(path="/x").get_environ())
    for name in ("dispatch", "application"):
        with pytest.warns(DeprecationWarning, match=name):
            response = getattr(srv, name)(request)
        assert response.status_code == 200 and response.get_data() == b"hello"


def test_addresses_and_threads_of_old():
    srv = Server(hello, host="::1")
    with pytest.warns(DeprecationWarning, match="url_host"):
        assert srv.format_host("::1") == "[::1]"
    assert srv.host == "[::1]:0"
    with pytest.warns(DeprecationWarning, match="always None"):
        assert srv.server is None
    with Server(hello) as running:
        with pytest.warns(DeprecationWarning, match="server_thread"):
            thread = running.server_thread
        assert thread is not None and thread.is_alive()
        with pytest.warns(DeprecationWarning, match="thread_target"):
            assert callable(running.thread_target)
    with pytest.warns(DeprecationWarning):
        assert running.server_thread is None


def test_every_deprecated_member_warns_and_other_names_do_not_exist():
    srv = Server(hello)
    for name in DEPRECATED_MEMBERS:
        with pytest.warns(DeprecationWarning, match=f"Server.{name} is deprecated"):
            getattr(srv, name)
    for name in ("no_handler_status_code", "create_matcher", "nonsense"):
        with pytest.raises(AttributeError, match=name):
            getattr(srv, name)

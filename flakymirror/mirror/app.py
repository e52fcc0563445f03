"""The mirror's WSGI application: the request path, one small stage after another.

journal entry opened → fault rules decided → "before" effects (delay) → an "answer" effect
(status, reset, close, garbage) *or* the sync view through the registry app → "after" effects
(headers, wrong digest, drip, truncate, corrupt, stall) → journal entry closed when the last
body byte went out (or the connection dropped). Requests the server refuses before this app
reach :meth:`MirrorApp.refused` (the server's refusal app): a TLS handshake on the plain-HTTP
port (kind ``"tls-probe"``) takes the same path as any request, its registry answer being the
gateway's 400; any other refusal (malformed, oversized, unsupported) is journaled as
``"rejected"`` and answered by the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast
from urllib.parse import parse_qs

from werkzeug.wrappers import Request

from flakymirror._realtime import Real
from flakymirror.mirror.actions import Pass
from flakymirror.mirror.clock import elapsed
from flakymirror.mirror.core import MirrorCore
from flakymirror.mirror.effects import EFFECTS, Ctx, Resp
from flakymirror.mirror.journal import JournalEntry
from flakymirror.mirror.match import Endpoint, classify
from flakymirror.mirror.store import RequestState, RequestStore
from flakymirror.oci.protocol import API_VERSION_PAIR
from flakymirror.registry.auth import AnonymousAuth
from flakymirror.registry.errors import LimitResponse, RegistryError
from flakymirror.registry.refusal import REFUSED, RejectedRequest, refusal_app
from flakymirror.registry.server import CloseConnection, WSGIApp
from flakymirror.registry.store import Store
from flakymirror.registry.stored import StoredManifest
from flakymirror.registry.tls_probe import TLS_PROBE

__all__ = ["CONTROL_PREFIX", "MirrorApp", "is_control_path"]

CONTROL_PREFIX = "/_flakymirror/"


def is_control_path(path: str) -> bool:
    """Whether ``path`` is under the control API's prefix."""
    return path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/")


class MirrorApp:
    """WSGI callable serving a mirror's ``core``: ``control`` (the control API) under
    ``/_flakymirror/`` when given (None: it has a listener of its own, and those paths are
    ordinary, flaky requests), the rest flaky.

    ``core`` is the :class:`~flakymirror.mirror.core.MirrorCore` new requests see; the mirror
    swaps it on reset. Each request reads it once on arrival and keeps it to the end.
    """

    def __init__(self, core: MirrorCore, control: WSGIApp | None = None) -> None:
        self.core = core
        self.control = control

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve one request: the control API, or the flaky path (journaled)."""
        path = environ.get("PATH_INFO", "") or "/"
        if self.control is not None and is_control_path(path):
            return self.control(environ, start_response)
        m = self.core
        method = environ.get("REQUEST_METHOD", "GET").upper()
        endpoint = classify(path, m.registry_app.auth.token_path or "/token")
        now = m.clock.now()
        query = environ.get("QUERY_STRING", "")
        ns = parse_qs(query).get("ns", [None])[0] if "ns=" in query else None
        entry = m.journal.open(
            t=elapsed(now, m.epoch),
            clock_time=now,
            wall_time=Real.time(),
            method=method,
            path=path,
            kind=endpoint.kind,
            repo=endpoint.repo,
            reference=endpoint.reference,
            query=query,
            ns=ns,
        )
        try:
            store = m.store.view(RequestState(method))
            if endpoint.kind == "manifest" and not m.faults and self._fast_ok(m, environ, method):
                fast = self._fast(m, start_response, entry, method, endpoint, store)
                if fast is not None:
                    return fast
            return self._serve(m, environ, start_response, entry, method, endpoint, store)
        except CloseConnection:
            m.journal.close(entry, "closed")
            raise
        except BaseException:
            m.journal.close(entry, "error")
            raise

    def refused(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """The mirror's refusal app (the server's ``refusal_app``) for a request the server
        refused before this app. A TLS probe is journaled as kind ``"tls-probe"`` (method
        ``""``, no path, the reason naming the handshake) and takes the flaky path: fault rules
        see it (``Match(kind="tls-probe")``, a catch-all ``Match()``), before- and answer-stage
        actions apply, and the answer they leave is the gateway's 400, which after-stage
        actions transform like any response. Any other refusal goes to :meth:`rejected` and
        gets the gateway's answer."""
        rejected: RejectedRequest = environ[REFUSED]
        if rejected.kind != TLS_PROBE:
            self.rejected(rejected)
            return refusal_app(environ, start_response)
        m = self.core
        now = m.clock.now()
        entry = m.journal.open(
            t=elapsed(now, m.epoch),
            clock_time=now,
            wall_time=Real.time(),
            method="",
            path="",
            kind=TLS_PROBE,
            reason=rejected.reason,
        )
        try:
            store = m.store.view(RequestState(""))
            return self._serve(m, environ, start_response, entry, "", Endpoint(TLS_PROBE), store)
        except CloseConnection:
            m.journal.close(entry, "closed")
            raise
        except BaseException:
            m.journal.close(entry, "error")
            raise

    @staticmethod
    def _refusal(environ: dict[str, Any]) -> Resp:
        """The gateway's own answer to a refused request, as a response effects can change."""
        got: list[Any] = []
        body = refusal_app(
            environ, lambda status, headers, exc_info=None: got.extend((status, headers))
        )
        code, _, phrase = got[0].partition(" ")
        return Resp(int(code), list(got[1]), body, reason=phrase or None)

    def rejected(self, rejected: RejectedRequest) -> None:
        """Journal a request the server refused before it reached this app (bad request line,
        bad ``Content-Length``, 431, 501, 505...) as kind ``"rejected"``, outcome
        ``"rejected"``, with its status and the gateway's reason (``bytes_sent`` stays 0: the
        server's error body is not counted). Control calls are not journaled, refused or not
        (with a control listener of its own, ``/_flakymirror/`` on the main port is no control
        call)."""
        path, _, query = rejected.target.partition("?")
        if self.control is not None and is_control_path(path):
            return
        m = self.core
        endpoint = classify(path)
        now = m.clock.now()
        entry = m.journal.open(
            t=elapsed(now, m.epoch),
            clock_time=now,
            wall_time=Real.time(),
            method=rejected.method[:32],
            path=path,
            kind="rejected",
            repo=endpoint.repo,
            reference=endpoint.reference,
            query=query,
            ns=parse_qs(query).get("ns", [None])[0] if "ns=" in query else None,
            status=rejected.status,
            reason=rejected.reason,
        )
        m.journal.close(entry, "rejected")

    def _serve(
        self,
        m: MirrorCore,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        entry: JournalEntry,
        method: str,
        endpoint: Endpoint,
        store: RequestStore,
    ) -> Iterable[bytes]:
        fired = m.faults.fire(method, endpoint, entry.t)
        actions = [a for f in fired for a in f.actions if not isinstance(a, Pass)]
        entry.faults = [f.label() for f in fired if any(not isinstance(a, Pass) for a in f.actions)]
        host = (
            environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        )
        ctx = Ctx(
            environ,
            method,
            endpoint,
            m.clock,
            m.interrupt,
            f"{environ['wsgi.url_scheme']}://{host}",
            damage=entry.damage,  # effects record what they do to the bytes as it happens
        )
        for action in actions:
            if action.stage == "before":
                EFFECTS[type(action)](ctx, action, None)
        resp: Resp | None = None
        for action in actions:
            if action.stage == "answer":
                resp = EFFECTS[type(action)](ctx, action, None)
                break
        if resp is None:
            resp = self._registry(m, environ, store, entry)
        for action in actions:
            if action.stage == "after":
                resp = EFFECTS[type(action)](ctx, action, resp)
        assert resp is not None
        entry.status = resp.status
        if resp.status == 206:
            entry.offset = store.state.offset
        write = start_response(resp.status_line, resp.headers)
        ctx.flush = lambda: write(b"")
        return self._counted(m, resp.body, entry, method, resp.length)

    @staticmethod
    def _fast_ok(m: MirrorCore, environ: dict[str, Any], method: str) -> bool:
        app = m.registry_app
        return (
            (method == "GET" or method == "HEAD")
            and type(app.auth) is AnonymousAuth
            and not app.strict_accept
            and "HTTP_IF_NONE_MATCH" not in environ
        )

    @staticmethod
    def _fast(
        m: MirrorCore,
        start_response: Callable[..., Any],
        entry: JournalEntry,
        method: str,
        endpoint: Endpoint,
        store: RequestStore,
    ) -> Iterable[bytes] | None:
        """A manifest that is simply there, with no fault rules: answered without building
        werkzeug request/response objects (same headers as the registry app's fast path).
        Anything else returns None and takes the full path, reusing ``store``'s decision."""
        try:
            stored = store.get_manifest(endpoint.repo or "", endpoint.reference or "")
        except RegistryError:
            return None
        if not isinstance(stored, StoredManifest):
            return None
        entry.sync = store.state.sync
        entry.status = 200
        entry.digest, entry.media_type = str(stored.digest), stored.media_type
        start_response("200 OK", [*stored.headers, API_VERSION_PAIR])
        if method == "GET":
            entry.bytes_sent = len(stored.data)
        m.journal.close(entry)
        return [stored.data] if method == "GET" else []

    def _registry(
        self, m: MirrorCore, environ: dict[str, Any], store: RequestStore, entry: JournalEntry
    ) -> Resp:
        """The sync view, served by the registry app (auth, routing, headers, Range, errors)
        from this request's own store view."""
        if REFUSED in environ:  # a TLS probe no fault answered: the gateway's own refusal
            return self._refusal(environ)
        # the view has the Store methods the endpoints call (it stands in for one)
        response = m.registry_app.handle(Request(environ), cast(Store, store))
        if isinstance(response, LimitResponse):
            entry.limit = response.limit  # the harness refused, not the protocol
        app_iter, status, headers = response.get_wsgi_response(environ)
        entry.sync = store.state.sync
        code, _, phrase = status.partition(" ")
        served = store.state.served
        if code == "200" and entry.kind == "manifest" and served is not None:
            entry.digest, entry.media_type = str(served.digest), served.media_type
        return Resp(int(code), list(headers), app_iter, reason=phrase or None)

    @staticmethod
    def _counted(
        m: MirrorCore, body: Iterable[bytes], entry: JournalEntry, method: str, length: int | None
    ) -> Iterator[bytes]:
        """Count the body bytes handed to the server; close the journal entry as the last
        declared byte goes out (so a client that has its response finds it journaled)."""
        journal = m.journal
        outcome = done = "limit" if entry.limit is not None else "ok"
        try:
            if method == "HEAD" or length == 0:
                journal.close(entry, done)
            for chunk in body:
                if method != "HEAD" and chunk:
                    entry.bytes_sent += len(chunk)
                    if length is not None and entry.bytes_sent >= length:
                        journal.close(entry, done)
                yield chunk
        except CloseConnection:
            outcome = "closed"
            raise
        except GeneratorExit:
            outcome = "aborted"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            journal.close(entry, outcome, amend=outcome != "ok")

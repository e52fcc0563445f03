"""The mirror's core value, its per-request store views, and the capabilities it asks of
upstreams and auth objects by name (Protocols), not by probing attributes."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest
import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

import flakymirror.mirror.store as store_module
from flakymirror.mirror import (
    FaultRule,
    FlakyMirror,
    InProcessUpstream,
    Interval,
    Match,
    Stall,
    SyncPlan,
    Upstream,
)
from flakymirror.mirror.http_upstream import HttpUpstream
from flakymirror.mirror.store import MirrorStore, RequestState
from flakymirror.mirror.sync import SyncEngine
from flakymirror.mirror.upstream import BlobFetcher, RepositoryChecker
from flakymirror.registry import (
    AnonymousAuth,
    BasicAuth,
    BearerAuth,
    ClockedAuth,
    Registry,
    RegistryApp,
    RegistryAuth,
    Store,
)
from flakymirror.registry.auth import ANONYMOUS
from tests.helpers.mirror_requests import get_blob, get_manifest, sha256
from tests.helpers.waiting import wait_until
from tests.helpers.wire import raw_request

REPO = "lib/app"


def layer(image, i: int = 0) -> str:
    return str(image.manifest.layers[i].digest)


# -- the core: one value, swapped whole ----------------------------------------------------------
def test_reset_swaps_in_a_fresh_core_and_keeps_the_clock(mirror, vclock) -> None:
    assert get_manifest(mirror, REPO, "1").status_code == 200
    old = mirror.core
    assert (mirror.journal, mirror.faults, mirror.engine) == (old.journal, old.faults, old.engine)
    assert (mirror.store, mirror.registry_app) == (old.store, old.registry_app)
    mirror.reset()
    new = mirror.core
    assert new is not old and new.clock is old.clock is mirror.clock is vclock
    for part in ("journal", "faults", "engine", "store", "registry_app", "interrupt"):
        assert getattr(new, part) is not getattr(old, part), part
        assert getattr(mirror, part) is getattr(new, part), part
    assert old.interrupt.is_set() and not new.interrupt.is_set()
    assert len(old.journal) == 1 and len(mirror.journal) == 0
    assert mirror.epoch == new.epoch == vclock.now()
    with pytest.raises(AttributeError):
        new.journal = old.journal  # frozen: a core is replaced, never patched


def test_a_response_under_way_finishes_on_the_core_it_started_with(
    make_mirror, vclock, image
) -> None:
    mirror = make_mirror(clock=vclock, faults=[FaultRule(Match(kind="blob"), Stall(after=10))])
    mirror.push_upstream(image, f"{REPO}:1")
    result: dict[str, bytes] = {}

    def client() -> None:
        result["raw"] = raw_request(mirror.host, f"/v2/{REPO}/blobs/{layer(image)}", timeout=10)[0]

    t = threading.Thread(target=client)
    t.start()
    try:
        entry = wait_until(lambda: mirror.journal.filter(kind="blob"))[0]
        wait_until(lambda: entry.bytes_sent == 10)
        old = mirror.core
        mirror.reset()
    finally:
        t.join(10)
    assert not t.is_alive() and result["raw"]
    wait_until(lambda: entry.done)
    assert list(old.journal) == [entry] and len(mirror.journal) == 0  # not in the clean journal
    assert old.faults.counters()[0]["applied"] == 1
    assert mirror.faults.counters()[0]["applied"] == 0
    assert get_manifest(mirror, REPO, "1").status_code == 200  # the clean core serves
    assert [e.kind for e in mirror.journal.settled()] == ["manifest"]


def test_take_down_gives_new_requests_a_fresh_interrupt(make_mirror, vclock) -> None:
    mirror = make_mirror(clock=vclock)
    old = mirror.core
    mirror.take_down()
    assert old.interrupt.is_set() and not mirror.interrupt.is_set()
    assert mirror.journal is old.journal and mirror.engine is old.engine  # nothing else changes
    mirror.bring_up()
    assert requests.get(f"{mirror.url}/v2/", timeout=5).status_code == 200


# -- upstream / upstream_reader ---------------------------------------------------------------------
def test_upstream_is_what_was_given_and_upstream_reader_what_is_read(make_mirror, vclock) -> None:
    own = make_mirror(clock=vclock)
    assert isinstance(own.upstream, Registry)
    assert isinstance(own.upstream_reader, InProcessUpstream)
    assert own.upstream_reader.source is own.upstream
    own.reset(upstream=True)
    assert own.upstream_reader.source is own.upstream  # replaced together
    with Registry() as registry:
        in_front = make_mirror(upstream=registry)
        assert in_front.upstream is registry and in_front.upstream_reader.source is registry
        pull_through = FlakyMirror(registry.url + "/")
        try:
            assert pull_through.upstream == registry.url
            assert isinstance(pull_through.upstream_reader, HttpUpstream)
            assert pull_through.upstream_reader.url == registry.url
        finally:
            pull_through.close()


def test_adapter_still_answers_and_warns(make_mirror, vclock) -> None:
    mirror = make_mirror(clock=vclock)
    with pytest.warns(DeprecationWarning, match=r"FlakyMirror\.upstream_reader"):
        adapter = mirror.adapter
    assert adapter is mirror.upstream_reader


# -- the per-request store view ----------------------------------------------------------------
def test_no_context_variable_carries_request_state() -> None:
    assert not hasattr(store_module, "current_request")
    assert not any(isinstance(v, contextvars.ContextVar) for v in vars(store_module).values())


@pytest.fixture
def upstream_registry(image):
    registry = Registry()
    registry.push(image, f"{REPO}:1")
    yield registry
    registry.close()


def test_each_view_carries_its_own_method_and_decisions(upstream_registry, vclock, image) -> None:
    engine = SyncEngine(
        InProcessUpstream(upstream_registry),
        vclock,
        [SyncPlan(Interval(10), mode="blobs-404", blobs="head")],
    )
    store = MirrorStore(engine)
    try:
        get, head = store.view(RequestState("GET")), store.view(RequestState("HEAD"))
        assert get.get_manifest(REPO, "1") is not None
        assert get.state.sync == "blobs-404 0/3" and get.state.served is not None
        assert head.state.sync is None and head.state.served is None  # untouched
        size = len(b"".join(upstream_registry.store.open_blob(REPO, layer(image))))
        assert get.blob_size(REPO, layer(image)) == size
        assert head.blob_size(REPO, layer(image)) is None  # hidden for HEAD only
        assert (get.state.sync, head.state.sync) == ("synced", "not synced")
        requests_before = engine.state()[0]["requests"]
        get.get_manifest(REPO, "1")  # decided once per request: not counted again
        assert engine.state()[0]["requests"] == requests_before
        store.view(RequestState("GET")).get_manifest(REPO, "1")  # another request is
        assert engine.state()[0]["requests"] == requests_before + 1
    finally:
        store.close()


def test_writes_through_a_view_go_to_the_pushed_content(upstream_registry, vclock) -> None:
    store = MirrorStore(SyncEngine(InProcessUpstream(upstream_registry), vclock))
    try:
        view = store.view(RequestState("PUT"))
        d = sha256(b"hello")
        assert view.put_blob("pushed/app", d, b"hello") == 5
        assert store.pushed.blob_size("pushed/app", d) == 5
        assert not upstream_registry.store.has_repository("pushed/app")
        assert store.view(RequestState("GET")).has_repository("pushed/app")
        assert view.delete_blob("pushed/app", d) and store.pushed.blob_size("pushed/app", d) is None
    finally:
        store.close()


def test_the_registry_app_serves_a_store_given_for_one_request(image) -> None:
    own, other = Store(), Store()
    try:
        other.push_image(image, REPO, "1")
        app = RegistryApp(own)
        environ = EnvironBuilder(path=f"/v2/{REPO}/manifests/1").get_environ()
        assert app.handle(Request(environ)).status_code == 404
        assert app.handle(Request(environ), other).get_data() == image.manifest_bytes
        assert app.handle(Request(environ)).status_code == 404  # only for that request
    finally:
        own.close()
        other.close()


# -- upstream capabilities, by name ----------------------------------------------------------
class PlainUpstream:
    """An Upstream with none of the optional capabilities (reads a registry's store)."""

    def __init__(self, registry: Registry) -> None:
        self._inner = InProcessUpstream(registry)
        self.sizes = 0

    def get_manifest(self, repo, reference):
        return self._inner.get_manifest(repo, reference)

    def blob_size(self, repo, digest):
        self.sizes += 1
        return self._inner.blob_size(repo, digest)

    def open_blob(self, repo, digest, start=0, end=None):
        return self._inner.open_blob(repo, digest, start, end)

    def tags(self, repo):
        return self._inner.tags(repo)

    def repositories(self):
        return self._inner.repositories()

    def referrers(self, repo, digest):
        return self._inner.referrers(repo, digest)

    def clear_cache(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "plain"


class FetchingUpstream(PlainUpstream):
    """Adds :class:`BlobFetcher` (and counts its calls)."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.fetched: list[str] = []

    def ensure_blob(self, repo, digest):
        self.fetched.append(digest)
        return self._inner.blob_size(repo, digest)


def test_capabilities_are_protocols(upstream_registry) -> None:
    in_process = InProcessUpstream(upstream_registry)
    http = HttpUpstream("http://127.0.0.1:9")
    try:
        assert isinstance(in_process, Upstream) and isinstance(in_process, RepositoryChecker)
        assert not isinstance(in_process, BlobFetcher)
        assert isinstance(http, RepositoryChecker) and isinstance(http, BlobFetcher)
        plain = PlainUpstream(upstream_registry)
        assert isinstance(plain, Upstream)
        assert not isinstance(plain, RepositoryChecker | BlobFetcher)
    finally:
        http.close()
    with pytest.raises(TypeError, match="Registry or a Store"):
        InProcessUpstream(object())  # type: ignore[arg-type]


def test_an_upstream_that_cannot_tell_knows_every_repository(
    make_mirror, vclock, upstream_registry
) -> None:
    mirror = make_mirror(clock=vclock, upstream=PlainUpstream(upstream_registry))
    r = get_manifest(mirror, "no/such", "1")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    checked = make_mirror(clock=vclock, upstream=upstream_registry)
    r = get_manifest(checked, "no/such", "1")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_a_blob_fetcher_is_asked_on_get_only(make_mirror, vclock, upstream_registry, image):
    upstream = FetchingUpstream(upstream_registry)
    mirror = make_mirror(clock=vclock, upstream=upstream)
    digest = layer(image)
    assert get_blob(mirror, REPO, digest, "HEAD").status_code == 200
    assert upstream.fetched == [] and upstream.sizes == 1
    assert get_blob(mirror, REPO, digest).status_code == 200
    assert upstream.fetched == [digest] and upstream.sizes == 1


# -- auth, by name -----------------------------------------------------------------------------
def test_auth_objects_follow_the_auth_protocols() -> None:
    for auth in (AnonymousAuth(), BasicAuth({"a": "b"}), BearerAuth()):
        assert isinstance(auth, RegistryAuth)
    assert isinstance(BearerAuth(), ClockedAuth)
    assert not isinstance(BasicAuth({"a": "b"}), ClockedAuth)


def test_a_bearer_auth_on_wall_time_moves_to_the_mirror_clock(make_mirror, vclock) -> None:
    bearer = BearerAuth({"a": "b"})
    assert bearer.clock is time.time
    make_mirror(clock=vclock, auth=bearer)
    assert bearer.clock == vclock.now
    own_clock = BearerAuth({"a": "b"}, clock=lambda: 0.0)
    kept = own_clock.clock
    make_mirror(clock=vclock, auth=own_clock)
    assert own_clock.clock is kept  # a clock of its own is left alone


class LoginAuth:
    """An auth of one's own: anyone may do anything; its token service is at ``/login``."""

    token_path = "/login"

    def authenticate(self, request, needed):
        return ANONYMOUS

    def token_endpoint(self, request):
        return Response(b'{"token":"t"}', content_type="application/json")


def test_an_auth_of_ones_own_names_its_token_path(make_mirror, vclock) -> None:
    assert isinstance(LoginAuth(), RegistryAuth)
    mirror = make_mirror(clock=vclock, auth=LoginAuth())
    r = requests.get(f"{mirror.url}/login", timeout=5)
    assert r.status_code == 200 and r.json() == {"token": "t"}
    assert [e.kind for e in mirror.journal.settled()] == ["token"]

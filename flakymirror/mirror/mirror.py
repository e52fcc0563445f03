"""``FlakyMirror``: a registry mirror whose content comes from an upstream and which fails the
way real mirrors fail. The README section "The flaky mirror" is the user guide."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from ssl import SSLContext
from typing import Any

from flakymirror.mirror.app import MirrorApp
from flakymirror.mirror.clock import Clock, RealClock, elapsed
from flakymirror.mirror.control import ControlAPI
from flakymirror.mirror.faults import FaultRule, Faults
from flakymirror.mirror.journal import Journal
from flakymirror.mirror.plans import SyncPlan, plans_from_dict
from flakymirror.mirror.store import MirrorStore
from flakymirror.mirror.sync import SyncEngine
from flakymirror.mirror.upstream import InProcessUpstream, Upstream
from flakymirror.registry import Registry, RegistryApp, Server
from flakymirror.registry.auth import AnonymousAuth
from flakymirror.registry.server import ServerHandle
from flakymirror.registry.store import Store
from flakymirror.registry.tls import server_tls

__all__ = ["FlakyMirror"]


def _as_plans(plan: SyncPlan | Sequence[SyncPlan] | dict | None) -> tuple[SyncPlan, ...]:
    if plan is None:
        return ()
    if isinstance(plan, SyncPlan):
        return (plan,)
    if isinstance(plan, dict):
        return plans_from_dict(plan)
    plans = tuple(plan)
    if not all(isinstance(p, SyncPlan) for p in plans):
        return plans_from_dict(list(plans))
    return plans


class FlakyMirror(ServerHandle):
    """A flaky registry mirror on a real socket.

    ``upstream``: ``None`` (an in-process :class:`~flakymirror.registry.Registry` is created;
    seed it with :meth:`push_upstream`), a ``Registry`` or ``Store`` (read in place), a registry
    URL (a true pull-through cache over HTTP; ``credentials=(user, password)`` for its auth),
    or any object following :class:`~flakymirror.mirror.upstream.Upstream`.
    ``clock``: :class:`RealClock` (default) or :class:`VirtualClock`. ``plan``: a
    :class:`SyncPlan` or a list (first match wins). ``faults``: :class:`FaultRule` values.
    ``auth``: the mirror's own auth (``BasicAuth``/``BearerAuth``; a ``BearerAuth`` left on
    wall time is switched to the mirror clock; :meth:`set_auth` replaces it). :meth:`reset`
    returns to the plan and faults given here.

    ``tls=True``: serve HTTPS with a certificate for ``127.0.0.1``/``localhost`` from a CA
    generated for this mirror (``ca_pem``, ``ca_file``; needs ``flakymirror[tls]``; not with
    ``ssl_context``). ``control_port``: serve the control API on a listener of its own, bound
    to 127.0.0.1 (0 = any free port; plain HTTP) at :attr:`control_url`; the main port then
    treats ``/_flakymirror/`` as any other path, and :meth:`take_down` / :meth:`bring_up`
    can refuse client connections while the control API stays reachable.
    """

    def __init__(
        self,
        upstream: Registry | Store | str | Upstream | None = None,
        *,
        clock: Clock | None = None,
        plan: SyncPlan | Sequence[SyncPlan] | None = None,
        faults: Iterable[FaultRule] = (),
        auth: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_size: int = 10000,
        credentials: tuple[str, str] | None = None,
        strict_accept: bool = False,
        ssl_context: SSLContext | None = None,
        tls: bool = False,
        control_port: int | None = None,
    ) -> None:
        if control_port is not None and (
            isinstance(control_port, bool)
            or not isinstance(control_port, int)
            or not 0 <= control_port <= 65535
        ):
            raise ValueError(f"control_port must be None or 0-65535, got {control_port!r}")
        self.tls = server_tls(tls, ssl_context, host)
        if self.tls is not None:
            ssl_context = self.tls.ssl_context
        self.clock: Clock = clock if clock is not None else RealClock()
        self._own_upstream: Registry | None = None
        self.upstream: Any
        if upstream is None:
            self._own_upstream = Registry()
            self.upstream = self._own_upstream
            adapter: Any = InProcessUpstream(self._own_upstream)
        elif isinstance(upstream, str):
            from flakymirror.mirror.http_upstream import HttpUpstream

            self.upstream = upstream.rstrip("/")
            adapter = HttpUpstream(self.upstream, credentials=credentials)
        elif isinstance(upstream, Registry | Store):
            self.upstream = upstream
            adapter = InProcessUpstream(upstream)
        elif isinstance(upstream, Upstream):
            self.upstream = upstream
            adapter = upstream
        else:
            raise TypeError(
                f"upstream must be a Registry, a Store, a URL or an Upstream, got {upstream!r}"
            )
        self.adapter: Upstream = adapter
        self._initial_plans = _as_plans(plan)
        self._initial_faults = tuple(faults)
        self.epoch = self.clock.now()
        self.interrupt = threading.Event()
        self.journal = Journal(journal_size)
        self.faults = Faults(self._initial_faults)
        self.engine = SyncEngine(adapter, self.clock, self._initial_plans, epoch=lambda: self.epoch)
        self.store = MirrorStore(self.engine)
        self.registry_app = RegistryApp(self.store, strict_accept=strict_accept)
        self._initial_auth = auth
        self.set_auth(auth)
        self.control = ControlAPI(self)
        self.control_server: Server | None = None
        self._taken_down = False
        if control_port is not None:
            self.control_server = Server(self.control, host="127.0.0.1", port=control_port)
        self.app = MirrorApp(self)
        # one clock: the Date header follows the mirror clock (Retry-After dates do too)
        self.server = Server(
            self.app, host=host, port=port, ssl_context=ssl_context, date_clock=self.clock.now
        )
        self.server.refusal_app = self.app.refused

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FlakyMirror:
        """Start serving, on the control listener too (a no-op for what runs); returns the
        mirror."""
        if self.control_server is not None and not self.control_server.is_running():
            self.control_server.start()
        if not self.server.is_running():
            self.interrupt.clear()
            self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving, on both listeners; stalled responses are released first so stop never
        hangs."""
        self.interrupt.set()
        if self.server.is_running():
            self.server.stop()
        if self.control_server is not None and self.control_server.is_running():
            self.control_server.stop()

    def close(self) -> None:
        """Stop both listeners, release the upstream adapter, drop temporary files (the CA file
        of ``tls=True`` too)."""
        self.stop()
        self.adapter.close()
        self.store.close()
        if self._own_upstream is not None:
            self._own_upstream.close()
        if self.tls is not None:
            self.tls.close()

    def check(self) -> None:
        """Re-raise the first exception a request handler raised, on either listener."""
        self.server.check()
        if self.control_server is not None:
            self.control_server.check()

    # -- the client-facing listener ------------------------------------------------------------
    @property
    def is_up(self) -> bool:
        """Whether the client-facing listener accepts connections."""
        return self.server.is_running()

    @property
    def control_url(self) -> str:
        """The base URL of the control API's listener (``{control_url}/_flakymirror/state``):
        its own with ``control_port``, else the mirror's :attr:`url`."""
        return self.control_server.url if self.control_server is not None else self.url

    def take_down(self) -> None:
        """Stop the client-facing listener: clients get "connection refused", open connections
        are closed and stalled responses released. The control listener (``control_port``)
        stays up. A no-op when already down."""
        if not self.server.is_running():
            return
        self.interrupt.set()
        self.server.stop()
        self.interrupt = threading.Event()
        self._taken_down = True

    def bring_up(self) -> None:
        """Listen again on the same port (a no-op when up). Raises ``OSError`` naming the port
        when something else took it while the mirror was down."""
        if self.server.is_running():
            return
        try:
            self.server.start()
            self._taken_down = False
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot bring the mirror back up on {self.host}: {exc.strerror or exc} "
                "(did another process take the port while the mirror was down?)",
            ) from exc

    def set_auth(self, auth: Any) -> None:
        """Replace the mirror's own auth (None: anonymous), as the constructor takes it: a
        ``BearerAuth`` left on wall time is switched to the mirror clock. Applies from the next
        request on (the manifest fast path, which only serves anonymous mirrors, notices)."""
        if auth is not None and getattr(auth, "clock", None) is time.time:
            auth.clock = self.clock.now
        self.registry_app.auth = auth if auth is not None else AnonymousAuth()

    def __enter__(self) -> FlakyMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FlakyMirror {self.url} upstream={self.adapter.describe()}>"

    # -- behaviour ---------------------------------------------------------------------------------
    @property
    def plans(self) -> tuple[SyncPlan, ...]:
        """The active sync plans (first match wins)."""
        return self.engine.plans

    def set_plan(self, plan: SyncPlan | Sequence[SyncPlan] | dict | None) -> None:
        """Use ``plan`` (or plans, first match wins; None: everything synced at once). Every
        image restarts syncing at its next request."""
        self.engine.set_plans(_as_plans(plan))

    def add_fault(self, rule: FaultRule | dict) -> FaultRule:
        """Add a rule (or its dict form); rules fire in the order added."""
        if isinstance(rule, dict):
            rule = FaultRule.from_dict(rule)
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    def push_upstream(self, image: Any, reference: str) -> Any:
        """Seed the in-process upstream with an image or index as ``"repo:tag"``."""
        source = getattr(self.adapter, "source", None)
        if isinstance(source, Registry):
            return source.push(image, reference)
        if isinstance(source, Store):
            return Registry(store=source).push(image, reference)
        raise TypeError(
            "push_upstream needs an in-process upstream; push to the real registry instead"
        )

    def set_initial(
        self,
        *,
        plan: SyncPlan | Sequence[SyncPlan] | dict | None = None,
        faults: Iterable[FaultRule] = (),
        auth: Any = None,
    ) -> None:
        """Make ``plan``, ``faults`` and ``auth`` what :meth:`reset` returns to (instead of the
        constructor's), then reset to them: a scenario loaded into a running mirror survives a
        ``POST /_flakymirror/reset``."""
        self._initial_plans = _as_plans(plan)
        self._initial_faults = tuple(faults)
        self._initial_auth = auth
        self.reset()

    def reset(self, *, upstream: bool = False) -> None:
        """Back to a clean state: the constructor's plan and faults (none by default), an empty
        journal, the clock reset, no tracked images, no cached upstream content, nothing pushed
        to the mirror itself, stalled responses released, the constructor's auth back, and a
        listener :meth:`take_down` stopped listening again. Upstream content is kept, unless
        ``upstream=True`` and the mirror made its own in-process upstream: then that is
        replaced by an empty one."""
        if upstream:
            if self._own_upstream is None:
                raise TypeError("reset(upstream=True) needs the mirror's own in-process upstream")
            old_registry, self._own_upstream = self._own_upstream, Registry()
            self.upstream = self._own_upstream
            self.adapter = InProcessUpstream(self._own_upstream)
            self.engine.upstream = self.adapter
            old_registry.close()
        old, self.interrupt = self.interrupt, threading.Event()
        old.set()
        self.faults.clear()
        for rule in self._initial_faults:
            self.faults.add(rule)
        self.clock.reset()
        self.epoch = self.clock.now()
        self.engine.set_plans(self._initial_plans)
        self.engine.reset()
        self.adapter.clear_cache()
        self.journal.clear()
        old_store, self.store = self.store, MirrorStore(self.engine)
        self.registry_app.store = self.store
        old_store.close()
        self.set_auth(self._initial_auth)
        if self._taken_down:
            self.bring_up()

    def state(self) -> dict[str, Any]:
        """The mirror's state as plain data (what ``GET /_flakymirror/state`` answers)."""
        now = self.clock.now()
        rules, counters = self.faults.rules, self.faults.counters()
        return {
            "url": self.url,
            "listener": {"up": self.is_up, "url": self.url},
            "control_url": self.control_url,
            "ca_file": self.ca_file,
            "upstream": self.adapter.describe(),
            "clock": {
                **self.clock.to_dict(),
                "now": now,
                "t": elapsed(now, self.epoch),
                "sleeps": getattr(self.clock, "sleeps", []),
            },
            "plans": [p.to_dict() for p in self.plans],
            "faults": [
                {**rule.to_dict(), **count} for rule, count in zip(rules, counters, strict=False)
            ],
            "journal": {"entries": len(self.journal), "dropped": self.journal.dropped},
            "images": self.engine.state(),
        }

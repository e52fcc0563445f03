"""``FlakyMirror``: a registry mirror whose content comes from an upstream and which fails the
way real mirrors fail. The README section "The flaky mirror" is the user guide."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
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
from flakymirror.registry.server import ServerHandle
from flakymirror.registry.store import Store

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
    wall time is switched to the mirror clock). :meth:`reset` returns to the plan and faults
    given here.
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
    ) -> None:
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
        if auth is not None and getattr(auth, "clock", None) is time.time:
            auth.clock = self.clock.now
        self.registry_app = RegistryApp(self.store, auth=auth, strict_accept=strict_accept)
        self.control: Callable[..., Any] = ControlAPI(self)
        self.app = MirrorApp(self)
        # one clock: the Date header follows the mirror clock (Retry-After dates do too)
        self.server = Server(
            self.app, host=host, port=port, ssl_context=ssl_context, date_clock=self.clock.now
        )
        self.server.on_reject = self.app.rejected

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FlakyMirror:
        """Start serving (a no-op when running); returns the mirror."""
        if not self.server.is_running():
            self.interrupt.clear()
            self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled responses are released first so stop never hangs."""
        self.interrupt.set()
        if self.server.is_running():
            self.server.stop()

    def close(self) -> None:
        """Stop, release the upstream adapter, drop temporary files."""
        self.stop()
        self.adapter.close()
        self.store.close()
        if self._own_upstream is not None:
            self._own_upstream.close()

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

    def reset(self, *, upstream: bool = False) -> None:
        """Back to a clean state: the constructor's plan and faults (none by default), an empty
        journal, the clock reset, no tracked images, no cached upstream content, nothing pushed
        to the mirror itself, stalled responses released. Upstream content is kept, unless
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

    def state(self) -> dict[str, Any]:
        """The mirror's state as plain data (what ``GET /_flakymirror/state`` answers)."""
        now = self.clock.now()
        rules, counters = self.faults.rules, self.faults.counters()
        return {
            "url": self.url,
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

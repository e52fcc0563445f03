"""``FlakyMirror``: a registry mirror whose content comes from an upstream and which fails the
way real mirrors fail. The README section "The flaky mirror" is the user guide."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from ssl import SSLContext
from typing import Any

from flakymirror.mirror.app import MirrorApp
from flakymirror.mirror.clock import Clock, RealClock, elapsed
from flakymirror.mirror.control import ControlAPI
from flakymirror.mirror.core import MirrorCore, build_core, on_clock
from flakymirror.mirror.faults import FaultRule, Faults
from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE, Journal
from flakymirror.mirror.plans import SyncPlan, plans_from_dict
from flakymirror.mirror.store import MirrorStore
from flakymirror.mirror.sync import SyncEngine
from flakymirror.mirror.upstream import InProcessUpstream, Upstream, open_upstream
from flakymirror.registry import Registry, RegistryApp, Server
from flakymirror.registry.auth import RegistryAuth
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
    or any object following :class:`~flakymirror.mirror.upstream.Upstream`. :attr:`upstream`
    is what was given (the URL without a trailing ``/``; the mirror's own ``Registry`` for
    ``None``), :attr:`upstream_reader` the ``Upstream`` the mirror reads it through.
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
    can refuse client connections while the control API stays reachable. ``control_token``:
    every control request must carry it as ``X-Flakymirror-Token`` (see
    :mod:`~flakymirror.mirror.control_guard` for the checks every control request passes).
    ``public_url``: the URL clients know the mirror by (``http://buildbox:5000``); its Bearer
    ``realm`` and the ``Host`` its control API accepts follow it.
    """

    def __init__(
        self,
        upstream: Registry | Store | str | Upstream | None = None,
        *,
        clock: Clock | None = None,
        plan: SyncPlan | Sequence[SyncPlan] | None = None,
        faults: Iterable[FaultRule] = (),
        auth: RegistryAuth | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        credentials: tuple[str, str] | None = None,
        strict_accept: bool = False,
        ssl_context: SSLContext | None = None,
        tls: bool = False,
        control_port: int | None = None,
        control_token: str | None = None,
        public_url: str | None = None,
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
        clock = clock if clock is not None else RealClock()
        #: What the constructor was given as ``upstream`` (see the class docstring).
        self.upstream: Registry | Store | str | Upstream
        self.upstream, reader = open_upstream(upstream, credentials)
        made = upstream is None and isinstance(self.upstream, Registry)
        self._own_upstream: Registry | None = self.upstream if made else None
        self._initial_plans = _as_plans(plan)
        self._initial_faults = tuple(faults)
        self._initial_auth = auth
        self._journal_size = journal_size
        self._strict_accept = strict_accept
        core = self._build_core(reader, clock)
        self.control = ControlAPI(self, token=control_token)
        self.control_server: Server | None = None
        self._taken_down = False
        if control_port is not None:
            self.control_server = Server(self.control, host="127.0.0.1", port=control_port)
        # the control API shares the main port unless it has a listener of its own
        self.app = MirrorApp(core, control=self.control if self.control_server is None else None)
        # one clock: the Date header follows the mirror clock (Retry-After dates do too)
        self.server = Server(
            self.app,
            host=host,
            port=port,
            ssl_context=ssl_context,
            date_clock=clock.now,
            public_url=public_url,
        )
        self.server.refusal_app = self.app.refused

    def _build_core(self, reader: Upstream, clock: Clock) -> MirrorCore:
        """A fresh core over ``reader`` with the initial plan, faults and auth."""
        return build_core(
            reader,
            clock,
            plans=self._initial_plans,
            faults=self._initial_faults,
            auth=self._initial_auth,
            journal_size=self._journal_size,
            strict_accept=self._strict_accept,
        )

    # -- the current core (a request keeps the one it arrived with) ------------------------------
    @property
    def core(self) -> MirrorCore:
        """The state new requests see; :meth:`reset` replaces it whole."""
        return self.app.core

    @property
    def clock(self) -> Clock:
        """The mirror's clock (the same object for the mirror's life)."""
        return self.app.core.clock

    @property
    def epoch(self) -> float:
        """The clock time of ``t = 0`` (the last reset, or construction)."""
        return self.app.core.epoch

    @property
    def journal(self) -> Journal:
        """The request journal since the last reset."""
        return self.app.core.journal

    @property
    def faults(self) -> Faults:
        """The active fault rules with their counters."""
        return self.app.core.faults

    @property
    def engine(self) -> SyncEngine:
        """The sync engine: tracked images and their views."""
        return self.app.core.engine

    @property
    def store(self) -> MirrorStore:
        """Content pushed to the mirror itself, and the sync view over the upstream."""
        return self.app.core.store

    @property
    def registry_app(self) -> RegistryApp:
        """The registry app that serves the sync view (auth, routing, errors)."""
        return self.app.core.registry_app

    @property
    def interrupt(self) -> threading.Event:
        """Set to release the stalled responses under way (reset, stop, take-down)."""
        return self.app.core.interrupt

    @property
    def upstream_reader(self) -> Upstream:
        """The :class:`~flakymirror.mirror.upstream.Upstream` the mirror reads its content
        through: an ``InProcessUpstream``, an ``HttpUpstream``, or the one given."""
        return self.app.core.upstream_reader

    @property
    def adapter(self) -> Upstream:
        """Deprecated name of :attr:`upstream_reader` (goes in the next release)."""
        warnings.warn(
            "FlakyMirror.adapter is deprecated and goes in the next release; "
            "use FlakyMirror.upstream_reader",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.upstream_reader

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
        """Stop both listeners, release the upstream reader, drop temporary files (the CA file
        of ``tls=True`` too)."""
        self.stop()
        self.upstream_reader.close()
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
        core = self.core
        core.interrupt.set()
        self.server.stop()
        self.app.core = replace(core, interrupt=threading.Event())
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

    def set_auth(self, auth: RegistryAuth | None) -> None:
        """Replace the mirror's own auth (None: anonymous), as the constructor takes it: a
        ``BearerAuth`` left on wall time is switched to the mirror clock. Applies from the next
        request on (the manifest fast path, which only serves anonymous mirrors, notices)."""
        self.registry_app.auth = on_clock(auth, self.clock)

    def __enter__(self) -> FlakyMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FlakyMirror {self.url} upstream={self.upstream_reader.describe()}>"

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
        reader = self.upstream_reader
        if isinstance(reader, InProcessUpstream):
            source = reader.source
            if isinstance(source, Registry):
                return source.push(image, reference)
            return Registry(store=source).push(image, reference)
        raise TypeError(
            "push_upstream needs an in-process upstream; push to the real registry instead"
        )

    def set_initial(
        self,
        *,
        plan: SyncPlan | Sequence[SyncPlan] | dict | None = None,
        faults: Iterable[FaultRule] = (),
        auth: RegistryAuth | None = None,
        journal_size: int | None = None,
    ) -> None:
        """Make ``plan``, ``faults`` and ``auth`` (and ``journal_size``, unless None) what
        :meth:`reset` returns to (instead of the constructor's), then reset to them: a scenario
        loaded into a running mirror survives a ``POST /_flakymirror/reset``."""
        if journal_size is not None:
            self._journal_size = journal_size
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
        replaced by an empty one.

        All of that is a fresh :class:`~flakymirror.mirror.core.MirrorCore`, swapped in at
        once: a request arriving during the reset sees the old state or the new, never a mix,
        and a response under way finishes against the core it started with."""
        if upstream and self._own_upstream is None:
            raise TypeError("reset(upstream=True) needs the mirror's own in-process upstream")
        old = self.core
        reader = old.upstream_reader
        old_registry = None
        if upstream:
            old_registry, self._own_upstream = self._own_upstream, Registry()
            self.upstream = self._own_upstream
            reader = InProcessUpstream(self._own_upstream)
        old.clock.reset()
        reader.clear_cache()
        self.app.core = self._build_core(reader, old.clock)  # the one step
        old.interrupt.set()  # stalled responses under way are released
        old.store.close()
        if old_registry is not None:
            old_registry.close()
        if self._taken_down:
            self.bring_up()

    def state(self) -> dict[str, Any]:
        """The mirror's state as plain data (what ``GET /_flakymirror/state`` answers)."""
        now = self.clock.now()
        rules, counters = self.faults.rules, self.faults.counters()
        return {
            "url": self.url,
            "public_url": self.server.public_url,
            "listener": {"up": self.is_up, "url": self.url},
            "control_url": self.control_url,
            "ca_file": self.ca_file,
            "upstream": self.upstream_reader.describe(),
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

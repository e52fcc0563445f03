"""``MirrorCore``: everything a request through a :class:`~flakymirror.mirror.FlakyMirror`
reads, as one value.

:class:`FlakyMirror <flakymirror.mirror.mirror.FlakyMirror>` builds a core with
:func:`build_core` and hands it to its :class:`~flakymirror.mirror.app.MirrorApp`;
``reset()`` builds a fresh one and swaps it in with a single assignment. A request reads the
core once, when it arrives, and keeps it to the end: a reset in the middle of a response gives
the *next* request a clean journal, fault list, sync state and pushed content, while the
response under way finishes against what it started with (its stalls released). The parts are
mutable where the mirror's methods change them between resets (``set_plan``, ``add_fault``,
``set_auth``); the core itself is frozen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flakymirror.mirror.clock import Clock
from flakymirror.mirror.faults import FaultRule, Faults
from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE, Journal
from flakymirror.mirror.plans import SyncPlan
from flakymirror.mirror.store import MirrorStore
from flakymirror.mirror.sync import SyncEngine
from flakymirror.mirror.upstream import Upstream
from flakymirror.registry import RegistryApp
from flakymirror.registry.auth import AnonymousAuth, ClockedAuth, RegistryAuth

__all__ = ["MirrorCore", "build_core", "on_clock"]


@dataclass(frozen=True)
class MirrorCore:
    """The mirror's state for the requests that arrive until the next reset.

    ``clock`` is the mirror's for life (a reset resets it, never replaces it); ``epoch`` is
    the clock time ``t = 0`` of the journal and of plans with ``start_at``; ``interrupt``
    releases the stalls and delays of the responses under way (set on reset, stop and
    take-down).
    """

    clock: Clock
    epoch: float
    journal: Journal
    faults: Faults
    engine: SyncEngine
    store: MirrorStore
    registry_app: RegistryApp
    interrupt: threading.Event = field(default_factory=threading.Event)

    @property
    def upstream_reader(self) -> Upstream:
        """The :class:`~flakymirror.mirror.upstream.Upstream` the sync engine reads."""
        return self.engine.upstream


def build_core(
    reader: Upstream,
    clock: Clock,
    *,
    plans: Sequence[SyncPlan] = (),
    faults: Iterable[FaultRule] = (),
    auth: RegistryAuth | None = None,
    journal_size: int = DEFAULT_JOURNAL_SIZE,
    strict_accept: bool = False,
) -> MirrorCore:
    """A clean core reading ``reader``: an empty journal, ``faults`` with fresh counters, no
    tracked images, nothing pushed, ``auth`` on ``clock`` (:func:`on_clock`), the epoch at
    ``clock``'s now."""
    epoch = clock.now()
    journal = Journal(journal_size)
    engine = SyncEngine(reader, clock, plans, epoch=lambda: epoch)
    store = MirrorStore(engine)
    app = RegistryApp(store.pushed, auth=on_clock(auth, clock), strict_accept=strict_accept)
    return MirrorCore(clock, epoch, journal, Faults(tuple(faults)), engine, store, app)


def on_clock(auth: RegistryAuth | None, clock: Clock) -> RegistryAuth:
    """The mirror's auth for ``auth`` (None: anonymous): a :class:`ClockedAuth` left on wall
    time (``time.time``, ``BearerAuth``'s default) is switched to ``clock``, in place."""
    if auth is None:
        return AnonymousAuth()
    if isinstance(auth, ClockedAuth) and auth.clock is time.time:
        auth.clock = clock.now
    return auth

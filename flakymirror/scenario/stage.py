"""A scenario stood up on real sockets, for any client: the origin, the mirror, the images.

:class:`Stage` builds what a scenario file describes — the images (pushed to an in-process
registry, or to the ``[origin] url`` registry), the flaky mirror in front of them with the
scenario's sync plans, fault rules and auth (``[mirror] down``: its client-facing listener
refuses connections), and, when the scenario has an ``[origin]``, that origin serving on its own
port. ``flakymirror serve --scenario``, ``POST /_flakymirror/scenario``, the replay and the
incident × client matrix all stand scenarios up through it.

External clients meet a mirror on the real clock (a scenario's ``clock`` key is for the
reference client); ``time_scale`` divides every time in the scenario (plans, fault windows and
durations, ``Retry-After``, token lifetimes) so that incidents taking minutes run in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE
from flakymirror.scenario.budget import Budget, over_budget
from flakymirror.scenario.errors import ScenarioError, format_key
from flakymirror.scenario.model import AuthSpec, Scenario

__all__ = ["Stage", "StageOptions", "build_auth"]


@dataclass(frozen=True)
class StageOptions:
    """How to stand a scenario up.

    ``clock``: ``"real"`` (what external clients meet) or ``"virtual"`` (the reference
    client's). ``time_scale``: every time in the scenario is divided by it. ``tls``: the mirror
    serves HTTPS with a generated CA. ``control_port``: the control API on its own loopback
    listener (needed to take the mirror down while it stays reachable); ``control_token``: the
    token every control request must carry; ``public_url``: the URL clients know the mirror
    by (its Bearer realm and control ``Host`` follow it). ``allow_origin_url``:
    whether ``[origin] url`` may point the stage at a registry (only the command line may).
    ``budget``: a :class:`~flakymirror.scenario.budget.Budget` the scenario must stay within
    (None: none; ``POST /_flakymirror/scenario`` uses ``DEFAULT_BUDGET``).
    """

    clock: str = "real"
    time_scale: float = 1.0
    tls: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int | None = None
    control_token: str | None = None
    public_url: str | None = None
    journal_size: int = DEFAULT_JOURNAL_SIZE
    allow_origin_url: bool = True
    budget: Budget | None = None


def build_auth(spec: AuthSpec | None, clock: Any, time_scale: float = 1.0) -> Any:
    """The mirror's ``BasicAuth``/``BearerAuth`` for a scenario's ``[mirror.auth]`` (None:
    anonymous); token lifetimes are divided by ``time_scale``."""
    if spec is None:
        return None
    from flakymirror.registry.auth import BasicAuth, BearerAuth

    users = {spec.username: spec.password}
    if spec.kind == "basic":
        return BasicAuth(users)
    return BearerAuth(
        users,
        token_ttl=spec.token_ttl / time_scale,
        clock=clock.now,
        token_field=spec.token_field,
    )


def _check(scenario: Scenario, options: StageOptions) -> None:
    if options.time_scale <= 0:
        raise ValueError(f"time_scale must be > 0, got {options.time_scale}")
    if options.clock not in ("real", "virtual"):
        raise ValueError(f"clock must be 'real' or 'virtual', got {options.clock!r}")
    if scenario.origin is not None and scenario.origin.url and not options.allow_origin_url:
        raise ScenarioError(
            "an origin URL is refused here: only the command line may point the mirror at a "
            "registry",
            path=scenario.path,
            key="origin.url",
        )
    over = over_budget(scenario, options.budget) if options.budget is not None else None
    if over is not None:
        key, message = over
        raise ScenarioError(message, path=scenario.path, key=format_key(key))


class Stage:
    """A scenario on real sockets (see the module docstring); a context manager.

    After :meth:`start`: ``mirror`` (the ``FlakyMirror``), ``upstream`` (the in-process registry
    holding the images; it is the served origin for an in-process ``[origin]``), ``images``
    (built images by ``"repo:tag"``), ``origin_host`` (``HOST:PORT`` of the origin, or None).
    """

    def __init__(self, scenario: Scenario, options: StageOptions | None = None) -> None:
        self.options = options or StageOptions()
        _check(scenario, self.options)
        self.scenario = scenario
        self.images: dict[str, Any] = {}
        self.mirror: Any = None
        self.upstream: Any = None
        self.origin_url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Stage:
        """Build the images, the origin and the mirror, apply the scenario, start serving."""
        from flakymirror.mirror import FlakyMirror, RealClock, VirtualClock
        from flakymirror.registry import Registry

        o = self.options
        clock = VirtualClock() if o.clock == "virtual" else RealClock()
        self.upstream = Registry(host=o.host)
        url = self.scenario.origin.url if self.scenario.origin is not None else None
        try:
            self.mirror = FlakyMirror(
                url if url else self.upstream,
                clock=clock,
                host=o.host,
                port=o.port,
                journal_size=self.scenario.mirror.journal_size or o.journal_size,
                tls=o.tls,
                control_port=o.control_port,
                control_token=o.control_token,
                public_url=o.public_url,
            )
            self.mirror.start()
            self._apply(self.scenario)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the mirror and the origin; drop their content."""
        if self.mirror is not None:
            self.mirror.close()
        if self.upstream is not None:
            self.upstream.close()

    def __enter__(self) -> Stage:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, scenario: Scenario, *, budget: Budget | None = None) -> None:
        """Replace the running stage's scenario, as ``POST /_flakymirror/scenario`` does: a
        full reset (journal, clock, plans, faults, upstream content), then the new scenario's
        set-up. The listeners keep their ports; an in-process origin keeps its port too. An
        ``[origin] url`` is refused (only the command line may point the mirror at a
        registry), and so is a scenario over ``budget`` (default: the options' budget)."""
        from dataclasses import replace

        budget = budget if budget is not None else self.options.budget
        _check(scenario, replace(self.options, allow_origin_url=False, budget=budget))
        if self.origin_url_mode:
            raise ScenarioError(
                "this stage pulls through from an origin URL; start another one instead",
                path=scenario.path,
                key="origin",
            )
        self.upstream.store.clear()
        self.scenario = scenario
        self._apply(scenario)

    @property
    def origin_url_mode(self) -> bool:
        """True when the mirror pulls through from an ``[origin] url`` registry."""
        return self.origin_url is not None and self.scenario.origin is not None and bool(
            self.scenario.origin.url
        )

    # -- set-up --------------------------------------------------------------------------------
    def _apply(self, scenario: Scenario) -> None:
        from flakymirror.distribution import push

        o = self.options
        url = scenario.origin.url if scenario.origin is not None else None
        self.images = {}
        for spec in scenario.images:
            image = spec.build()
            if url:
                repo, _, tag = spec.ref.rpartition(":")
                push(url, image, repo, tag)
            else:
                self.upstream.push(image, spec.ref)
            self.images[spec.ref] = image
        m = self.mirror
        m.set_initial(
            plan=[p.scaled(o.time_scale) for p in scenario.mirror.plans] or None,
            faults=[rule.scaled(o.time_scale) for rule in scenario.mirror.faults],
            auth=build_auth(scenario.mirror.auth, m.clock, o.time_scale),
            journal_size=scenario.mirror.journal_size or o.journal_size,
        )
        if url:
            self.origin_url = url
        elif scenario.origin is not None:
            if not self.upstream.is_running():
                self.upstream.start()
            self.origin_url = self.upstream.url
        else:
            if self.upstream.is_running():
                self.upstream.stop()
            self.origin_url = None
        if scenario.mirror.down and m.is_up:
            m.take_down()
        elif not scenario.mirror.down and not m.is_up:
            m.bring_up()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def origin_host(self) -> str | None:
        """``HOST:PORT`` of the origin (None without one)."""
        return urlsplit(self.origin_url).netloc if self.origin_url else None

    def resolve(self, ref: str) -> str:
        """``repo:tag`` as is; ``repo@{digest}``/``repo@{index_digest}`` with the built
        image's digest (``{digest}`` of an index: its child for the scenario's platform)."""
        from flakymirror.scenario.execute import resolve

        return resolve(ref, self.scenario, self.images, self.scenario.platform)

    def mirror_ref(self, ref: str) -> str:
        """The full reference of ``ref`` through the mirror."""
        return f"{self.mirror.host}/{self.resolve(ref)}"

    def origin_ref(self, ref: str) -> str | None:
        """The full reference of ``ref`` at the origin (None without one)."""
        host = self.origin_host
        return f"{host}/{self.resolve(ref)}" if host else None

    def describe(self) -> dict[str, Any]:
        """``url``, ``public_url`` (None unless given), ``host``, ``images`` (each ``repo:tag`` →
        the mirror reference to pull), ``origin`` (its URL or None), ``incident_image``, and the
        control API's URL."""
        m = self.mirror
        return {
            "url": m.url,
            "public_url": m.server.public_url,
            "host": m.host,
            "images": {ref: self.mirror_ref(ref) for ref in self.images},
            "origin": self.origin_url,
            "incident_image": self.mirror_ref(self.scenario.incident_image),
            "control": m.control_url,
            "down": not m.is_up,
            "ca_file": m.ca_file,
        }

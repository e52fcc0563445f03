"""What a scenario file says, as frozen values.

A :class:`Scenario` is one incident: the images pushed upstream (:class:`ImageSpec`), what the
mirror does (:class:`MirrorSpec`: the mirror's own sync-plan and fault-rule values), an optional
healthy origin behind it (:class:`OriginSpec`), what the incident means for any client
(:class:`Incident`: survivable or not, when it converges, the image under test), the clock, and
optionally the reference client's action (:class:`Action`) and what it must observe
(:class:`Expectations`). Every value has a readable ``repr``, compares by value and converts
back to the dict/TOML form with ``to_dict()`` (the loader's inverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flakymirror.oci.policy import LIFECYCLE_POLICY, RETRY_PROFILES
from flakymirror.oci.protocol import ENDPOINT_KINDS
from flakymirror.scenario.incident import Convergence, Incident, OriginSpec

__all__ = [
    "ACTIONS",
    "CLOCKS",
    "ENDPOINT_KINDS",
    "LIFECYCLE_DELAYS",
    "OUTCOMES",
    "PROFILES",
    "Action",
    "AuthSpec",
    "Convergence",
    "Elapsed",
    "Expectations",
    "ImageSpec",
    "Incident",
    "MirrorSpec",
    "OriginSpec",
    "Scenario",
    "Sleeps",
]

ACTIONS = ("open", "export", "rebase")
CLOCKS = ("virtual", "real")
OUTCOMES = ("success", "error")
PROFILES = RETRY_PROFILES
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: lifecycle phase/retry.go topLayerDelays: the default ``[action] delays``.
LIFECYCLE_DELAYS: tuple[float, ...] = LIFECYCLE_POLICY.delays


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None (TOML has no null)."""
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class ImageSpec:
    """A synthetic image (or index, when ``platforms`` is given) pushed upstream as ``ref``."""

    ref: str
    layers: int = 3
    seed: int = 0
    layer_size: int = 4096
    layer_sizes: tuple[int, ...] = ()
    platform: str = "linux/amd64"
    platforms: tuple[str, ...] = ()
    flavor: str = "oci"
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def repository(self) -> str:
        """``repo`` of ``repo:tag``."""
        return self.ref.rpartition(":")[0]

    @property
    def tag(self) -> str:
        """``tag`` of ``repo:tag``."""
        return self.ref.rpartition(":")[2]

    @property
    def layer_count(self) -> int:
        """Layers per image: ``len(layer_sizes)`` when given, else ``layers``."""
        return len(self.layer_sizes) if self.layer_sizes else self.layers

    @property
    def is_index(self) -> bool:
        """True when this spec builds a multi-platform index."""
        return bool(self.platforms)

    def build(self) -> Any:
        """Build the deterministic :class:`~flakymirror.oci.Image` or ``ImageIndex``."""
        from flakymirror.oci import build_image, build_index

        kw: dict[str, Any] = {
            "layers": self.layer_count,
            "seed": self.seed,
            "layer_size": self.layer_size,
            "flavor": self.flavor,
            "labels": dict(self.labels) or None,
        }
        if self.layer_sizes:
            kw["layer_sizes"] = list(self.layer_sizes)
        if self.platforms:
            return build_index(platforms=self.platforms, **kw)
        return build_image(platform=self.platform, **kw)

    def to_dict(self) -> dict[str, Any]:
        """The ``[[images]]`` table."""
        d: dict[str, Any] = {"ref": self.ref, "layers": self.layers, "seed": self.seed}
        if self.layer_sizes:
            d["layer_sizes"] = list(self.layer_sizes)
        else:
            d["layer_size"] = self.layer_size
        if self.platforms:
            d["platforms"] = list(self.platforms)
        else:
            d["platform"] = self.platform
        d["flavor"] = self.flavor
        if self.labels:
            d["labels"] = dict(self.labels)
        return d


@dataclass(frozen=True)
class AuthSpec:
    """Authentication in front of the mirror, and the credentials the client presents."""

    kind: str  # "basic" | "bearer"
    username: str = "user"
    password: str = "secret"
    token_ttl: float = 300.0
    token_field: str = "token"
    client_credentials: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The ``[mirror.auth]`` table."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "username": self.username,
            "password": self.password,
        }
        if self.kind == "bearer":
            d["token_ttl"] = self.token_ttl
            d["token_field"] = self.token_field
        d["client_credentials"] = self.client_credentials
        return d


@dataclass(frozen=True)
class MirrorSpec:
    """The mirror's behaviour: sync plans and fault rules (the mirror's own values) and auth.

    ``plans`` holds the mirror's ``SyncPlan`` values (first match wins); ``faults`` its
    ``FaultRule`` values, in order. ``journal_size``: how many journal entries the mirror the
    scenario stands up keeps (None: the mirror's default); request counts never depend on it.
    """

    plans: tuple[Any, ...] = ()
    faults: tuple[Any, ...] = ()
    auth: AuthSpec | None = None
    down: bool = False
    journal_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``[mirror]`` table."""
        d: dict[str, Any] = {}
        if self.down:
            d["down"] = True
        if len(self.plans) == 1:
            d["plan"] = self.plans[0].to_dict()
        elif self.plans:
            d["plan"] = [plan.to_dict() for plan in self.plans]
        if self.faults:
            d["faults"] = [rule.to_dict() for rule in self.faults]
        if self.auth is not None:
            d["auth"] = self.auth.to_dict()
        if self.journal_size is not None:
            d["journal_size"] = self.journal_size
        return d


@dataclass(frozen=True)
class Action:
    """What the client does: ``open`` an image, ``export`` an app image or ``rebase`` one.

    ``image`` is the image opened through the retrying opener: the image to open, the run
    image of an export, or the new run image of a rebase. ``output`` is where an export pushes
    the app image. A rebase first exports (unrecorded set-up) an app image to ``app_image`` on
    top of ``base_image`` (one of the scenario's images), naming ``image`` as its run image in
    the metadata, as if the run image tag had moved on since; then rebases ``app_image`` (saved
    to ``output``, default ``app_image``) onto ``image``.
    """

    kind: str
    image: str
    profile: str = "ggcr-v0.21.9"
    delays: tuple[float, ...] = LIFECYCLE_DELAYS
    platform: str | None = None
    output: str | None = None
    app_image: str | None = None
    base_image: str | None = None
    previous_image: str | None = None
    force: bool = False
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The ``[action]`` table."""
        return _prune(
            {
                "kind": self.kind,
                "image": self.image,
                "profile": self.profile,
                "delays": list(self.delays),
                "platform": self.platform,
                "output": self.output,
                "app_image": self.app_image,
                "base_image": self.base_image,
                "previous_image": self.previous_image,
                "force": self.force if self.kind == "rebase" else None,
                "seed": self.seed,
            }
        )


@dataclass(frozen=True)
class Sleeps:
    """Expected sleeps: the opener's (lifecycle's delays) and ggcr's transport retries.

    ``None`` means "not checked". A transport sleep may exceed its listed value by up to
    ``jitter`` × the value (ggcr's backoff jitter is +0…10 %); every comparison also allows
    ``tolerance`` seconds either way.
    """

    opener: tuple[float, ...] | None = None
    transport: tuple[float, ...] | None = None
    jitter: float = 0.0
    tolerance: float = 1e-6

    def to_dict(self) -> dict[str, Any]:
        """The ``[expect.sleeps]`` table."""
        d: dict[str, Any] = {}
        if self.opener is not None:
            d["opener"] = list(self.opener)
        if self.transport is not None:
            d["transport"] = list(self.transport)
        if self.jitter:
            d["jitter"] = self.jitter
        if self.tolerance != 1e-6:
            d["tolerance"] = self.tolerance
        return d


@dataclass(frozen=True)
class Elapsed:
    """Bounds on elapsed time: ``min``/``max`` on the mirror clock, ``wall_max`` in real seconds."""

    min: float | None = None
    max: float | None = None
    wall_max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``[expect.elapsed]`` table."""
        return _prune({"min": self.min, "max": self.max, "wall_max": self.wall_max})


@dataclass(frozen=True)
class Expectations:
    """Everything that must hold after the action ran; ``None`` fields are not checked.

    ``requests`` maps an endpoint kind (``manifest``) or ``"METHOD kind"`` (``HEAD blob``) to
    the exact number of journal entries. ``status`` is the HTTP status of the transport error in
    the final error's cause chain (0: there must be none). ``top_layer`` is the diffID the
    opened image reports as its top layer (``"{diff_id3}"`` names the action image's 3rd).
    Texts may use the placeholders ``{host}``, ``{digest}``, ``{index_digest}``, ``{config}``,
    ``{layerN}`` and ``{diff_idN}`` (see :func:`flakymirror.scenario.runner.placeholders`).
    """

    outcome: str
    error: str | None = None
    error_contains: tuple[str, ...] = ()
    exit_code: int | None = None
    status: int | None = None
    attempts: int | None = None
    logs: tuple[str, ...] | None = None
    top_layer: str | None = None
    sleeps: Sleeps = field(default_factory=Sleeps)
    requests: tuple[tuple[str, int], ...] = ()
    elapsed: Elapsed = field(default_factory=Elapsed)

    def to_dict(self) -> dict[str, Any]:
        """The ``[expect]`` table."""
        d: dict[str, Any] = _prune(
            {
                "outcome": self.outcome,
                "error": self.error,
                "error_contains": list(self.error_contains) or None,
                "exit_code": self.exit_code,
                "status": self.status,
                "attempts": self.attempts,
                "logs": list(self.logs) if self.logs is not None else None,
                "top_layer": self.top_layer,
            }
        )
        if self.sleeps.to_dict():
            d["sleeps"] = self.sleeps.to_dict()
        if self.requests:
            d["requests"] = dict(self.requests)
        if self.elapsed.to_dict():
            d["elapsed"] = self.elapsed.to_dict()
        return d


@dataclass(frozen=True)
class Scenario:
    """One incident: images, mirror behaviour, clock, and optionally the reference client's
    action and expectations (a scenario without them is a pure mirror incident that any client
    can be run against)."""

    name: str
    description: str
    source: tuple[str, ...]
    images: tuple[ImageSpec, ...]
    action: Action | None = None
    expect: Expectations | None = None
    mirror: MirrorSpec = field(default_factory=MirrorSpec)
    clock: str = "virtual"
    incident: Incident = field(default_factory=Incident)
    origin: OriginSpec | None = None
    path: str | None = field(default=None, compare=False)

    def image(self, ref: str) -> ImageSpec | None:
        """The image spec pushed as ``ref``, if any."""
        return next((i for i in self.images if i.ref == ref), None)

    @property
    def incident_image(self) -> str:
        """The image under test: ``[incident] image``, else the action's image, else the first
        image (``"repo:tag"`` or ``"repo@{digest}"``)."""
        if self.incident.image is not None:
            return self.incident.image
        if self.action is not None:
            return self.action.image
        return self.images[0].ref

    @property
    def platform(self) -> str:
        """The platform under test (the action's, else ``linux/amd64``)."""
        return (self.action.platform if self.action is not None else None) or "linux/amd64"

    @property
    def reference_action(self) -> Action:
        """What the reference client runs: the ``[action]``, else an ``open`` of the incident
        image with lifecycle's defaults."""
        return self.action if self.action is not None else Action("open", self.incident_image)

    def to_dict(self) -> dict[str, Any]:
        """The whole file as a dict (``tomllib`` form); loading it gives an equal scenario."""
        d: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": list(self.source) if len(self.source) != 1 else self.source[0],
            "clock": self.clock,
            "images": [i.to_dict() for i in self.images],
        }
        mirror = self.mirror.to_dict()
        if mirror:
            d["mirror"] = mirror
        if self.origin is not None:
            d["origin"] = self.origin.to_dict()
        incident = self.incident.to_dict()
        if incident:
            d["incident"] = incident
        if self.action is not None:
            d["action"] = self.action.to_dict()
        if self.expect is not None:
            d["expect"] = self.expect.to_dict()
        return d


def label_pairs(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Labels as a sorted tuple of pairs (hashable, stable repr)."""
    return tuple(sorted(labels.items()))

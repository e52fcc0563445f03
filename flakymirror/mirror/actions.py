"""Fault actions: what a rule does to a matching request. Pure values; their effects live in
:mod:`flakymirror.mirror.effects` (one function per action kind).

Actions that *answer* before the registry: ``status``, ``reset``, ``close``, ``garbage``.
Before the registry without answering: ``delay``. Actions that *transform* the registry's
response: ``headers``, ``drip``, ``truncate``, ``corrupt``, ``wrong-digest``, ``stall``.
``pass`` does nothing (a "behave normally" step in a sequence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from flakymirror.mirror.forms import (
    MAX_BYTES,
    Form,
    FormError,
    _short,
    header_map,
    header_name,
    header_value,
    integer,
    join,
    kind_from_dict,
    one_of,
    seconds,
    suggest,
)
from flakymirror.mirror.scaling import scale_headers, scale_retry_after, scale_seconds, time_factor
from flakymirror.oci.digest import Digest, DigestError

__all__ = [
    "ACTIONS",
    "Action",
    "Close",
    "Corrupt",
    "Delay",
    "Drip",
    "Garbage",
    "Headers",
    "Pass",
    "Reset",
    "Stall",
    "Status",
    "Truncate",
    "WrongDigest",
    "action_from_dict",
]


def __getattr__(name: str) -> Any:
    """The presets, moved to :mod:`flakymirror.mirror.presets` (importable from here still)."""
    if name in ("hap429", "html_403", "pull_rate_limit"):
        from flakymirror.mirror import presets

        return getattr(presets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BODY_SHAPES = ("oci", "text", "html", "empty")
#: Most pieces a drip splits a body into.
MAX_CHUNKS = 100_000


class _Base:
    kind: ClassVar[str]
    #: "answer" (replaces the response), "before" (runs before the registry), "after"
    stage: ClassVar[str]
    #: Fields that hold a duration in seconds (divided by :meth:`scaled`'s factor).
    durations: ClassVar[tuple[str, ...]] = ()

    def scaled(self, factor: float) -> Any:
        """This action run ``factor`` times faster (``factor`` > 0): every duration divided by
        it (ten years at most); an action without one is returned as it is."""
        f = time_factor(factor)
        values = {n: getattr(self, n) for n in self.durations if f != 1}
        changes = {n: scale_seconds(v, f) for n, v in values.items() if v is not None}
        return replace(self, **changes) if changes else self  # type: ignore[type-var]

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> Any:
        """Read this action's dict form (``kind`` may be omitted)."""
        return kind_from_dict(cls, data, path, action_from_dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None or value == f.default or (value == {} and f.name == "headers"):
                continue
            d[f.name] = list(value) if isinstance(value, tuple) else value
        return d


@dataclass(frozen=True)
class Status(_Base):
    """Answer with ``status`` and a body in one of four shapes.

    * ``body="oci"``: ``{"errors":[{"code","message","detail"}]}`` (``code`` defaults from the
      status and endpoint, e.g. 429 → TOOMANYREQUESTS, 404 on a blob → BLOB_UNKNOWN);
    * ``"text"``: ``text`` as ``text/plain`` (LF line endings kept as given);
    * ``"html"``: an HTML error page (``text`` replaces the default page);
    * ``"empty"``: no body.

    ``status`` is 200-599 (a 204 or 304 is sent without a body). ``headers`` are added as
    given (names must be tokens; values Latin-1 without CR/LF). ``retry_after`` (0 to ten
    years) adds ``Retry-After`` in seconds, or as an HTTP-date on the mirror clock when
    ``retry_after_format="http-date"``.
    ``www_authenticate``: ``None`` (no challenge), ``"bearer"``/``"basic"`` (a challenge built for
    this mirror and the request's repository), or any literal header value.
    """

    status: int = 503
    body: str = "oci"
    code: str | None = None
    message: str | None = None
    detail: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    retry_after_format: str = "seconds"
    www_authenticate: str | None = None
    kind: ClassVar[str] = "status"
    stage: ClassVar[str] = "answer"

    def __post_init__(self) -> None:
        status = integer(self.status, "status")
        if not 200 <= status <= 599:
            # 1xx are interim answers: a request cannot end with one
            raise FormError("status", f"must be an HTTP status (200-599), got {_short(status)}")
        object.__setattr__(self, "status", status)
        one_of(self.body, BODY_SHAPES, "body")
        for name in ("code", "message", "text", "www_authenticate"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise FormError(name, f"expected a string, got {value!r}")
        if self.www_authenticate is not None:
            header_value(self.www_authenticate, "www_authenticate")
        if self.detail is not None:
            try:
                json.dumps(self.detail)
            except (TypeError, ValueError, RecursionError):
                raise FormError("detail", "expected a JSON value") from None
        object.__setattr__(self, "headers", header_map(self.headers, "headers"))
        if self.retry_after is not None:
            object.__setattr__(self, "retry_after", seconds(self.retry_after, "retry_after"))
        one_of(self.retry_after_format, ("seconds", "http-date"), "retry_after_format")

    def __hash__(self) -> int:
        return hash((self.status, self.body, self.code, self.text, tuple(self.headers.items())))

    def scaled(self, factor: float) -> Status:
        """``retry_after`` (and a ``Retry-After`` in ``headers``) divided by ``factor`` and
        rounded up to a whole second (at least 1 when it was at least 1)."""
        f = time_factor(factor)
        if f == 1:
            return self
        ra = None if self.retry_after is None else scale_retry_after(self.retry_after, f)
        return replace(self, retry_after=ra, headers=scale_headers(self.headers, f))

    def to_dict(self) -> dict[str, Any]:
        """The dict form (``kind``, ``status`` and every field not at its default)."""
        return {"kind": self.kind, "status": self.status, **_Base.to_dict(self)}


@dataclass(frozen=True)
class Reset(_Base):
    """Connection reset by peer (TCP RST), no response."""

    kind: ClassVar[str] = "reset"
    stage: ClassVar[str] = "answer"


@dataclass(frozen=True)
class Close(_Base):
    """Close the connection without sending anything (an empty response)."""

    kind: ClassVar[str] = "close"
    stage: ClassVar[str] = "answer"


@dataclass(frozen=True)
class Garbage(_Base):
    """Send ``size`` random bytes (from ``seed``; at most 1 GiB, streamed) instead of a
    response, then close."""

    size: int = 64
    seed: int = 0
    kind: ClassVar[str] = "garbage"
    stage: ClassVar[str] = "answer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", integer(self.size, "size", minimum=1, maximum=MAX_BYTES))
        object.__setattr__(self, "seed", integer(self.seed, "seed"))


@dataclass(frozen=True)
class Delay(_Base):
    """Wait ``seconds`` (0 to ten years) before the response headers (under a virtual clock:
    advance it)."""

    seconds: float = 1.0
    kind: ClassVar[str] = "delay"
    stage: ClassVar[str] = "before"
    durations: ClassVar[tuple[str, ...]] = ("seconds",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", seconds(self.seconds, "seconds"))


@dataclass(frozen=True)
class Headers(_Base):
    """Set (``set``) or remove (``remove``, case-insensitive names) response headers.

    Names must be HTTP tokens and values Latin-1 text without CR, LF or other control
    characters. A ``Content-Length`` must be a decimal; one shorter than the body cuts it.
    """

    set: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    kind: ClassVar[str] = "headers"
    stage: ClassVar[str] = "after"

    def __post_init__(self) -> None:
        object.__setattr__(self, "set", header_map(self.set, "set"))
        remove = self.remove
        if isinstance(remove, str):
            remove = (remove,)
        if not isinstance(remove, list | tuple):
            raise FormError("remove", f"expected a list of header names, got {remove!r}")
        object.__setattr__(
            self, "remove", tuple(header_name(r, ("remove", i)) for i, r in enumerate(remove))
        )

    def __hash__(self) -> int:
        return hash((tuple(self.set.items()), self.remove))

    def scaled(self, factor: float) -> Headers:
        """A ``Retry-After`` set in whole seconds scaled as :meth:`Status.scaled` does it."""
        f = time_factor(factor)
        return self if f == 1 else replace(self, set=scale_headers(self.set, f))

    def to_dict(self) -> dict[str, Any]:
        """The dict form (``kind``, then ``set``/``remove`` when given)."""
        d: dict[str, Any] = {"kind": self.kind}
        if self.set:
            d["set"] = dict(self.set)
        if self.remove:
            d["remove"] = list(self.remove)
        return d


@dataclass(frozen=True)
class Drip(_Base):
    """Send the body in ``chunks`` pieces (at most 100000) spread over ``seconds`` (at most
    ten years), WireMock's dribble."""

    chunks: int = 4
    seconds: float = 1.0
    kind: ClassVar[str] = "drip"
    stage: ClassVar[str] = "after"
    durations: ClassVar[tuple[str, ...]] = ("seconds",)

    def __post_init__(self) -> None:
        chunks = integer(self.chunks, "chunks", minimum=1, maximum=MAX_CHUNKS)
        object.__setattr__(self, "chunks", chunks)
        object.__setattr__(self, "seconds", seconds(self.seconds, "seconds"))


@dataclass(frozen=True)
class Truncate(_Base):
    """Send the headers (with the full ``Content-Length``), ``after`` body bytes, then close
    (``reset=True``: reset instead of a clean close)."""

    after: int = 0
    reset: bool = False
    kind: ClassVar[str] = "truncate"
    stage: ClassVar[str] = "after"

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", integer(self.after, "after", minimum=0))
        if not isinstance(self.reset, bool):
            raise FormError("reset", f"expected true or false, got {self.reset!r}")


@dataclass(frozen=True)
class Corrupt(_Base):
    """XOR ``count`` body bytes from ``offset`` (negative: from the end; None: the middle)
    with ``xor``; headers (length, digest) are left as they were."""

    offset: int | None = None
    count: int = 1
    xor: int = 1
    kind: ClassVar[str] = "corrupt"
    stage: ClassVar[str] = "after"

    def __post_init__(self) -> None:
        if self.offset is not None:
            object.__setattr__(self, "offset", integer(self.offset, "offset"))
        object.__setattr__(self, "count", integer(self.count, "count", minimum=1))
        xor = integer(self.xor, "xor", minimum=1)
        if xor > 255:
            raise FormError("xor", f"must be a byte value 1-255, got {xor}")
        object.__setattr__(self, "xor", xor)


@dataclass(frozen=True)
class WrongDigest(_Base):
    """Replace ``Docker-Content-Digest`` by ``digest`` (default: the digest of other bytes)."""

    digest: str | None = None
    kind: ClassVar[str] = "wrong-digest"
    stage: ClassVar[str] = "after"

    def __post_init__(self) -> None:
        if self.digest is not None:
            try:
                Digest.parse(self.digest)
            except DigestError as exc:
                raise FormError("digest", str(exc)) from exc

    def value(self) -> str:
        """The digest string to send: ``digest``, or that of bytes no response carries."""
        return self.digest or str(Digest.of(b"flakymirror: not the digest of these bytes"))


@dataclass(frozen=True)
class Stall(_Base):
    """Send the headers and ``after`` body bytes, then stall for ``seconds`` (at most ten years;
    ``None``: until the server stops or the mirror is reset); then ``"resume"`` the body or
    ``"close"``."""

    after: int = 0
    seconds: float | None = None
    then: str = "resume"
    kind: ClassVar[str] = "stall"
    stage: ClassVar[str] = "after"
    durations: ClassVar[tuple[str, ...]] = ("seconds",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", integer(self.after, "after", minimum=0))
        if self.seconds is not None:
            object.__setattr__(self, "seconds", seconds(self.seconds, "seconds"))
        if self.then not in ("resume", "close"):
            raise FormError(
                "then",
                f"{self.then!r} is not one of 'resume', 'close'",
                got=str(self.then),
                choices=("resume", "close"),
            )


@dataclass(frozen=True)
class Pass(_Base):
    """Behave normally (a step of a sequence)."""

    kind: ClassVar[str] = "pass"
    stage: ClassVar[str] = "before"


Action = (
    Status
    | Reset
    | Close
    | Garbage
    | Delay
    | Headers
    | Drip
    | Truncate
    | Corrupt
    | WrongDigest
    | Stall
    | Pass
)
ACTIONS: dict[str, type] = {
    c.kind: c
    for c in (
        Status, Reset, Close, Garbage, Delay, Headers, Drip, Truncate, Corrupt, WrongDigest,
        Stall, Pass,
    )
}  # fmt: skip


def action_from_dict(data: Any, path: Any = "") -> Action:
    """Read one action's dict form (``{"kind": "status", "status": 503}``)."""
    probe = Form(data, path, allowed=set(data) if isinstance(data, dict) else ())
    kind = probe.string("kind")
    if kind not in ACTIONS:
        raise FormError(
            join(path, "kind"),
            f"unknown fault action {kind!r} (known: {', '.join(ACTIONS)})" + suggest(kind, ACTIONS),
            got=kind,
            choices=tuple(ACTIONS),
        )
    cls = ACTIONS[kind]
    Form(data, path, allowed={"kind", *(f.name for f in fields(cls))})
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    if cls is Headers and "remove" in kwargs and isinstance(kwargs["remove"], list):
        kwargs["remove"] = tuple(kwargs["remove"])
    try:
        return cls(**kwargs)
    except FormError as exc:
        raise exc.within(path) from exc

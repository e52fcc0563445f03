"""Which requests a fault rule is for: endpoint classification and the :class:`Match` value."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from flakymirror.mirror.forms import Form, FormError, glob_match, integer, join, number, suggest
from flakymirror.mirror.scaling import time_factor
from flakymirror.oci.digest import Digest, DigestError
from flakymirror.oci.protocol import ENDPOINT_KINDS
from flakymirror.oci.reference import REPOSITORY_PATTERN

__all__ = ["KINDS", "METHODS", "REFERENCE_TYPES", "Endpoint", "Match", "classify"]

#: Endpoint kinds a rule can name: the protocol's, anything else, and a TLS ClientHello.
KINDS = (*ENDPOINT_KINDS, "other", "tls-probe")
METHODS = ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE")
#: What a request's reference is: a tag (manifests only) or a digest.
REFERENCE_TYPES = ("tag", "digest")

_NAME = rf"(?P<repo>{REPOSITORY_PATTERN})"
_ROUTES = (
    ("catalog", re.compile(r"^/v2/_catalog/?$")),
    ("upload", re.compile(rf"^/v2/{_NAME}/blobs/uploads(?:/(?P<ref>[^/]*))?/?$")),
    ("blob", re.compile(rf"^/v2/{_NAME}/blobs/(?P<ref>[^/]+)$")),
    ("manifest", re.compile(rf"^/v2/{_NAME}/manifests/(?P<ref>[^/]+)$")),
    ("tags", re.compile(rf"^/v2/{_NAME}/tags/list/?$")),
    ("referrers", re.compile(rf"^/v2/{_NAME}/referrers/(?P<ref>[^/]+)$")),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a request path addresses: kind, repository and reference (tag or digest)."""

    kind: str
    repo: str | None = None
    reference: str | None = None

    @property
    def reference_type(self) -> str | None:
        """``"digest"`` for a reference with ``:``, ``"tag"`` for any other manifest reference,
        None otherwise (no reference, an upload session id, a blob path that is no digest)."""
        if self.reference is None or self.kind == "upload":
            return None
        if ":" in self.reference:
            return "digest"
        return "tag" if self.kind == "manifest" else None


def classify(path: str, token_path: str = "/token") -> Endpoint:
    """Classify a request path (``/v2/lib/app/manifests/latest`` → manifest lib/app latest)."""
    if path in ("/v2", "/v2/"):
        return Endpoint("ping")
    if path.rstrip("/") == token_path.rstrip("/"):
        return Endpoint("token")
    for kind, pattern in _ROUTES:
        m = pattern.match(path)
        if m:
            groups = m.groupdict()
            return Endpoint(kind, groups.get("repo"), groups.get("ref") or None)
    return Endpoint("other")


def _as_tuple(value: Any, path: Any, item: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple) or not value:
        raise FormError(path, f"expected a value or a non-empty list, got {value!r}")
    return tuple(item(v, join(path, i)) for i, v in enumerate(value))


def _method(v: Any, path: Any) -> str:
    if not isinstance(v, str) or v.upper() not in METHODS:
        hint = suggest(v.upper(), METHODS) if isinstance(v, str) else ""
        raise FormError(path, f"{v!r} is not one of {', '.join(METHODS)}{hint}")
    return v.upper()


def _kind(v: Any, path: Any) -> str:
    if v not in KINDS:
        raise FormError(
            path, f"unknown endpoint kind {v!r}{suggest(v, KINDS)} (known: {', '.join(KINDS)})"
        )
    return v


def _reference_type(v: Any, reference: str | None) -> None:
    if v not in REFERENCE_TYPES:
        raise FormError(
            "reference_type",
            f"{v!r} is not one of 'tag', 'digest'{suggest(v, REFERENCE_TYPES)}",
        )
    if reference is not None and not any(c in reference for c in "*?["):
        literal = "digest" if ":" in reference else "tag"
        if literal != v:
            raise FormError(
                "reference_type", f"{v!r} never matches reference {reference!r} (a {literal})"
            )


def _nth(v: Any, path: Any) -> int:
    return integer(v, path, minimum=1)


def _glob(v: Any, path: Any) -> str:
    if not isinstance(v, str) or not v:
        raise FormError(path, f"expected a non-empty glob string, got {v!r}")
    return v


@dataclass(frozen=True)
class Match:
    """A request matcher; every field left ``None`` matches anything.

    * ``method``, ``kind``: one value or a tuple of them.
    * ``repo``, ``reference``: shell globs (``"lib/*"``, ``"sha256:*"``, ``"latest"``).
    * ``reference_type``: ``"tag"`` or ``"digest"`` (see :attr:`Endpoint.reference_type`):
      containerd resolves a tag with a HEAD, then GETs by digest.
    * ``nth``: the 1-based occurrence(s) among requests matching the fields above
      (``nth=2`` → only the second one).
    * ``times``: apply at most this many times, then stop matching.

    ``nth`` and ``times`` count every request the *static* fields (``method``, ``kind``,
    ``repo``, ``reference``, ``reference_type``) match inside the ``window``: HEAD and GET
    alike, by tag and by digest alike, unless those fields say otherwise.
    * ``window``: ``(start, end)`` seconds after the mirror's epoch on its clock (``end`` may be
      ``None``: open-ended).
    * ``probability`` with ``seed``: each candidate request is drawn from a ``random.Random(seed)``
      owned by the rule, so the same seed and the same request order give the same run.
    """

    method: tuple[str, ...] | str | None = None
    kind: tuple[str, ...] | str | None = None
    repo: str | None = None
    reference: str | None = None
    nth: tuple[int, ...] | int | None = None
    times: int | None = None
    window: tuple[float, float | None] | None = None
    probability: float | None = None
    seed: int = 0
    reference_type: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "method", _as_tuple(self.method, "method", _method))
        set_(self, "kind", _as_tuple(self.kind, "kind", _kind))
        if self.repo is not None:
            _glob(self.repo, "repo")
        if self.reference is not None:
            _glob(self.reference, "reference")
            if ":" in self.reference and not any(c in self.reference for c in "*?["):
                try:
                    Digest.parse(self.reference)
                except DigestError as exc:
                    raise FormError("reference", str(exc)) from exc
        if self.reference_type is not None:
            _reference_type(self.reference_type, self.reference)
        set_(self, "nth", _as_tuple(self.nth, "nth", _nth))
        if self.times is not None:
            set_(self, "times", integer(self.times, "times", minimum=0))
        if self.window is not None:
            w = self.window
            if isinstance(w, str | bytes) or not isinstance(w, list | tuple) or len(w) != 2:
                raise FormError("window", f"expected [start, end] in seconds, got {w!r}")
            start = number(w[0], ("window", 0), minimum=0)
            end = None if w[1] is None else number(w[1], ("window", 1), minimum=0)
            if end is not None and end < start:
                raise FormError("window", f"end {end:g} is before start {start:g}")
            set_(self, "window", (start, end))
        if self.probability is not None:
            p = number(self.probability, "probability", minimum=0)
            if p > 1:
                raise FormError("probability", f"must be between 0 and 1, got {p:g}")
            set_(self, "probability", p)
        set_(self, "seed", integer(self.seed, "seed"))

    def static_match(self, method: str, endpoint: Endpoint) -> bool:
        """The stateless part: method, kind, repo and reference."""
        if self.method is not None and method not in self.method:
            return False
        if self.kind is not None and endpoint.kind not in self.kind:
            return False
        if self.repo is not None and not glob_match(self.repo, endpoint.repo):
            return False
        if self.reference_type is not None and endpoint.reference_type != self.reference_type:
            return False
        return not (
            self.reference is not None and not glob_match(self.reference, endpoint.reference)
        )

    def in_window(self, t: float) -> bool:
        """Whether ``t`` (seconds after the mirror epoch) lies in the window."""
        if self.window is None:
            return True
        start, end = self.window
        return t + 1e-7 >= start and (end is None or t < end - 1e-7)

    def scaled(self, factor: float) -> Match:
        """This matcher run ``factor`` times faster: the ``window`` divided by it."""
        f = time_factor(factor)
        if f == 1 or self.window is None:
            return self
        start, end = self.window
        return replace(self, window=(start / f, None if end is None else end / f))

    def to_dict(self) -> dict[str, Any]:
        """The dict form, leaving out fields that match anything."""
        d: dict[str, Any] = {}
        for name in ("method", "kind", "nth"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value[0] if len(value) == 1 else list(value)
        for name in ("repo", "reference", "reference_type", "times", "probability"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.window is not None:
            d["window"] = list(self.window)
        if self.probability is not None or self.seed:
            d["seed"] = self.seed
        return d

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> Match:
        """Read the dict form; errors name the key path."""
        names = ("method", "kind", "repo", "reference", "reference_type", "nth", "times", "window")
        form = Form(data, path, allowed={*names, "probability", "seed"})
        kw = {k: data[k] for k in (*names, "probability", "seed") if form.has(k)}
        try:
            return cls(**kw)
        except FormError as exc:
            raise exc.within(form.path) from exc

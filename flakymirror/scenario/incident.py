"""What an incident means for any client: the ``[incident]`` and ``[origin]`` tables.

The values (:class:`Incident`, :class:`Convergence`, :class:`OriginSpec`) and the reading of their
tables live here; the loader calls :func:`read_incident` and :func:`read_origin`, and
:mod:`flakymirror.scenario.convergence` computes what a file does not state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flakymirror.mirror.forms import Form, FormError
from flakymirror.scenario.fields import check_number, describe, toml_form, toml_value

__all__ = [
    "DIGEST_REF",
    "Convergence",
    "Incident",
    "OriginSpec",
    "pushed",
    "read_incident",
    "read_origin",
]

_ORIGIN_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?$|^https?://\[[0-9a-fA-F:]+\](:[0-9]{1,5})?/?$")
DIGEST_REF = re.compile(r"@\{(index_)?digest\}$")


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None (TOML has no null)."""
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class OriginSpec:
    """A healthy origin behind the mirror, as clients are configured in the field.

    ``url=None``: an in-process registry holding the same images; a URL: a real registry the
    images are pushed to. Either way the mirror pulls through from the origin, and clients with
    mirror configuration reach the origin when the mirror fails them.
    """

    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``[origin]`` table."""
        return _prune({"url": self.url})


@dataclass(frozen=True)
class Convergence:
    """When an incident stops misbehaving: ``seconds`` after the first request for the image
    (on the mirror clock), after ``requests`` requests, or ``never``. ``None`` fields say
    nothing; ``Convergence()`` converges at once."""

    seconds: float | None = None
    requests: int | None = None
    never: bool = False

    def to_value(self) -> Any:
        """The TOML form: a number of seconds, a table, or ``"never"``."""
        if self.never:
            return "never"
        if self.requests is None:
            return self.seconds if self.seconds is not None else 0.0
        return _prune({"seconds": self.seconds, "requests": self.requests})

    def __str__(self) -> str:
        if self.never:
            return "never"
        parts = []
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        if self.requests is not None:
            parts.append(f"{self.requests} request{'s' if self.requests != 1 else ''}")
        return " and ".join(parts) or "at once"


@dataclass(frozen=True)
class Incident:
    """What the incident means for any client, stated without knowing the client.

    ``survivable``: a client that retries sensibly (and, with an origin, falls back) can end up
    with the complete image. ``converges_after``: when the mirror stops misbehaving, as the file
    states it (``None``: computed from the plans and faults). ``image``: the image under test,
    ``"repo:tag"`` or ``"repo@{digest}"`` (``None``: the action's image, else the first image).
    ``manifest_survivable``: the same for clients that only read the manifest and config
    (``None``: as ``survivable``).
    """

    survivable: bool = True
    converges_after: Convergence | None = None
    image: str | None = None
    manifest_survivable: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``[incident]`` table (empty when everything is the default)."""
        d: dict[str, Any] = {}
        if not self.survivable:
            d["survivable"] = False
        if self.converges_after is not None:
            d["converges_after"] = self.converges_after.to_value()
        if self.image is not None:
            d["image"] = self.image
        if self.manifest_survivable is not None:
            d["manifest_survivable"] = self.manifest_survivable
        return d


def pushed(ref: str, refs: set[str]) -> bool:
    """Whether ``ref`` (``repo:tag`` or ``repo@{digest}``) names one of the pushed images."""
    if DIGEST_REF.search(ref):
        repo = DIGEST_REF.sub("", ref)
        return any(r.rpartition(":")[0] == repo for r in refs)
    return ref in refs


def read_origin(t: Form | None) -> OriginSpec | None:
    """The ``[origin]`` table (None when absent)."""
    if t is None:
        return None
    url = t.string("url", None)
    if url is not None and not _ORIGIN_URL.match(url):
        raise FormError(
            t.key("url"),
            f"expected a registry URL such as \"http://127.0.0.1:5000\" (scheme, host and "
            f"port, no path), got {toml_value(url)}",
        )
    t.done()
    return OriginSpec(url=url.rstrip("/") if url is not None else None)


def read_incident(
    t: Form | None, check_reference: Callable[[str, tuple[Any, ...]], Any]
) -> Incident:
    """The ``[incident]`` table (defaults when absent); ``check_reference(text, path)``
    validates the image reference."""
    if t is None:
        return Incident()
    image = t.string("image", None)
    if image is not None:
        probe = DIGEST_REF.sub("@sha256:" + "0" * 64, image)
        check_reference(probe, t.key("image"))
        if "@" in image and not DIGEST_REF.search(image):
            raise FormError(
                t.key("image"),
                f"{toml_value(image)}: name the image as 'repo:tag' or 'repo@{{digest}}' "
                "(its digest is known once it is built)",
            )
    incident = Incident(
        survivable=t.boolean("survivable", True),
        converges_after=_convergence(t.raw("converges_after", None), t.key("converges_after")),
        image=image,
        manifest_survivable=t.boolean("manifest_survivable", None),
    )
    t.done()
    return incident


def _convergence(value: Any, path: tuple) -> Convergence | None:
    """``converges_after``: seconds (a number), ``"never"``, or a table of seconds/requests."""
    if value is None:
        return None
    if value == "never":
        return Convergence(never=True)
    if isinstance(value, dict):
        t = toml_form(value, path)
        conv = Convergence(
            seconds=t.number("seconds", None), requests=t.integer("requests", None)
        )
        t.done()
        if conv.seconds is None and conv.requests is None:
            raise FormError(path, "give seconds, requests or both (e.g. { requests = 3 })")
        return conv
    if isinstance(value, str):
        raise FormError(path, f'expected a number of seconds, a table or "never", got {describe(value)}')
    return Convergence(seconds=check_number(value, path))



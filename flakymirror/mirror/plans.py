"""Sync plans: for each image and each moment on the mirror clock, how much has synced.

A plan is a value: a *schedule* (how many units have synced after ``t`` seconds or ``n``
requests) plus a *mode* (how a not-yet-synced image looks to a client) and which images it is
for (``repo``/``tag`` globs). Units are the image's layers, in manifest order (for the
``partial-index`` mode: the index's children, in index order).

Schedules (values of :mod:`flakymirror.mirror.schedules`, re-exported here):

==============  ==========================================================================
``at-once``     everything after ``after`` seconds (0: already synced)
``interval``    one more layer every ``every`` seconds (first one at ``first``, default
                ``every``)
``bandwidth``   layers complete in order as ``bytes_per_second`` fills them
``requests``    everything after ``count`` requests for the image (``per_layer``: one more
                layer every ``count`` requests)
``timeline``    explicit ``points`` ``[[t, n_layers], ...]`` (a step function; ``n`` may
                be ``-1`` for "all"); ``layers=[t1, t2, ...]`` is per-layer times
==============  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flakymirror.mirror.forms import (
    Form,
    FormError,
    glob_match,
    join,
    number,
    one_of,
)
from flakymirror.mirror.scaling import time_factor
from flakymirror.mirror.schedules import (
    AtOnce,
    Bandwidth,
    Interval,
    Requests,
    Schedule,
    Timeline,
    schedule_from_dict,
)
from flakymirror.mirror.settle import Settle

__all__ = [
    "MODES",
    "AtOnce",
    "Bandwidth",
    "Interval",
    "Requests",
    "Schedule",
    "SyncPlan",
    "Timeline",
    "plans_from_dict",
    "schedule_from_dict",
    "select_plan",
]

#: The six ways an image that is still syncing can look to a client.
MODES = (
    "partial",  # manifest lists only the synced layers (config diff_ids "full" or "cut")
    "empty",  # manifest with "layers": [] until fully synced
    "missing",  # 404 MANIFEST_UNKNOWN until fully synced
    "blobs-404",  # full manifest; unsynced blobs 404 BLOB_UNKNOWN on GET and/or HEAD
    "manifest-blob-unknown",  # 400 MANIFEST_BLOB_UNKNOWN (detail = digest) until synced
    "partial-index",  # index whose unsynced children 404 ("missing-child") or are not listed
)


@dataclass(frozen=True)
class SyncPlan:
    """How images matching ``repo``/``tag`` (globs) sync through the mirror.

    ``diff_ids`` ("cut" or "full") applies to the ``partial`` and ``empty`` modes: "full" keeps
    the config's complete ``rootfs.diff_ids``, which makes go-containerregistry fail with
    ``mismatched fs layers (N) and diff ids (M)``. ``blobs`` ("get", "head" or "both") is which
    methods answer 404 in ``blobs-404`` mode (Harbor #22609 failed HEAD only). ``index``
    ("missing-child" or "unlisted") is the ``partial-index`` variant. ``start_at`` is ``None``
    (start when the mirror first sees a request for the image) or seconds after the mirror's
    epoch (its creation or last reset).
    """

    schedule: Schedule = field(default_factory=AtOnce)
    mode: str = "partial"
    diff_ids: str = "cut"
    blobs: str = "both"
    index: str = "missing-child"
    start_at: float | None = None
    repo: str = "*"
    tag: str = "*"

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, AtOnce | Interval | Bandwidth | Requests | Timeline):
            raise FormError("schedule", f"expected a schedule value, got {self.schedule!r}")
        one_of(self.mode, MODES, "mode")
        one_of(self.diff_ids, ("cut", "full"), "diff_ids")
        one_of(self.blobs, ("get", "head", "both"), "blobs")
        one_of(self.index, ("missing-child", "unlisted"), "index")
        if self.start_at is not None:
            object.__setattr__(self, "start_at", number(self.start_at, "start_at", minimum=0))
        for name in ("repo", "tag"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise FormError(name, f"expected a non-empty glob, got {getattr(self, name)!r}")

    # shortcuts -----------------------------------------------------------------------------
    @classmethod
    def immediate(cls, **kw: Any) -> SyncPlan:
        """Everything synced from the first request (the default)."""
        return cls(AtOnce(), **kw)

    @classmethod
    def layer_every(cls, seconds: float, mode: str = "partial", **kw: Any) -> SyncPlan:
        """One layer every ``seconds``."""
        return cls(Interval(seconds), mode=mode, **kw)

    def matches(self, repo: str, reference: str) -> bool:
        """Whether this plan is for ``repo`` at ``reference`` (a tag or a digest string)."""
        return glob_match(self.repo, repo) and glob_match(self.tag, reference)

    def synced(self, sizes: Sequence[int], elapsed: float | None, requests: int = 0) -> int:
        """Units synced out of ``len(sizes)``; ``elapsed`` None means "not started"."""
        return self.schedule.synced(sizes, elapsed, requests)

    def scaled(self, factor: float) -> SyncPlan:
        """This plan run ``factor`` times faster (``factor`` > 0): the schedule's times and
        ``start_at`` divided by it, a bandwidth multiplied; ``scaled(1)`` is this plan."""
        f = time_factor(factor)
        if f == 1:
            return self
        start = None if self.start_at is None else self.start_at / f
        return replace(self, schedule=self.schedule.scaled(f), start_at=start)

    def settles(self, sizes: Sequence[int] | int) -> Settle:
        """When an image with these units (``sizes``: their sizes in bytes, or just how many
        there are) is fully synced, so this plan stops showing it incomplete.

        ``seconds`` count from the plan's start: the first request for the image
        (``since="first-request"``) or, with ``start_at``, the epoch (``start_at`` added).
        ``requests`` (a ``requests`` schedule) counts the requests *for the image* the mirror
        saw before (manifests and blobs, by tag or digest, any method); with ``start_at`` both
        must be reached. A ``bandwidth`` schedule asked with a count is ``known=False``.
        """
        done = self.schedule.settles(sizes)
        if self.start_at is None or done.never or not done.known:
            return done if done.never or not done.known else replace(done, since="first-request")
        return Settle(
            seconds=round(self.start_at + (done.seconds or 0.0), 6), requests=done.requests
        )

    def to_dict(self) -> dict[str, Any]:
        """The dict form with every field (``start_at`` only when set)."""
        d: dict[str, Any] = {
            "schedule": self.schedule.to_dict(),
            "mode": self.mode,
            "diff_ids": self.diff_ids,
            "blobs": self.blobs,
            "index": self.index,
            "repo": self.repo,
            "tag": self.tag,
        }
        if self.start_at is not None:
            d["start_at"] = self.start_at
        return d

    @classmethod
    def from_dict(cls, data: Any, path: Any = "") -> SyncPlan:
        """Read the dict form; unknown keys and bad values raise ``FormError`` naming them."""
        form = Form(
            data,
            path,
            allowed={"schedule", "mode", "diff_ids", "blobs", "index", "start_at", "repo", "tag"},
        )
        kw: dict[str, Any] = {}
        if form.has("schedule"):
            kw["schedule"] = schedule_from_dict(data["schedule"], form.key("schedule"))
        for key, choices in (
            ("mode", MODES),
            ("diff_ids", ("cut", "full")),
            ("blobs", ("get", "head", "both")),
            ("index", ("missing-child", "unlisted")),
        ):
            if form.has(key):
                kw[key] = form.string(key, choices=choices)
        for key in ("repo", "tag"):
            if form.has(key):
                kw[key] = form.string(key)
        if form.has("start_at") and data["start_at"] is not None:
            kw["start_at"] = form.number("start_at", minimum=0)
        try:
            return cls(**kw)
        except FormError as exc:
            raise exc.within(form.path) from exc


def plans_from_dict(data: Any, path: Any = "") -> tuple[SyncPlan, ...]:
    """One plan (a table) or several (a list of tables, first match wins)."""
    if isinstance(data, list | tuple):
        if not data:
            raise FormError(path, "expected at least one plan")
        return tuple(SyncPlan.from_dict(d, join(path, i)) for i, d in enumerate(data))
    return (SyncPlan.from_dict(data, path),)


def select_plan(plans: Sequence[SyncPlan], repo: str, reference: str) -> SyncPlan:
    """The first plan matching ``repo``/``reference``; the immediate plan when none does."""
    for plan in plans:
        if plan.matches(repo, reference):
            return plan
    return _DEFAULT


_DEFAULT = SyncPlan()

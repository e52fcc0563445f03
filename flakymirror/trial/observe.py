"""What the mirror and the origin saw of one client run, merged in time order.

:func:`observe` reads the mirror's journal entries and the origin registry's request log (both
carry wall-clock times) into :class:`Observations`: the merged timeline, the client's attempts
and the gaps between them (its backoff as the mirror saw it), requests per endpoint, whether and
when it fell back to the origin, and the evidence a verdict needs — which manifest it took last
and whether every blob that manifest names reached it whole.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flakymirror.mirror.match import classify
from flakymirror.oci import mediatypes as mt
from flakymirror.trial.cell import Target

__all__ = ["Observations", "Seen", "observe"]

#: Damage after which none of a body's bytes can be trusted (a client cannot tell which are bad).
_UNUSABLE = frozenset({"corrupted", "garbage"})


@dataclass(frozen=True)
class Seen:
    """One request in the merged timeline. ``at`` is real seconds since the client started;
    ``bytes`` the body bytes sent (None where the origin's log does not say)."""

    source: str
    at: float
    method: str
    path: str
    kind: str
    repo: str | None
    reference: str | None
    status: int | None
    bytes: int | None = None
    offset: int = 0
    digest: str | None = None
    media_type: str | None = None
    damage: tuple[str, ...] = ()
    fault: str | None = None
    sync: str | None = None
    outcome: str = "ok"
    reason: str | None = None

    def line(self) -> str:
        """One timeline line: time, source, request, status and what the mirror did."""
        status = "---" if self.status is None else str(self.status)
        extras = []
        if self.sync:
            extras.append(f"sync={self.sync}")
        if self.fault:
            extras.append(f"fault={self.fault}")
        if self.damage:
            extras.append(f"damage={','.join(self.damage)}")
        if self.outcome not in ("ok", "rejected"):
            extras.append(self.outcome)
        if self.reason:
            extras.append(self.reason)
        size = "" if self.bytes is None else f"{self.bytes}B"
        method = self.method or "-"
        return (
            f"{self.at:8.3f}s  {self.source:<6} {method:<6} {self.kind:<9} {self.path[:60]:<60} "
            f"{status:>4} {size:>10}  {' '.join(extras)}"
        ).rstrip()


def _is_digest(reference: str | None) -> bool:
    return reference is not None and ":" in reference


@dataclass(frozen=True)
class Observations:
    """The evidence of one run (see the module docstring)."""

    timeline: tuple[Seen, ...]
    attempts: int
    gaps: tuple[float, ...]
    requests: Mapping[str, int]
    origin_observed: bool
    origin_requests: int | None
    fell_back_at: float | None
    dropped: int = 0
    last_manifest: Seen | None = None
    blob_coverage: Mapping[str, int] = field(default_factory=dict)

    @property
    def requests_seen(self) -> int:
        """Requests the mirror and the origin saw (TLS probes and refused requests included)."""
        return len(self.timeline)

    def missing_evidence(self, target: Target, *, manifest_only: bool = False) -> str | None:
        """None when the timeline proves the client received the complete image (the complete
        manifest last, then every blob it names whole; ``manifest_only``: the config only),
        else what is missing, in a few words."""
        last = self.last_manifest
        if last is None:
            return "it never received an image manifest"
        if last.digest != target.manifest:
            view = f" ({last.sync})" if last.sync else ""
            return f"the last manifest it took was {last.digest}{view}, not the complete one"
        blobs = (target.config,) if manifest_only else target.blobs
        short = [b for b in blobs if self.blob_coverage.get(b, 0) < target.sizes[b]]
        if short:
            first = short[0]
            got = self.blob_coverage.get(first, 0)
            return (
                f"{len(short)} blob(s) never arrived whole (e.g. {first}: {got} of "
                f"{target.sizes[first]} bytes intact)"
            )
        return None


def _manifest_media(seen: Seen, target: Target) -> str | None:
    if seen.media_type is not None:
        return seen.media_type
    if seen.digest is not None and seen.digest == target.index:
        return mt.OCI_INDEX
    if seen.digest is not None:
        return mt.OCI_MANIFEST
    return None


def _covered(intervals: Iterable[tuple[int, int]]) -> int:
    """Bytes covered from offset 0 by the union of ``[start, end)`` intervals."""
    end = 0
    for start, stop in sorted(intervals):
        if start > end:
            break
        end = max(end, stop)
    return end


def _from_journal(entry: Any, t0: float) -> Seen:
    return Seen(
        source="mirror",
        at=round(entry.wall_time - t0, 6),
        method=entry.method,
        path=entry.path + (f"?{entry.query}" if entry.query else ""),
        kind=entry.kind,
        repo=entry.repo,
        reference=entry.reference,
        status=entry.status,
        bytes=entry.bytes_sent,
        offset=entry.offset,
        digest=entry.digest,
        media_type=entry.media_type,
        damage=tuple(entry.damage),
        fault=entry.fault,
        sync=entry.sync,
        outcome=entry.outcome,
        reason=entry.reason if entry.limit is None else f"harness limit: {entry.limit}",
    )


def _from_origin(entry: Any, t0: float, target: Target) -> Seen:
    path, _, _ = entry.target.partition("?")
    endpoint = classify(path)
    digest = None
    if endpoint.kind == "manifest" and entry.status == 200:
        # the origin is healthy: by tag it serves the upstream document, by digest that digest
        if _is_digest(endpoint.reference):
            digest = endpoint.reference
        else:
            digest = target.index or target.manifest
    return Seen(
        source="origin",
        at=round(entry.time - t0, 6),
        method=entry.method,
        path=entry.target,
        kind=endpoint.kind,
        repo=endpoint.repo,
        reference=endpoint.reference,
        status=entry.status,
        digest=digest,
    )


def _is_attempt(seen: Seen, target: Target) -> bool:
    """A GET of the image's manifest at the mirror: by tag, or by digest of the top-level
    document (for an index: of an index, not of a child)."""
    if seen.source != "mirror" or seen.method != "GET" or seen.kind != "manifest":
        return False
    if seen.repo != target.repository:
        return False
    if not _is_digest(seen.reference) or target.index is None:
        return True
    return seen.reference == target.index or (
        seen.media_type is not None and mt.is_index(seen.media_type)
    )


def observe(
    journal: Sequence[Any],
    origin_log: Sequence[Any] | None,
    target: Target,
    *,
    t0: float,
    dropped: int = 0,
    totals: Mapping[str, int] | None = None,
) -> Observations:
    """Merge the mirror's journal entries and the origin's log (``None``: the origin, if any,
    cannot be observed) from wall time ``t0`` on, and read the evidence for ``target``."""
    timeline = [_from_journal(e, t0) for e in journal]
    if origin_log is not None:
        timeline += [_from_origin(e, t0, target) for e in origin_log]
    timeline.sort(key=lambda s: s.at)
    attempts = [s for s in timeline if _is_attempt(s, target)]
    gaps = tuple(round(b.at - a.at, 3) for a, b in zip(attempts, attempts[1:], strict=False))
    last_manifest = None
    coverage: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for s in timeline:
        if s.method != "GET" or s.repo != target.repository or s.status not in (200, 206):
            continue
        if s.kind == "manifest" and s.status == 200:
            media = _manifest_media(s, target)
            if media is not None and not mt.is_index(media):
                last_manifest = s
        elif s.kind == "blob" and s.reference in target.sizes:
            size = target.sizes[s.reference]
            if s.source == "origin":
                # the origin is healthy: a 200 delivers the blob, a 206 the rest of a resumed
                # one (its log records no offsets)
                coverage[s.reference].append((0, size))
            elif not _UNUSABLE & set(s.damage) and s.bytes is not None:
                coverage[s.reference].append((s.offset, s.offset + s.bytes))
    if totals is None:
        totals = collections.Counter(f"{s.method} {s.kind}" for s in timeline if s.source == "mirror")
    origin = [s for s in timeline if s.source == "origin"]
    return Observations(
        timeline=tuple(timeline),
        attempts=len(attempts),
        gaps=gaps,
        requests=dict(sorted(totals.items())),
        origin_observed=origin_log is not None,
        origin_requests=len(origin) if origin_log is not None else None,
        fell_back_at=round(origin[0].at, 3) if origin else None,
        dropped=dropped,
        last_manifest=last_manifest,
        blob_coverage={d: _covered(iv) for d, iv in coverage.items()},
    )

"""The sync engine: what each image looks like through the mirror *now*.

An image is tracked from the first request that names it (by tag or digest) as a *track*:
``(repo, upstream root digest)`` with the plan chosen for that request, its start time on the
mirror clock and how many requests touched it. A :class:`View` of a track at a moment says what
the root manifest answers, what each index child answers and which blobs are still hidden.
Views are computed, never stored: nothing is copied from upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flakymirror.mirror.clock import Clock, elapsed
from flakymirror.mirror.cutting import Doc, cut_config, cut_image, parse_doc, rewrite_index
from flakymirror.mirror.plans import SyncPlan, select_plan
from flakymirror.mirror.upstream import Upstream
from flakymirror.oci.digest import Digest
from flakymirror.registry.errors import RegistryError
from flakymirror.registry.stored import StoredManifest

__all__ = ["Answer", "SyncEngine", "Track", "View"]

#: What a manifest lookup answers: the manifest, ``None`` (404 MANIFEST_UNKNOWN) or an error.
Answer = StoredManifest | RegistryError | None
BOTH = frozenset({"GET", "HEAD"})
_METHODS = {"get": frozenset({"GET"}), "head": frozenset({"HEAD"}), "both": BOTH}


@dataclass
class Track:
    """Sync progress of one upstream image in one repository."""

    repo: str
    root: str
    reference: str
    plan: SyncPlan
    started: float | None
    requests: int = 0
    blobs: frozenset[str] = frozenset()


@dataclass
class View:
    """A track at one moment."""

    label: str
    complete: bool
    root: Answer
    children: dict[str, Answer] = field(default_factory=dict)
    hidden: dict[str, frozenset[str]] = field(default_factory=dict)


def _is_digest(reference: str) -> bool:
    return ":" in reference


class SyncEngine:
    """Tracks images and computes their views; thread-safe."""

    def __init__(
        self,
        upstream: Upstream,
        clock: Clock,
        plans: Sequence[SyncPlan] = (),
        epoch: Callable[[], float] | None = None,
    ) -> None:
        self.upstream = upstream
        self.clock = clock
        self.plans: tuple[SyncPlan, ...] = tuple(plans)
        self._epoch = epoch or (lambda: 0.0)
        self._lock = threading.RLock()
        self._tracks: dict[tuple[str, str], Track] = {}
        self._blob_tracks: dict[tuple[str, str], list[Track]] = {}
        self._docs: dict[tuple[str, str], Doc | None] = {}
        self._generated: dict[tuple[str, str], StoredManifest] = {}
        self._gen_blobs: dict[tuple[str, str], bytes] = {}
        self._configs: dict[tuple[str, str], bytes] = {}

    # -- configuration -------------------------------------------------------------------
    def set_plans(self, plans: Sequence[SyncPlan]) -> None:
        """Use ``plans`` (first match wins); every image restarts syncing at its next request."""
        with self._lock:
            self.plans = tuple(plans)
            self._tracks.clear()
            self._blob_tracks.clear()

    def reset(self) -> None:
        """Forget every track, parsed document and generated manifest or config."""
        with self._lock:
            self._tracks.clear()
            self._blob_tracks.clear()
            self._docs.clear()
            self._generated.clear()
            self._gen_blobs.clear()
            self._configs.clear()

    # -- documents -------------------------------------------------------------------------
    def _doc(self, repo: str, digest: str) -> Doc | None:
        key = (repo, digest)
        if key in self._docs:
            return self._docs[key]
        stored = self.upstream.get_manifest(repo, digest)
        doc = parse_doc(stored) if stored is not None else None
        if stored is not None:
            self._docs[key] = doc
        return doc

    def _config_bytes(self, repo: str, digest: str) -> bytes | None:
        key = (repo, digest)
        if key not in self._configs:
            try:
                self._configs[key] = b"".join(self.upstream.open_blob(repo, digest))
            except KeyError:
                return None
        return self._configs[key]

    # -- tracks ----------------------------------------------------------------------------
    def _start_time(self, plan: SyncPlan, now: float) -> float:
        return now if plan.start_at is None else self._epoch() + plan.start_at

    def _track(
        self,
        repo: str,
        root: StoredManifest,
        reference: str,
        create: bool = True,
        now: float | None = None,
    ) -> Track:
        key = (repo, str(root.digest))
        with self._lock:
            track = self._tracks.get(key)
        if track is not None:
            return track
        doc = self._doc(repo, key[1])  # fetched outside the lock: may be a network round trip
        blobs: list[str] = []
        if doc is not None and doc.is_index:
            for child in doc.children:
                child_doc = self._doc(repo, child["digest"])
                if child_doc is not None and not child_doc.is_index:
                    blobs += child_doc.blob_digests()
        elif doc is not None:
            blobs = doc.blob_digests()
        with self._lock:
            track = self._tracks.get(key)
            if track is not None:
                return track
            plan = select_plan(self.plans, repo, reference)
            start = self._start_time(plan, self.clock.now() if now is None else now)
            track = Track(repo, key[1], reference, plan, start, blobs=frozenset(blobs))
            if create:
                self._tracks[key] = track
                for b in track.blobs:
                    self._blob_tracks.setdefault((repo, b), []).append(track)
            return track

    def _elapsed(self, track: Track, now: float) -> float | None:
        if track.started is None:
            return None
        e = elapsed(now, track.started)
        return e if e >= 0 else None

    # -- views -----------------------------------------------------------------------------
    def view(self, track: Track, now: float | None = None) -> View:
        """What ``track`` looks like at ``now`` (default: the clock's now)."""
        now = self.clock.now() if now is None else now
        with self._lock:
            el, requests = self._elapsed(track, now), track.requests
        doc = self._doc(track.repo, track.root)
        if doc is None:
            stored = self.upstream.get_manifest(track.repo, track.root)
            return View("opaque", True, stored)
        if doc.is_index:
            return self._index_view(track, doc, el, requests)
        return self._image_view(track, doc, el, requests)

    def _remember(self, repo: str, stored: StoredManifest) -> StoredManifest:
        return self._generated.setdefault((repo, str(stored.digest)), stored)

    def _image_view(self, track: Track, doc: Doc, el: float | None, requests: int) -> View:
        plan, repo = track.plan, track.repo
        digests = [layer["digest"] for layer in doc.layers]
        n = len(digests)
        k = plan.synced([layer["size"] for layer in doc.layers], el, requests)
        mode = plan.mode
        label = f"{mode} {k}/{n}"
        if k >= n:
            return View(f"synced {n}/{n}", True, doc.stored)
        synced = set(digests[:k])
        unsynced = [d for d in digests[k:] if d not in synced]
        hidden = dict.fromkeys(unsynced, BOTH)
        root: Answer
        if mode in ("partial", "empty"):
            shown = k if mode == "partial" else 0
            config = None
            if plan.diff_ids == "cut":
                assert doc.config is not None
                raw = self._config_bytes(repo, doc.config["digest"])
                if raw is None:
                    return View(f"{label} (config unavailable)", False, None, hidden=hidden)
                config = cut_config(raw, shown)
                self._gen_blobs.setdefault((repo, str(Digest.of(config))), config)
            root = self._remember(repo, cut_image(doc, shown, config))
        elif mode == "blobs-404":
            root = doc.stored
            hidden = dict.fromkeys(unsynced, _METHODS[plan.blobs])
        elif mode == "manifest-blob-unknown":
            root = RegistryError(
                "MANIFEST_BLOB_UNKNOWN",
                "blob unknown to registry",  # Harbor #22747: the digest travels in `detail`
                str(unsynced[0]),
            )
        else:  # missing, and partial-index applied to a single image
            root = None
        return View(label, False, root, hidden=hidden)

    def _index_view(self, track: Track, doc: Doc, el: float | None, requests: int) -> View:
        plan, repo = track.plan, track.repo
        child_docs = [self._doc(repo, c["digest"]) for c in doc.children]
        if plan.mode == "partial-index":
            return self._partial_index_view(track, doc, child_docs, el, requests)
        views: list[View] = []
        for cdoc in child_docs:
            if cdoc is None or cdoc.is_index:
                stored = cdoc.stored if cdoc is not None else None
                views.append(View("opaque", True, stored))
            else:
                views.append(self._image_view(track, cdoc, el, requests))
        complete = all(v.complete for v in views)
        hidden: dict[str, frozenset[str]] = {}
        for v in views:
            hidden.update(v.hidden)
        children = {c["digest"]: v.root for c, v in zip(doc.children, views, strict=True)}
        label = f"{plan.mode} [{', '.join(v.label.split(' ')[-1] for v in views)}]"
        if complete:
            return View(f"synced {len(views)} children", True, doc.stored, children)
        if plan.mode == "missing":
            return View(label, False, None, children, hidden)
        pairs = [
            (c, v.root if isinstance(v.root, StoredManifest) else None)
            for c, v in zip(doc.children, views, strict=True)
        ]
        root = rewrite_index(doc, pairs)
        if root is not doc.stored:
            root = self._remember(repo, root)
        return View(label, False, root, children, hidden)

    def _partial_index_view(
        self,
        track: Track,
        doc: Doc,
        child_docs: list[Doc | None],
        el: float | None,
        requests: int,
    ) -> View:
        plan, repo = track.plan, track.repo
        sizes = []
        for child, cdoc in zip(doc.children, child_docs, strict=True):
            extra = sum(layer["size"] for layer in cdoc.layers) if cdoc is not None else 0
            sizes.append(
                child["size"] + extra + (cdoc.config["size"] if cdoc and cdoc.config else 0)
            )
        m = len(doc.children)
        k = plan.synced(sizes, el, requests)
        if k >= m:
            return View(f"synced {m}/{m} children", True, doc.stored)
        children: dict[str, Answer] = {}
        synced_blobs: set[str] = set()
        for i, (child, cdoc) in enumerate(zip(doc.children, child_docs, strict=True)):
            if i < k:
                children[child["digest"]] = cdoc.stored if cdoc is not None else None
                if cdoc is not None and not cdoc.is_index:
                    synced_blobs.update(cdoc.blob_digests())
            else:
                children[child["digest"]] = None
        hidden: dict[str, frozenset[str]] = {}
        for cdoc in child_docs[k:]:
            if cdoc is not None and not cdoc.is_index:
                for b in cdoc.blob_digests():
                    if b not in synced_blobs:
                        hidden[b] = BOTH
        if plan.index == "unlisted":
            root: Answer = self._remember(
                repo, rewrite_index(doc, [(c, None) for c in doc.children[:k]])
            )
        else:
            root = doc.stored
        return View(f"partial-index/{plan.index} {k}/{m}", False, root, children, hidden)

    # -- lookups used by the mirror's store ------------------------------------------------
    def manifest(self, repo: str, reference: str) -> tuple[Answer, str]:
        """What ``GET/HEAD /v2/<repo>/manifests/<reference>`` answers now, and a sync label."""
        if _is_digest(reference):
            generated = self._generated.get((repo, reference))
            if generated is not None:
                return generated, "generated"
            with self._lock:
                owners = self._tracks_of(repo, reference)
            if not owners:
                root = self.upstream.get_manifest(repo, reference)
                if root is None:
                    return None, "unknown upstream"
                owners = [self._track(repo, root, reference)]
            track = owners[0]
            result = self._answer_for_digest(track, reference)
            self._count(track)
            return result
        root = self.upstream.get_manifest(repo, reference)
        if root is None:
            return None, "unknown upstream"
        track = self._track(repo, root, reference)
        v = self.view(track)
        self._count(track)
        return v.root, v.label

    def _tracks_of(self, repo: str, digest: str) -> list[Track]:
        out = []
        for (r, root), track in self._tracks.items():
            if r != repo:
                continue
            if root == digest:
                out.append(track)
                continue
            doc = self._docs.get((r, root))
            if doc is not None and any(c["digest"] == digest for c in doc.children):
                out.append(track)
        return out

    def _answer_for_digest(self, track: Track, digest: str) -> tuple[Answer, str]:
        v = self.view(track)
        if digest == track.root:
            answer = v.root
            if isinstance(answer, StoredManifest) and str(answer.digest) != digest:
                answer = None  # the full document is not on the mirror yet
            return answer, v.label
        return self._pick(track, v, digest), v.label

    def _pick(self, track: Track, v: View, digest: str) -> Answer:
        if v.complete:
            return self.upstream.get_manifest(track.repo, digest)
        answer = v.children.get(digest)
        if isinstance(answer, StoredManifest) and str(answer.digest) != digest:
            return None
        return answer

    def _count(self, track: Track) -> None:
        with self._lock:
            track.requests += 1

    def blob(self, repo: str, digest: str, method: str) -> tuple[bool, bytes | None, str]:
        """``(visible, generated bytes or None, label)`` for a blob request with ``method``."""
        generated = self._gen_blobs.get((repo, digest))
        if generated is not None:
            return True, generated, "generated"
        with self._lock:
            tracks = list(self._blob_tracks.get((repo, digest), ()))
        if not tracks:
            return True, None, "untracked"
        visible = False
        for track in tracks:
            hidden = self.view(track).hidden.get(digest, frozenset())
            visible = visible or method not in hidden
            self._count(track)
        return visible, None, "synced" if visible else "not synced"

    def tags(self, repo: str) -> list[str]:
        """Upstream tags whose image is fully synced right now."""
        now = self.clock.now()
        out = []
        for tag in self.upstream.tags(repo):
            root = self.upstream.get_manifest(repo, tag)
            if root is None:
                continue
            track = self._track(repo, root, tag, create=False, now=now)
            if self.view(track, now).complete:
                out.append(tag)
        return out

    def state(self) -> list[dict[str, Any]]:
        """Every track with its current view, for the control API."""
        with self._lock:
            tracks = list(self._tracks.values())
        now = self.clock.now()
        out = []
        for t in tracks:
            v = self.view(t, now)
            out.append(
                {
                    "repo": t.repo,
                    "reference": t.reference,
                    "digest": t.root,
                    "plan": t.plan.to_dict(),
                    "started": t.started,
                    "requests": t.requests,
                    "state": v.label,
                    "complete": v.complete,
                }
            )
        return out

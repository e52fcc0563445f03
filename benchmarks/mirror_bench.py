"""Mirror benchmarks: a fully synced FlakyMirror vs distribution's pull-through cache, and a
virtual-clock replay of lifecycle's 3.8 s open backoff against a mirror that fills layer by layer.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from benchmarks.load import LoadResult, run_load
from benchmarks.registry_bench import ACCEPT, REPO, TAG, push
from benchmarks.report import Row, at_least
from flakymirror.client import LIFECYCLE_DELAYS, new_remote_image, open_remote_image
from flakymirror.client.errors import ImageError
from flakymirror.distribution import Distribution
from flakymirror.mirror import FlakyMirror, SyncPlan, Timeline, VirtualClock
from flakymirror.oci import Image, build_image
from flakymirror.registry import Registry

__all__ = ["MirrorSetup", "mirror_image", "mirror_rows", "mirrors", "replay_rows", "replay_once"]

#: lifecycle's open backoff sums to this many seconds (0.1 + 0.2 + 0.5 + 1 + 2).
BACKOFF = round(sum(LIFECYCLE_DELAYS), 6)


def mirror_image() -> Image:
    """The image both mirrors serve: five small gzip layers (a manifest like a real base image)."""
    return build_image(layers=5, seed="mirror-bench", layer_size=16384)


@dataclass
class MirrorSetup:
    """Everything the mirror comparison runs against (all started, all verified)."""

    image: Image
    flaky: FlakyMirror  # in-process upstream: the default test setup
    flaky_http: FlakyMirror | None  # pull-through over HTTP from the same distribution upstream
    proxy: Distribution  # distribution with proxy.remoteurl → upstream
    upstream: Distribution


def _url(base: str) -> str:
    return f"{base}/v2/{REPO}/manifests/{TAG}"


def _warm_and_verify(base: str, image: Image, what: str) -> None:
    """One GET (the mirror syncs or caches on it), then a second that must serve the image."""
    with requests.Session() as s:
        for _ in range(2):
            r = s.get(_url(base), headers={"Accept": ACCEPT}, timeout=30)
        if r.status_code != 200 or r.content != image.manifest_bytes:
            raise RuntimeError(f"{what} at {base} answered {r.status_code}: {r.content[:300]!r}")
        if r.headers.get("Docker-Content-Digest") != str(image.digest):
            raise RuntimeError(f"{what}: Docker-Content-Digest is not {image.digest}")


@contextlib.contextmanager
def mirrors(*, with_http_upstream: bool = True) -> Iterator[MirrorSetup]:
    """Start distribution (upstream) + distribution proxy + FlakyMirror(s); stop all after."""
    image = mirror_image()
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(Distribution())
        push(image, upstream.host)
        proxy = stack.enter_context(Distribution(proxy=upstream.url))
        source = stack.enter_context(Registry())
        source.push(image, f"{REPO}:{TAG}")
        flaky = stack.enter_context(FlakyMirror(source, plan=SyncPlan.immediate()))
        flaky_http = None
        if with_http_upstream:
            flaky_http = stack.enter_context(FlakyMirror(upstream.url, plan=SyncPlan.immediate()))
        setup = MirrorSetup(image, flaky, flaky_http, proxy, upstream)
        _warm_and_verify(proxy.url, image, "distribution proxy")
        _warm_and_verify(flaky.url, image, "FlakyMirror (in-process upstream)")
        if flaky_http is not None:
            _warm_and_verify(flaky_http.url, image, "FlakyMirror (HTTP upstream)")
        yield setup
        flaky.check()
        if flaky_http is not None:
            flaky_http.check()


def mirror_rows(m: MirrorSetup, *, seconds: float, warmup: float, tool: str = "auto") -> list[Row]:
    """Manifest GET by tag through each mirror under the same load."""
    targets = [("flaky", m.flaky.url), ("proxy", m.proxy.url)]
    if m.flaky_http is not None:
        targets.append(("flaky_http", m.flaky_http.url))
    res: dict[str, LoadResult] = {}
    for name, base in targets:
        if warmup > 0:
            run_load(_url(base), ACCEPT, seconds=warmup, tool=tool)
        res[name] = run_load(_url(base), ACCEPT, seconds=seconds, tool=tool)
    proxy = res["proxy"]
    shape = f"{proxy.tool}, {proxy.threads}t/{proxy.connections}c, {seconds:g}s"
    rows = [
        Row(
            f"synced mirror manifest GET by tag ({shape}): FlakyMirror (in-process upstream) "
            "vs distribution proxy",
            "req/s",
            res["flaky"].rps,
            proxy.rps,
            at_least(5),
            details={"flakymirror": res["flaky"].to_dict(), "distribution": proxy.to_dict()},
        ),
        Row(
            "synced mirror manifest GET: p99 latency (in-process upstream)",
            "ms",
            res["flaky"].p99_ms,
            proxy.p99_ms,
        ),
    ]
    if "flaky_http" in res:
        rows.append(
            Row(
                "synced mirror manifest GET by tag: FlakyMirror pulling through from the same "
                "distribution upstream vs distribution proxy",
                "req/s",
                res["flaky_http"].rps,
                proxy.rps,
                None,  # both ask the upstream for the tag on every GET: upstream-bound by design
                details={"flakymirror": res["flaky_http"].to_dict()},
            )
        )
    return rows


@dataclass(frozen=True)
class Replay:
    """One replay: wall seconds, virtual seconds slept, manifest requests, outcome."""

    wall: float
    virtual: float
    attempts: int
    opened: bool
    error: str | None


def replay_once(*, succeed: bool) -> Replay:
    """lifecycle's ``open_remote_image`` against a mirror that fills one layer at a time.

    Five layers appear at 0.05, 0.3, 0.8, 1.8 and 3.8 s (``succeed``; the 6th attempt, at
    3.8 s, sees them all) or the last one at 3.9 s (every attempt fails, the last error is
    raised after the full 3.8 s). Partial manifests keep the full ``diff_ids``, so a partial
    image fails ``top_layer`` with lifecycle's ``mismatched fs layers`` error.
    """
    image = mirror_image()
    clock = VirtualClock()
    last = 3.8 if succeed else 3.9
    plan = SyncPlan(Timeline.per_layer([0.05, 0.3, 0.8, 1.8, last]), diff_ids="full")
    quiet = logging.getLogger("flakymirror.bench.replay")
    quiet.disabled = True
    with FlakyMirror(clock=clock, plan=plan) as mirror:
        mirror.push_upstream(image, f"{REPO}:{TAG}")
        ref = f"{mirror.host}/{REPO}:{TAG}"
        opened, error = False, None
        t0 = time.perf_counter()
        try:
            img = open_remote_image(
                lambda: new_remote_image(ref, insecure=True, sleep=clock.sleep),
                sleep=clock.sleep,
                logger=quiet,
            )
            opened = img.top_layer() == str(image.config.diff_ids[-1])
        except ImageError as exc:
            error = str(exc)
        wall = time.perf_counter() - t0
        attempts = len(mirror.journal.filter(kind="manifest", method="GET"))
        mirror.check()
    return Replay(wall, clock.slept, attempts, opened, error)


def replay_rows(*, runs: int) -> list[Row]:
    """Median wall time of ``runs`` replays of each outcome vs the 3.8 s of virtual time."""
    rows = []
    for succeed in (True, False):
        replay_once(succeed=succeed)  # warm imports and the first server start
        reps = [replay_once(succeed=succeed) for _ in range(runs)]
        r0 = reps[0]
        problems = [
            f"slept {r.virtual}s, not {BACKOFF}s" for r in reps if abs(r.virtual - BACKOFF) > 1e-6
        ]
        problems += [f"{r.attempts} manifest GETs, not 6" for r in reps if r.attempts != 6]
        if succeed:
            problems += [f"open failed: {r.error}" for r in reps if not r.opened]
        else:
            problems += ["opened although the last layer comes at 3.9 s" for r in reps if r.opened]
        wall = statistics.median(r.wall for r in reps)
        speedup = BACKOFF / wall
        rows.append(
            Row(
                f"virtual-clock replay of the {BACKOFF:g} s backoff, "
                f"{'opens on attempt 6' if succeed else 'fails after attempt 6'} "
                f"(median of {runs}; value = speedup over real time)",
                "×",
                speedup,
                target=_speedup_target(100),
                ratio=None,
                error="; ".join(dict.fromkeys(problems)) or None,
                details={
                    "wall_ms": [r.wall * 1000 for r in reps],
                    "virtual_s": r0.virtual,
                    "attempts": r0.attempts,
                    "last_error": r0.error,
                },
            )
        )
    return rows


def _speedup_target(factor: float):  # noqa: ANN202 - a report.Target
    from benchmarks.report import Target

    return Target(
        f"≥ {factor:g}× real time",
        lambda r: r.flakymirror is not None and r.flakymirror >= factor,
    )

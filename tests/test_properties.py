"""Properties of lifecycle's retrying opener against a real FlakyMirror over sockets, on the
mirror's virtual clock (a 3.8 s backoff replays in milliseconds). One mirror per test — the
plugin's ``flaky_mirror`` — is reset between examples.

1. If every layer syncs before the cumulative backoff at some attempt, the open succeeds at
   exactly that attempt (and, in ``partial`` mode with cut diff_ids, succeeds as soon as one
   layer is there, with that layer as the top layer: lifecycle #1674's hazard).
2. A first answer of 400, 401 without a JSON body, 403, 405 or 429 means one attempt and no
   opener sleep (ggcr's own transport retries of 429 under ``ggcr-v0.21.9`` happen inside
   that attempt).
3. Whatever the sync plan and the faults, the opener's sleeps are a prefix of
   ``0.1, 0.2, 0.5, 1, 2``, one fewer than the attempts, and an early stop is a
   non-retryable error.
4. Nothing the client accepts fails digest verification: after corrupted bodies, wrong
   ``Docker-Content-Digest`` headers and truncated transfers, the digest a successful open
   reports is the sha256 (computed here) of the manifest it parsed, it equals upstream's digest
   exactly when the bytes are upstream's (by digest: always), and the config matches the
   descriptor of that manifest. Explicit examples pin a wrong header and an accepted corrupt
   manifest: a client trusting the header fails this property.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from flakymirror import strategies as fst
from flakymirror.client import (
    LIFECYCLE_DELAYS,
    ImageError,
    RemoteImage,
    find_transport_error,
    is_retryable,
    new_remote_image,
    open_remote_image,
)
from flakymirror.mirror import (
    Corrupt,
    FaultRule,
    FlakyMirror,
    Match,
    SyncPlan,
    Timeline,
    WrongDigest,
)
from flakymirror.oci import build_image

PROPS = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILES = ("none", "ggcr-v0.21.5", "ggcr-v0.21.9")
_QUIET = logging.getLogger("tests.properties.opener")
_QUIET.disabled = True  # thousands of retry warnings would only fill the captured log


@dataclass
class Opened:
    """One ``open_remote_image`` through the mirror: the image or the error, how many
    attempts (calls of ``new_image``), which sleeps the opener made, and every sleep."""

    image: RemoteImage | None
    error: BaseException | None
    attempts: int
    opener_sleeps: list[float] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


def open_through(mirror: FlakyMirror, ref: str, profile: str = "ggcr-v0.21.9") -> Opened:
    """lifecycle's open of ``ref`` through ``mirror``: a fresh remote image per attempt, every
    sleep on the mirror's clock."""
    clock: Any = mirror.clock
    opened = Opened(None, None, 0)

    def new_image() -> RemoteImage:
        opened.attempts += 1
        return new_remote_image(
            f"{mirror.host}/{ref}", insecure=True, profile=profile, sleep=clock.sleep
        )

    def opener_sleep(seconds: float) -> None:
        opened.opener_sleeps.append(seconds)
        clock.sleep(seconds)

    try:
        opened.image = open_remote_image(new_image, sleep=opener_sleep, logger=_QUIET)
    except Exception as err:  # noqa: BLE001 - any failure is an outcome to check
        opened.error = err
    opened.sleeps = clock.sleeps
    mirror.check()  # whatever the faults, the mirror's handlers never crash
    return opened


def fresh(mirror: FlakyMirror, image: Any, ref: str = "lib/app:1") -> None:
    mirror.reset()
    mirror.push_upstream(image, ref)


def _conv(times: tuple[float, ...], mode: str, attempt: int | None) -> fst.Convergence:
    plan = SyncPlan(Timeline.per_layer(times), mode=mode)
    return fst.Convergence(plan, len(times), times, attempt)


@PROPS
@example(conv=_conv((0.0, 3.8), "empty", 5), seed=0, flavor="oci", profile="none")  # on the edge
@example(conv=_conv((0.1, 3.801), "missing", None), seed=1, flavor="oci", profile="none")
@given(
    conv=fst.converging_plans(max_layers=3),
    seed=st.integers(0, 1000),
    flavor=st.sampled_from(("oci", "docker")),
    profile=st.sampled_from(PROFILES),
)
def test_open_succeeds_at_exactly_the_attempt_that_sees_every_layer(
    flaky_mirror: FlakyMirror, conv: fst.Convergence, seed: int, flavor: str, profile: str
) -> None:
    image = build_image(layers=conv.layers, layer_size=64, seed=seed, flavor=flavor)
    fresh(flaky_mirror, image)
    flaky_mirror.set_plan(conv.plan)
    opened = open_through(flaky_mirror, "lib/app:1", profile)
    event(f"attempt={conv.attempt} mode={conv.plan.mode}")
    assert opened.sleeps == opened.opener_sleeps  # no transport retries without faults
    if conv.attempt is None:
        assert isinstance(opened.error, ImageError), opened.error
        assert opened.attempts == len(LIFECYCLE_DELAYS) + 1
        assert opened.opener_sleeps == list(LIFECYCLE_DELAYS)
    else:
        assert opened.error is None, opened.error
        assert opened.image is not None
        assert opened.attempts == conv.attempts
        assert opened.opener_sleeps == list(LIFECYCLE_DELAYS[: conv.attempt])
        assert opened.image.manifest_bytes == image.manifest_bytes
        assert opened.image.top_layer() == str(image.layers[-1].diff_id)


@PROPS
@given(
    times=st.lists(st.integers(0, 4000), min_size=1, max_size=4).map(
        lambda ms: tuple(sorted(t / 1000 for t in ms))
    ),
    seed=st.integers(0, 1000),
)
def test_partial_cut_mode_opens_with_the_wrong_top_layer(
    flaky_mirror: FlakyMirror, times: tuple[float, ...], seed: int
) -> None:
    image = build_image(layers=len(times), layer_size=64, seed=seed)
    fresh(flaky_mirror, image)
    flaky_mirror.set_plan(SyncPlan(Timeline.per_layer(times), mode="partial", diff_ids="cut"))
    opened = open_through(flaky_mirror, "lib/app:1")
    attempt = fst.attempt_seeing(times[0])
    if attempt is None:
        assert opened.attempts == 6 and opened.error is not None
        return
    assert opened.error is None, opened.error
    assert opened.image is not None
    assert opened.attempts == attempt + 1
    start = fst.attempt_starts()[attempt]
    synced = sum(1 for t in times if t <= start + 1e-7)
    assert opened.image.top_layer() == str(image.layers[synced - 1].diff_id)
    assert len(opened.image.layers) == synced


@PROPS
@given(
    answer=fst.non_retryable_answers(),
    kind=st.sampled_from(("manifest", "blob")),
    persistent=st.booleans(),
    profile=st.sampled_from(PROFILES),
)
def test_a_non_retryable_first_answer_means_one_attempt_and_no_sleep(
    flaky_mirror: FlakyMirror, answer: Any, kind: str, persistent: bool, profile: str
) -> None:
    # The ping is left alone: a 401 there is an auth challenge, not an answer about the image.
    image = build_image(layers=2, layer_size=64)
    fresh(flaky_mirror, image)
    flaky_mirror.add_fault(
        FaultRule(Match(method="GET", kind=kind, times=None if persistent else 1), answer)
    )
    opened = open_through(flaky_mirror, "lib/app:1", profile)
    assert opened.attempts == 1
    assert opened.opener_sleeps == []
    retried_by_ggcr = answer.status == 429 and profile == "ggcr-v0.21.9"
    if retried_by_ggcr:
        assert opened.sleeps  # ggcr's transport backoff, inside the one attempt
    else:
        assert opened.sleeps == []
    if retried_by_ggcr and not persistent:
        assert opened.error is None, opened.error
        return
    assert opened.error is not None
    transport_error = find_transport_error(opened.error)
    assert transport_error is not None and transport_error.status_code == answer.status


@PROPS
@given(
    image=st.one_of(
        fst.images(max_layers=3, max_layer_size=256),
        fst.indexes(max_platforms=2, max_layers=2, max_layer_size=256),
    ),
    plan=fst.sync_plans(schedule=fst.schedules(max_seconds=4.0)),
    faults=fst.fault_plans(max_rules=3),
    profile=st.sampled_from(PROFILES),
)
def test_opener_sleeps_are_a_prefix_of_the_schedule(
    flaky_mirror: FlakyMirror, image: Any, plan: SyncPlan, faults: Any, profile: str
) -> None:
    fresh(flaky_mirror, image)
    flaky_mirror.set_plan(plan)
    for rule in faults:
        flaky_mirror.add_fault(rule)
    opened = open_through(flaky_mirror, "lib/app:1", profile)
    n = len(opened.opener_sleeps)
    event(f"attempts={opened.attempts} {'failed' if opened.error else 'opened'}")
    assert opened.opener_sleeps == list(LIFECYCLE_DELAYS[:n])
    assert opened.attempts == n + 1 <= len(LIFECYCLE_DELAYS) + 1
    if opened.error is not None and opened.attempts < len(LIFECYCLE_DELAYS) + 1:
        assert not is_retryable(opened.error), opened.error
    assert flaky_mirror.journal.count(kind="ping") >= 1


_DIGEST_IMAGE = build_image(layers=2, layer_size=64, seed=5)
#: a byte inside the manifest's own "mediaType" value: flipped, the JSON still reads
_READABLE = _DIGEST_IMAGE.manifest_bytes.index(b'"mediaType":"application/') + 14


def _on_manifest(action: Any) -> tuple[FaultRule, ...]:
    return (FaultRule(Match(method="GET", kind="manifest"), action),)


@PROPS
@example(image=_DIGEST_IMAGE, faults=_on_manifest(WrongDigest()), by_digest=False, profile="none")
@example(image=_DIGEST_IMAGE, faults=_on_manifest(WrongDigest()), by_digest=True, profile="none")
@example(
    image=_DIGEST_IMAGE,
    faults=_on_manifest(Corrupt(offset=_READABLE)),
    by_digest=False,
    profile="none",
)
@example(  # a flipped high bit: invalid UTF-8 inside a string, which Go still parses
    image=_DIGEST_IMAGE,
    faults=_on_manifest(Corrupt(offset=_READABLE, xor=128)),
    by_digest=False,
    profile="none",
)
@given(
    image=fst.images(max_layers=3, max_layer_size=256),
    faults=fst.fault_plans(
        max_rules=2,
        kinds=("corrupt", "wrong-digest", "truncate"),
        match=fst.matches(kinds=("manifest", "blob"), methods=("GET",)),
    ),
    by_digest=st.booleans(),
    profile=st.sampled_from(PROFILES),
)
def test_nothing_accepted_fails_digest_verification(
    flaky_mirror: FlakyMirror, image: Any, faults: Any, by_digest: bool, profile: str
) -> None:
    fresh(flaky_mirror, image)
    for rule in faults:
        flaky_mirror.add_fault(rule)
    ref = f"lib/app@{image.digest}" if by_digest else "lib/app:1"
    opened = open_through(flaky_mirror, ref, profile)
    event(f"{'opened' if opened.image else 'refused'} after {opened.attempts} attempt(s)")
    if opened.image is None:
        return
    got = opened.image
    # Every digest below is computed here with hashlib from the bytes the client kept, and
    # compared with what the client claims, or with upstream's digest (the image builder's).
    # The digest the client reports is the sha256 of the manifest it parsed, never a
    # Docker-Content-Digest header (which a wrong-digest fault falsifies) ...
    assert str(got.digest) == "sha256:" + hashlib.sha256(got.manifest_bytes).hexdigest()
    # (decoded as Go does: encoding/json turns invalid UTF-8 into U+FFFD, so a corrupt byte
    # inside a string value still parses)
    as_go_reads_it = json.loads(got.manifest_bytes.decode("utf-8", errors="replace"))
    assert as_go_reads_it == got.manifest_dict
    # ... so it is upstream's digest exactly when the bytes are upstream's: by tag, ggcr (and
    # so the client) accepts a corrupted manifest that still reads as JSON, under its own digest
    same_bytes = got.manifest_bytes == image.manifest_bytes
    assert (str(got.digest) == str(image.digest)) == same_bytes
    if by_digest:  # by digest, only upstream's exact manifest can be accepted
        assert same_bytes and str(got.digest) == str(image.digest) == ref.split("@")[1]
    # the config it accepted matches the descriptor of the manifest it accepted
    descriptor = as_go_reads_it["config"]
    assert "sha256:" + hashlib.sha256(got.config_bytes).hexdigest() == descriptor["digest"]
    assert len(got.config_bytes) == descriptor["size"]
    if same_bytes:
        assert got.config_bytes == image.config_blob.read()
        assert got.top_layer() == str(image.layers[-1].diff_id)

"""The verdict rules on plain values: every verdict from a situation whose outcome is known."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from flakymirror.oci import build_image
from flakymirror.trial.cell import Completed, Content, Target
from flakymirror.trial.observe import observe
from flakymirror.trial.verdict import (
    FAILED_LOUD,
    FAILED_SILENT,
    HARNESS_ERROR,
    HUNG,
    SURVIVED,
    content_matches,
    ideal,
    judge,
)

IMAGE = build_image(layers=2, seed=7)
TARGET = Target.of(IMAGE, "lib/app:1")
T0 = 1000.0


def entry(seq, method, path, kind, ref, status=200, *, bytes_sent=0, digest=None,
          media_type=None, damage=(), offset=0, sync=None):  # fmt: skip
    return SimpleNamespace(
        seq=seq, wall_time=T0 + seq / 10, method=method, path=path, query="", kind=kind,
        repo="lib/app", reference=ref, status=status, bytes_sent=bytes_sent, offset=offset,
        digest=digest, media_type=media_type, damage=list(damage), fault=None, sync=sync,
        outcome="ok", reason=None, limit=None,
    )  # fmt: skip


def complete_pull(damage_layer: tuple[str, ...] = ()) -> list[SimpleNamespace]:
    out = [entry(1, "GET", "/v2/", "ping", None)]
    out.append(entry(2, "GET", "/v2/lib/app/manifests/1", "manifest", "1",
                     bytes_sent=len(IMAGE.manifest_bytes), digest=TARGET.manifest,
                     media_type=IMAGE.media_type, sync="synced 2/2"))  # fmt: skip
    for i, blob in enumerate(TARGET.blobs, start=3):
        size = TARGET.sizes[blob]
        dmg = damage_layer if blob == TARGET.layers[-1] else ()
        out.append(entry(i, "GET", f"/v2/lib/app/blobs/{blob}", "blob", blob,
                         bytes_sent=size if not dmg else size // 2, damage=dmg))  # fmt: skip
    return out


def ok(code=0, timed_out=False):
    return Completed(("client",), code, "", "", 1.5, timed_out)


NOTHING = Content.unreadable("not read")


def test_complete_pull_from_the_journal_survives():
    obs = observe(complete_pull(), None, TARGET, t0=T0)
    assert obs.attempts == 1 and obs.last_manifest.digest == TARGET.manifest
    assert judge(ok(), obs, NOTHING, TARGET).verdict == SURVIVED


def test_exit_0_after_an_empty_manifest_is_failed_silent():
    entries = [entry(1, "GET", "/v2/lib/app/manifests/1", "manifest", "1",
                     digest="sha256:" + "e" * 64, media_type=IMAGE.media_type,
                     sync="empty 0/2")]  # fmt: skip
    obs = observe(entries, None, TARGET, t0=T0)
    j = judge(ok(), obs, NOTHING, TARGET)
    assert j.verdict == FAILED_SILENT
    assert "empty 0/2" in j.reason


def test_exit_0_with_a_truncated_layer_never_repaired_is_failed_silent():
    obs = observe(complete_pull(("truncated",)), None, TARGET, t0=T0)
    j = judge(ok(), obs, NOTHING, TARGET)
    assert j.verdict == FAILED_SILENT and "never arrived whole" in j.reason


def test_a_range_resume_repairs_a_truncated_layer():
    entries = complete_pull(("truncated",))
    layer = TARGET.layers[-1]
    size = TARGET.sizes[layer]
    entries.append(entry(9, "GET", f"/v2/lib/app/blobs/{layer}", "blob", layer, 206,
                         bytes_sent=size - size // 2, offset=size // 2))  # fmt: skip
    obs = observe(entries, None, TARGET, t0=T0)
    assert judge(ok(), obs, NOTHING, TARGET).verdict == SURVIVED


def test_corrupted_bytes_are_not_repaired_by_a_resume():
    entries = complete_pull(("corrupted",))
    layer = TARGET.layers[-1]
    size = TARGET.sizes[layer]
    entries.append(entry(9, "GET", f"/v2/lib/app/blobs/{layer}", "blob", layer, 206,
                         bytes_sent=size - size // 2, offset=size // 2))  # fmt: skip
    assert judge(ok(), observe(entries, None, TARGET, t0=T0), NOTHING, TARGET).verdict == (
        FAILED_SILENT
    )


def test_a_blob_from_the_origin_counts_and_shows_the_fallback():
    entries = complete_pull(("truncated",))
    layer = TARGET.layers[-1]
    origin = [SimpleNamespace(method="GET", target=f"/v2/lib/app/blobs/{layer}", status=200,
                              client="x", time=T0 + 2.0)]  # fmt: skip
    obs = observe(entries, origin, TARGET, t0=T0)
    assert obs.origin_requests == 1 and obs.fell_back_at == 2.0
    assert judge(ok(), obs, NOTHING, TARGET).verdict == SURVIVED


def test_manifest_only_needs_the_config_only():
    entries = complete_pull()[:3]  # ping, manifest, config
    obs = observe(entries, None, TARGET, t0=T0)
    assert judge(ok(), obs, NOTHING, TARGET).verdict == FAILED_SILENT
    assert judge(ok(), obs, NOTHING, TARGET, manifest_only=True).verdict == SURVIVED


def test_non_zero_exit_is_failed_loud_and_a_timeout_is_hung():
    obs = observe(complete_pull(), None, TARGET, t0=T0)
    assert judge(ok(1), obs, NOTHING, TARGET).verdict == FAILED_LOUD
    assert judge(ok(None, timed_out=True), obs, NOTHING, TARGET).verdict == HUNG


def test_exit_0_without_any_request_is_failed_silent():
    obs = observe([], None, TARGET, t0=T0)
    assert judge(ok(), obs, NOTHING, TARGET).verdict == FAILED_SILENT


def test_a_journal_that_dropped_entries_is_a_harness_error():
    obs = observe(complete_pull(), None, TARGET, t0=T0, dropped=3)
    assert judge(ok(), obs, NOTHING, TARGET).verdict == HARNESS_ERROR


def test_a_request_the_harness_refused_on_its_own_cap_is_a_harness_error():
    entries = complete_pull()
    entries[0].outcome, entries[0].status, entries[0].limit = "limit", 503, "tokens"
    obs = observe(entries, None, TARGET, t0=T0)
    full = Content(readable=True, manifest=TARGET.manifest, layers=TARGET.layers, verified=True)
    j = judge(ok(), obs, full, TARGET)  # even though the client ended up with the image
    assert j.verdict == HARNESS_ERROR
    assert "refused 1 requests on its own (harness limit: tokens)" in j.reason
    assert "harness limit: tokens" in obs.timeline[0].line()


def test_content_wins_where_it_can_be_read():
    obs = observe(complete_pull(), None, TARGET, t0=T0)  # the journal says complete...
    short = Content(readable=True, manifest="sha256:" + "1" * 64, layers=())
    j = judge(ok(), obs, short, TARGET)  # ...but the client holds another image
    assert j.verdict == FAILED_SILENT and "holds manifest" in j.reason
    full = Content(readable=True, manifest=TARGET.manifest, layers=TARGET.layers, verified=True)
    assert judge(ok(), observe([], None, TARGET, t0=T0), full, TARGET).verdict == FAILED_SILENT
    assert judge(ok(), obs, full, TARGET).verdict == SURVIVED


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (Content(readable=True, manifest=TARGET.manifest, verified=False), "does not match"),
        (Content(readable=True, diff_ids=TARGET.diff_ids[:1]), "1 layers (diff IDs)"),
        (Content(readable=True, layers=TARGET.layers[:1]), "1 of the image's 2 layers"),
        (Content(readable=True, config="sha256:" + "2" * 64, layers=TARGET.layers), "config"),
        (Content(readable=True), "no manifest"),
    ],
)
def test_content_mismatches_are_named(content, why):
    assert why in content_matches(content, TARGET)


def test_ideal_verdicts():
    assert ideal(survivable=True, converges_after=1.0, timeout=60) == SURVIVED
    assert ideal(survivable=True, converges_after=40.0, timeout=60) == FAILED_LOUD
    assert ideal(survivable=False, converges_after=None, timeout=60) == FAILED_LOUD
    assert ideal(survivable=True, converges_after=None, timeout=60,
                 has_what_it_needs=False) == FAILED_LOUD  # fmt: skip


def test_attempts_count_gets_of_the_image_manifest_not_heads():
    entries = [
        entry(1, "HEAD", "/v2/lib/app/manifests/1", "manifest", "1"),
        entry(3, "GET", "/v2/lib/app/manifests/1", "manifest", "1", 503),
        entry(8, "GET", "/v2/lib/app/manifests/1", "manifest", "1", 503),
        entry(20, "GET", "/v2/lib/app/manifests/1", "manifest", "1", digest=TARGET.manifest,
              media_type=IMAGE.media_type),
    ]  # fmt: skip
    obs = observe(entries, None, TARGET, t0=T0)
    assert obs.attempts == 3 and obs.gaps == (0.5, 1.2)
    assert obs.requests == {"GET manifest": 3, "HEAD manifest": 1}


def test_a_client_that_cannot_start_is_a_harness_error_not_a_failure():
    missing = Completed(("nope",), 127, "", "", 0.0, error="nope: not found")
    assert judge(missing, observe([], None, TARGET, t0=T0), NOTHING, TARGET).verdict == (
        HARNESS_ERROR
    )

"""Journal queries that cannot silently count nothing, and totals that survive eviction."""

from __future__ import annotations

import pytest

from flakymirror.mirror import KINDS, Journal, JournalQueryError
from flakymirror.mirror.journal import ENTRY_KINDS
from tests.helpers.mirror_requests import REPO, get_blob, get_manifest


def _entry(journal: Journal, method: str = "GET", kind: str = "manifest", status: int = 200):
    entry = journal.open(t=0, clock_time=0, wall_time=0, method=method, path="/v2/x", kind=kind)
    entry.status = status
    journal.close(entry)
    return entry


@pytest.fixture
def journal() -> Journal:
    j = Journal()
    _entry(j)
    _entry(j, "HEAD", "blob", 404)
    _entry(j, "GET", "rejected", 400)
    return j


def test_known_kinds_are_the_endpoint_kinds_and_rejected(journal) -> None:
    assert (*KINDS, "rejected") == ENTRY_KINDS
    assert journal.count(kind="manifest") == 1 and journal.count(kind="rejected") == 1
    assert all(journal.count(kind=k) >= 0 for k in ENTRY_KINDS)
    assert journal.count(status=404) == 1 and journal.count(method="head") == 1


@pytest.mark.parametrize("query", ["filter", "count", "timeline", "to_list", "to_json"])
def test_an_unknown_kind_raises_with_a_suggestion(journal, query) -> None:
    with pytest.raises(JournalQueryError) as info:
        getattr(journal, query)(kind="manifests")
    assert isinstance(info.value, ValueError) and info.value.field == "kind"
    message = str(info.value)
    assert message.startswith("kind: unknown journal entry kind 'manifests'")
    assert "did you mean 'manifest'?" in message and "rejected" in message


def test_a_status_that_is_not_an_int_raises(journal) -> None:
    with pytest.raises(
        JournalQueryError,
        match=r"status: expected an integer status, got '404' \(did you mean 404\?\)",
    ):
        journal.filter(status="404")
    for bad in (True, 404.0, "abc"):
        with pytest.raises(JournalQueryError, match="^status: "):
            journal.count(status=bad)


def test_other_bad_criteria_raise(journal) -> None:
    with pytest.raises(
        JournalQueryError, match=r"^knd: unknown journal filter \(did you mean 'kind'\?\)"
    ):
        journal.count(knd="blob")
    with pytest.raises(JournalQueryError, match="^repo: expected a string"):
        journal.filter(repo=1)
    with pytest.raises(JournalQueryError, match="^fault: expected true or false"):
        journal.timeline(fault="yes")
    with pytest.raises(JournalQueryError, match="^kind: unknown journal entry kind 'nothing'"):
        journal.to_list(kind="nothing")
    assert "did you mean" not in str(
        pytest.raises(JournalQueryError, journal.count, kind="zzzzzz").value
    )


def test_totals_never_drop_while_entries_are_evicted() -> None:
    j = Journal(maxlen=2)
    for _ in range(5):
        _entry(j)
    _entry(j, "", "tls-probe", 400)
    _entry(j, "HEAD", "manifest")
    _entry(j, "GET", "blob")
    assert len(j) == 2 and j.dropped == 6
    assert j.count(kind="manifest", method="GET") == 0  # evicted
    totals = j.totals()
    assert totals == {"GET manifest": 5, "- tls-probe": 1, "HEAD manifest": 1, "GET blob": 1}
    assert sum(totals.values()) == len(j) + j.dropped
    totals["GET manifest"] = 0  # a copy
    assert j.totals()["GET manifest"] == 5
    j.clear()
    assert j.totals() == {} and j.dropped == 0


def test_totals_over_real_sockets_with_a_tiny_journal(make_mirror, vclock, image) -> None:
    mirror = make_mirror(clock=vclock, journal_size=3)
    mirror.push_upstream(image, f"{REPO}:1")
    for _ in range(4):
        assert get_manifest(mirror, REPO, "1", "HEAD").status_code == 200
        assert get_manifest(mirror, REPO, str(image.digest)).status_code == 200
    for layer in image.manifest.layers:
        assert get_blob(mirror, REPO, str(layer.digest)).status_code == 200
    totals = mirror.journal.totals()
    assert totals == {"HEAD manifest": 4, "GET manifest": 4, "GET blob": 3}
    assert len(mirror.journal) == 3 and mirror.journal.dropped == 8

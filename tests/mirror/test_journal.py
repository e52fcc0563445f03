"""Journal: bounded, queryable, printable, exportable."""

from __future__ import annotations

import json

from flakymirror.mirror.journal import Journal


def _entry(journal: Journal, i: int, **kw):
    fields = dict(
        t=i * 0.1,
        clock_time=1000 + i,
        wall_time=2000 + i,
        method="GET",
        path=f"/v2/lib/app/manifests/{i}",
        kind="manifest",
        repo="lib/app",
        reference=str(i),
    )
    fields.update(kw)
    entry = journal.open(**fields)
    entry.status = 200
    entry.bytes_sent = 10
    journal.close(entry)
    return entry


def test_filter_count_timeline_json() -> None:
    j = Journal()
    _entry(j, 1)
    e = _entry(j, 2, kind="blob", method="HEAD", reference="sha256:" + "c" * 64)
    e.faults.append("#0:status")
    e.status = 503
    assert j.count() == 2
    assert j.count(kind="blob") == 1 and j.count(method="head") == 1
    assert j.count(status=503) == 1 and j.count(fault=True) == 1 and j.count(repo="x") == 0
    text = j.timeline()
    assert "lib/app@sha256:cccccccccccc" in text and "fault=#0:status" in text
    assert "lib/app:1" in text
    data = json.loads(j.to_json())
    assert data["dropped"] == 0 and data["entries"][1]["fault"] == "#0:status"
    assert data["entries"][0]["seq"] == 1


def test_bounded_memory_counts_dropped() -> None:
    j = Journal(maxlen=3)
    for i in range(10):
        _entry(j, i)
    assert len(j) == 3 and j.dropped == 7
    assert [e.reference for e in j] == ["7", "8", "9"]
    assert "(7 older entries dropped)" in j.timeline()
    j.clear()
    assert len(j) == 0 and j.dropped == 0


def test_open_entry_shows_in_flight() -> None:
    j = Journal()
    j.open(t=0, clock_time=0, wall_time=0, method="GET", path="/v2/", kind="ping")
    assert "(in flight)" in j.timeline()

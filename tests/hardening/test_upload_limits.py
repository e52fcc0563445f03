"""Upload sessions are bounded: an idle one expires and its spool is deleted, one session may not
hold more than its cap (413 SIZE_INVALID, refused while streaming), all of them together not
more than the total (403 DENIED, the harness's limit), and only a little of each stays in RAM."""

from __future__ import annotations

import os

import pytest
import requests

from flakymirror.mirror import FlakyMirror
from flakymirror.registry import Registry
from flakymirror.registry.errors import RegistryError
from flakymirror.registry.sessions import UploadLimits, UploadTable
from tests.helpers.registry_requests import code_of


def _start(url: str) -> str:
    r = requests.post(url + "/v2/lib/app/blobs/uploads/", timeout=5)
    assert r.status_code == 202
    return url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers[
        "Location"]  # fmt: skip


def test_limits_are_a_checked_value() -> None:
    assert UploadLimits().idle_ttl == 600.0
    with pytest.raises(ValueError, match="idle_ttl"):
        UploadLimits(idle_ttl=0)
    with pytest.raises(ValueError, match="max_session_bytes"):
        UploadLimits(max_session_bytes=-1)


def test_an_idle_session_expires_and_its_spool_is_deleted(tmp_path, monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("flakymirror.registry.sessions.monotonic", lambda: now[0])
    table = UploadTable(str(tmp_path), UploadLimits(idle_ttl=60, memory_bytes=10))
    old = table.start("lib/app")
    old.write(b"x" * 100)  # past memory_bytes: a spool file
    assert old.spool.on_disk and os.path.exists(old.spool.path)
    now[0] += 30
    kept = table.start("lib/app")
    assert table.get("lib/app", old.uuid) is old  # used again at t+30: its idle time restarts
    now[0] += 59
    table.start("lib/other")
    assert table.get("lib/app", old.uuid) is old and table.expired == 0
    now[0] += 61
    assert table.get("lib/app", kept.uuid) is None  # idle 120 s: gone
    assert table.get("lib/app", old.uuid) is None
    assert table.expired == 3 and len(table) == 0
    assert os.listdir(tmp_path) == [] and table.total_bytes == 0


def test_a_session_over_its_cap_is_refused_while_it_streams() -> None:
    with Registry() as registry:
        registry.store.uploads.limits = UploadLimits(max_session_bytes=1000)
        url = _start(registry.url)
        over = requests.patch(url, data=iter([b"a" * 600, b"b" * 600]), timeout=5)
        assert over.status_code == 413 and code_of(over) == "SIZE_INVALID"
        assert registry.store.uploads.total_bytes <= 1000
        registry.check()


def test_all_sessions_together_stay_under_the_total_and_the_mirror_says_whose_limit() -> None:
    with FlakyMirror() as mirror:
        mirror.registry_app.store.uploads.limits = UploadLimits(max_total_bytes=1500)
        first, second = _start(mirror.url), _start(mirror.url)
        assert requests.patch(first, data=b"a" * 1000, timeout=5).status_code == 202
        full = requests.patch(second, data=b"b" * 1000, timeout=5)
        assert full.status_code == 403 and code_of(full) == "DENIED"
        entry = mirror.journal.settled()[-1]
        assert (entry.outcome, entry.limit) == ("limit", "uploads")
        assert requests.delete(first, timeout=5).status_code == 204  # cancelled: room again
        assert requests.patch(second, data=b"b" * 1000, timeout=5).status_code == 202
        mirror.check()


def test_a_session_keeps_little_in_memory(tmp_path) -> None:
    table = UploadTable(str(tmp_path))
    up = table.start("lib/app")
    up.write(b"x" * (UploadLimits().memory_bytes + 1))
    assert up.spool.on_disk
    with pytest.raises(RegistryError):
        UploadTable(str(tmp_path), UploadLimits(max_session_bytes=1)).start("a").write(b"xx")
    table.close()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
def test_a_session_waiting_for_its_next_chunk_holds_no_file_descriptor(tmp_path) -> None:
    table = UploadTable(str(tmp_path), UploadLimits(memory_bytes=10))
    before = _fds()
    sessions = [table.start("lib/app") for _ in range(50)]
    for up in sessions:
        up.write_stream([b"a" * 64, b"b" * 64])  # on disk, its file closed again
    assert all(up.spool.on_disk for up in sessions)
    assert _fds() <= before + 2  # was one descriptor per session
    up = sessions[0]
    up.write(b"c" * 10)  # the file opens again for the next chunk
    up.rollback(100)  # and for a rollback
    assert b"".join(up.spool.chunks()) == b"a" * 64 + b"b" * 36
    assert str(up.digest()).startswith("sha256:") and _fds() <= before + 2
    table.close()
    assert not list(tmp_path.iterdir())


def test_all_sessions_together_keep_at_most_memory_total_bytes_in_memory(tmp_path) -> None:
    table = UploadTable(str(tmp_path), UploadLimits(memory_bytes=100, memory_total_bytes=300))
    first = [table.start("lib/app") for _ in range(3)]
    assert [up.memory for up in first] == [100, 100, 100] and table.memory_reserved == 300
    late = table.start("lib/app")  # the budget is spent: to disk from its first byte
    late.write(b"x")
    assert late.memory == 0 and late.spool.on_disk
    first[0].write(b"y" * 101)  # moved to disk: its share is free again
    assert first[0].memory == 0 and table.memory_reserved == 200
    table.cancel("lib/app", first[1].uuid)  # a cancelled one gives its share back
    first[2].discard()
    assert table.memory_reserved == 0
    again = table.start("lib/app")
    assert again.memory == 100
    assert table.end(again.uuid) is again and table.memory_reserved == 0  # committed: freed
    table.close()

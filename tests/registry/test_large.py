"""A 64 MiB blob pushed with a streamed PATCH and read back with Range, in bounded memory."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import requests

from flakymirror.oci import Digest

CHUNK = 64 * 1024
COUNT = 1024  # 64 MiB


def chunk(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(4, "big")).digest() * (CHUNK // 32)


def blob_chunks():
    for i in range(COUNT):
        yield chunk(i)


def expected_digest() -> Digest:
    h = hashlib.sha256()
    for c in blob_chunks():
        h.update(c)
    return Digest("sha256", h.hexdigest())


def test_64mib_blob_streams_through_without_memory_blowup(registry):
    digest = expected_digest()
    url = registry.url
    tracemalloc.start()
    try:
        loc = requests.post(f"{url}/v2/big/blobs/uploads/").headers["Location"]
        r = requests.patch(url + loc, data=blob_chunks())  # chunked transfer encoding
        assert r.status_code == 202 and r.headers["Range"] == f"0-{COUNT * CHUNK - 1}"
        r = requests.put(f"{url}{r.headers['Location']}?digest={digest}")
        assert r.status_code == 201, r.text
        content = registry.store._blobs[str(digest)]
        assert content.data is None and os.path.getsize(content.path) == COUNT * CHUNK

        start, end = 10 * CHUNK + 100, 20 * CHUNK + 99  # inclusive
        with requests.get(
            f"{url}/v2/big/blobs/{digest}", headers={"Range": f"bytes={start}-{end}"}, stream=True
        ) as r:
            assert r.status_code == 206
            assert r.headers["Content-Range"] == f"bytes {start}-{end}/{COUNT * CHUNK}"
            got = hashlib.sha256()
            for piece in r.iter_content(CHUNK):
                got.update(piece)
        want = hashlib.sha256()
        whole = b"".join(chunk(i) for i in range(10, 21))
        want.update(whole[100 : 100 + end - start + 1])
        assert got.hexdigest() == want.hexdigest()

        with requests.get(f"{url}/v2/big/blobs/{digest}", stream=True) as r:
            assert r.headers["Content-Length"] == str(COUNT * CHUNK)
            full = hashlib.sha256()
            for piece in r.iter_content(CHUNK):
                full.update(piece)
        assert full.hexdigest() == digest.hex
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"

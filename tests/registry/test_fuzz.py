"""Property: nothing a client sends makes the registry answer 500 or stop serving."""

from __future__ import annotations

import http.client
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flakymirror.oci import build_image
from flakymirror.registry import Registry

IMG = build_image(layers=1, seed=99)
GOOD_DIGEST = str(IMG.layers[0].digest)

segments = st.sampled_from(
    [
        "v2",
        "app",
        "Bad",
        "..",
        ".",
        "a..b",
        "manifests",
        "blobs",
        "uploads",
        "tags",
        "list",
        "referrers",
        "_catalog",
        "1",
        ".hidden",
        GOOD_DIGEST,
        str(IMG.digest),
        "sha256:zz",
        "sha512:" + "0" * 128,
        "blake3:" + "0" * 64,
        "%2F",
        "%ff",
        "x" * 300,
        "",
    ]
)
queries = st.sampled_from(
    [
        "",
        "?n=2",
        "?n=-1",
        "?n=x",
        "?last=a",
        "?digest=sha256:zz",
        f"?digest={GOOD_DIGEST}",
        f"?mount={GOOD_DIGEST}&from=app",
        "?mount=bad&from=Bad",
        "?tag=.x",
        "?tag=ok",
        "?artifactType=a/b",
        "?digest-algorithm=sha512",
        "?digest-algorithm=md5",
    ]
)
header_values = st.one_of(
    st.sampled_from(
        [
            "bytes=0-1",
            "bytes=9-1",
            "bytes=-0",
            "0-0",
            "5-2",
            "bytes=x-y",
            "*/*",
            "",
            "application/vnd.oci.image.manifest.v1+json",
            '"sha256:00"',
            "text/plain",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


@pytest.fixture(scope="module")
def fuzz_registry():
    with Registry() as reg:
        reg.push(IMG, "app:1")
        yield reg


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]),
    path=st.lists(segments, min_size=1, max_size=6),
    query=queries,
    headers=st.dictionaries(
        st.sampled_from(
            ["Range", "Content-Range", "Accept", "If-None-Match", "Content-Type", "Authorization"]
        ),
        header_values,
        max_size=3,
    ),
    body=st.one_of(
        st.just(b""),
        st.binary(max_size=64),
        st.just(IMG.manifest_bytes),
        st.just(b'{"schemaVersion":2}'),
    ),
)
def test_no_request_gets_a_500(fuzz_registry, method, path, query, headers, body):
    reg = fuzz_registry
    target = "/" + "/".join(path) + query
    up = reg.store.uploads.start("app")
    target = target.replace("uploads/1", f"uploads/{up.uuid}")
    conn = http.client.HTTPConnection(reg.server.bind_host, reg.server.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    assert resp.status < 500, (method, target, headers, payload)
    if resp.status >= 400 and method != "HEAD":
        assert json.loads(payload)["errors"][0]["code"]
    reg.check()
    conn = http.client.HTTPConnection(reg.server.bind_host, reg.server.port, timeout=10)
    conn.request("GET", "/v2/")
    assert conn.getresponse().status == 200
    conn.close()

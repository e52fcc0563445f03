"""A table of malformed requests, each with the exact status and OCI error code expected.

Requests go through ``http.client`` so paths reach the server unnormalised (``..`` kept).
After every case the registry must still serve and have recorded no handler error.
"""

from __future__ import annotations

import http.client
import json

import pytest

from flakymirror.oci import Digest
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import Registry
from tests.helpers.registry_requests import descriptor, manifest_bytes

D = str(Digest.of(b"blob"))
BLAKE = "blake3:" + "a" * 64
OCI = {"Content-Type": mt.OCI_MANIFEST}


def _doc(**changes) -> bytes:
    doc = json.loads(manifest_bytes(b"{}", (b"blob",)))
    doc.update(changes)
    return json.dumps(doc).encode()


GOOD = manifest_bytes(b"{}", (b"blob",))

CASES = [
    # names
    ("GET", "/v2/Bad/manifests/1", {}, b"", 400, "NAME_INVALID"),
    ("GET", "/v2/a/../b/manifests/1", {}, b"", 400, "NAME_INVALID"),
    ("GET", "/v2/a..b/tags/list", {}, b"", 400, "NAME_INVALID"),
    ("GET", "/v2/-a/blobs/" + D, {}, b"", 400, "NAME_INVALID"),
    ("GET", "/v2/" + "a" * 300 + "/tags/list", {}, b"", 400, "NAME_INVALID"),
    ("POST", f"/v2/a/blobs/uploads/?mount={D}&from=Bad", {}, b"", 400, "NAME_INVALID"),
    # digests
    ("GET", "/v2/a/manifests/sha256:totallywrong", {}, b"", 400, "DIGEST_INVALID"),
    ("GET", "/v2/a/blobs/sha256:short", {}, b"", 400, "DIGEST_INVALID"),
    ("GET", "/v2/a/blobs/notadigest", {}, b"", 400, "DIGEST_INVALID"),
    ("DELETE", "/v2/a/blobs/SHA256:" + "a" * 64, {}, b"", 400, "DIGEST_INVALID"),
    ("GET", f"/v2/a/blobs/{BLAKE}", {}, b"", 404, "BLOB_UNKNOWN"),
    ("GET", f"/v2/a/manifests/{BLAKE}", {}, b"", 404, "MANIFEST_UNKNOWN"),
    ("GET", "/v2/a/referrers/sha256:nothex", {}, b"", 400, "DIGEST_INVALID"),
    ("PUT", "/v2/a/manifests/sha256:baddigeststring", OCI, GOOD, 400, "DIGEST_INVALID"),
    ("PUT", f"/v2/a/manifests/{Digest.of(b'other')}", OCI, GOOD, 400, "DIGEST_INVALID"),
    ("PUT", f"/v2/a/manifests/{BLAKE}", OCI, GOOD, 400, "DIGEST_INVALID"),
    ("POST", "/v2/a/blobs/uploads/?digest=sha256:bad", {}, b"x", 400, "DIGEST_INVALID"),
    ("POST", f"/v2/a/blobs/uploads/?digest={D}", {}, b"not the blob", 400, "DIGEST_INVALID"),
    ("POST", "/v2/a/blobs/uploads/?mount=nope", {}, b"", 400, "DIGEST_INVALID"),
    ("POST", "/v2/a/blobs/uploads/?digest-algorithm=md5", {}, b"", 400, "DIGEST_INVALID"),
    ("PUT", "{upload}?digest=sha256:0", {}, b"", 400, "DIGEST_INVALID"),
    ("PUT", "{upload}", {}, b"", 400, "DIGEST_INVALID"),
    # tags and manifests
    ("PUT", "/v2/a/manifests/.bad", OCI, GOOD, 400, "TAG_INVALID"),
    ("PUT", "/v2/a/manifests/" + "t" * 129, OCI, GOOD, 400, "TAG_INVALID"),
    ("PUT", f"/v2/a/manifests/{Digest.of(GOOD)}?tag=-x", OCI, GOOD, 400, "TAG_INVALID"),
    ("GET", "/v2/a/manifests/.INVALID_MANIFEST_NAME", {}, b"", 404, "MANIFEST_UNKNOWN"),
    ("GET", "/v2/a/manifests/%ff", {}, b"", 404, "MANIFEST_UNKNOWN"),
    ("PUT", "/v2/a/manifests/x", OCI, b"{not json", 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, b"\xff\xfe", 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, b"[1, 2]", 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, b"", 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(schemaVersion=1), 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(schemaVersion=True), 400, "MANIFEST_INVALID"),
    (
        "PUT",
        "/v2/a/manifests/x",
        {"Content-Type": "application/vnd.foo+json"},
        GOOD,
        400,
        "MANIFEST_INVALID",
    ),
    (
        "PUT",
        "/v2/a/manifests/x",
        {"Content-Type": mt.DOCKER_MANIFEST},
        GOOD,
        400,
        "MANIFEST_INVALID",
    ),
    (
        "PUT",
        "/v2/a/manifests/x",
        {"Content-Type": mt.DOCKER_MANIFEST_V1_SIGNED},
        GOOD,
        400,
        "MANIFEST_INVALID",
    ),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(config="nope"), 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(layers={}), 400, "MANIFEST_INVALID"),
    (
        "PUT",
        "/v2/a/manifests/x",
        OCI,
        _doc(layers=[{**descriptor(b"blob", mt.OCI_LAYER), "digest": "sha256:zz"}]),
        400,
        "MANIFEST_INVALID",
    ),
    (
        "PUT",
        "/v2/a/manifests/x",
        OCI,
        _doc(layers=[{**descriptor(b"blob", mt.OCI_LAYER), "size": -1}]),
        400,
        "MANIFEST_INVALID",
    ),
    (
        "PUT",
        "/v2/a/manifests/x",
        OCI,
        _doc(layers=[{**descriptor(b"blob", mt.OCI_LAYER), "mediaType": 5}]),
        400,
        "MANIFEST_INVALID",
    ),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(annotations={"k": 1}), 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, _doc(subject={"digest": D}), 400, "MANIFEST_INVALID"),
    (
        "PUT",
        "/v2/a/manifests/x",
        {"Content-Type": mt.OCI_INDEX},
        b'{"schemaVersion":2,"manifests":{}}',
        400,
        "MANIFEST_INVALID",
    ),
    ("PUT", "/v2/a/manifests/x", {}, b'{"schemaVersion":2}', 400, "MANIFEST_INVALID"),
    ("PUT", "/v2/a/manifests/x", OCI, b"[" * 100_000, 400, "MANIFEST_INVALID"),  # RecursionError
    ("PUT", "/v2/a/manifests/x", OCI, b'{"a":' * 100_000, 400, "MANIFEST_INVALID"),
    # uploads
    (
        "PATCH",
        "/v2/a/blobs/uploads/00000000-0000-0000-0000-000000000000",
        {},
        b"x",
        404,
        "BLOB_UPLOAD_UNKNOWN",
    ),
    ("GET", "/v2/a/blobs/uploads/nope", {}, b"", 404, "BLOB_UPLOAD_UNKNOWN"),
    ("DELETE", "/v2/a/blobs/uploads/", {}, b"", 404, "BLOB_UPLOAD_UNKNOWN"),
    ("PATCH", "{upload}", {"Content-Range": "bytes=zero-ten"}, b"x", 416, "RANGE_INVALID"),
    ("PATCH", "{upload}", {"Content-Range": "5-1"}, b"x", 416, "RANGE_INVALID"),
    ("PATCH", "{upload}", {"Content-Range": "7-7"}, b"x", 416, "RANGE_INVALID"),
    ("PATCH", "{upload}", {"Content-Range": "0-4"}, b"x", 400, "SIZE_INVALID"),
    ("PATCH", "{upload}", {"Content-Range": "0-" + "9" * 5000}, b"x", 416, "RANGE_INVALID"),
    ("PATCH", "{upload}", {"Content-Range": "\u00b2-3"}, b"x", 416, "RANGE_INVALID"),
    ("POST", "{upload}", {}, b"", 405, "UNSUPPORTED"),
    # ranges and pagination
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=9-1"}, b"", 416, "RANGE_INVALID"),
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=100-"}, b"", 416, "RANGE_INVALID"),
    # numbers past Python's int-conversion digit limit are malformed ranges, not a 500
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=-" + "9" * 5000}, b"", 416, "RANGE_INVALID"),
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=" + "9" * 5000 + "-"}, b"", 416, "RANGE_INVALID"),
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=0-" + "9" * 20}, b"", 416, "RANGE_INVALID"),
    ("GET", f"/v2/a/blobs/{D}", {"Range": "bytes=\u00b2-"}, b"", 416, "RANGE_INVALID"),
    ("GET", "/v2/a/tags/list?n=-1", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/a/tags/list?n=abc", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/_catalog?n=1.5", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/a/tags/list?n=%C2%B2", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),  # '²'
    ("GET", "/v2/_catalog?n=%C2%B2", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/_catalog?n=%D9%A3", {}, b"", 400, "PAGINATION_NUMBER_INVALID"),  # Arabic 3
    ("GET", "/v2/a/tags/list?n=" + "9" * 5000, {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/_catalog?n=" + "1" * 20, {}, b"", 400, "PAGINATION_NUMBER_INVALID"),
    # paths and methods
    ("GET", "/nothing", {}, b"", 404, "METHOD_UNKNOWN"),
    ("GET", "/v2/a/unknown/thing", {}, b"", 404, "METHOD_UNKNOWN"),
    ("GET", "/v2/a/manifests/tag%2Fx", {}, b"", 404, "METHOD_UNKNOWN"),
    ("GET", "/token", {}, b"", 404, "METHOD_UNKNOWN"),
    ("DELETE", "/v2/", {}, b"", 405, "UNSUPPORTED"),
    ("POST", "/v2/a/manifests/x", {}, b"", 405, "UNSUPPORTED"),
    ("PATCH", f"/v2/a/blobs/{D}", {}, b"", 405, "UNSUPPORTED"),
    ("PUT", "/v2/a/tags/list", {}, b"", 405, "UNSUPPORTED"),
    ("DELETE", "/v2/_catalog", {}, b"", 405, "UNSUPPORTED"),
]


@pytest.fixture(scope="module")
def bad_registry():
    with Registry() as reg:
        reg.store.put_blob("a", Digest.of(b"blob"), b"blob")
        reg.store.put_blob("a", Digest.of(b"{}"), b"{}")
        yield reg


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "code"), CASES)
def test_bad_input_gets_the_right_status_and_code(
    bad_registry, method, path, headers, body, status, code
):
    reg = bad_registry
    if "{upload}" in path:
        up = reg.store.uploads.start("a")
        path = path.replace("{upload}", f"/v2/a/blobs/uploads/{up.uuid}")
    conn = http.client.HTTPConnection(reg.server.bind_host, reg.server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    assert resp.status == status, payload
    assert resp.getheader("Docker-Distribution-API-Version") == "registry/2.0"
    if method != "HEAD":
        errors = json.loads(payload)["errors"]
        assert errors[0]["code"] == code, errors
        assert errors[0]["message"]
    reg.check()
    # still serving
    conn = http.client.HTTPConnection(reg.server.bind_host, reg.server.port, timeout=10)
    conn.request("GET", "/v2/")
    assert conn.getresponse().status == 200
    conn.close()

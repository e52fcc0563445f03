"""Nothing a client sends makes the mirror answer 500 or record a handler error, in any mode."""

from __future__ import annotations

import socket

import pytest
import requests

from flakymirror.mirror import MODES, Interval, SyncPlan

REPO = "lib/app"
D0 = "sha256:" + "0" * 64

WEIRD = [
    ("GET", "/v2/lib/app/blobs/sha256:zzz", {}),
    ("HEAD", "/v2/lib/app/blobs/md5:abc", {}),
    ("GET", "/v2/lib/app/manifests/sha256:abc", {}),
    ("GET", "/v2/lib/app/manifests/" + D0, {}),
    ("GET", "/v2/lib/app/manifests/-bad-", {}),
    ("GET", "/v2/lib/app/manifests/1", {"If-None-Match": '"sha256:nope"'}),
    ("GET", "/v2/lib/app/manifests/1", {"Accept": "text/html"}),
    ("PATCH", "/v2/lib/app/manifests/1", {}),
    ("DELETE", "/v2/lib/app/manifests/1", {}),
    (
        "PUT",
        "/v2/lib/app/manifests/1",
        {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ),
    ("GET", "/v2/lib/app/blobs/{layer}", {"Range": "bytes=99999999-"}),
    ("GET", "/v2/lib/app/blobs/{layer}", {"Range": "bytes=5-2"}),
    ("GET", "/v2/lib/app/blobs/{layer}", {"Range": "bytes=0-9"}),
    ("POST", "/v2/lib/app/blobs/uploads/", {}),
    ("GET", "/v2/lib/app/tags/list?n=abc", {}),
    ("GET", "/v2/lib/app/referrers/sha256:bad", {}),
    ("GET", "/v2/_catalog?n=1", {}),
    ("GET", "/v2/UPPER/manifests/1", {}),
    ("GET", "/v2/nope/manifests/1?ns=docker.io&ns=x", {}),
    ("GET", "/token", {}),
    ("GET", "/", {}),
]


@pytest.mark.parametrize("mode", MODES)
def test_weird_requests_never_500(make_mirror, vclock, image, mode) -> None:
    mirror = make_mirror(clock=vclock, plan=SyncPlan(Interval(1), mode=mode))
    mirror.push_upstream(image, f"{REPO}:1")
    layer = str(image.manifest.layers[0].digest)
    for method, path, headers in WEIRD:
        r = requests.request(
            method, mirror.url + path.format(layer=layer), headers=headers, timeout=5, data=b"{}"
        )
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        vclock.sleep(0.3)
    mirror.check()
    assert requests.get(f"{mirror.url}/v2/", timeout=5).status_code == 200


def test_unreachable_upstream_answers_404_not_500(make_mirror) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mirror = make_mirror(upstream=f"http://127.0.0.1:{port}")
    r = requests.get(f"{mirror.url}/v2/{REPO}/manifests/1", timeout=10)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert requests.get(f"{mirror.url}/v2/{REPO}/blobs/{D0}", timeout=10).status_code == 404
    assert requests.get(f"{mirror.url}/v2/{REPO}/tags/list", timeout=10).json()["tags"] == []
    mirror.check()

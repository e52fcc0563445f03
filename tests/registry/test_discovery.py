"""Content discovery (tags, catalog, referrers: end-8, end-12) and management (end-9, end-10)."""

from __future__ import annotations

import requests

from flakymirror.oci import Digest, build_image
from flakymirror.oci import mediatypes as mt
from tests.helpers.registry_requests import code_of, manifest_bytes, push_blob


def _tagged(registry, repo: str, tags: list[str]) -> None:
    img = build_image(layers=1, seed=repo)
    for tag in tags:
        registry.push(img, f"{repo}:{tag}")


def test_tags_list_sorted_with_n_last_and_link(registry):
    _tagged(registry, "r", ["b", "a", "d", "c", "B"])
    url = f"{registry.url}/v2/r/tags/list"
    r = requests.get(url)
    assert r.json() == {"name": "r", "tags": ["B", "a", "b", "c", "d"]}
    assert "Link" not in r.headers
    r = requests.get(url, params={"n": 2})
    assert r.json()["tags"] == ["B", "a"]
    assert r.headers["Link"] == '</v2/r/tags/list?n=2&last=a>; rel="next"'
    nxt = requests.get(registry.url + r.headers["Link"].split(">")[0][1:])
    assert nxt.json()["tags"] == ["b", "c"]
    r = requests.get(url, params={"n": 2, "last": "c"})
    assert r.json()["tags"] == ["d"] and "Link" not in r.headers
    r = requests.get(url, params={"last": "a"})
    assert r.json()["tags"] == ["b", "c", "d"]
    r = requests.get(url, params={"n": 0})
    assert r.json()["tags"] == [] and "Link" not in r.headers


def test_tags_of_unknown_repository(registry):
    r = requests.get(f"{registry.url}/v2/nobody/tags/list")
    assert r.status_code == 404 and code_of(r) == "NAME_UNKNOWN"


def test_catalog_paginates(registry):
    for name in ("c", "a", "b/x"):
        _tagged(registry, name, ["1"])
    r = requests.get(f"{registry.url}/v2/_catalog")
    assert r.json() == {"repositories": ["a", "b/x", "c"]}
    r = requests.get(f"{registry.url}/v2/_catalog", params={"n": 1})
    assert r.json() == {"repositories": ["a"]}
    assert r.headers["Link"] == '</v2/_catalog?n=1&last=a>; rel="next"'
    r = requests.get(f"{registry.url}/v2/_catalog", params={"n": 5, "last": "a"})
    assert r.json() == {"repositories": ["b/x", "c"]}


def _push_referrer(url: str, repo: str, subject: dict, artifact_type: str | None, note: str) -> str:
    push_blob(url, repo, b"{}")
    push_blob(url, repo, note.encode())
    data = manifest_bytes(
        layers=(note.encode(),),
        config_type=mt.OCI_EMPTY,
        subject=subject,
        artifact_type=artifact_type,
        annotations={"note": note},
    )
    r = requests.put(
        f"{url}/v2/{repo}/manifests/{Digest.of(data)}",
        data=data,
        headers={"Content-Type": mt.OCI_MANIFEST},
    )
    assert r.status_code == 201 and r.headers["OCI-Subject"] == subject["digest"]
    return r.headers["Docker-Content-Digest"]


def test_referrers_index_and_artifact_type_filter(registry):
    url = registry.url
    img = build_image(layers=1, seed=30)
    d = registry.push(img, "r:1")
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(d), "size": len(img.manifest_bytes)}
    sig = _push_referrer(url, "r", subject, "application/x-sig", "one")
    sbom = _push_referrer(url, "r", subject, "application/x-sbom", "two")
    plain = _push_referrer(url, "r", subject, None, "three")
    r = requests.get(f"{url}/v2/r/referrers/{d}")
    assert r.status_code == 200 and r.headers["Content-Type"] == mt.OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.OCI_INDEX
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert set(by_digest) == {sig, sbom, plain}
    assert by_digest[sig]["artifactType"] == "application/x-sig"
    assert by_digest[plain]["artifactType"] == mt.OCI_EMPTY  # config media type stands in
    assert by_digest[sig]["annotations"] == {"note": "one"}
    assert by_digest[sig]["mediaType"] == mt.OCI_MANIFEST and by_digest[sig]["size"] > 0
    r = requests.get(f"{url}/v2/r/referrers/{d}", params={"artifactType": "application/x-sbom"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
    # a subject never pushed, and a digest nothing refers to
    ghost = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"ghost")), "size": 5}
    lone = _push_referrer(url, "r", ghost, "application/x-sig", "four")
    assert [
        m["digest"]
        for m in requests.get(f"{url}/v2/r/referrers/{ghost['digest']}").json()["manifests"]
    ] == [lone]
    empty = requests.get(f"{url}/v2/r/referrers/{Digest.of(b'hello world')}")
    assert empty.status_code == 200 and empty.json()["manifests"] == []
    # referrers go away with their manifest
    assert requests.delete(f"{url}/v2/r/manifests/{sig}").status_code == 202
    assert sig not in {
        m["digest"] for m in requests.get(f"{url}/v2/r/referrers/{d}").json()["manifests"]
    }


def test_referrers_bad_digest_is_400(registry):
    r = requests.get(f"{registry.url}/v2/r/referrers/sha256:nothex")
    assert r.status_code == 400 and code_of(r) == "DIGEST_INVALID"


def test_delete_tag_then_manifest_then_blobs(registry):
    url = registry.url
    img = build_image(layers=1, seed=40)
    d = registry.push(img, "r:keep")
    registry.store.tag("r", "other", d)
    assert requests.delete(f"{url}/v2/r/manifests/other").status_code == 202
    assert requests.head(f"{url}/v2/r/manifests/other").status_code == 404
    assert requests.head(f"{url}/v2/r/manifests/keep").status_code == 200
    assert requests.delete(f"{url}/v2/r/manifests/{d}").status_code == 202
    for ref in ("keep", str(d)):
        assert requests.head(f"{url}/v2/r/manifests/{ref}").status_code == 404
    r = requests.delete(f"{url}/v2/r/manifests/{d}")
    assert r.status_code == 404 and code_of(r) == "MANIFEST_UNKNOWN"
    assert requests.get(f"{url}/v2/r/tags/list").json()["tags"] == []
    for blob in img.blobs():
        assert requests.delete(f"{url}/v2/r/blobs/{blob.digest}").status_code == 202
        assert requests.head(f"{url}/v2/r/blobs/{blob.digest}").status_code == 404
    r = requests.delete(f"{url}/v2/r/blobs/{img.layers[0].digest}")
    assert r.status_code == 404 and code_of(r) == "BLOB_UNKNOWN"

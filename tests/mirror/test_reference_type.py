"""Fault matchers that name the reference type: a rule for "the first 2 manifest GETs by tag"
that containerd's HEAD-by-tag, GET-by-digest resolution does not use up."""

from __future__ import annotations

import pytest

from flakymirror.mirror import Endpoint, FaultRule, FormError, Match, Status, classify
from tests.helpers.mirror_requests import REPO, get_manifest

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/lib/app/manifests/latest", "tag"),
        (f"/v2/lib/app/manifests/{DIGEST}", "digest"),
        (f"/v2/lib/app/blobs/{DIGEST}", "digest"),
        ("/v2/lib/app/blobs/latest", None),  # not a digest, and blobs have no tags
        (f"/v2/lib/app/referrers/{DIGEST}", "digest"),
        ("/v2/lib/app/blobs/uploads/5d1f0c3e", None),  # an upload session id
        ("/v2/", None),
        ("/v2/lib/app/tags/list", None),
    ],
)
def test_endpoint_reference_type(path, expected) -> None:
    assert classify(path).reference_type == expected


def test_static_match_on_reference_type() -> None:
    rule = Match(kind="manifest", method="GET", reference_type="tag")
    assert rule.static_match("GET", Endpoint("manifest", REPO, "latest"))
    assert not rule.static_match("GET", Endpoint("manifest", REPO, DIGEST))
    assert not rule.static_match("HEAD", Endpoint("manifest", REPO, "latest"))
    by_digest = Match(reference_type="digest")
    assert by_digest.static_match("HEAD", Endpoint("blob", REPO, DIGEST))
    assert not by_digest.static_match("GET", Endpoint("ping"))


def test_dict_form_and_validation() -> None:
    m = Match(kind="manifest", method="GET", reference_type="tag", times=2)
    assert m.to_dict() == {"method": "GET", "kind": "manifest", "reference_type": "tag", "times": 2}
    assert Match.from_dict(m.to_dict()) == m
    assert "reference_type='tag'" in repr(m)
    with pytest.raises(
        FormError,
        match=r"^reference_type: 'tags' is not one of 'tag', 'digest' \(did you mean 'tag'\?\)",
    ):
        Match(reference_type="tags")
    with pytest.raises(
        FormError, match=r"^faults\[0\]\.match\.reference_type: 'sha' is not one of"
    ):
        FaultRule.from_dict(
            {"match": {"reference_type": "sha"}, "action": {"kind": "reset"}}, "faults[0]"
        )
    with pytest.raises(
        FormError, match=r"^reference_type: 'digest' never matches reference 'latest' \(a tag\)"
    ):
        Match(reference="latest", reference_type="digest")
    with pytest.raises(FormError, match="never matches reference"):
        Match(reference=DIGEST, reference_type="tag")
    assert Match(reference="sha256:*", reference_type="digest").reference_type == "digest"


def test_kind_and_method_errors_suggest() -> None:
    with pytest.raises(
        FormError, match=r"unknown endpoint kind 'manifests' \(did you mean 'manifest'\?\)"
    ):
        Match(kind="manifests")
    with pytest.raises(FormError, match=r"'GTE' is not one of .* \(did you mean 'GET'\?\)"):
        Match(method="GTE")


def test_containerd_resolution_does_not_use_up_a_get_by_tag_rule(
    make_mirror, vclock, image
) -> None:
    """HEAD by tag, then GET by digest (containerd), then GETs by tag (ggcr): only the tag GETs
    count towards ``times``."""
    rule = FaultRule(
        Match(kind="manifest", method="GET", reference_type="tag", times=2), Status(503)
    )
    mirror = make_mirror(clock=vclock, faults=[rule])
    mirror.push_upstream(image, f"{REPO}:1")
    codes = [
        get_manifest(mirror, REPO, "1", "HEAD").status_code,
        get_manifest(mirror, REPO, str(image.digest)).status_code,
        get_manifest(mirror, REPO, "1").status_code,
        get_manifest(mirror, REPO, str(image.digest)).status_code,
        get_manifest(mirror, REPO, "1").status_code,
        get_manifest(mirror, REPO, "1").status_code,
    ]
    assert codes == [200, 200, 503, 200, 503, 200]
    assert mirror.faults.counters() == [{"seen": 3, "applied": 2}]
    # without the reference type and method, the same rule is spent by the resolution
    mirror.clear_faults()
    mirror.add_fault(FaultRule(Match(kind="manifest", times=2), Status(503)))
    assert get_manifest(mirror, REPO, "1", "HEAD").status_code == 503
    assert get_manifest(mirror, REPO, str(image.digest)).status_code == 503
    assert get_manifest(mirror, REPO, "1").status_code == 200

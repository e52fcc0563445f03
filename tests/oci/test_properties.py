"""Round-trip properties of the model over generated values."""

import json

import pytest
from hypothesis import given, settings

from flakymirror.oci import (
    Descriptor,
    Digest,
    ImageConfig,
    Index,
    Manifest,
    ManifestError,
    canonical_json,
    parse_manifest,
)

from .strategies import configs, descriptors, indexes, manifests

FAST = settings(max_examples=60, deadline=None)


@FAST
@given(descriptors(with_platform=True))
def test_descriptor_roundtrip(d):
    b = d.to_bytes()
    assert Descriptor.from_dict(json.loads(b)) == d
    assert Descriptor.from_dict(json.loads(b)).to_bytes() == b


@FAST
@given(manifests)
def test_manifest_roundtrip(m):
    b = m.to_bytes()
    again = parse_manifest(b, m.media_type)
    assert again == m and hash(again) == hash(m)
    assert again.to_bytes() == b and Manifest.parse(b).digest == m.digest


@FAST
@given(indexes)
def test_index_roundtrip(ix):
    b = ix.to_bytes()
    again = parse_manifest(b, ix.media_type)
    assert again == ix and again.to_bytes() == b
    assert isinstance(again, Index)


@FAST
@given(configs)
def test_config_roundtrip(c):
    b = c.to_bytes()
    again = ImageConfig.parse(b)
    assert again == c and again.to_bytes() == b


def test_lone_surrogates_survive_as_ascii_escapes():
    data = b'{"schemaVersion":2,"manifests":[],"annotations":{"k":"\\ud800"}}'
    ix = parse_manifest(data)
    b = ix.to_bytes()
    assert (
        b == b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
        b'"manifests":[],"annotations":{"k":"\\ud800"}}'
    )
    assert parse_manifest(b).to_bytes() == b
    assert canonical_json({"k": "é"}) == '{"k":"é"}'.encode()


def test_json_numbers_that_are_not_integers_are_refused():
    digest = str(Digest.of(b""))
    for size in ("1e3", "1.0", "-0", "true"):
        child = f'{{"mediaType":"a/b","digest":"{digest}","size":{size}}}'
        data = f'{{"schemaVersion":2,"manifests":[{child}]}}'.encode()
        if size == "-0":  # JSON -0 is the integer 0
            assert parse_manifest(data).manifests[0].size == 0
            continue
        with pytest.raises(ManifestError, match=r"manifests\[0\]\.size: must be a non-negative"):
            parse_manifest(data)

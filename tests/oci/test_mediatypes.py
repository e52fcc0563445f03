"""Media-type constants and predicates."""

import pytest

from flakymirror.oci import mediatypes as mt


@pytest.mark.parametrize(
    ("media_type", "index", "image", "layer", "config", "compression"),
    [
        (mt.OCI_MANIFEST, False, True, False, False, None),
        (mt.DOCKER_MANIFEST, False, True, False, False, None),
        (mt.OCI_INDEX, True, False, False, False, None),
        (mt.DOCKER_MANIFEST_LIST, True, False, False, False, None),
        (mt.OCI_CONFIG, False, False, False, True, None),
        (mt.DOCKER_CONFIG, False, False, False, True, None),
        (mt.OCI_LAYER, False, False, True, False, "none"),
        (mt.OCI_LAYER_GZIP, False, False, True, False, "gzip"),
        (mt.OCI_LAYER_ZSTD, False, False, True, False, "zstd"),
        (mt.OCI_LAYER_NONDIST_GZIP, False, False, True, False, "gzip"),
        (mt.DOCKER_LAYER, False, False, True, False, "gzip"),
        (mt.DOCKER_LAYER_UNCOMPRESSED, False, False, True, False, "none"),
        (mt.DOCKER_FOREIGN_LAYER, False, False, True, False, "gzip"),
        (mt.OCI_EMPTY, False, False, False, False, None),
        (mt.DOCKER_MANIFEST_V1_SIGNED, False, False, False, False, None),
        ("application/json", False, False, False, False, None),
    ],
)
def test_predicates(media_type, index, image, layer, config, compression):
    assert mt.is_index(media_type) is index
    assert mt.is_image_manifest(media_type) is image
    assert mt.is_manifest(media_type) is (index or image)
    assert mt.is_layer(media_type) is layer
    assert mt.is_config(media_type) is config
    assert mt.layer_compression(media_type) == compression


def test_exact_strings():
    assert mt.OCI_MANIFEST == "application/vnd.oci.image.manifest.v1+json"
    assert mt.OCI_LAYER_ZSTD == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert mt.DOCKER_MANIFEST == "application/vnd.docker.distribution.manifest.v2+json"
    assert mt.DOCKER_LAYER == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert mt.DOCKER_CONFIG == "application/vnd.docker.container.image.v1+json"


def test_ggcr_accept_lists_every_manifest_type_in_order():
    parts = mt.GGCR_MANIFEST_ACCEPT.split(",")
    assert parts == [
        mt.DOCKER_MANIFEST_V1,
        mt.DOCKER_MANIFEST_V1_SIGNED,
        mt.DOCKER_MANIFEST,
        mt.OCI_MANIFEST,
        mt.DOCKER_MANIFEST_LIST,
        mt.OCI_INDEX,
    ]


def test_empty_json_digest():
    from flakymirror.oci import Digest

    assert str(Digest.of(b"{}")) == mt.EMPTY_JSON_DIGEST

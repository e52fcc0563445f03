"""Registry names whose fact moved to flakymirror.oci: the old name still answers (with a
warning), and the digest grammar is the one of oci/digest.py, anchored at both ends."""

from __future__ import annotations

import pytest

from flakymirror.oci.protocol import API_VERSION_PAIR
from flakymirror.registry.digest_params import digest_for_lookup
from flakymirror.registry.errors import RegistryError

BLAKE = "blake3:" + "a" * 64


def test_endpoint_api_version_is_a_deprecated_alias():
    from flakymirror.registry import endpoint

    with pytest.warns(DeprecationWarning, match=r"registry\.endpoint\.API_VERSION is deprecated"):
        assert endpoint.API_VERSION == API_VERSION_PAIR
    with pytest.raises(AttributeError):
        endpoint.NOT_A_NAME  # noqa: B018


def test_an_unsupported_algorithm_is_unknown_and_a_trailing_newline_is_invalid():
    with pytest.raises(RegistryError) as unknown:
        digest_for_lookup(BLAKE, "BLOB_UNKNOWN")
    assert unknown.value.code == "BLOB_UNKNOWN"
    # Go's regexp (and fullmatch) has no "$ before a final newline": the whole text must match.
    with pytest.raises(RegistryError) as invalid:
        digest_for_lookup(BLAKE + "\n", "BLOB_UNKNOWN")
    assert invalid.value.code == "DIGEST_INVALID"

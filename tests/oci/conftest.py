"""Fixtures for the OCI data-model tests (the documents are in tests/helpers/oci_documents.py)."""

import pytest

from tests.helpers.oci_documents import manifest_dict


@pytest.fixture
def manifest_json() -> dict:
    return manifest_dict()

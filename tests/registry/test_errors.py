"""Each OCI error code has one status; the deliberate exceptions are listed in one table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests

import flakymirror
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import (
    CODES,
    STATUS,
    STATUS_EXCEPTIONS,
    BearerAuth,
    Registry,
    RegistryError,
)
from tests.helpers.registry_requests import code_of

PACKAGE = Path(flakymirror.__file__).parent


def test_the_exceptions_name_known_codes_with_a_status_other_than_the_table():
    for (code, status), why in STATUS_EXCEPTIONS.items():
        assert code in CODES and status != STATUS[code] and why
        assert RegistryError(code, status=status).status == status


def test_an_unlisted_status_for_a_code_is_refused_with_a_message_naming_both():
    with pytest.raises(ValueError, match=r"DENIED answers 403, not 500.*STATUS_EXCEPTIONS"):
        RegistryError("DENIED", "no", status=500)
    with pytest.raises(ValueError, match="MANIFEST_UNKNOWN answers 404, not 400"):
        RegistryError("MANIFEST_UNKNOWN", status=400)
    assert RegistryError("DENIED", status=403).status == 403  # the table's own status is fine
    assert RegistryError("TOOMANYREQUESTS").status == 429


def _status_overrides() -> list[tuple[str, str, int]]:
    """(file:line, code, status) of every ``RegistryError(<code>, ..., status=<int>)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RegistryError"):
                continue
            status = next((k.value for k in node.keywords if k.arg == "status"), None)
            if status is None:
                continue
            assert isinstance(status, ast.Constant) and node.args, ast.dump(node)
            code = node.args[0]
            codes = [code.body, code.orelse] if isinstance(code, ast.IfExp) else [code]
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for c in codes:
                assert isinstance(c, ast.Constant), f"{where}: a literal code is expected"
                found.append((where, c.value, status.value))
    return found


def test_every_status_override_in_the_package_is_a_listed_exception():
    overrides = _status_overrides()
    assert overrides, "the scan found nothing: it is broken"
    for where, code, status in overrides:
        assert status == STATUS[code] or (code, status) in STATUS_EXCEPTIONS, where


def test_the_listed_exceptions_are_what_the_registry_answers(registry):
    big = b'{"schemaVersion":2,"pad":"' + b"x" * (registry.app.manifest_limit + 1) + b'"}'
    r = requests.put(
        f"{registry.url}/v2/r/manifests/t", data=big, headers={"Content-Type": mt.OCI_MANIFEST}
    )
    assert r.status_code == 413 and code_of(r) == "MANIFEST_INVALID"
    with Registry(auth=BearerAuth(users={"u": "p"})) as reg:
        r = requests.get(f"{reg.url}/token", params={"scope": "nonsense"})
        assert r.status_code == 400 and code_of(r) == "UNSUPPORTED"
        r = requests.post(f"{reg.url}/token", data={"grant_type": "magic"})
        assert r.status_code == 400 and code_of(r) == "UNSUPPORTED"
        reg.check()

"""A query string that is not UTF-8 is a bad request (400 with the family's error body), not a
500, on the registry, the mirror and the control API, and the server keeps serving."""

from __future__ import annotations

import json
import socket

import pytest

from flakymirror.mirror import FlakyMirror
from flakymirror.registry import Registry
from flakymirror.registry.query import query_problem
from tests.helpers.wire import split_response


def _get(host: str, target: bytes) -> tuple[int, dict[str, str], bytes]:
    name, port = host.rsplit(":", 1)
    with socket.create_connection((name, int(port)), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host.encode()
                     + b"\r\nConnection: close\r\n\r\n")  # fmt: skip
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return split_response(data)


def test_the_problem_names_the_byte_and_where() -> None:
    assert query_problem(b"n=2&last=a%B2") is None  # percent-encoded bytes are the client's way
    assert query_problem(b"n=\xb2") == (
        "the query string is not valid UTF-8 (byte 0xb2 at offset 2); percent-encode its bytes"
    )


@pytest.mark.parametrize(
    "target",
    [b"/v2/x/y/tags/list?n=\xb2", b"/v2/x/y/blobs/uploads/?digest=\xff", b"/v2/?\xc3"],
)
def test_the_registry_answers_400_with_an_oci_body(target: bytes) -> None:
    with Registry() as registry:
        status, headers, body = _get(registry.host, target)
        assert status == 400
        assert headers["content-type"].startswith("application/json")
        (error,) = json.loads(body)["errors"]
        assert error["code"] == "UNKNOWN" and "not valid UTF-8" in error["message"]
        assert _get(registry.host, b"/v2/")[0] == 200  # still serving
        registry.check()  # no handler exception was kept


def test_the_mirror_and_its_control_api_answer_400() -> None:
    with FlakyMirror() as mirror:
        status, _, body = _get(mirror.host, b"/v2/lib/app/tags/list?n=\xb2")
        assert status == 400 and json.loads(body)["errors"][0]["code"] == "UNKNOWN"
        status, _, body = _get(mirror.host, b"/_flakymirror/journal?kind=\xb2")
        assert status == 400
        assert json.loads(body) == {
            "error": "query: the query string is not valid UTF-8 (byte 0xb2 at offset 5); "
            "percent-encode its bytes",
            "field": "query",
        }
        assert _get(mirror.host, b"/_flakymirror/state")[0] == 200
        mirror.check()

"""TransportError: ggcr's parsing, printing and temporary() rules; the Go-format helpers."""

from __future__ import annotations

import json

import pytest

from flakymirror.client import Diagnostic, NetworkError, RequestInfo, TransportError
from flakymirror.client.errors import (
    TEMPORARY_STATUS_CODES_V0_21_5,
    GoEOF,
    RemoteImageError,
    UnexpectedEOF,
    error_chain,
    go_decode_json,
    parse_diagnostics,
    redact_url,
)
from flakymirror.client.goformat import go_format, go_quote, go_status_text

URL = "http://127.0.0.1:5000/v2/foo/manifests/latest"
GET = RequestInfo("GET", URL)


def test_one_diagnostic():
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    err = TransportError.from_body(404, body, GET)
    assert str(err) == f"GET {URL}: MANIFEST_UNKNOWN: manifest unknown"
    assert err.status_code == 404
    assert err.errors == [Diagnostic("MANIFEST_UNKNOWN", "manifest unknown")]
    assert err.request == GET
    assert err.raw_body == body


def test_no_body_and_raw_body_forms():
    assert str(TransportError.from_body(404, b"", GET)) == (
        f"GET {URL}: unexpected status code 404 Not Found"
    )
    assert str(TransportError.from_body(404, b"<html>nope</html>", GET)) == (
        f"GET {URL}: unexpected status code 404 Not Found: <html>nope</html>"
    )
    head = RequestInfo("HEAD", URL)
    assert str(TransportError.from_body(404, b"", head)) == (
        f"HEAD {URL}: unexpected status code 404 Not Found "
        "(HEAD responses have no body, use GET for details)"
    )
    assert str(TransportError(503)) == "unexpected status code 503 Service Unavailable"


def test_statuses_go_does_not_name_print_with_an_empty_text():
    assert go_status_text(499) == "" and go_status_text(522) == ""
    assert str(TransportError.from_body(499, b"", GET)) == f"GET {URL}: unexpected status code 499 "
    assert go_status_text(414) == "Request URI Too Long"  # Go's spelling, not Python's
    assert go_status_text(418) == "I'm a teapot"


def test_multiple_errors_and_detail():
    body = json.dumps(
        {
            "errors": [
                {"code": "DENIED", "message": "no", "detail": {"b": [1, 2.5], "a": "x"}},
                {"code": "UNAUTHORIZED", "message": "auth", "detail": None},
                {"code": "UNKNOWN", "message": "m", "detail": 1e21},
            ]
        }
    ).encode()
    err = TransportError.from_body(403, body, GET)
    assert str(err) == (
        f"GET {URL}: multiple errors returned: DENIED: no; map[a:x b:[1 2.5]]; "
        "UNAUTHORIZED: auth; UNKNOWN: m; 1e+21"
    )


def test_json_is_decoded_like_go():
    # case-insensitive keys, wrong-typed fields skipped, not-JSON gives no diagnostics
    assert parse_diagnostics(b'{"Errors":[{"Code":"DENIED","MESSAGE":"m"}]}') == [
        Diagnostic("DENIED", "m")
    ]
    assert parse_diagnostics(b'{"errors":[{"code":5,"message":"m"}]}') == [Diagnostic("", "m")]
    assert parse_diagnostics(b'{"errors":"nope"}') == []
    assert parse_diagnostics(b"<html>") == []
    assert parse_diagnostics(b"[1]") == []
    assert parse_diagnostics(b'{"errors":[null]}') == [Diagnostic("")]


def test_body_is_limited_to_64_kib():
    err = TransportError.from_body(500, b"x" * 70_000, GET)
    assert len(err.raw_body) == 64 * 1024


def test_url_is_redacted_like_ggcr():
    url = "http://r/v2/a/blobs/uploads/1?_state=secret&digest=sha256:ab&X-Amz-Signature=s"
    assert redact_url(url) == (
        "http://r/v2/a/blobs/uploads/1?X-Amz-Signature=REDACTED&_state=REDACTED&digest=sha256%3Aab"
    )
    err = TransportError(400, request=RequestInfo("PUT", url))
    assert "secret" not in str(err) and "REDACTED" in str(err)
    assert redact_url(URL) == URL


@pytest.mark.parametrize(
    ("status", "v0_21_9", "v0_21_5"),
    [(408, True, True), (429, True, False), (500, True, True), (502, True, True),
     (503, True, True), (504, True, True), (404, False, False), (401, False, False),
     (499, False, False), (522, False, False)],
)  # fmt: skip
def test_temporary_without_diagnostics(status, v0_21_9, v0_21_5):
    assert TransportError(status).temporary() is v0_21_9
    old = TransportError(status, temporary_status_codes=TEMPORARY_STATUS_CODES_V0_21_5)
    assert old.temporary() is v0_21_5


def test_temporary_with_diagnostics_needs_every_code_temporary():
    def d(*codes):
        return [Diagnostic(c, "m") for c in codes]

    assert TransportError(404, d("UNKNOWN")).temporary() is True
    assert TransportError(400, d("BLOB_UPLOAD_INVALID", "TOOMANYREQUESTS")).temporary() is True
    assert TransportError(503, d("UNAVAILABLE", "DENIED")).temporary() is False
    # diagnostics override the status: a 503 with a non-temporary code is not temporary
    assert TransportError(503, d("MANIFEST_UNKNOWN")).temporary() is False
    assert TransportError(404, forced_temporary=True).temporary() is True


def test_network_error_prints_like_go_url_error():
    err = NetworkError("GET", "http://127.0.0.1:1/v2/?token=abc", "EOF", "eof")
    assert str(err) == 'Get "http://127.0.0.1:1/v2/?token=REDACTED": EOF'
    assert err.retryable()
    assert NetworkError("HEAD", "http://x/", "r", "reset").retryable()
    assert not NetworkError("GET", "http://x/", "r", "refused").retryable()
    assert str(NetworkError("HEAD", "http://x/", "EOF")).startswith('Head "http://x/"')


def test_go_format_values():
    assert go_format({"z": {"y": True}, "a": None}) == "map[a:<nil> z:map[y:true]]"
    assert go_format([1, "a", 0.0001, 0.00001, 123456789.0]) == "[1 a 0.0001 1e-05 123456789]"
    assert go_format(1e20) == "100000000000000000000"
    assert go_format(-2.5e-7) == "-2.5e-07"


def test_go_quote():
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'


def test_go_decode_json_errors():
    with pytest.raises(GoEOF) as eof:
        go_decode_json(b"  \n")
    assert str(eof.value) == "EOF"
    with pytest.raises(UnexpectedEOF, match="^unexpected EOF$"):
        go_decode_json(b'{"layers": [')
    with pytest.raises(RemoteImageError, match="invalid character '<' looking for beginning"):
        go_decode_json(b"<html>")
    with pytest.raises(RemoteImageError, match="cannot unmarshal array into Go value of type v1.X"):
        go_decode_json(b"[]", "v1.X")
    assert go_decode_json(b'{"a":1}\n{"b":2}') == {"a": 1}  # a decoder stops after one value


def test_error_chain_visits_each_once():
    a = ValueError("a")
    b = RuntimeError("b")
    b.__cause__ = a
    a.__context__ = b  # a cycle must not loop
    assert [str(e) for e in error_chain(b)] == ["b", "a"]

"""TLS handshakes sent to a plain-HTTP port: recognising one and saying what it was.

Clients of the containers/image family (skopeo, podman, buildah) with TLS verification off try
HTTPS first: the first bytes they send are a TLS record (content type ``0x16`` handshake, then
a ``0x03 0x0?`` version). :func:`read_head <flakymirror.registry.request_head.read_head>` peeks
at the first byte of a request and, for a handshake, reads the one record (at most
:data:`MAX_RECORD` bytes) instead of waiting for a request line; :func:`describe` names it in
printable words for the journal and the error body. The gateway then answers a plain HTTP 400
with ``Connection: close``, as a plain-HTTP Go server does, so the client's TLS layer reports
"server gave HTTP response to HTTPS client" and falls back to HTTP.
"""

from __future__ import annotations

__all__ = [
    "HANDSHAKE",
    "MAX_RECORD",
    "RECORD_HEADER",
    "TLS_PROBE",
    "describe",
    "is_tls_record_header",
    "record_length",
]

#: The request kind of a TLS handshake on a plain-HTTP port (journal kind, fault matcher kind).
TLS_PROBE = "tls-probe"
#: TLS record content type of a handshake record (RFC 8446 5.1).
HANDSHAKE = 0x16
#: Bytes in a TLS record header: type, version (2), length (2).
RECORD_HEADER = 5
#: Longest record body read: 2^14 plaintext bytes + 2048 (RFC 8446 5.2's bound for ciphertext).
MAX_RECORD = (1 << 14) + 2048
_CLIENT_HELLO = 1
_SUPPORTED_VERSIONS = 0x002B
_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
             0x0304: "TLS 1.3"}  # fmt: skip


def is_tls_record_header(header: bytes) -> bool:
    """Whether five bytes start a TLS handshake record: ``0x16 0x03 0x00-0x04 <length>``."""
    return (
        len(header) == RECORD_HEADER
        and header[0] == HANDSHAKE
        and header[1] == 0x03
        and header[2] <= 0x04
    )


def record_length(header: bytes) -> int:
    """The body length a record header declares."""
    return int.from_bytes(header[3:5], "big")


def describe(header: bytes, body: bytes) -> str:
    """A printable reason for a handshake record, e.g. ``TLS handshake (ClientHello, TLS 1.3)
    on a plain-HTTP port``; a record that is no ClientHello, or a cut one, says so."""
    what = _client_hello(body)
    if what is None:
        kind = f"handshake type {body[0]}" if body else "empty record"
        return f"TLS handshake record ({kind}) on a plain-HTTP port"
    return f"TLS handshake (ClientHello, {what}) on a plain-HTTP port"


def _client_hello(body: bytes) -> str | None:
    """The highest protocol version a ClientHello offers (``"TLS 1.3"``), ``"TLS"`` when the
    hello is cut short before its version, None when the body is no ClientHello."""
    if len(body) < 1 or body[0] != _CLIENT_HELLO:
        return None
    if len(body) < 6:
        return "TLS"
    legacy = int.from_bytes(body[4:6], "big")
    best = legacy if legacy in _VERSIONS else None
    for version in _supported_versions(body):
        if version in _VERSIONS and (best is None or version > best):
            best = version
    return _VERSIONS[best] if best is not None else "TLS"


def _supported_versions(body: bytes) -> list[int]:
    """The versions in a ClientHello's ``supported_versions`` extension (RFC 8446 4.2.1);
    empty when the hello has none or is cut short. Every read is bounds-checked."""
    pos = 4 + 2 + 32  # handshake header, legacy_version, random
    try:
        pos += 1 + body[pos]  # session id
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]  # compression methods
        end = min(len(body), pos + 2 + int.from_bytes(body[pos : pos + 2], "big"))
        pos += 2
        while pos + 4 <= end:
            ext = int.from_bytes(body[pos : pos + 2], "big")
            size = int.from_bytes(body[pos + 2 : pos + 4], "big")
            pos += 4
            if ext == _SUPPORTED_VERSIONS and pos < end:
                data = body[pos + 1 : min(end, pos + 1 + body[pos])]
                return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]
            pos += size
    except IndexError:
        return []
    return []

"""Seeded bad requests on the wire, and the check of each answer: the standing fuzz of the
registry, the mirror and the control API (tests/hardening/test_fuzz_wire.py).

Each case is the bytes of one HTTP/1.1 request, made from a well-formed request by a few
mutations (a random byte in the target, the query, a header or the body; an odd method,
version or framing). :func:`check_answer` says what is wrong with an answer, or None: every
request must be answered, never with 500, and every error must carry the family's error body
(an OCI ``{"errors": [...]}``, or the control API's ``{"error", "field"}``).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket

__all__ = ["CASES_ENV", "bad_requests", "check_answer", "send"]

#: The environment variable that sets how many cases each target gets (default: a few
#: hundred in ``make test``; ``FLAKYMIRROR_FUZZ_CASES=10000`` for the long run).
CASES_ENV = "FLAKYMIRROR_FUZZ_CASES"

DIGEST = "sha256:" + "a" * 64
REGISTRY_TARGETS = (
    "/v2/", "/v2/lib/app/manifests/1", f"/v2/lib/app/manifests/{DIGEST}",
    f"/v2/lib/app/blobs/{DIGEST}", "/v2/lib/app/blobs/uploads/", "/v2/lib/app/tags/list?n=2",
    "/v2/_catalog", f"/v2/lib/app/referrers/{DIGEST}", "/token?scope=repository:lib/app:pull",
    f"/v2/lib/app/blobs/uploads/?digest={DIGEST}", "/v2/lib/app/blobs/uploads/?mount=x&from=y",
)  # fmt: skip
CONTROL_TARGETS = (
    "/_flakymirror/state", "/_flakymirror/journal?format=text", "/_flakymirror/faults",
    "/_flakymirror/plan", "/_flakymirror/clock/advance", "/_flakymirror/reset",
    "/_flakymirror/journal?kind=manifest&status=200", "/_flakymirror/listener",
)  # fmt: skip
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS")
BODIES = (
    b"", b"{}", b'{"seconds": 1}', b'{"action": {"kind": "status", "status": 503}}',
    b"[" * 40 + b"]" * 40, b'{"schemaVersion": 2}', b"\xff\xfe{", b"null", b'{"up": true}',
)  # fmt: skip
HEADERS = (
    "Accept: application/vnd.oci.image.manifest.v1+json", "Content-Type: application/json",
    "Authorization: Bearer x", "Authorization: Basic !!!", "Range: bytes=5-1",
    "Content-Range: 0-3", "Expect: 100-continue", "X-Odd: \x7fvalue",
)  # fmt: skip


def _mutate(rnd: random.Random, text: bytes) -> bytes:
    if not text:
        return bytes([rnd.randrange(256)])
    i = rnd.randrange(len(text) + 1)
    choice = rnd.randrange(4)
    if choice == 0:  # insert a random byte
        return text[:i] + bytes([rnd.randrange(256)]) + text[i:]
    if choice == 1:  # replace one
        return text[:i] + bytes([rnd.randrange(256)]) + text[i + 1 :]
    if choice == 2:  # drop one
        return text[:i] + text[i + 1 :]
    return text[:i] + rnd.choice([b"%", b"%ff", b"..", b"//", b"?", b"#", b" ", b"\t"]) + text[i:]


def bad_requests(seed: int, count: int, targets: tuple[str, ...]) -> list[bytes]:
    """``count`` request byte strings for ``targets``, the same for the same ``seed``."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        method = rnd.choice(METHODS).encode()
        target = rnd.choice(targets).encode()
        version = b"HTTP/1.1"
        headers = [b"Host: 127.0.0.1"] + [h.encode("latin-1") for h in rnd.sample(HEADERS, 2)]
        body = rnd.choice(BODIES)
        for _ in range(rnd.randrange(1, 4)):
            part = rnd.randrange(6)
            if part == 0:
                target = _mutate(rnd, target)
            elif part == 1:
                method = _mutate(rnd, method)
            elif part == 2:
                headers[rnd.randrange(len(headers))] = _mutate(rnd, rnd.choice(headers))
            elif part == 3:
                body = _mutate(rnd, body)
            elif part == 4:
                version = rnd.choice([b"HTTP/1.0", b"HTTP/9.9", b"http/1.1", b"HTTP/1.1 x"])
            else:
                target = target + b"?" + bytes(rnd.randrange(256) for _ in range(4))
        framing = rnd.randrange(3)
        if framing == 0:
            headers.append(b"Content-Length: %d" % len(body))
        elif framing == 1:
            headers.append(b"Transfer-Encoding: chunked")
            body = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        headers.append(b"Connection: close")
        out.append(method + b" " + target + b" " + version + b"\r\n"
                   + b"\r\n".join(headers) + b"\r\n\r\n" + body)  # fmt: skip
    return out


def send(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection to 127.0.0.1; everything answered until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # it may close before reading a refused request
            sock.sendall(data)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


def _dechunk(data: bytes) -> bytes:
    """A chunked body's content (as much of it as arrived)."""
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return out
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]
    return out


def check_answer(request: bytes, answer: bytes) -> str | None:
    """What is wrong with the final response in ``answer`` to ``request`` (interim ``1xx``
    responses, such as ``100 Continue``, are skipped), or None. An error's body is read by its
    ``Content-Length``, its chunks, or to the end of the connection."""
    while answer[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") and answer[9:10] == b"1":
        answer = answer.partition(b"\r\n\r\n")[2]
    if not answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")):
        return f"no HTTP response: {answer[:60]!r}"
    head, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head[9:12])
    if status == 500:
        return "500"
    if status >= 500 and status not in (501, 503, 505):
        return f"unexpected {status}"
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if status < 400 or request.startswith(b"HEAD "):
        return None
    if b"content-length" in headers:
        body = rest[: int(headers[b"content-length"])]
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _dechunk(rest)
    else:
        body = rest  # delimited by the end of the connection
    try:
        doc = json.loads(body)
    except ValueError:
        return f"{status} without a JSON error body: {body[:80]!r}"
    oci = isinstance(doc, dict) and isinstance(doc.get("errors"), list) and all(
        isinstance(e, dict) and isinstance(e.get("code"), str) for e in doc["errors"]
    )
    control = isinstance(doc, dict) and set(doc) == {"error", "field"}
    if not (oci or control):
        return f"{status} with a body that is no error body: {body[:80]!r}"
    return None

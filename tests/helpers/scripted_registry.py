"""A small scriptable registry whose responses can be made to misbehave per request, in two
builds: :class:`FakeRegistry` (its own dict store, served by pytest-httpserver,
``Connection: close``) and :class:`KeepAliveRegistry` (flakymirror's ``RegistryApp`` on the
registry's keep-alive ``Server``); :class:`ServedStore` is a ``Store`` behind that ``Server``."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from flakymirror.oci import Image, ImageIndex
from flakymirror.oci.digest import Digest
from flakymirror.registry import CloseConnection, RegistryApp, Server, Store

# -- responses a script can give -----------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Answer with this status, body and headers."""

    code: int
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True)
class OCIError:
    """Answer with an OCI JSON error body."""

    code: int
    error: str
    message: str = ""

    def response(self) -> Response:
        body = json.dumps({"errors": [{"code": self.error, "message": self.message}]})
        return Response(body, status=self.code, content_type="application/json")


@dataclass(frozen=True)
class EOF:
    """Close the connection without answering (the client reads EOF)."""


@dataclass(frozen=True)
class Raw:
    """Write these raw bytes on the socket, then close it (e.g. headers and a cut body)."""

    data: bytes


@dataclass(frozen=True)
class Pass:
    """Let the healthy registry answer."""


Action = Status | OCIError | EOF | Raw | Pass | Callable[[Request], Response]


def _close_without_response(request: Request, raw: bytes = b"") -> Response:
    """pytest-httpserver: write ``raw``, then end the connection before any status line."""
    sock = request.environ["werkzeug.socket"]
    if raw:
        sock.sendall(raw)
    sock.shutdown(socket.SHUT_WR)  # FIN: the client sees the connection end before a status line
    # werkzeug's write of this response then fails quietly (a dropped connection)
    return Response(b"", status=200)


@dataclass
class Rule:
    method: str
    pattern: re.Pattern[str]
    actions: list[Action]
    then: Action
    hits: int = 0


class Scripted:
    """The scripting shared by both registries: rules, the request log, the ping override.

    ``on(method, path_regex, *actions, then=Pass())`` answers the matching requests with the
    actions in order, then with ``then`` forever. ``log`` lists ``(method, path, status)``
    (status None for a connection closed without an answer), logged before the client can
    see the answer. ``ping_status``/``ping_headers`` change the answer to ``GET /v2/``.
    """

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, int | None]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.ping_status = 200
        self.ping_headers: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        raise NotImplementedError

    def ref(self, repo: str, tag_or_digest: str = "latest") -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    def on(self, method: str, path: str, *actions: Action, then: Action | None = None) -> Rule:
        rule = Rule(method, re.compile(path), list(actions), then if then is not None else Pass())
        self.rules.append(rule)
        return rule

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for m, p, _ in self.log
            if (method is None or m == method) and (path is None or re.fullmatch(path, p))
        )

    def paths(self) -> list[str]:
        return [f"{m} {p}" for m, p, _ in self.log]

    def _choose(self, request: Request) -> Action:
        with self._lock:
            self.headers_seen.append(dict(request.headers))
            for rule in self.rules:
                if rule.method == request.method and rule.pattern.fullmatch(request.path):
                    action = rule.actions[rule.hits] if rule.hits < len(rule.actions) else rule.then
                    rule.hits += 1
                    return action
        if request.path in ("/v2/", "/v2") and (self.ping_status, self.ping_headers) != (200, {}):
            return lambda _: Response(b"{}", status=self.ping_status, headers=self.ping_headers)
        return Pass()

    def _record(self, request: Request, status: int | None) -> None:
        with self._lock:
            self.log.append((request.method, request.path, status))

    @staticmethod
    def _scripted(action: Action, request: Request) -> Response:
        if isinstance(action, OCIError):
            return action.response()
        if isinstance(action, Status):
            resp = Response(action.body, status=action.code, headers=action.headers)
            if action.content_type is not None:
                resp.content_type = action.content_type
            elif "Content-Type" not in action.headers:
                del resp.headers["Content-Type"]
            return resp
        assert callable(action), action
        return action(request)


class FakeRegistry(Scripted):
    """A healthy read-only registry (ping, manifests by tag/digest, blobs) with scripted faults.

    pytest-httpserver answers ``Connection: close``, so every request here goes out on a new
    connection (Go's resend on kept-alive connections never applies; see
    :class:`KeepAliveRegistry` for that).
    """

    def __init__(self, server: HTTPServer) -> None:
        super().__init__()
        self.server = server
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    # -- content --------------------------------------------------------------------------------

    def put_manifest(self, repo: str, data: bytes, media_type: str, *tags: str) -> Digest:
        digest = Digest.of(data)
        for key in (str(digest), *tags):
            self.manifests[(repo, key)] = (data, media_type)
        return digest

    def put_blob(self, repo: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        self.blobs[(repo, str(digest))] = data
        return digest

    def push(self, image: Image | ImageIndex, repo: str, tag: str = "latest") -> Digest:
        """Store an image or an index (children and blobs included)."""
        if isinstance(image, ImageIndex):
            for child in image.images:
                self.push(child, repo, tag=str(child.digest))
            return self.put_manifest(repo, image.index_bytes, image.media_type, tag)
        for blob in image.blobs():
            self.blobs[(repo, str(blob.digest))] = b"".join(blob.chunks())
        return self.put_manifest(repo, image.manifest_bytes, image.media_type, tag)

    # -- serving --------------------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        action = self._choose(request)
        if isinstance(action, EOF | Raw):
            # log before the socket closes: the client may count as soon as it sees the close
            self._record(request, None)
            return _close_without_response(request, getattr(action, "data", b""))
        response = (
            self.healthy(request) if isinstance(action, Pass) else self._scripted(action, request)
        )
        self._record(request, response.status_code)  # the response is written after this
        return response

    def healthy(self, request: Request) -> Response:
        path = request.path
        if path in ("/v2/", "/v2"):
            return Response(b"{}", status=200)
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if m is None:
            return OCIError(404, "NAME_UNKNOWN", "repository name not known to registry").response()
        repo, kind, ref = m.groups()
        if kind == "manifests":
            found = self.manifests.get((repo, ref))
            if found is None:
                return OCIError(404, "MANIFEST_UNKNOWN", "manifest unknown").response()
            data, media_type = found
            resp = Response(data if request.method == "GET" else b"", content_type=media_type)
            resp.headers["Docker-Content-Digest"] = str(Digest.of(data))
            resp.headers["Content-Length"] = str(len(data))
            return resp
        blob = self.blobs.get((repo, ref))
        if blob is None:
            return OCIError(404, "BLOB_UNKNOWN", "blob unknown to registry").response()
        resp = Response(
            blob if request.method == "GET" else b"", content_type="application/octet-stream"
        )
        resp.headers["Content-Length"] = str(len(blob))
        resp.headers["Docker-Content-Digest"] = ref
        return resp


class ServedStore:
    """A flakymirror ``Store`` behind the registry's HTTP/1.1 ``Server``: subclasses set
    ``store`` and ``server``; as a context manager it starts the server, then stops it and
    closes the store."""

    store: Store
    server: Server

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.store.close()

    @property
    def host(self) -> str:
        return self.server.host


class KeepAliveRegistry(ServedStore, Scripted):
    """The same scripting as a WSGI wrapper around flakymirror's ``RegistryApp`` (a real
    ``Store``) on the registry's HTTP/1.1 ``Server``, which keeps connections alive: a request
    after the ping goes out on a reused connection, so a connection closed under it is resent
    once at once (Go's ``http.Transport``), invisible to ggcr's retry layer and its sleeps.

    Use it as a context manager; ``EOF`` closes with a FIN (``CloseConnection``), ``Raw``
    writes its bytes first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.app = RegistryApp(self.store)
        self.server = Server(self.wsgi)

    def put_manifest(self, repo: str, data: bytes, media_type: str, *tags: str) -> Digest:
        return self.store.put_manifest(repo, data, media_type, tags)

    def put_blob(self, repo: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        self.store.put_blob(repo, digest, data)
        return digest

    def push(self, image: Image | ImageIndex, repo: str, tag: str = "latest") -> Digest:
        return self.store.push_image(image, repo, tag)

    def wsgi(self, environ: dict, start_response: Callable) -> object:
        request = Request(environ)
        action = self._choose(request)
        if isinstance(action, EOF | Raw):
            self._record(request, None)
            if isinstance(action, Raw):
                environ["werkzeug.socket"].sendall(action.data)
            raise CloseConnection()
        if not isinstance(action, Pass):
            response = self._scripted(action, request)
            self._record(request, response.status_code)
            return response(environ, start_response)

        def recording_start_response(status: str, headers: list, *rest: object) -> object:
            self._record(request, int(status.split()[0]))
            return start_response(status, headers, *rest)

        return self.app(environ, recording_start_response)

"""Helpers for the exporter/rebaser/push tests: a registry with request hooks, run images,
and an independent (requests-only) verifier of pushed images (the sleep recorder is
``tests.helpers.sleeps.Sleeps``)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from werkzeug import Request, Response

from flakymirror.oci import build_image
from flakymirror.oci import mediatypes as mt
from flakymirror.registry import RegistryApp, Server, Store
from tests.helpers.scripted_registry import ServedStore

STACK = {"io.buildpacks.stack.id": "io.flakymirror.stack", "io.buildpacks.stack.mixins": "[]"}


def run_image(seed: int, *, layers: int = 2, labels: dict[str, str] | None = None, **kw: Any):
    """A synthetic run image with a stack id, PATH and the given labels."""
    return build_image(
        layers=layers,
        seed=seed,
        layer_size=2048,
        labels={**STACK, **(labels or {})},
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        **kw,
    )


@dataclass
class Hook:
    method: str
    pattern: re.Pattern[str]
    respond: Callable[[Request], Response | None]
    times: int | None
    hits: int = 0


class HookedRegistry(ServedStore):
    """A healthy registry (flakymirror's store and app) on a real socket whose requests pass
    through hooks first. ``log`` is ``(method, path?query, status)`` per request.

    ``hold_blob_heads=n`` makes every blob HEAD wait (up to 2 s) until ``n`` requests are in
    flight together, so the client's concurrency limit becomes observable in ``max_inflight``.
    """

    def __init__(self, *, hold_blob_heads: int = 0, auth: Any = None) -> None:
        self.store = Store()
        self.app = RegistryApp(self.store, auth=auth)
        self.server = Server(self._wsgi)
        self.log: list[tuple[str, str, int]] = []
        self.hooks: list[Hook] = []
        self.hold = hold_blob_heads
        self.inflight = 0
        self.max_inflight = 0
        self._cond = threading.Condition()

    # -- setup ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    def push(self, image: Any, reference: str) -> Any:
        repo, _, tag = reference.partition(":")
        return self.store.push_image(image, repo, tag or None)

    def on(
        self,
        method: str,
        pattern: str,
        respond: Callable[[Request], Response | None] | Response,
        *,
        times: int | None = None,
    ) -> Hook:
        """Answer matching requests (``pattern`` searched in ``path?query``) with ``respond``
        (a response, or a function returning one, or None to pass), ``times`` times."""
        fn = respond if callable(respond) and not isinstance(respond, Response) else None
        hook = Hook(method, re.compile(pattern), fn or (lambda _r, resp=respond: resp), times)
        self.hooks.append(hook)
        return hook

    def requests(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str, int]]:
        return [
            e for e in self.log if (method is None or e[0] == method) and re.search(pattern, e[1])
        ]

    # -- the WSGI wrapper ----------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        target = request.full_path.rstrip("?") if request.query_string else request.path
        blobby = "/blobs/" in request.path
        if blobby:
            with self._cond:
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                self._cond.notify_all()
                if self.hold and request.method == "HEAD":
                    self._cond.wait_for(lambda: self.max_inflight >= self.hold, timeout=2.0)
        try:
            response = None
            for hook in self.hooks:
                if hook.method != request.method or not hook.pattern.search(target):
                    continue
                if hook.times is not None and hook.hits >= hook.times:
                    continue
                hook.hits += 1
                response = hook.respond(request)
                if response is not None:
                    break
            if response is None:
                response = self.app.handle(request)
            self.log.append((request.method, target, response.status_code))
            return response(environ, start_response)
        finally:
            if blobby:
                with self._cond:
                    self.inflight -= 1


def oci_error(status: int, code: str, message: str = "") -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]})
    return Response(body, status=status, content_type="application/json")


# -- an independent reader of what was pushed -----------------------------------------------------


@dataclass
class Pulled:
    manifest: dict[str, Any]
    media_type: str
    digest: str
    config: dict[str, Any]
    layer_digests: list[str]
    diff_ids: list[str]

    @property
    def labels(self) -> dict[str, str]:
        return self.config["config"].get("Labels") or {}

    @property
    def env(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.config["config"].get("Env") or [])

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self.labels["io.buildpacks.lifecycle.metadata"])


def _gunzip_sha(data: bytes) -> str:
    d = zlib.decompressobj(31)
    h = hashlib.sha256(d.decompress(data))
    h.update(d.flush())
    return "sha256:" + h.hexdigest()


def bearer_token(base_url: str, repo: str, user: str, password: str) -> str:
    """A pull token from flakymirror's token service (``/token``)."""
    r = requests.get(
        f"{base_url}/token",
        params={"scope": f"repository:{repo}:pull", "service": "flakymirror"},
        auth=(user, password),
    )
    r.raise_for_status()
    return r.json()["token"]


def pull_and_verify(base_url: str, repo: str, ref: str, token: str | None = None) -> Pulled:
    """GET the manifest, the config and every layer with plain ``requests``; check each blob
    against its digest and size and each decompressed layer against ``rootfs.diff_ids``."""
    accept = ",".join(sorted(mt.MANIFESTS))
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.get(f"{base_url}/v2/{repo}/manifests/{ref}", headers={"Accept": accept, **auth})
    r.raise_for_status()
    digest = "sha256:" + hashlib.sha256(r.content).hexdigest()
    assert r.headers.get("Docker-Content-Digest", digest) == digest
    manifest = r.json()
    media_type = manifest.get("mediaType") or r.headers["Content-Type"]

    def blob(desc: dict[str, Any]) -> bytes:
        b = requests.get(f"{base_url}/v2/{repo}/blobs/{desc['digest']}", headers=auth)
        b.raise_for_status()
        assert len(b.content) == desc["size"], desc
        assert "sha256:" + hashlib.sha256(b.content).hexdigest() == desc["digest"], desc
        return b.content

    config = json.loads(blob(manifest["config"]))
    diff_ids = config["rootfs"]["diff_ids"]
    assert len(diff_ids) == len(manifest["layers"])
    for desc, diff_id in zip(manifest["layers"], diff_ids, strict=True):
        data = blob(desc)
        assert _gunzip_sha(data) == diff_id, desc
    return Pulled(
        manifest,
        media_type,
        digest,
        config,
        [d["digest"] for d in manifest["layers"]],
        diff_ids,
    )

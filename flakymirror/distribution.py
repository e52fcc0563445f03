"""A real registry peer for tests and benchmarks: Debian's ``docker-registry`` (distribution 2.8).

:class:`Distribution` runs one ``docker-registry serve`` process on ``127.0.0.1:<free port>``
with a config written by us and filesystem storage in a given or temporary directory,
optionally as a pull-through cache (``proxy=<remote url>``)::

    with Distribution() as upstream, Distribution(proxy=upstream.url) as cache:
        upstream.push(build_image(seed=1), "lib/app", "1")
        requests.get(f"{cache.url}/v2/lib/app/manifests/1", headers={"Accept": ...})

``start()`` returns once ``GET /v2/`` answers 200 from *this* process (every response carries a
per-instance ``X-Flakymirror-Distribution`` header, so another server that grabbed the port is
not mistaken for ours), or raises :class:`DistributionError` with the tail of the process log.
``stop()`` (and leaving the ``with`` block) terminates, kills if needed, and reaps the process.

Only ``requests`` and :mod:`flakymirror.oci` are used: this module knows nothing of the mirror.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from urllib.parse import urlencode, urljoin

import requests

from flakymirror.oci import Blob, Digest, Image, ImageIndex

__all__ = ["BINARY", "Distribution", "DistributionError", "available", "free_port", "push"]

#: Where Debian's ``docker-registry`` package installs distribution.
BINARY = "/usr/bin/docker-registry"
#: Response header carrying each instance's token (set through ``http.headers``).
INSTANCE_HEADER = "X-Flakymirror-Distribution"
_PORT_ATTEMPTS = 3


class DistributionError(RuntimeError):
    """distribution could not be started (the message ends with its log tail), or a push
    to a registry was refused (the message names the request and the answer)."""


def available(binary: str = BINARY) -> bool:
    """True when ``binary`` (a path or a name on ``PATH``) exists and is executable."""
    return shutil.which(binary) is not None


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago (another process may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(storage: Path, port: int, token: str, proxy: str | None) -> str:
    # Access log off and level error: distribution is measured at its best, and the log
    # keeps little more than why it failed to start.
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  cache:",
        "    blobdescriptor: inmemory",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
        "  headers:",
        f"    {INSTANCE_HEADER}: [{token}]",
    ]
    if proxy is not None:
        lines += ["proxy:", f"  remoteurl: {proxy}"]
    return "\n".join(lines) + "\n"


class Distribution:
    """One ``docker-registry serve`` process on loopback: ``with Distribution() as d: d.url``.

    ``root``: the directory for ``config.yml``, the storage (``data/``) and the process log
    (``registry.log``); it is kept after :meth:`stop`, so a restart serves the same content.
    Without it a temporary directory is used and removed by :meth:`stop`. ``proxy`` (a URL)
    makes the registry a pull-through cache of that registry (distribution then refuses
    pushes). ``start_timeout`` bounds the wait for ``GET /v2/``; ``stop_timeout`` is the
    grace between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        proxy: str | None = None,
        binary: str = BINARY,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.proxy = proxy
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._given_root = Path(root) if root is not None else None
        self._root: Path | None = None
        self._token = ""

    # -- addresses -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, for image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def root(self) -> Path | None:
        """The directory holding config, storage and log (None before start / after stop)."""
        return self._root

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.proc.pid if self.proc is not None else None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Distribution:
        """Write the config, spawn the process and wait until ``GET /v2/`` answers 200.

        Raises :class:`DistributionError` (after stopping everything it started) when the
        binary is missing, the process exits, or it does not answer within ``start_timeout``.
        """
        if self.proc is not None:
            raise DistributionError(f"distribution is already running at {self.url}")
        resolved = shutil.which(self.binary)
        if resolved is None:
            raise DistributionError(
                f"distribution binary {self.binary!r} is not an executable file "
                "(install Debian's docker-registry package, or pass binary=<path>)"
            )
        if self._given_root is not None:
            self._given_root.mkdir(parents=True, exist_ok=True)
            self._root = self._given_root
        else:
            self._root = Path(tempfile.mkdtemp(prefix="flakymirror-distribution-"))
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self.port = free_port()
                try:
                    self._spawn(resolved)
                    return self
                except DistributionError:
                    # the probed port may be taken before distribution binds it: try another
                    lost_port = "address already in use" in self.log_tail()
                    self._kill()
                    if not lost_port or attempt == _PORT_ATTEMPTS:
                        raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, binary: str) -> None:
        assert self._root is not None
        self._token = secrets.token_hex(8)
        config = self._root / "config.yml"
        config.write_text(_config(self._root / "data", self.port, self._token, self.proxy))
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the fd
            # A session of its own: Ctrl-C in a terminal reaches only us, and stop() can
            # signal the whole process group.
            self.proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        with requests.Session() as s:
            while True:
                if self.proc.poll() is not None:
                    raise DistributionError(
                        f"{binary} serve exited with status {self.proc.returncode} "
                        f"(port {self.port}); log tail:\n{self.log_tail()}"
                    )
                with contextlib.suppress(requests.RequestException):
                    r = s.get(f"{self.url}/v2/", timeout=1)
                    if r.status_code == 200 and r.headers.get(INSTANCE_HEADER) == self._token:
                        return
                if time.monotonic() >= deadline:
                    raise DistributionError(
                        f"{binary} serve did not answer GET {self.url}/v2/ with 200 within "
                        f"{self.start_timeout:g}s; log tail:\n{self.log_tail()}"
                    )
                time.sleep(0.01)

    @property
    def log_path(self) -> Path:
        """The process output (stdout and stderr) of the latest start."""
        if self._root is None:
            raise DistributionError("distribution has not been started")
        return self._root / "registry.log"

    def log_tail(self, n: int = 2000) -> str:
        """The last ``n`` characters of the process output ('' when there is none)."""
        if self._root is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-n:]

    def _signal(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # its own group (start_new_session): children too

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait()
        else:
            proc.wait()

    def stop(self) -> None:
        """SIGTERM, SIGKILL after ``stop_timeout``, reap; remove the temporary directory.

        Safe to call any number of times, also when :meth:`start` failed.
        """
        try:
            self._kill()
        finally:
            if self._root is not None and self._given_root is None:
                shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> Distribution:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.proc is not None else "stopped"
        mode = f" proxy of {self.proxy}" if self.proxy else ""
        return f"<Distribution{mode} {state}>"

    # -- content ---------------------------------------------------------------------------------
    def push(self, image: Image | ImageIndex, repo: str, tag: str) -> Digest:
        """Push ``image`` to ``repo:tag`` here; see :func:`push`."""
        return push(self.url, image, repo, tag)


class _Body:
    """A blob as a request body: streamed chunk by chunk with a known ``Content-Length``."""

    def __init__(self, blob: Blob) -> None:
        self.blob = blob

    def __len__(self) -> int:
        return self.blob.size

    def __iter__(self) -> Iterator[bytes]:
        return self.blob.chunks()


def _check(r: requests.Response, expected: int, what: str) -> None:
    if r.status_code != expected:
        raise DistributionError(
            f"{what}: {r.request.method} {r.url} answered {r.status_code} "
            f"(expected {expected}): {r.text[:500]}"
        )


def _push_blob(s: requests.Session, base: str, repo: str, blob: Blob, timeout: float) -> None:
    what = f"pushing blob {blob.digest} to {repo}"
    r = s.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=timeout)
    _check(r, 202, what)
    location = urljoin(base + "/", r.headers["Location"])
    sep = "&" if "?" in location else "?"
    r = s.put(
        location + sep + urlencode({"digest": str(blob.digest)}),
        data=_Body(blob),
        headers={"Content-Type": "application/octet-stream"},
        timeout=timeout,
    )
    _check(r, 201, what)


def _push_manifest(
    s: requests.Session, base: str, repo: str, ref: str, data: bytes, media_type: str, t: float
) -> None:
    r = s.put(
        f"{base}/v2/{repo}/manifests/{ref}",
        data=data,
        headers={"Content-Type": media_type},
        timeout=t,
    )
    _check(r, 201, f"pushing manifest {repo}:{ref}")


def push(
    base_url: str, image: Image | ImageIndex, repo: str, tag: str, *, timeout: float = 30.0
) -> Digest:
    """Push ``image`` to the registry at ``base_url`` as ``repo:tag`` like any client would.

    Plain HTTP: one POST + monolithic PUT per blob (streamed), then the manifest PUT. For an
    :class:`~flakymirror.oci.ImageIndex` each image is pushed by digest first, then the index
    by tag. Returns the digest of what ``tag`` names; a refusal raises
    :class:`DistributionError` naming the request and the answer.
    """
    base = base_url.rstrip("/")
    images = image.images if isinstance(image, ImageIndex) else (image,)
    with requests.Session() as s:
        for img in images:
            for blob in img.blobs():
                _push_blob(s, base, repo, blob, timeout)
            if img is not image:
                ref = str(img.digest)
                _push_manifest(s, base, repo, ref, img.manifest_bytes, img.media_type, timeout)
        _push_manifest(s, base, repo, tag, image.manifest_bytes, image.media_type, timeout)
    return image.digest

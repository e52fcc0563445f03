"""What running a preset in a cell takes: its command, its private storage, and reading it back.

:func:`open_session` yields a :class:`Session` — the ``argv`` and ``env`` to run, and
``read(completed)`` for what the client ended up with (call it before the session closes) —
and on exit stops and removes whatever it started. Each command is a
:class:`~flakymirror.trial.placeholders.Template` built from the preset's words (its own
values, such as a storage path, quoted in as literals) and filled from the cell's placeholder
values, so what is run can be reproduced from the argv alone.

* skopeo: nothing to start; ``--registries-conf`` always (skopeo 1.9.3 ignores
  ``CONTAINERS_REGISTRIES_CONF``).
* podman, buildah: storage under a short private directory (podman 4.3 refuses a
  ``--runroot`` longer than 50 characters), ``--storage-driver vfs``, a signature policy that
  accepts anything, an empty ``containers.conf``; removed afterwards.
* ctr: a private containerd (:mod:`~flakymirror.trial.containerd`) and a fresh namespace.
* oras-py, python-dxf: ``python -m flakymirror.trial.pyclients`` with this interpreter.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flakymirror.trial.cell import Cell, Completed, Content
from flakymirror.trial.content import (
    ctr_image_digest,
    read_blob_store,
    read_buildah_inspect,
    read_layout,
    read_podman_inspect,
    read_skopeo_inspect,
    safe_read,
    storage_layers,
)
from flakymirror.trial.placeholders import Template

__all__ = ["READ_TIMEOUT", "Session", "command", "open_session"]

#: Real seconds a read-back command (``podman image inspect``, ``ctr images ls``) may take.
READ_TIMEOUT = 60.0
_POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}\n'


@dataclass
class Session:
    """One run's command (``argv``, ``env``) and how to read what it left (``read``)."""

    argv: list[str]
    env: dict[str, str]
    reader: Callable[[Completed], Content] = field(repr=False)
    image: str = ""

    def read(self, completed: Completed) -> Content:
        """What the client ended up with; never raises."""
        return safe_read(lambda: self.reader(completed))


def _lit(value: str) -> str:
    """A literal word for a template: shell-quoted, braces doubled."""
    return shlex.quote(str(value)).replace("{", "{{").replace("}", "}}")


def command(words: list[str], cell: Cell) -> list[str]:
    """Render template ``words`` with the cell's values (NoValue when one is missing)."""
    return Template.parse(" ".join(words)).render(cell.values)


def _image_placeholder(preset: Any, cell: Cell) -> str:
    return "{origin_ref}" if cell.origin and preset.mirror_config else "{ref}"


def _image(preset: Any, cell: Cell) -> str:
    """The reference the client is given (the origin's through a mirror configuration)."""
    return command([_image_placeholder(preset, cell)], cell)[0]


def _platform_words(platform: str) -> list[str]:
    os_, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    words = ["--override-os", _lit(os_), "--override-arch", _lit(arch)]
    return words + (["--override-variant", _lit(variant)] if variant else [])


def _tls_words(cell: Cell, verify_flag: str, cert_flag: str) -> list[str]:
    """containers/image: the CA on TLS; ``--tls-verify=false`` for a plain mirror reached
    directly (through a mirror configuration, ``insecure = true`` says it)."""
    if cell.tls:
        return [cert_flag, "{certs_dir}/{mirror}"]
    return [] if cell.origin else [f"{verify_flag}=false"]


def _has_creds(cell: Cell) -> bool:
    """The cell gives the client credentials (a mirror with auth may give none, to see the
    client refused)."""
    return "username" in cell.values and "password" in cell.values


def _creds(cell: Cell, flag: str) -> list[str]:
    return [flag, "{username}:{password}"] if _has_creds(cell) else []


def _run_text(argv: list[str], env: dict[str, str], cwd: Path) -> Completed:
    from flakymirror.trial.process import run

    return run(argv, env, READ_TIMEOUT, cwd=cwd)


# -- skopeo ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _skopeo(preset: Any, cell: Cell) -> Iterator[Session]:
    image = _image_placeholder(preset, cell)
    head = ["skopeo", "--registries-conf", "{registries_conf}", *_platform_words(cell.values.get(
        "platform", cell.target.platform))]
    if preset.name == "skopeo-inspect":
        words = [*head, "inspect", *_tls_words(cell, "--tls-verify", "--cert-dir"),
                 *_creds(cell, "--creds"), f"docker://{image}"]  # fmt: skip

        def reader(completed: Completed) -> Content:
            return read_skopeo_inspect(completed.stdout)
    else:
        words = [head[0], "--insecure-policy", *head[1:], "copy",
                 *_tls_words(cell, "--src-tls-verify", "--src-cert-dir"),
                 *_creds(cell, "--src-creds"), f"docker://{image}", "oci:{workdir}/out"]  # fmt: skip

        def reader(completed: Completed) -> Content:
            out = Path(cell.values["workdir"]) / "out"
            return read_layout(out, cell.target.platform, "skopeo's OCI layout")

    yield Session(command(words, cell), dict(cell.env), reader, image=_image(preset, cell))


# -- podman, buildah (containers-storage) ------------------------------------------------------
@contextlib.contextmanager
def _storage(preset: Any, cell: Cell) -> Iterator[Session]:
    from flakymirror.trial.containerd import short_tempdir

    base = short_tempdir()
    try:
        (base / "policy.json").write_text(_POLICY)
        (base / "containers.conf").write_text("")
        (base / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/root"\nrunroot = "{base}/run"\n'
        )
        program = preset.program
        glob = [program, "--root", _lit(base / "root"), "--runroot", _lit(base / "run"),
                "--storage-driver", "vfs"]  # fmt: skip
        if program == "podman":
            glob += ["--tmpdir", _lit(base / "tmp"), "--events-backend", "none"]
        glob += ["--registries-conf", "{registries_conf}"]
        podman_auth = program == "podman" and "authfile" in cell.values
        creds = ["--authfile", "{authfile}"] if podman_auth else _creds(cell, "--creds")
        image = _image_placeholder(preset, cell)
        words = [*glob, "pull", "--signature-policy", _lit(base / "policy.json"),
                 *_tls_words(cell, "--tls-verify", "--cert-dir"), *creds,
                 "--platform", "{platform}", image]  # fmt: skip
        argv = command(words, cell)
        env = dict(cell.env)
        env.update(
            CONTAINERS_CONF=str(base / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(base / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=cell.values["registries_conf"],
        )
        glob_argv = command(glob, cell)
        pulled = argv[-1]

        def reader(completed: Completed) -> Content:
            if program == "podman":
                out = _run_text([*glob_argv, "image", "inspect", pulled], env, cell.workdir)
                return read_podman_inspect(out.stdout, storage_layers(base / "root"))
            out = _run_text([*glob_argv, "inspect", "--type", "image", pulled], env, cell.workdir)
            return read_buildah_inspect(out.stdout if out.exit_code == 0 else "",
                                        storage_layers(base / "root"))  # fmt: skip

        yield Session(argv, env, reader, image=pulled)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- ctr (a private containerd) ------------------------------------------------------------------
def _unfinished(ingest: Path) -> int:
    """Downloads containerd started and kept some bytes of (``ingest/<key>/data``)."""
    if not ingest.is_dir():
        return 0
    return sum(1 for d in ingest.iterdir() if (d / "data").is_file() and (d / "data").stat().st_size)


@contextlib.contextmanager
def _containerd(preset: Any, cell: Cell) -> Iterator[Session]:
    from flakymirror.trial.containerd import PrivateContainerd, short_tempdir

    base = short_tempdir()
    daemon = PrivateContainerd(base)
    namespace = "fm-" + secrets.token_hex(4)
    try:
        connect = ["ctr", "-a", _lit(daemon.address), "-n", _lit(namespace)]
        access = ["--hosts-dir", "{hosts_dir}"] if cell.tls or cell.origin else ["--plain-http"]
        words = [*connect, "images", "pull", *access, *_creds(cell, "--user"),
                 "--platform", "{platform}", "--snapshotter", "native",
                 _image_placeholder(preset, cell)]  # fmt: skip
        argv = command(words, cell)  # before the daemon starts: a missing value starts nothing
        daemon.start()
        pulled = argv[-1]

        def reader(completed: Completed) -> Content:
            listing = _run_text([*argv[:5], "images", "ls"], dict(cell.env), cell.workdir)
            if listing.exit_code != 0:
                return Content.unreadable(f"ctr images ls failed: {listing.stderr.strip()[-300:]}")
            unfinished = _unfinished(daemon.ingest)
            return read_blob_store(daemon.content_blobs, ctr_image_digest(listing.stdout, pulled),
                                   cell.target.platform, where="containerd's content store",
                                   incomplete=unfinished)  # fmt: skip

        yield Session(argv, dict(cell.env), reader, image=pulled)
    finally:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


# -- oras-py, python-dxf ---------------------------------------------------------------------------
@contextlib.contextmanager
def _python(preset: Any, cell: Cell) -> Iterator[Session]:
    verb = "oras-pull" if preset.name == "oras-py" else "dxf-pull"
    words = [_lit(sys.executable), "-m", "flakymirror.trial.pyclients", verb, "{ref}",
             "{workdir}/out"]  # fmt: skip
    if _has_creds(cell):
        words += ["--username", "{username}", "--password", "{password}"]
        if verb == "oras-pull" and cell.auth == "basic":
            words += ["--auth-backend", "basic"]
    words += ["--ca", "{ca_file}"] if cell.tls else ["--insecure"]
    words += ["--platform", "{platform}"]
    env = dict(cell.env)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root  # flakymirror importable without an install

    def reader(completed: Completed) -> Content:
        out = Path(cell.values["workdir"]) / "out"
        return read_layout(out, cell.target.platform, f"{preset.name}'s output")

    yield Session(command(words, cell), env, reader, image=_image(preset, cell))


_FAMILIES = {"skopeo": _skopeo, "storage": _storage, "containerd": _containerd, "python": _python}


@contextlib.contextmanager
def open_session(preset: Any, cell: Cell) -> Iterator[Session]:
    """The session for ``preset`` (a :class:`~flakymirror.trial.presets.Preset`) in ``cell``."""
    with _FAMILIES[preset.family](preset, cell) as session:
        yield session

"""Real clients as presets: how each is run against a cell, and what it left is read.

A :class:`Preset` is a value (frozen, a readable repr, a dict form that round-trips); what it
does lives in :mod:`flakymirror.trial.sessions`, chosen by its ``family``. :data:`PRESETS` holds
the shipped ones, :func:`get_preset` looks one up with a "did you mean":

=================  =========================================================================
``skopeo-inspect``  ``skopeo inspect docker://{ref}``; judged on manifest and config only
``skopeo-copy``     ``skopeo copy docker://{ref} oci:{workdir}/out``; the OCI layout is read
``podman-pull``     ``podman pull`` into private vfs storage; read by ``podman image inspect``
``buildah-pull``    ``buildah pull`` into private vfs storage; read by ``buildah inspect``
``ctr-pull``        ``ctr images pull`` on a private containerd; its content store is read
``oras-py``         oras-py pulls manifest, config and layers into an OCI layout
``python-dxf``      python-dxf pulls manifest, config and layers into an OCI layout
=================  =========================================================================

skopeo, podman, buildah and ctr take a mirror configuration (``registries.conf``,
``hosts.toml``): on a scenario with an origin they pull ``{origin_ref}`` and reach the mirror
through it. oras-py and python-dxf cannot, so they are ``n/a`` there.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["FAMILIES", "PRESETS", "Preset", "UnknownPreset", "get_preset"]

#: How a preset is run (see :mod:`flakymirror.trial.sessions`).
FAMILIES = ("skopeo", "storage", "containerd", "python")
_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?[^\s,()]*)")


class UnknownPreset(LookupError):  # noqa: N818 - named for what the user typed
    """A preset name that is not in :data:`PRESETS`."""


@dataclass(frozen=True)
class Preset:
    """One real client, run the way its users run it.

    ``program`` is what the command starts (``python`` for the Python clients, which run as
    ``python -m flakymirror.trial.pyclients``); ``requires`` the programs that must be on
    ``PATH`` and ``module`` the Python package that must import; ``manifest_only`` says it is
    judged on manifest and config alone; ``mirror_config`` that it can be configured with a
    mirror in front of an origin; ``tls_for_auth`` the auth kinds it refuses over plain HTTP
    (the cell is then served over TLS). ``command`` and ``reads`` describe, for people, what
    is run and what is read afterwards.
    """

    name: str
    family: str
    program: str
    command: str
    reads: str
    manifest_only: bool = False
    mirror_config: bool = False
    requires: tuple[str, ...] = ()
    module: str | None = None
    package: str | None = None
    tls_for_auth: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"preset {self.name!r}: family must be one of {FAMILIES}, "
                             f"got {self.family!r}")  # fmt: skip
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "tls_for_auth", tuple(self.tls_for_auth))

    @property
    def spec(self) -> str:
        """The client spec that names it (its name)."""
        return self.name

    def unavailable(self) -> str | None:
        """Why it cannot run on this machine (``"skopeo is not installed"``), or None."""
        for program in self.requires:
            if shutil.which(program) is None:
                return f"{program} is not installed"
        if self.module is not None and importlib.util.find_spec(self.module) is None:
            return f"the Python package {self.package or self.module} is not installed"
        return None

    def version(self) -> str | None:
        """A short version string (``skopeo 1.9.3``), or None when it is not installed."""
        return _version(self.name, self.requires, self.package) if not self.unavailable() else None

    def needs_tls(self, auth: str | None) -> bool:
        """Whether a cell with this auth kind (``basic``, ``bearer`` or None) must be TLS."""
        return auth is not None and auth in self.tls_for_auth

    @contextlib.contextmanager
    def session(self, cell: Any) -> Iterator[Any]:
        """Start what a run needs in ``cell`` (private storage, a containerd); yield a
        :class:`~flakymirror.trial.sessions.Session` (``argv``, ``env``, ``read``); stop and
        remove everything on exit."""
        from flakymirror.trial.sessions import open_session

        with open_session(self, cell) as session:
            yield session

    def to_dict(self) -> dict[str, Any]:
        """The dict form (lists for tuples); :meth:`from_dict` reads it back."""
        d = asdict(self)
        d["requires"] = list(self.requires)
        d["tls_for_auth"] = list(self.tls_for_auth)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preset:
        """A preset from its dict form; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"preset: unknown keys {unknown} (known: {sorted(known)})")
        return cls(**data)


@functools.cache
def _version(name: str, requires: tuple[str, ...], package: str | None) -> str | None:
    if package is not None:
        try:
            return f"{name} {importlib.metadata.version(package)}"
        except importlib.metadata.PackageNotFoundError:
            return None
    program = requires[-1] if requires else name
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out.stdout or out.stderr)
    return f"{program} {m.group(1)}" if m else None


_CONTAINERS = "--tls-verify=false (plain HTTP) or --cert-dir {certs_dir}/{mirror} (TLS)"
PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "skopeo-inspect", "skopeo", "skopeo",
            "skopeo --registries-conf {registries_conf} --override-os OS --override-arch ARCH "
            f"inspect [{_CONTAINERS}] [--creds {{username}}:{{password}}] docker://{{ref}}",
            "its JSON on stdout: Digest and Layers",
            manifest_only=True, mirror_config=True, requires=("skopeo",),
        ),
        Preset(
            "skopeo-copy", "skopeo", "skopeo",
            "skopeo --insecure-policy --registries-conf {registries_conf} --override-os OS "
            "--override-arch ARCH copy [--src-tls-verify=false | --src-cert-dir "
            "{certs_dir}/{mirror}] [--src-creds {username}:{password}] docker://{ref} "
            "oci:{workdir}/out",
            "the OCI layout {workdir}/out: index.json, manifest, config, layers (hashed)",
            mirror_config=True, requires=("skopeo",),
        ),
        Preset(
            "podman-pull", "storage", "podman",
            "podman --root S/root --runroot S/run --storage-driver vfs --tmpdir S/tmp "
            "--events-backend none --registries-conf {registries_conf} pull "
            f"--signature-policy S/policy.json [{_CONTAINERS}] [--authfile {{authfile}}] "
            "--platform {platform} {ref}",
            "podman image inspect (Digest, Id, RootFS.Layers) in the same storage; its "
            "layers.json for a partial pull",
            mirror_config=True, requires=("podman",),
        ),
        Preset(
            "buildah-pull", "storage", "buildah",
            "buildah --root S/root --runroot S/run --storage-driver vfs --registries-conf "
            f"{{registries_conf}} pull --signature-policy S/policy.json [{_CONTAINERS}] "
            "[--creds {username}:{password}] --platform {platform} {ref}",
            "buildah inspect --type image (FromImageDigest, FromImageID, its manifest, "
            "OCIv1 diff_ids) in the same storage; its layers.json for a partial pull",
            mirror_config=True, requires=("buildah",),
        ),
        Preset(
            "ctr-pull", "containerd", "ctr",
            "ctr -a S/c.sock -n NAMESPACE images pull [--plain-http | --hosts-dir "
            "{hosts_dir}] [--user {username}:{password}] --platform {platform} "
            "--snapshotter native {ref}",
            "ctr images ls (the image's digest), then the private content store's blobs "
            "(hashed); unfinished downloads under ingest/",
            mirror_config=True, requires=("containerd", "ctr"),
        ),
        Preset(
            "oras-py", "python", "python",
            "python -m flakymirror.trial.pyclients oras-pull {ref} {workdir}/out "
            "[--username {username} --password {password}] [--auth-backend basic] "
            "[--insecure | --ca {ca_file}] --platform {platform}",
            "the OCI layout {workdir}/out it wrote (hashed)",
            module="oras", package="oras",
        ),
        Preset(
            "python-dxf", "python", "python",
            "python -m flakymirror.trial.pyclients dxf-pull {ref} {workdir}/out "
            "[--username {username} --password {password}] [--insecure | --ca {ca_file}] "
            "--platform {platform}",
            "the OCI layout {workdir}/out it wrote (hashed)",
            module="dxf", package="python-dxf", tls_for_auth=("basic", "bearer"),
        ),
    )
}  # fmt: skip


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`UnknownPreset` with a "did you mean" otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownPreset(
            f"unknown client preset {name!r}{hint}; presets: {', '.join(PRESETS)}"
        ) from None

"""The client configuration files of one cell: the mirror first, the origin as the fallback.

:func:`write_configs` writes into a folder everything a real client needs to reach the mirror
the way clients are configured in the field, and returns the placeholder values that name them
(see :data:`~flakymirror.trial.placeholders.PLACEHOLDERS`):

* ``registries_conf`` — containers-registries.conf(5) for skopeo, podman and buildah: with an
  origin, ``[[registry]] location = origin`` with ``[[registry.mirror]] location = mirror``;
  without one, a ``[[registry]]`` for the mirror itself. ``insecure = true`` for a plain-HTTP
  mirror (and always for the origin, which flakymirror serves over plain HTTP).
* ``hosts_dir`` — a containerd hosts directory: ``<hosts_dir>/<origin host:port>/hosts.toml``
  with ``server = origin`` and ``[host."http(s)://mirror"] capabilities = ["pull",
  "resolve"]`` (plus ``ca`` on TLS); without an origin, the mirror's own entry.
* ``certs_dir`` and ``ca_file`` (TLS only) — containers-certs.d(5):
  ``<certs_dir>/<mirror host:port>/ca.crt``, and the CA as one PEM file.
* ``authfile`` (auth only) — containers-auth.json(5):
  ``{"auths": {"<mirror host:port>": {"auth": base64("user:password")}}}``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

__all__ = ["authfile_text", "hosts_toml", "registries_conf_text", "write_configs"]


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts for these values)."""
    return json.dumps(value)


def registries_conf_text(mirror: str, origin: str | None, *, tls: bool) -> str:
    """containers-registries.conf(5) putting ``mirror`` in front of ``origin`` (both host:port)."""
    mirror_insecure = "" if tls else "insecure = true\n"
    if origin is None:
        return (
            "unqualified-search-registries = []\n\n"
            "[[registry]]\n"
            f"prefix = {_toml_string(mirror)}\n"
            f"location = {_toml_string(mirror)}\n" + mirror_insecure
        )
    return (
        "unqualified-search-registries = []\n\n"
        "[[registry]]\n"
        f"prefix = {_toml_string(origin)}\n"
        f"location = {_toml_string(origin)}\n"
        "insecure = true\n\n"
        "[[registry.mirror]]\n"
        f"location = {_toml_string(mirror)}\n" + mirror_insecure
    )


def hosts_toml(mirror: str, origin: str | None, *, ca_file: str | None) -> str:
    """A containerd ``hosts.toml``: the mirror as a pull/resolve host in front of ``origin``
    (the file goes under the origin's folder), or the mirror alone (under its own folder)."""
    scheme = "https" if ca_file else "http"
    server = f"http://{origin}" if origin is not None else f"{scheme}://{mirror}"
    ca = f"  ca = {_toml_string(ca_file)}\n" if ca_file else ""
    # containerd 1.6 ignores a top-level ``ca`` for ``server``: the mirror gets its own section
    return (
        f"server = {_toml_string(server)}\n\n"
        f"[host.{_toml_string(f'{scheme}://{mirror}')}]\n"
        '  capabilities = ["pull", "resolve"]\n' + ca
    )


def authfile_text(host: str, username: str, password: str) -> str:
    """containers-auth.json(5) (also docker's config.json ``auths``) with one entry."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return json.dumps({"auths": {host: {"auth": token}}}, indent=1) + "\n"


def write_configs(
    directory: Path,
    *,
    mirror: str,
    origin: str | None = None,
    ca_pem: bytes | str | None = None,
    credentials: tuple[str, str] | None = None,
) -> dict[str, str]:
    """Write the cell's client configuration under ``directory`` (created); the placeholder
    values naming each file: ``registries_conf`` and ``hosts_dir`` always, ``ca_file`` and
    ``certs_dir`` with ``ca_pem`` (a TLS mirror's CA), ``authfile`` with ``credentials``.

    ``mirror`` and ``origin`` are ``host:port``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    ca_file: str | None = None
    if ca_pem is not None:
        pem = ca_pem.encode("ascii") if isinstance(ca_pem, str) else bytes(ca_pem)
        ca_path = directory / "ca.pem"
        ca_path.write_bytes(pem)
        certs = directory / "certs.d"
        (certs / mirror).mkdir(parents=True, exist_ok=True)
        (certs / mirror / "ca.crt").write_bytes(pem)
        ca_file = str(ca_path)
        values["ca_file"] = ca_file
        values["certs_dir"] = str(certs)
    conf = directory / "registries.conf"
    conf.write_text(registries_conf_text(mirror, origin, tls=ca_file is not None))
    values["registries_conf"] = str(conf)
    hosts = directory / "hosts.d"
    host_dir = hosts / (origin if origin is not None else mirror)
    host_dir.mkdir(parents=True, exist_ok=True)
    (host_dir / "hosts.toml").write_text(hosts_toml(mirror, origin, ca_file=ca_file))
    values["hosts_dir"] = str(hosts)
    if credentials is not None:
        auth = directory / "auth.json"
        auth.write_text(authfile_text(mirror, *credentials))
        auth.chmod(0o600)
        values["authfile"] = str(auth)
    return values

"""The Python registry clients as commands, so they run as processes like every other client.

::

    python -m flakymirror.trial.pyclients oras-pull REF OUTDIR [--username U --password P]
        [--auth-backend token|basic] [--ca FILE | --insecure] [--platform OS/ARCH[/VARIANT]]
    python -m flakymirror.trial.pyclients dxf-pull REF OUTDIR [--username U --password P]
        [--ca FILE | --insecure] [--platform OS/ARCH[/VARIANT]]

Each pulls the image's manifest (for an index: the child for ``--platform``) and every blob it
names, config first, through the library's own calls, and writes them as an OCI image layout in
OUTDIR (blobs as they arrive, ``index.json`` last, once everything is in). Nothing is checked
beyond what the library checks itself (python-dxf verifies each blob's digest; oras-py does
not). Exit 0 on success; otherwise 1 with the library's error as the last line on stderr.

* oras-py: ``OrasClient(hostname, insecure=..., tls_verify=CA, auth_backend=...)``, ``login``
  with the credentials, the manifest through ``do_request`` (the call ``get_manifest`` makes,
  kept raw so its digest is the served one), blobs with ``download_blob``.
* python-dxf: ``DXF(host, repo, auth=..., insecure=..., tlsverify=CA)``, the manifest with
  ``get_manifest_and_response``, blobs with ``pull_blob``. It refuses credentials over plain
  HTTP (``DXFAuthInsecureError``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LayoutWriter", "main", "split_reference"]

ACCEPT = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def split_reference(ref: str) -> tuple[str, str, str]:
    """``host:port/repo:tag`` or ``host:port/repo@digest`` → ``(host, repo, tag or digest)``."""
    host, sep, rest = ref.partition("/")
    if not sep or not rest:
        raise ValueError(f"reference {ref!r} has no registry host")
    repo, at, digest = rest.partition("@")
    if at:
        return host, repo, digest
    repo, colon, tag = rest.rpartition(":")
    if not colon or "/" in tag:
        return host, rest, "latest"
    return host, repo, tag


class LayoutWriter:
    """An OCI image layout being written: blobs as they arrive, ``index.json`` last."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def path(self, digest: str) -> Path:
        """Where the blob ``digest`` goes (its folder created)."""
        algorithm, _, hexpart = digest.partition(":")
        if not algorithm.isalnum() or not hexpart.isalnum():
            raise ValueError(f"not a digest: {digest!r}")
        folder = self.root / "blobs" / algorithm
        folder.mkdir(exist_ok=True)
        return folder / hexpart

    def put(self, data: bytes) -> str:
        """Store bytes (a manifest); their sha256 digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.path(digest).write_bytes(data)
        return digest

    def put_chunks(self, digest: str, chunks: Iterable[bytes]) -> None:
        """Store a blob as the library streams it (whatever arrives is kept)."""
        with open(self.path(digest), "wb") as f:
            for chunk in chunks:
                f.write(chunk)

    def finish(self, digest: str, media_type: str, size: int) -> None:
        """Write ``index.json`` naming the top-level manifest: the pull is complete."""
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": media_type, "digest": digest, "size": size}],
        }
        (self.root / "index.json").write_text(json.dumps(index))


def _child(doc: dict[str, Any], platform: str) -> str:
    from flakymirror.trial.content import pick_child

    child = pick_child(doc, platform)
    if child is None:
        raise LookupError(f"the index has no manifest for {platform}")
    return child


def _blobs(doc: dict[str, Any]) -> list[str]:
    return [doc["config"]["digest"], *(layer["digest"] for layer in doc.get("layers") or ())]


def _is_index(doc: dict[str, Any]) -> bool:
    return "manifests" in doc and "layers" not in doc


def oras_pull(args: argparse.Namespace) -> None:
    """Pull with oras-py (see the module docstring)."""
    import oras.client

    host, _, _ = split_reference(args.ref)
    client = oras.client.OrasClient(
        hostname=host,
        insecure=args.insecure,
        tls_verify=args.ca or True,
        auth_backend=args.auth_backend,
    )
    if args.username is not None:
        client.login(args.username, args.password, hostname=host, tls_verify=args.ca or True)
    container = client.get_container(args.ref)
    out = LayoutWriter(args.outdir)

    def manifest(reference: str | None) -> tuple[bytes, str]:
        url = f"{client.prefix}://{container.manifest_url(reference)}"
        response = client.do_request(url, "GET", headers={"Accept": ", ".join(ACCEPT)})
        client._check_200_response(response)  # what get_manifest checks
        data = response.content
        return data, out.put(data)

    data, top = manifest(None)
    doc = json.loads(data)
    top_type, top_size = doc.get("mediaType", ACCEPT[0]), len(data)
    if _is_index(doc):
        data, _ = manifest(_child(doc, args.platform))
        doc = json.loads(data)
    for digest in _blobs(doc):
        client.download_blob(container, digest, str(out.path(digest)))
    out.finish(top, top_type, top_size)


def dxf_pull(args: argparse.Namespace) -> None:
    """Pull with python-dxf (see the module docstring)."""
    import dxf

    host, repo, reference = split_reference(args.ref)

    def login(client: Any, response: Any) -> None:
        client.authenticate(args.username, args.password, response=response)

    client = dxf.DXF(
        host,
        repo,
        auth=login if args.username is not None else None,
        insecure=args.insecure,
        tlsverify=args.ca or True,
    )
    out = LayoutWriter(args.outdir)
    _, response = client.get_manifest_and_response(reference)
    data = response.content
    top = out.put(data)
    doc = json.loads(data)
    top_type, top_size = doc.get("mediaType", ACCEPT[0]), len(data)
    if _is_index(doc):
        _, response = client.get_manifest_and_response(_child(doc, args.platform))
        data = response.content
        out.put(data)
        doc = json.loads(data)
    for digest in _blobs(doc):
        out.put_chunks(digest, client.pull_blob(digest))
    out.finish(top, top_type, top_size)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m flakymirror.trial.pyclients",
        description="Pull an image with a Python registry client into an OCI layout.",
    )
    sub = p.add_subparsers(dest="verb", required=True)
    for verb, func in (("oras-pull", oras_pull), ("dxf-pull", dxf_pull)):
        s = sub.add_parser(verb)
        s.add_argument("ref", help="HOST:PORT/repo:tag or HOST:PORT/repo@digest")
        s.add_argument("outdir", type=Path, help="the OCI layout to write")
        s.add_argument("--username")
        s.add_argument("--password")
        if verb == "oras-pull":
            s.add_argument("--auth-backend", choices=("token", "basic"), default="token")
        tls = s.add_mutually_exclusive_group()
        tls.add_argument("--ca", help="verify TLS with this CA file")
        tls.add_argument("--insecure", action="store_true", help="plain HTTP")
        s.add_argument("--platform", default="linux/amd64")
        s.set_defaults(func=func)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one pull; 0 on success, 1 with the library's error on stderr, 2 on bad usage."""
    args = _parser().parse_args(argv)
    if (args.username is None) != (args.password is None):
        print("give --username and --password together", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except Exception as exc:  # the client failed: say how, as its library put it
        traceback.print_exc(limit=3, file=sys.stderr)
        print(f"{type(exc).__module__}.{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

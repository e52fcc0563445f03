"""A client against a mirror you run yourself (``run_client(..., mirror=flaky_mirror)``).

There is no incident file here, so there is no ideal verdict (``expected`` is ``n/a``); the
image under test is read from the mirror's upstream (as upstream holds it), and the verdict is
given exactly as in the matrix, from the requests this run added to the mirror's journal.
"""

from __future__ import annotations

import json
from typing import Any

from flakymirror.oci import mediatypes as mt
from flakymirror.oci.platform import Platform
from flakymirror.trial.cell import Cell, Target
from flakymirror.trial.result import TrialResult
from flakymirror.trial.verdict import NOT_APPLICABLE

__all__ = ["run_on_mirror", "target_from_upstream"]


def _manifest(upstream: Any, repo: str, reference: str) -> Any:
    stored = upstream.get_manifest(repo, reference)
    if stored is None:
        raise LookupError(f"the mirror's upstream has no manifest {repo}:{reference}")
    return stored


def _platform(descriptor: dict[str, Any]) -> Platform | None:
    try:
        return Platform.from_dict(descriptor.get("platform"))
    except (TypeError, ValueError):
        return None


def target_from_upstream(upstream: Any, image: str, platform: str = "linux/amd64") -> Target:
    """The :class:`Target` for ``image`` (``repo:tag`` or ``repo@digest``) as ``upstream``
    (an ``Upstream``, e.g. ``mirror.upstream_reader``) holds it."""
    if "@" in image:
        repo, _, reference = image.partition("@")
        tag = None
    else:
        repo, _, reference = image.rpartition(":")
        tag = reference
    stored = _manifest(upstream, repo, reference)
    index = None
    doc = json.loads(stored.data)
    if mt.is_index(stored.media_type):
        index = str(stored.digest)
        want = Platform.parse(platform)
        child = next((d for d in doc.get("manifests", []) if _platform(d) == want), None)
        if child is None:
            raise LookupError(f"{image}: the index has no manifest for {platform}")
        stored = _manifest(upstream, repo, child["digest"])
        doc = json.loads(stored.data)
    config = doc["config"]
    raw = b"".join(upstream.open_blob(repo, config["digest"]))
    diff_ids = tuple(json.loads(raw).get("rootfs", {}).get("diff_ids", []))
    sizes = {config["digest"]: config["size"]}
    sizes.update({layer["digest"]: layer["size"] for layer in doc.get("layers", [])})
    return Target(
        repository=repo,
        reference=image,
        platform=platform,
        manifest=str(stored.digest),
        config=config["digest"],
        layers=tuple(layer["digest"] for layer in doc.get("layers", [])),
        diff_ids=diff_ids,
        sizes=sizes,
        index=index,
        tag=tag,
    )


def run_on_mirror(
    mirror: Any,
    image: str,
    client: Any,
    options: Any = None,
    *,
    platform: str = "linux/amd64",
    credentials: tuple[str, str] | None = None,
) -> TrialResult:
    """Run ``client`` (a preset or a command template) against ``image`` on a running
    ``mirror`` and judge it. ``credentials`` fill ``{username}``/``{password}``/``{authfile}``
    for a mirror with auth."""
    from flakymirror.trial.clients import ReferenceClient
    from flakymirror.trial.configs import write_configs
    from flakymirror.trial.environment import clean_env
    from flakymirror.trial.placeholders import NoValue
    from flakymirror.trial.runner import TrialOptions, _workdir, base_values, run_cell

    options = options or TrialOptions()
    if isinstance(client, ReferenceClient):
        raise TypeError("the reference client runs scenarios (run_client(..., scenario=...))")
    target = target_from_upstream(mirror.upstream_reader, image, platform)
    with _workdir() as workdir:
        values = base_values(mirror.host, image, target, workdir)
        if credentials is not None:
            values["username"], values["password"] = credentials
        values.update(
            write_configs(
                workdir / "config", mirror=mirror.host, ca_pem=mirror.ca_pem,
                credentials=credentials,
            )
        )  # fmt: skip
        cell = Cell(
            workdir=workdir,
            values=values,
            target=target,
            env=clean_env(workdir),
            timeout=options.timeout,
            tls=mirror.ca_pem is not None,
        )
        try:
            return run_cell(image, client, cell, mirror, None, NOT_APPLICABLE, options)
        except NoValue as exc:
            return TrialResult(image, client.name, NOT_APPLICABLE, NOT_APPLICABLE, error=str(exc))

"""What one run of one client against one staged incident is given, and what it leaves behind.

A *cell* of the incident × client matrix is one client run against one incident on a mirror
of its own. :class:`Target` is the image under test as a client that survived must hold it (read
from the upstream image, never from the mirror); :class:`Cell` is what a client preset needs to
build and run its command; :class:`Completed` is how the process ended; :class:`Content` is what
the client ended up with, as its own output or storage shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Cell", "Completed", "Content", "Target"]


@dataclass(frozen=True)
class Target:
    """The image under test, as upstream holds it.

    ``manifest`` is the digest of the image manifest a client must end up with: for an index,
    the child for ``platform`` (``index`` is then the index's digest). ``layers`` are the
    compressed layer digests in manifest order, ``diff_ids`` their uncompressed digests,
    ``sizes`` the size of every blob the manifest names (config included).
    """

    repository: str
    reference: str
    platform: str
    manifest: str
    config: str
    layers: tuple[str, ...]
    diff_ids: tuple[str, ...]
    sizes: Mapping[str, int]
    index: str | None = None
    tag: str | None = None

    @property
    def blobs(self) -> tuple[str, ...]:
        """Config then layers: every blob a complete pull fetches."""
        return (self.config, *self.layers)

    @classmethod
    def of(cls, image: Any, reference: str, platform: str = "linux/amd64") -> Target:
        """The target for a built ``Image`` or ``ImageIndex`` pushed as ``reference``."""
        repository, sep, rest = reference.partition("@")
        tag = None
        if not sep:
            repository, _, tag = reference.rpartition(":")
        index = None
        if hasattr(image, "image_for"):
            index = str(image.digest)
            image = image.image_for(platform)
        config = image.config_blob
        sizes = {str(config.digest): config.size}
        sizes.update({str(layer.digest): layer.size for layer in image.layers})
        return cls(
            repository=repository,
            reference=reference,
            platform=platform,
            manifest=str(image.digest),
            config=str(config.digest),
            layers=tuple(str(layer.digest) for layer in image.layers),
            diff_ids=tuple(str(layer.diff_id) for layer in image.layers),
            sizes=sizes,
            index=index,
            tag=tag,
        )


@dataclass(frozen=True)
class Cell:
    """Everything a client needs for one run.

    ``values`` holds the placeholder values this cell has (see
    :data:`~flakymirror.trial.placeholders.PLACEHOLDERS`); a name that is absent has no value
    here, which makes a command that needs it ``n/a``. ``origin`` says the incident has an
    origin: clients with mirror configuration then pull ``{origin_ref}`` through the generated
    ``registries_conf``/``hosts_dir``. ``env`` is the clean environment to run in (its ``HOME``
    is inside ``workdir``); ``timeout`` is the run's limit in real seconds.
    """

    workdir: Path
    values: Mapping[str, str]
    target: Target
    env: Mapping[str, str]
    timeout: float
    origin: bool = False
    auth: str | None = None
    tls: bool = False


@dataclass(frozen=True)
class Completed:
    """How a client process ended: ``exit_code`` (None when it was killed at the timeout).

    ``error`` is set when the program could not be started at all (not found: exit code 127,
    not executable: 126, as a shell reports them): the harness's problem, not the client's.
    """

    argv: tuple[str, ...]
    exit_code: int | None
    stdout: str
    stderr: str
    wall: float
    timed_out: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Content:
    """What a client ended up with, read from its own output or storage.

    ``readable`` is False when nothing could be read (the judge then relies on the journal
    alone). ``manifest``/``config`` are the digests it holds (None: none or unknown);
    ``layers`` the compressed layer digests and ``diff_ids`` the uncompressed ones, each None
    when that client does not keep them; ``verified`` is True when every blob it holds was
    hashed and matched its digest, False when one did not, None when not checked; ``partial``
    says something short of a complete image was left behind. ``detail`` is one line saying
    what was read, from where.
    """

    readable: bool
    manifest: str | None = None
    config: str | None = None
    layers: tuple[str, ...] | None = None
    diff_ids: tuple[str, ...] | None = None
    verified: bool | None = None
    partial: bool = False
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def unreadable(cls, detail: str) -> Content:
        """Nothing could be read; ``detail`` says why."""
        return cls(readable=False, detail=detail)

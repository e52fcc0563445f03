"""A clean environment for a client under test: nothing of ours changes how it behaves.

:func:`clean_env` builds the whole environment from scratch (nothing is inherited but what
:data:`KEPT` names): a fresh ``HOME``, ``DOCKER_CONFIG``, ``REGISTRY_AUTH_FILE``, XDG
directories and ``TMPDIR``, all inside the cell's workdir; ``NO_PROXY``/``no_proxy`` for
loopback and no proxy variables at all; a fixed ``PATH``; ``LANG=C.UTF-8`` so messages are
not translated. The directories are created, empty.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["KEPT", "SANE_PATH", "clean_env"]

#: The only variables taken from our own environment (when set): time zone and terminal type
#: change no registry behaviour, and a missing ``TZ`` would make logs harder to read.
KEPT = ("TZ", "TERM")
#: ``PATH`` for every client: the system directories, in the usual order.
SANE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Hosts that must never go through a proxy (the mirror and the origin are on loopback).
NO_PROXY = "127.0.0.1,localhost,::1"


def clean_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one run, its directories created under ``workdir/env``.

    ``HOME``, ``DOCKER_CONFIG`` (``HOME/.docker``), ``REGISTRY_AUTH_FILE`` (an auth file with no
    credentials: podman and buildah refuse one that does not exist), ``XDG_CONFIG_HOME``/``XDG_DATA_HOME``/``XDG_CACHE_HOME``/``XDG_RUNTIME_DIR``
    and ``TMPDIR`` are fresh; ``extra`` is added last (a preset's own variables).
    """
    root = Path(workdir) / "env"
    home = root / "home"
    dirs = {
        "HOME": home,
        "DOCKER_CONFIG": home / ".docker",
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_RUNTIME_DIR": root / "run",
        "TMPDIR": root / "tmp",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["XDG_RUNTIME_DIR"].chmod(0o700)  # as the XDG spec requires; some tools check it
    env = {name: str(path) for name, path in dirs.items()}
    auth = home / ".config" / "containers" / "auth.json"
    auth.parent.mkdir(parents=True, exist_ok=True)
    auth.write_text('{"auths": {}}\n')  # podman and buildah refuse a missing file
    env["REGISTRY_AUTH_FILE"] = str(auth)
    env["PATH"] = SANE_PATH
    env["LANG"] = "C.UTF-8"
    env["NO_PROXY"] = env["no_proxy"] = NO_PROXY
    for name in KEPT:
        if name in os.environ:
            env[name] = os.environ[name]
    if extra:
        env.update(extra)
    return env

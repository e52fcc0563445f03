"""Standard output for the commands: a reader that went away (``flakymirror replay | head -1``)
is not an error of ours."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["run_handler", "stdout_to_devnull"]


def stdout_to_devnull() -> None:
    """Point file descriptor 1 at ``os.devnull`` after a ``BrokenPipeError`` on stdout.

    The reader went away (``flakymirror replay | head -1``); what is still buffered must not
    make the interpreter fail again when it flushes stdout at exit (the recipe of the Python
    docs' "Note on SIGPIPE").
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def run_handler(handler: Any, args: argparse.Namespace) -> int:
    """Call ``handler(args)`` and flush stdout; returns its exit code.

    The handlers here already survive a closed stdout with their own code; a handler that does
    not (it raised ``BrokenPipeError``) exits 1, quietly, like a Python program killed by EPIPE.
    """
    code = 1
    try:
        code = int(handler(args))
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_to_devnull()
    return code

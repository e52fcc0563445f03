"""The ``flakymirror`` command line (sub-commands are registered by each area)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flakymirror`` script."""
    parser = argparse.ArgumentParser(prog="flakymirror")
    parser.add_subparsers(dest="command")
    parser.parse_args(argv)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

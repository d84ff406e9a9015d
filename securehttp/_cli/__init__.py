"""The ``securehttp`` command (also ``python -m securehttp``), one module per command group.

Exit status: 0 success, 1 verification/HTTP/network failure, 2 usage or policy error.
Errors are one line (plus a hint), never a traceback unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from .._exceptions import PolicyError, SecureHTTPError
from . import check, demo, explain, get, probe
from .common import EXIT_FAILURE, EXIT_USAGE

__all__ = ["main"]

# The order commands are listed in by --help.
_GROUPS = (explain, check, get, probe, demo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            # Policy warnings are part of the answer: show them once, plainly, on stderr.
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            result: int = args.func(args)
            return result
    except (PolicyError, ValueError) as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"securehttp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SecureHTTPError, OSError) as exc:
        # URLError and its subclasses are OSErrors too; so is a file -o cannot write.
        if getattr(args, "verbose", False):
            raise
        print(f"securehttp: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"securehttp: warning: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securehttp",
        description="HTTPS with TLS verification decided by an explicit policy.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return parser

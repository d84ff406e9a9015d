"""The ``securehttp`` command (also ``python -m securehttp``), one module per command group.

Exit status: 0 success, 1 verification/HTTP/network failure, 2 usage or policy error.
Errors are one line (plus a hint), never a traceback unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from .._exceptions import CertificateError, PolicyError, SecureHTTPError
from . import audit, check, demo, explain, get, policies, probe, run, scan
from .common import EXIT_FAILURE, EXIT_USAGE, escape, scrub

__all__ = ["main"]

# The order commands are listed in by --help.
_GROUPS = (explain, check, get, probe, scan, audit, policies, run, demo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # A command that handles credentials lists them here, so no error line can carry one.
    args.secrets = []
    try:
        with warnings.catch_warnings():
            # Policy warnings are part of the answer: show them once, plainly, on stderr.
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            result: int = args.func(args)
            return result
    except (PolicyError, ValueError) as exc:
        _error(args, exc, f"error: {exc}", getattr(exc, "hint", None))
        return EXIT_USAGE
    except (SecureHTTPError, OSError) as exc:
        # URLError and its subclasses are OSErrors too; so is a file -o cannot write.
        hint = None
        if isinstance(exc, CertificateError):
            # The host and port of the failure itself: after a redirect it is not the URL's.
            port = "" if exc.port == 443 else f":{exc.port}"
            host = f"[{exc.host}]" if ":" in exc.host else exc.host
            hint = (
                f"`securehttp probe https://{host}{port}/` shows the chain the server "
                "presents and the policy lines that would make it pass"
            )
        _error(args, exc, str(exc), hint)
        return EXIT_FAILURE


def _error(args: argparse.Namespace, exc: BaseException, text: str, hint: str | None) -> None:
    secrets: Sequence[str] = args.secrets
    # Messages may quote server bytes (a status line, a header): scrub() escapes them too.
    if getattr(args, "verbose", False):
        # Printed here rather than raised, so that it is scrubbed like every other line and
        # the exit status still says usage (2) or failure (1).
        for line in traceback.format_exception(exc):
            print(scrub(line.rstrip("\n"), secrets, multiline=True), file=sys.stderr)
    print(f"securehttp: {scrub(text, secrets)}", file=sys.stderr)
    if hint:
        print(f"securehttp: hint: {scrub(hint, secrets)}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"securehttp: warning: {escape(str(message))}", file=sys.stderr)


class _VersionAction(argparse.Action):
    """``--version``: what this build is and what it runs on (computed only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import importlib.metadata
        import platform
        import ssl

        from .. import __version__

        try:
            # Read from the installed metadata: importing urllib3 is the transport's business.
            urllib3 = importlib.metadata.version("urllib3")
        except importlib.metadata.PackageNotFoundError:
            urllib3 = "not installed"
        print(
            f"securehttp {__version__} (Python {platform.python_version()}, "
            f"{ssl.OPENSSL_VERSION}, urllib3 {urllib3})"
        )
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securehttp",
        description="HTTPS with TLS verification decided by an explicit policy.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return parser

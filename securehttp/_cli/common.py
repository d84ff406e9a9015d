"""What every command shares: exit statuses and how a policy file argument is read."""

from __future__ import annotations

import argparse

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "add_policy_option", "add_verbose_option"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_policy_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help=help or "use this policy file instead of the process sources",
    )


def add_verbose_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--verbose", action="store_true", help=help or "tracebacks on errors")

"""``securehttp check FILE... [--strict]``: every problem in policy files, in one run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._check import STRICT_AHEAD_DAYS, check_file
from .common import EXIT_OK, EXIT_USAGE, add_verbose_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "check",
        help="validate policy files: every problem as file:line:column: key.path: problem",
        description="Validate policy files and the CA, certificate and key files they name, "
        "reporting every problem (not only the first).",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--strict",
        action="store_true",
        help="also fail on lapsed waivers, waivers lapsing within "
        f"{STRICT_AHEAD_DAYS} days and reasons still marked TODO (for CI and locked files)",
    )
    add_verbose_option(p)
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.files:
        result = check_file(name, strict=args.strict)
        for problem in result.problems:
            print(problem, file=sys.stderr)
        if result.policy is None:
            status = EXIT_USAGE
            count = len(result.problems)
            print(f"{name}: {count} problem{'s' * (count != 1)}", file=sys.stderr)
            continue
        policy = result.policy
        print(f"{name}: ok ({len(policy.hosts)} host rules{', locked' if policy.lock else ''})")
    return status

"""``securehttp check FILE...``: validate policy files."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._exceptions import PolicyError
from .._policy import load_policy
from .common import EXIT_OK, EXIT_USAGE, add_verbose_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("check", help="validate policy files (errors as file:line:column: message)")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_verbose_option(p)
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.files:
        try:
            policy = load_policy(name)
        except PolicyError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_USAGE
            continue
        print(f"{name}: ok ({len(policy.hosts)} host rules{', locked' if policy.lock else ''})")
    return status

"""``securehttp demo [--rollout]``: the self-contained walk-throughs (the stories themselves
are in ``_demo`` and ``_demo_rollout``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("demo", help="a self-contained walk-through against local HTTPS servers")
    p.add_argument(
        "--rollout",
        action="store_true",
        help="the fleet rollout instead: report-only, audit summary, draft policy, enforce, "
        "lock (runs the real commands; exit 1 if a step does not behave as it should)",
    )
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.rollout:
        from .._demo_rollout import run_rollout_demo

        return run_rollout_demo()
    from .._demo import run_demo

    return run_demo()

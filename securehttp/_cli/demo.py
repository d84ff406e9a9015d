"""``securehttp demo``: the self-contained walk-through (the story itself is in ``_demo``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("demo", help="a self-contained walk-through against local HTTPS servers")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    return run_demo()

"""``securehttp audit summarize LOG...``: what report-only mode found, and a draft policy."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

from .._audit import escape_controls
from .._audit_summary import draft_policy, read_logs, summary_json, summary_text
from .common import EXIT_OK, EXIT_USAGE, add_verbose_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("audit", help="read audit logs (SECUREHTTP_AUDIT_LOG)")
    commands = p.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    s = commands.add_parser(
        "summarize",
        help="group audit events by host, port and reason; draft the waivers they call for",
    )
    s.add_argument("logs", nargs="+", metavar="LOG", help="JSON-lines audit log files")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument(
        "--draft-policy",
        metavar="FILE",
        help="write a policy with the narrowest waiver per failing host (a new file, mode "
        "0600); each reason starts with TODO until a person fills it in",
    )
    add_verbose_option(s)
    s.set_defaults(func=_cmd_summarize)


def _cmd_summarize(args: argparse.Namespace) -> int:
    try:
        summary = read_logs(args.logs)
    except OSError as exc:
        name = escape_controls(str(exc.filename))
        print(f"securehttp: error: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(summary_json(summary), indent=2, ensure_ascii=True))
    else:
        sys.stdout.write(summary_text(summary))
    if args.draft_policy:
        today = datetime.datetime.now(datetime.timezone.utc).date()
        text = draft_policy(summary, today)
        try:
            _write_new(args.draft_policy, text.encode("utf-8"))
        except FileExistsError:
            print(
                f"securehttp: error: {args.draft_policy} exists: a draft never replaces a "
                "policy; choose another name or remove it",
                file=sys.stderr,
            )
            return EXIT_USAGE
        except OSError as exc:
            print(
                f"securehttp: error: cannot write {args.draft_policy}: {exc.strerror}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(f"draft policy written to {args.draft_policy}", file=sys.stderr)
    return EXIT_OK


def _write_new(path: str, data: bytes) -> None:
    """Create ``path`` (never an existing file or a symbolic link), mode 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

"""What every command shares: exit statuses, option helpers, and how text from elsewhere
(servers, URLs with credentials) is made safe to print."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from .._hosts import redact_url
from .._text import escape

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "add_policy_option",
    "add_verbose_option",
    "escape",
    "redact_url",
    "scrub",
]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad command-line input (exit 2), with a hint line that says what to do instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def add_policy_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help=help or "use this policy file instead of the process sources",
    )


def add_verbose_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--verbose", action="store_true", help=help or "tracebacks on errors")


def scrub(text: str, secrets: Sequence[str], *, multiline: bool = False) -> str:
    """:func:`escape`, then every known credential replaced by ``***``.

    Longest first, so a password inside a longer token never leaves the rest showing.  A
    short secret is replaced only where it stands alone, or ``-u a:b`` would garble every
    word with a "b" in it.
    """
    text = escape(text, multiline=multiline)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _SHORT:
            text = text.replace(secret, "***")
        elif secret:
            text = re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", "***", text)
    return text


_SHORT = 6

"""Warnings that point at the caller's line, not at securehttp's.

A fixed ``stacklevel`` is right for one call path only: the same warning is reached from
``Client.get``, ``urlopen``, a urllib opener or ``explain()``, at different depths, and often
through urllib3 or ``http.client`` in between.  So the level is computed: the first frame, from
the innermost outwards, that belongs neither to securehttp nor to the HTTP machinery it drives.
(``warnings.warn(skip_file_prefixes=...)`` does this from Python 3.12 on; 3.10 is supported.)
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["warn"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Top-level modules a securehttp warning can be raised beneath: a request passes through them
# on its way from the caller's line to securehttp's check (urllib3's pool calls our
# connection's validation; urllib's opener calls our handler; http.client and ssl call the
# context ``install()`` governs).
_MACHINERY = frozenset(
    {"securehttp", "urllib3", "http", "urllib", "ssl", "socket", "xmlrpc", "requests", "httpx"}
)


def warn(warning: Warning) -> None:
    """``warnings.warn(warning)``, attributed to the first frame outside securehttp and the
    HTTP machinery below it (the outermost frame when there is none, as under ``python -m
    securehttp``)."""
    warnings.warn(warning, stacklevel=_caller_level())


def _caller_level() -> int:
    # Level 1 is warn() itself; its caller, inside securehttp, is level 2.
    frame = sys._getframe(2)
    level = 2
    while frame.f_back is not None and _inside(frame):
        frame = frame.f_back
        level += 1
    return level


def _inside(frame: FrameType) -> bool:
    if frame.f_code.co_filename.startswith(_PACKAGE):
        return True
    module = frame.f_globals.get("__name__") or ""
    return str(module).partition(".")[0] in _MACHINERY

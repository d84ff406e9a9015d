"""Key paths such as ``hosts."a.example".pins[1]``: how errors and sources name a setting."""

from __future__ import annotations

import re

__all__ = ["KeyPath", "format_path"]

KeyPath = tuple["str | int", ...]

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def format_path(path: KeyPath) -> str:
    """``("hosts", "a.example", "pins", 1)`` -> ``hosts."a.example".pins[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _SIMPLE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out

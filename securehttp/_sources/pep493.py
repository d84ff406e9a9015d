"""PEP 493's ``cert-verification.cfg``: ``[https] verify = enable | disable | platform_default``.

As PEP 493 says, a missing section or key, or an unknown value, counts as no file at all
(here with a warning, because a typo in a fleet-wide file should not go unnoticed).  Our
platform default is strict, so ``platform_default`` and ``enable`` change nothing but are
still recorded as the source.
"""

from __future__ import annotations

import configparser
import os

from .._exceptions import PolicyError, PolicyWarning
from .._files import read_checked
from .._frozen import FrozenDict
from .._policy import Block, Policy, Setting, Verify
from .._warn import warn

__all__ = ["PEP493_CONFIG", "read_pep493"]

PEP493_CONFIG = "/etc/python/cert-verification.cfg"
_LEVELS = {"enable": Verify.STRICT, "disable": Verify.DISABLED}


def read_pep493(path: str, *, explicit: bool) -> Policy | None:
    """The layer for ``path``; None when it is absent (or, per PEP 493, unusable)."""
    if not os.path.lexists(path):
        if explicit:
            _warn(f"{path}: no such file (named by SECUREHTTP_PEP493_CONFIG); ignored")
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        # The same checks as policy files: this file can only ever disable verification, so
        # one that others could write is ignored (verification stays on), never obeyed.
        text = read_checked(path).decode("utf-8")
        parser.read_string(text, source=path)
    except PolicyError as exc:
        _warn(f"{exc}; the file is ignored and verification stays on")
        return None
    except (UnicodeError, configparser.Error) as exc:
        _warn(f"{path}: unreadable ({exc.__class__.__name__}); treated as absent, as PEP 493 says")
        return None
    value = parser.get("https", "verify", fallback=None)
    if value is None:
        _warn(f"{path}: no [https] verify setting; treated as absent, as PEP 493 says")
        return None
    value = value.strip()
    if value == "platform_default":
        return None
    level = _LEVELS.get(value)
    if level is None:
        _warn(
            f"{path}: [https] verify={value!r} is not enable, disable or platform_default; "
            "treated as absent, as PEP 493 says"
        )
        return None
    setting = Setting(level, f"{path} [https] verify={value}")
    return Policy(source=path, defaults=Block("[https]", FrozenDict({"verify": setting})))


def _warn(message: str) -> None:
    warn(PolicyWarning(message))

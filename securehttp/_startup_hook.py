"""securehttp's startup hook, copied into an environment's site-packages as
``_securehttp_hook.py`` by ``securehttp hook install``.

Python runs :func:`run` as it starts (from ``securehttp-hook.pth``, or from the matching
PEP 829 ``securehttp-hook.start`` where Python reads those), in every process of that
environment, so this module imports nothing but ``os`` and ``sys`` until it is asked for:
only ``SECUREHTTP_INSTALL`` set (and not ``0``) installs securehttp, and never under
``python -E`` or ``-I``, which ignore the environment.  Nothing here may stop the
interpreter from starting: a problem is one line on stderr, and the standard library's
HTTPS then fails closed.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "SECUREHTTP_INSTALL"
_ran = False


def run() -> None:
    global _ran
    # A virtual environment's site-packages is processed twice at startup (CPython's site
    # de-duplicates the paths a .pth adds, but runs its import lines again): act once.
    if _ran or sys.flags.ignore_environment:
        return
    _ran = True
    value = os.environ.get(VARIABLE, "")
    if value in ("", "0"):
        return
    try:
        from securehttp._startup import install_at_startup
    except Exception as exc:
        _fail_closed(f"cannot import securehttp ({type(exc).__name__}: {exc})")
        return
    install_at_startup(value)


def _fail_closed(problem: str) -> None:
    problem = " ".join(problem.split())
    print(
        f"securehttp: startup hook: {problem}; standard-library HTTPS fails closed "
        f"(unset {VARIABLE} or run `securehttp hook remove`)",
        file=sys.stderr,
    )
    import ssl

    def refuse(*args: object, **kwargs: object) -> ssl.SSLContext:
        raise ssl.SSLError(f"securehttp startup hook: {problem}")

    ssl._create_default_https_context = refuse

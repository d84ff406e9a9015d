"""Installing securehttp as a process starts: for the startup hook (``SECUREHTTP_INSTALL``)
and for ``securehttp run``, which executes ``python -m securehttp._startup [--policy FILE]
(-m MODULE | SCRIPT) [ARGS...]``.

Whatever goes wrong here is one line on stderr and never stops the program from starting;
a policy that cannot be loaded leaves ``install()`` in place failing closed, so standard
library HTTPS raises the policy's error instead of going out unverified or unpoliced.
"""

from __future__ import annotations

import os
import sys

__all__ = ["install_at_startup", "run_program"]


def _say(message: str) -> None:
    print(f"securehttp: {' '.join(message.split())}", file=sys.stderr)


def install_at_startup(value: str = "1", policy_path: str | None = None) -> None:
    """``install()`` the policy file ``policy_path`` (else the process default); one line on
    stderr when anything is wrong, and HTTPS fails closed when the policy is broken."""
    from ._exceptions import PolicyError, SecureHTTPError
    from .integrations.install import install

    if value != "1":
        _say(f"SECUREHTTP_INSTALL={value!r}: expected 1; installing anyway (0 or unset: off)")
    try:
        if policy_path is None:
            install()
        else:
            from ._policy import load_policy

            install(load_policy(policy_path))
    except PolicyError as exc:
        _say(f"{exc}; standard-library HTTPS fails closed until the policy is fixed")
        _fail_closed(exc)
    except SecureHTTPError as exc:
        _say(f"{exc}; securehttp is not installed in this process")
    except Exception as exc:
        _say(f"install() failed ({type(exc).__name__}: {exc}); standard-library HTTPS fails closed")
        _fail_closed(exc)


def _fail_closed(exc: Exception) -> None:
    from .integrations.install import install_failed

    try:
        install_failed(exc)
    except Exception as again:  # another patcher is in place: say so, and start anyway
        _say(f"cannot fail closed either: {again}")


def run_program(argv: list[str]) -> None:
    """Run a script or a module as ``python`` would, with ``install()`` active."""
    import runpy

    policy_path = None
    if argv[:1] == ["--policy"]:
        policy_path, argv = argv[1], argv[2:]
    install_at_startup("1", policy_path)
    if argv[:1] == ["-m"]:
        module, args = argv[1], argv[2:]
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        script, args = argv[0], argv[1:]
        sys.argv = [script, *args]
        # As `python SCRIPT` does: the script's directory comes first on the path.
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    run_program(sys.argv[1:])

"""``securehttp run`` (a program with ``install()`` active) and ``securehttp hook`` (the
startup hook that installs securehttp in every process of an environment when
``SECUREHTTP_INSTALL=1``)."""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from .common import EXIT_FAILURE, EXIT_OK, add_verbose_option

__all__ = ["HOOK_FILES", "reads_start_files", "register"]

PTH = "securehttp-hook.pth"
START = "securehttp-hook.start"  # PEP 829: where Python reads it, the .pth's import is skipped
MODULE = "_securehttp_hook.py"
HOOK_FILES = (PTH, START, MODULE)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "run",
        help="run a Python program with securehttp.install() active",
        description="Run SCRIPT or -m MODULE in a new interpreter with install() active: "
        "the standard library's HTTPS follows the policy per host.",
    )
    p.add_argument("--policy", metavar="FILE", help="this policy instead of the process default")
    program = p.add_mutually_exclusive_group(required=True)
    program.add_argument(
        "-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE [ARGS]", help="a module"
    )
    program.add_argument("script", nargs="?", metavar="SCRIPT", help="a script")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the program's")
    add_verbose_option(p)
    p.set_defaults(func=_cmd_run)

    h = sub.add_parser(
        "hook",
        help="manage the startup hook that installs securehttp when SECUREHTTP_INSTALL=1",
        description="The hook runs in every Python process of the environment whose "
        "site-packages holds it; it installs securehttp only when SECUREHTTP_INSTALL=1 "
        "(never under python -E or -I).",
    )
    h.add_argument("action", choices=("install", "remove", "status"))
    h.add_argument(
        "--site-packages",
        metavar="DIR",
        help="the environment's site-packages (default: this Python's, "
        f"{sysconfig.get_paths()['purelib']})",
    )
    add_verbose_option(h)
    h.set_defaults(func=_cmd_hook)


# --- run ------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    if args.module is not None and not args.module:
        raise ValueError("-m needs a module name")
    if args.policy is not None:
        from .._policy import load_policy

        load_policy(args.policy)  # a broken file is a usage error here, before anything runs
    program = ["-m", *args.module] if args.module is not None else [args.script, *args.args]
    policy = ["--policy", os.path.abspath(args.policy)] if args.policy is not None else []
    import subprocess

    # A fresh interpreter (same flags): the program gets its own warnings filters, argv and
    # __main__, exactly as under `python`, with nothing of this command left in them.
    flags: list[str] = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    argv = [sys.executable, *flags, "-m", "securehttp._startup", *policy, *program]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 - a fixed argv, never a shell


# --- hook -----------------------------------------------------------------------------------


def _cmd_hook(args: argparse.Namespace) -> int:
    directory = Path(args.site_packages or sysconfig.get_paths()["purelib"])
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory (give the site-packages directory)")
    if args.action == "install":
        return _install(directory)
    if args.action == "remove":
        return _remove(directory)
    return _status(directory)


def _wanted() -> dict[str, str]:
    from importlib.resources import files

    module = files("securehttp").joinpath("_startup_hook.py").read_text(encoding="utf-8")
    return {
        PTH: "# securehttp's startup hook: installs securehttp only when SECUREHTTP_INSTALL=1\n"
        "import _securehttp_hook; _securehttp_hook.run()\n",
        START: "_securehttp_hook:run\n",
        MODULE: module,
    }


def _install(directory: Path) -> int:
    for name, text in _wanted().items():
        _write(directory / name, text)
    print(f"installed the startup hook in {directory}: {', '.join(HOOK_FILES)}")
    print(
        "processes there now run install() when SECUREHTTP_INSTALL=1 is in their environment "
        "(ignored under python -E / -I; not run under python -S)"
    )
    print(_mechanism())
    return EXIT_OK


def _write(path: Path, text: str) -> None:
    # Atomically, so that an interpreter starting meanwhile never reads half a file.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".securehttp-hook-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _remove(directory: Path) -> int:
    removed = []
    for name in HOOK_FILES:
        path = directory / name
        if path.exists():
            path.unlink()
            removed.append(name)
    if removed:
        print(f"removed the startup hook from {directory}: {', '.join(removed)}")
    else:
        print(f"no startup hook in {directory}: nothing to remove")
    return EXIT_OK


def _status(directory: Path) -> int:
    wanted = _wanted()
    present = {name for name in HOOK_FILES if (directory / name).exists()}
    current = {n for n in present if (directory / n).read_text(encoding="utf-8") == wanted[n]}
    if not present:
        state = "not installed"
    elif current == set(HOOK_FILES):
        state = f"installed ({', '.join(HOOK_FILES)})"
    else:
        stale = ", ".join(sorted(set(HOOK_FILES) - current))
        state = f"installed but incomplete or out of date ({stale}): `securehttp hook install`"
    print(f"startup hook in {directory}: {state}")
    print(_mechanism())
    value = os.environ.get("SECUREHTTP_INSTALL", "")
    if sys.flags.ignore_environment:
        print("SECUREHTTP_INSTALL: ignored here (python -E / -I)")
    elif value in ("", "0"):
        print("SECUREHTTP_INSTALL: not set here: processes with this environment do not install")
    else:
        print(f"SECUREHTTP_INSTALL={value}: processes with this environment install securehttp")
    print(
        "never covered: python -S, -E and -I; other environments (a venv without this "
        "hook); frozen applications"
    )
    return EXIT_OK if current == set(HOOK_FILES) else EXIT_FAILURE


def _mechanism() -> str:
    version = ".".join(map(str, sys.version_info[:3]))
    if reads_start_files():
        return f"this Python ({version}) runs it from {START} (PEP 829); {PTH} is for older ones"
    return (
        f"this Python ({version}) runs it from {PTH} (it does not read PEP 829 .start files; "
        f"{START} is there for Pythons that do)"
    )


def reads_start_files() -> bool:
    """Whether this Python runs PEP 829 ``.start`` entry points: tried, not guessed from
    the version, on a throw-away directory."""
    import site
    import uuid

    name = f"_securehttp_probe_{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, f"{name}.py").write_text("def hit():\n    pass\n")
        Path(directory, f"{name}.start").write_text(f"{name}:hit\n")
        saved = list(sys.path)
        try:
            site.addsitedir(directory)
        finally:
            sys.path[:] = saved
        module = sys.modules.pop(name, None)
    return module is not None

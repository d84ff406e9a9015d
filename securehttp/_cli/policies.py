"""``securehttp policies [NAME]``: the ready policies that ship with securehttp.

They live once, in ``policies/`` at the top of the repository; the wheel carries that
directory as ``securehttp/policies/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import EXIT_OK, UsageError, add_verbose_option

__all__ = ["register", "shipped_directory"]

_SUFFIXES = (".yaml", ".pem")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "policies",
        help="list the ready policies (and their CA files), or print one",
        description="Without NAME, list the ready policies and the CA files they name; "
        "with NAME (strict, migration.yaml, dev-ca.pem, ...), print that file.",
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument(
        "--path",
        action="store_true",
        help="print the file's path (or the directory's) instead, for --policy",
    )
    add_verbose_option(p)
    p.set_defaults(func=_cmd_policies)


def shipped_directory() -> Path:
    """Where the ready policies are: inside the installed package, or in the source tree."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "policies"
    if installed.is_dir():
        return installed
    checkout = package.parent / "policies"
    # A source checkout (or an editable install of one): policies/ sits beside the package.
    if checkout.is_dir() and (package.parent / "pyproject.toml").is_file():
        return checkout
    raise UsageError(
        "the ready policies are not installed with this copy of securehttp",
        hint="reinstall securehttp from its wheel, or see policies/ in its repository",
    )


def _cmd_policies(args: argparse.Namespace) -> int:
    directory = shipped_directory()
    files = sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    if args.name is None:
        if args.path:
            print(directory)
            return EXIT_OK
        width = max(len(p.name) for p in files)
        for path in files:
            print(f"{path.name:<{width}}  {_summary(path, files)}")
        print(f"\n`securehttp policies NAME` prints one; they are in {directory}")
        return EXIT_OK
    path = _find(args.name, files)
    if args.path:
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return EXIT_OK


def _find(name: str, files: list[Path]) -> Path:
    for path in files:
        if name in (path.name, path.stem) and (path.suffix == ".yaml" or name == path.name):
            return path
    names = ", ".join(p.name for p in files)
    raise UsageError(f"no ready policy or CA file named {name!r}", hint=f"there are: {names}")


def _summary(path: Path, files: list[Path]) -> str:
    if path.suffix == ".pem":
        users = [p.name for p in files if p.suffix == ".yaml" and path.name in p.read_text("utf-8")]
        used = f" (named by {', '.join(users)})" if users else ""
        return f"CA certificate{used}: {_subject(path)}"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def _subject(path: Path) -> str:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return "(not a readable PEM certificate)"
    return cert.subject.rfc4514_string()

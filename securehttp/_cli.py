"""The ``securehttp`` command (also ``python -m securehttp``).

Exit status: 0 success, 1 verification/HTTP/network failure, 2 usage or policy error.
Errors are one line (plus a hint), never a traceback unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ._exceptions import PolicyError, SecureHTTPError
from ._policy import SETTINGS, ClientCert, Decision, Policy, load_policy
from ._resolve import explain as process_explain

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            # Policy warnings are part of the answer: show them once, plainly, on stderr.
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            result: int = args.func(args)
            return result
    except (PolicyError, ValueError) as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"securehttp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SecureHTTPError as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"securehttp: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"securehttp: warning: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securehttp",
        description="HTTPS with TLS verification decided by an explicit policy.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "explain", help="show the decision for a URL and where each setting came from"
    )
    p.add_argument("url")
    p.add_argument(
        "--policy", metavar="FILE", help="use this policy file instead of the process sources"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("check", help="validate policy files (errors as file:line:column: message)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("demo", help="a self-contained walk-through")
    p.set_defaults(func=_cmd_demo)
    return parser


# --- explain --------------------------------------------------------------------------------


def decision_to_json(url: str, decision: Decision) -> dict[str, object]:
    out: dict[str, object] = {"url": url, "rule": decision.rule}
    for name in SETTINGS:
        value = getattr(decision, name)
        if isinstance(value, ClientCert):
            value = dataclasses.asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif value is not None and not isinstance(value, bool):
            value = str(value)
        out[name] = value
    out["expires"] = decision.expires.isoformat() if decision.expires else None
    out["reason"] = decision.reason
    out["sources"] = dict(decision.sources)
    return out


def _cmd_explain(args: argparse.Namespace) -> int:
    decision = (
        load_policy(args.policy).resolve(args.url) if args.policy else process_explain(args.url)
    )
    if args.json:
        print(json.dumps(decision_to_json(args.url, decision), indent=2))
    else:
        print(args.url)
        print(decision)
    return EXIT_OK


# --- check ----------------------------------------------------------------------------------


def _cmd_check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.files:
        try:
            policy = load_policy(name)
        except PolicyError as exc:
            print(exc, file=sys.stderr)
            status = EXIT_USAGE
            continue
        print(f"{name}: ok ({len(policy.hosts)} host rules{', locked' if policy.lock else ''})")
    return status


# --- demo -----------------------------------------------------------------------------------

_DEMO_POLICY = """\
version: 1
hosts:
  legacy.example.org:
    verify: disabled
    expires: {future}
    reason: "vendor appliance, ticket OPS-1234"
  old.example.org:
    verify: disabled
    expires: 2020-01-31
    reason: "a waiver that has lapsed"
  "**.corp.example":
    min_tls: "1.3"
"""


def _cmd_demo(args: argparse.Namespace) -> int:
    say = _Narrator()
    say.title("securehttp demo: how a TLS policy is decided")
    say.step("With no policy at all, every host is verified strictly (PEP 476).")
    say.show(
        ">>> securehttp.Policy().resolve('https://example.com')",
        _brief(Policy().resolve("https://example.com")),
    )

    future = (datetime.date.today() + datetime.timedelta(days=120)).isoformat()
    with tempfile.TemporaryDirectory(prefix="securehttp-demo-") as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(_DEMO_POLICY.format(future=future), encoding="utf-8")
        path.chmod(0o600)
        say.step(f"A policy file with narrow, expiring waivers ({path.name}):")
        say.block(path.read_text(encoding="utf-8"))
        policy = load_policy(path)
        for url in (
            "https://legacy.example.org/",
            "https://a.b.corp.example/",
            "https://example.com/",
        ):
            say.show(f">>> policy.resolve({url!r})", _brief(policy.resolve(url)))

        say.step("A waiver past its end date lapses: the host is verified again, with a warning.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decision = policy.resolve("https://old.example.org/")
        say.show(">>> policy.resolve('https://old.example.org/')", _brief(decision))
        for warning in caught:
            say.note(f"warning: {warning.message}")

        say.step("Host names are compared normalised, so a rule cannot be dodged by spelling.")
        for url in ("https://LEGACY.Example.ORG./", "https://legacy.example.org:443/"):
            say.show(f">>> policy.resolve({url!r}).verify", str(policy.resolve(url).verify))

        say.step("YAML traps are refused with the file, line, column and key, never guessed at.")
        bad = Path(tmp) / "bad.yaml"
        bad.write_text("version: 1\ndefaults:\n  verify: no\n  min_tls: 1.2\n", encoding="utf-8")
        bad.chmod(0o600)
        say.block(bad.read_text(encoding="utf-8"))
        try:
            load_policy(bad)
        except PolicyError as exc:
            say.show(f">>> securehttp.load_policy({bad.name!r})", f"PolicyError: {exc}")

        say.step("Weakening without an end date and a reason is refused too.")
        try:
            Policy.from_dict({"hosts": {"x.example": {"verify": "disabled"}}})
        except PolicyError as exc:
            say.show(
                ">>> Policy.from_dict({'hosts': {'x.example': {'verify': 'disabled'}}})",
                f"PolicyError: {exc}",
            )

    say.step("Next: `securehttp explain URL` shows the same for this process's own sources;")
    say.note(
        "`securehttp check FILE` validates policy files.  The shipped examples are in policies/."
    )
    return EXIT_OK


def _brief(decision: Decision) -> str:
    keys = ["verify", "min_tls", "trust", "pins"]
    parts = [
        f"{k}={getattr(decision, k)!s}"
        if not isinstance(getattr(decision, k), tuple)
        else f"{k}=[{', '.join(getattr(decision, k))}]"
        for k in keys
    ]
    return (
        f"{', '.join(parts)}\n    rule={decision.rule}; verify from: {decision.sources['verify']}"
    )


class _Narrator:
    def __init__(self) -> None:
        self.count = 0

    def title(self, text: str) -> None:
        print(text)
        print("=" * len(text))

    def step(self, text: str) -> None:
        self.count += 1
        print(f"\n{self.count}. {text}")

    def show(self, command: str, result: str) -> None:
        print(f"  {command}")
        print(textwrap.indent(result, "    "))

    def block(self, text: str) -> None:
        print(textwrap.indent(text.rstrip("\n"), "  | "))

    def note(self, text: str) -> None:
        print(f"  {text}")

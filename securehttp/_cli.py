"""The ``securehttp`` command (also ``python -m securehttp``).

Exit status: 0 success, 1 verification/HTTP/network failure, 2 usage or policy error.
Errors are one line (plus a hint), never a traceback unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ._exceptions import PolicyError, SecureHTTPError
from ._policy import SETTINGS, ClientCert, Decision, load_policy
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
    except (SecureHTTPError, OSError) as exc:
        # URLError and its subclasses are OSErrors too; so is a file -o cannot write.
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

    p = sub.add_parser("get", help="fetch a URL, verified as the policy says")
    p.add_argument("url")
    p.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    p.add_argument(
        "--policy", metavar="FILE", help="use this policy file instead of the process sources"
    )
    p.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'")
    p.add_argument("-X", "--method", metavar="METHOD")
    p.add_argument(
        "--data", metavar="DATA|@FILE", help="request body (POST unless -X says otherwise)"
    )
    p.add_argument(
        "--verbose", action="store_true", help="status, headers and decision on stderr; tracebacks"
    )
    p.set_defaults(func=_cmd_get)

    p = sub.add_parser(
        "probe", help="look at a server's TLS: version, chain, pins, and whether it verifies"
    )
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument(
        "--policy",
        metavar="FILE",
        help="judge with this policy file instead of the process sources",
    )
    p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    p.set_defaults(func=_cmd_probe)

    p = sub.add_parser("demo", help="a self-contained walk-through against local HTTPS servers")
    p.set_defaults(func=_cmd_demo)
    return parser


# --- explain --------------------------------------------------------------------------------


def decision_to_json(url: str, decision: Decision) -> dict[str, object]:
    out: dict[str, object] = {"url": url, "rule": decision.rule}
    for name in SETTINGS:
        value = getattr(decision, name)
        if isinstance(value, ClientCert):
            value = {"cert": value.cert, "key": value.key, "password_env": value.password_env}
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


# --- get ----------------------------------------------------------------------------------


def _cmd_get(args: argparse.Namespace) -> int:
    from ._client import Client

    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"-H {header!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    body = None
    if args.data is not None:
        body = Path(args.data[1:]).read_bytes() if args.data.startswith("@") else args.data.encode()
    method = args.method or ("POST" if body is not None else "GET")
    policy = load_policy(args.policy) if args.policy else None
    with (
        Client(policy) as client,
        client.request(method, args.url, body=body, headers=headers) as response,
    ):
        if args.verbose:
            print(f"{response.status} {response.reason}  {response.url}", file=sys.stderr)
            for name, value in response.headers.items():
                print(f"{name}: {value}", file=sys.stderr)
            print(str(response.decision), file=sys.stderr)
        if args.output:
            _download(response, Path(args.output))
        else:
            out = sys.stdout.buffer
            while chunk := response.read(65536):
                out.write(chunk)
            out.flush()
        if response.status >= 400:
            print(
                f"securehttp: HTTP {response.status} {response.reason} from {response.url}",
                file=sys.stderr,
            )
            return EXIT_FAILURE
    return EXIT_OK


def _download(response: object, path: Path) -> None:
    from ._client import Response

    assert isinstance(response, Response)
    total = int(response.headers.get("Content-Length") or 0)
    show = sys.stderr.isatty()
    done = 0
    with path.open("wb") as out:
        while chunk := response.read(65536):
            out.write(chunk)
            done += len(chunk)
            if show:
                print("\r" + _progress(done, total), end="", file=sys.stderr, flush=True)
    if show:
        print(file=sys.stderr)


def _progress(done: int, total: int, width: int = 30) -> str:
    if total <= 0:
        return f"{done / 1024:,.0f} KiB"
    filled = min(width, done * width // total)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done * 100 // total:3d}% {done / 1024:,.0f} KiB"
    )


# --- probe --------------------------------------------------------------------------------


def _cmd_probe(args: argparse.Namespace) -> int:
    from ._client import Client, probe, spki_pin

    policy = load_policy(args.policy) if args.policy else None
    status = EXIT_OK
    for url in args.urls:
        shake = probe(url)
        target = shake.target
        print(url)
        print(f"  TLS: {shake.version}, {shake.cipher}")
        for index, der in enumerate(shake.chain):
            for line in _describe(der):
                print(f"  [{index}] {line}" if line.startswith("subject") else f"      {line}")
            print(f"      pin: {spki_pin(der)}")
        with Client(policy) as client:
            decision = client.decide(url)
            try:
                client.request("HEAD", url, redirect=False).close()
            except SecureHTTPError as exc:
                reason = getattr(exc, "verify_reason", None) or str(exc)
                print(f"  strict verification under {_which(args)}: FAILED: {reason}")
                print(_suggestion(target.host, target.port, shake.chain, reason))
                status = EXIT_FAILURE
                continue
        source = decision.sources["verify"]
        print(f"  verification under {_which(args)}: passed (verify={decision.verify}, {source})")
    return status


def _which(args: argparse.Namespace) -> str:
    return args.policy if args.policy else "the current policy"


def _describe(der: bytes) -> list[str]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    lines = [
        f"subject: {cert.subject.rfc4514_string()}",
        f"issuer:  {cert.issuer.rfc4514_string()}",
    ]
    lines.append(
        f"valid:   {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    )
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [f"DNS:{n}" for n in names.get_values_for_type(x509.DNSName)]
        sans += [f"IP:{n}" for n in names.get_values_for_type(x509.IPAddress)]
        lines.append(f"names:   {', '.join(sans) or '(none)'}")
    except x509.ExtensionNotFound:
        lines.append(
            "names:   no subjectAltName (refused: names are never read from the common name)"
        )
    return lines


def _suggestion(host: str, port: int, chain: tuple[bytes, ...], reason: str) -> str:
    from cryptography import x509

    issuer = x509.load_der_x509_certificate(chain[-1]).issuer.rfc4514_string() if chain else "?"
    key = f'"{host}:{port}"' if port != 443 else f'"{host}"'
    until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    low = reason.lower()
    lines = [
        "  what would make it pass (check first that this really is the server's certificate):"
    ]
    if "issuer" in low or "self-signed" in low or "self signed" in low:
        lines += [
            "    # trust the issuing CA for this host, beside the public roots:",
            "    hosts:",
            f"      {key}:",
            f"        extra_ca: [issuer-ca.pem]   # the PEM certificate of {issuer}",
        ]
    lines += [
        "    # or, only while the server is being fixed, a waiver that ends:",
        "    hosts:",
        f"      {key}:",
        "        verify: disabled",
        f"        expires: {until}",
        '        reason: "TODO: why, and the ticket that tracks the fix"',
    ]
    return "\n".join(lines)


# --- demo ---------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo()

"""``securehttp probe URL...``: look at a server's TLS and whether it verifies."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from .._exceptions import SecureHTTPError
from .._policy import load_policy
from .common import EXIT_FAILURE, EXIT_OK, add_policy_option, add_verbose_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "probe", help="look at a server's TLS: version, chain, pins, and whether it verifies"
    )
    p.add_argument("urls", nargs="+", metavar="URL")
    add_policy_option(p, "judge with this policy file instead of the process sources")
    add_verbose_option(p)
    p.set_defaults(func=_cmd_probe)


def _cmd_probe(args: argparse.Namespace) -> int:
    from .._client import Client
    from .._transport.probe import probe
    from .._verification import spki_pin

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

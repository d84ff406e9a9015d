"""``securehttp probe URL...``: look at a server's TLS and say whether *strict* verification
passes - never "passed" because a policy let a failure through.

Every line printed goes through :func:`securehttp._text.escape`: a certificate's subject,
issuer and names are the server's words, and a newline or an escape sequence in them must
not forge a line of this report or reach the terminal.
"""

from __future__ import annotations

import argparse
import datetime
import os
import ssl
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .._certinfo import CertInfo, covers, read_certificate, validity_problem
from .._exceptions import URLError
from .._hosts import Target, redact_url
from .._model import Decision, TLSSettings, Verify, is_weakening, show_value
from .._policy import load_policy
from .._text import escape
from .common import EXIT_FAILURE, EXIT_OK, add_policy_option, add_verbose_option

if TYPE_CHECKING:
    from .._transport.probe import Handshake, Verdict

__all__ = ["register"]

_TODO_REASON = 'reason: "TODO: why, and the ticket that tracks the fix"'
_WEAKENINGS = ("min_tls", "x509_strict", "ciphers")
_TLS_NUMBERS = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "probe", help="look at a server's TLS: version, chain, pins, and whether it verifies"
    )
    p.add_argument("urls", nargs="+", metavar="URL")
    add_policy_option(p, "judge with this policy file instead of the process sources")
    p.add_argument(
        "--save-chain",
        metavar="FILE",
        help="write the certificates the server(s) presented to FILE as PEM (mode 0600)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="for connecting and each handshake (default 10)",
    )
    add_verbose_option(p)
    p.set_defaults(func=_cmd_probe)


def say(line: str = "", *, err: bool = False) -> None:
    """Print one line of the report, escaped: no server text reaches the terminal raw."""
    print(escape(line), file=sys.stderr if err else sys.stdout)


class Problem(NamedTuple):
    title: str
    detail: str
    #: The settings under the host's key that would make it pass (empty: none would).
    fix: tuple[str, ...] = ()
    #: Whether ``fix`` is a weakening, which needs ``expires`` and ``reason`` beside it.
    waiver: bool = True
    advice: str = ""
    #: Whether a ``verify: disabled`` waiver would also let it through (pins hold even then).
    waivable: bool = True


def _cmd_probe(args: argparse.Namespace) -> int:
    from .._process import explain
    from .._transport.probe import probe, strict_settings, verify

    policy = load_policy(args.policy) if args.policy else None
    which = f"the policy {args.policy}" if args.policy else "the current policy"
    status = EXIT_OK
    saved: list[bytes] = []
    for url in args.urls:
        say(redact_url(url))
        try:
            shake = probe(url, args.timeout)
            decision = policy.resolve(url) if policy is not None else explain(url)
            _show_handshake(shake.version, shake.cipher, shake.chain, shake.whole_chain)
            saved += shake.chain
            strict = strict_settings(decision)
            verdict = verify(url, strict, decision.pins, args.timeout)
        except URLError as exc:
            if args.verbose:
                raise
            say(f"securehttp: {exc}", err=True)
            status = EXIT_FAILURE
            continue
        if verdict.kind is None:
            say(f"  strict verification: passed (verify=strict, {_strict_source(decision)})")
            weaker = _weakenings(decision)
            if weaker:
                say(f"  {which} is weaker than this host needs: {weaker}")
            continue
        status = EXIT_FAILURE
        problems = _problems(shake.target, shake, verdict.kind, verdict.reason, decision, strict)
        say(f"  strict verification: FAILED ({'; '.join(p.title for p in problems)})")
        until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
        for problem in problems:
            _show_problem(problem, _host_key(shake.target), until)
        say(
            f"  {_policy_verdict(url, decision, strict, verdict.kind, which, args.timeout, verify)}"
        )
    if args.save_chain:
        _save_chain(args.save_chain, saved)
    return status


def _show_handshake(version: str, cipher: str, chain: tuple[bytes, ...], whole_chain: bool) -> None:
    from .._verification import spki_pin

    say(f"  TLS: {version}, {cipher}")
    for index, der in enumerate(chain):
        info = read_certificate(der)
        say(f"  [{index}] subject: {info.subject}")
        say(f"      issuer:  {info.issuer}")
        say(f"      valid:   {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
        if info.has_san:
            say(f"      names:   {', '.join(info.names) or '(none)'}")
        else:
            say(
                "      names:   no subjectAltName "
                "(refused: names are never read from the common name)"
            )
        say(f"      pin: {spki_pin(der)}")
    if chain and not whole_chain:
        say("  (the server's certificate only: this Python cannot read the rest of the chain)")


def _strict_source(decision: Decision) -> str:
    return decision.sources["verify"] if decision.verify is Verify.STRICT else "no waiver"


def _weakenings(decision: Decision) -> str:
    names = ("verify", *_WEAKENINGS)
    return ", ".join(
        f"{name}={show_value(getattr(decision, name))} ({decision.sources[name]})"
        for name in names
        if is_weakening(name, getattr(decision, name))
    )


def _problems(
    target: Target,
    shake: Handshake,
    kind: str,
    reason: str,
    decision: Decision,
    strict: TLSSettings,
) -> list[Problem]:
    """Every problem found at once: OpenSSL stops at the first (issuer, then names, then
    dates), so dates and names are also read from the presented chain."""
    infos = [read_certificate(der) for der in shake.chain]
    leaf: CertInfo | None = infos[0] if infos else None
    problems: list[Problem] = []
    if kind == "issuer":
        problems.append(_issuer_problem(reason, infos, decision))
    elif kind == "protocol":
        number = _TLS_NUMBERS.get(shake.version)
        problems.append(
            Problem(
                "old protocol",
                f"{reason}: the server speaks {shake.version}, min_tls is {strict.min_tls} "
                "(the chain was not checked: the handshake stopped first)",
                (f'min_tls: "{number}"',) if number else (),
                waiver=number is not None and is_weakening("min_tls", number),
                advice="upgrade the server's TLS",
                waivable=False,  # verify: disabled keeps min_tls
            )
        )
    elif kind == "x509":
        problems.append(
            Problem(
                "strict X.509 check failed",
                reason,
                ("x509_strict: false",),
                advice="have the certificate reissued to RFC 5280",
            )
        )
    elif kind == "pins":
        problems.append(
            Problem(
                "pin mismatch",
                reason,
                (f"pins: [{', '.join(_pins(shake.chain))}]",),
                waiver=False,
                advice="only if the key was rotated on purpose: this is what pins are for",
                waivable=False,
            )
        )
    elif kind == "no-san":
        problems.append(_name_problem(reason, target, leaf))
    elif kind not in ("names", "validity"):
        problems.append(Problem("verification failed", reason, ("verify: disabled",)))
    # OpenSSL checks names after the chain and dates last: what it did not reach (or, for
    # dates, what it reported) is read from the certificates themselves.
    now = datetime.datetime.now(datetime.timezone.utc)
    dates = [
        Problem(
            "expired" if "expired" in problem else "not yet valid",
            f"certificate [{index}] ({info.subject}) {problem}; now is {now:%Y-%m-%d %H:%M} UTC",
            ("verify: disabled",),
            advice="renew the certificate, or check this machine's clock",
        )
        for index, info in enumerate(infos)
        if (problem := validity_problem(info, now)) is not None
    ]
    if kind == "validity" and not dates:
        dates = [Problem("validity", reason, ("verify: disabled",))]
    name_reached = kind in ("validity", "pins", "no-san")
    if kind == "names" or (
        not name_reached and leaf is not None and not covers(leaf, target.host, target.is_ip)
    ):
        problems.append(_name_problem(reason if kind == "names" else "", target, leaf))
    return problems + dates


def _issuer_problem(reason: str, infos: list[CertInfo], decision: Decision) -> Problem:
    trust = f"trust=[{', '.join(decision.trust)}] ({decision.sources['trust']})"
    if decision.extra_ca:
        trust += f" and extra_ca=[{', '.join(decision.extra_ca)}]"
    issuer = infos[-1].issuer if infos else "?"
    return Problem(
        "issuer not trusted",
        f"{reason}: {issuer} is not in {trust}",
        (f"extra_ca: [issuer-ca.pem]   # the PEM certificate of {issuer}",),
        waiver=False,
        advice="or, if the server omits its intermediate certificate, fix the server's chain",
    )


def _name_problem(reason: str, target: Target, leaf: CertInfo | None) -> Problem:
    if leaf is None:
        covered = "the server presented no certificate"
    elif not leaf.has_san:
        covered = "the certificate has no subjectAltName (the common name is never used)"
    else:
        covered = f"the certificate covers {', '.join(leaf.names) or 'no name'}"
    detail = f"{covered}, not {target.host}"
    return Problem(
        "name not covered",
        f"{reason}: {detail}" if reason else detail,
        ("verify: disabled",),
        advice="connect with a name the certificate covers, or have it reissued",
    )


def _pins(chain: tuple[bytes, ...]) -> list[str]:
    from .._verification import spki_pin

    return [f'"{spki_pin(der)}"' for der in chain]


def _show_problem(problem: Problem, key: str, until: str) -> None:
    say(f"  - {problem.title}: {problem.detail}")
    if problem.fix:
        say(
            "    what would make it pass "
            "(check first that this really is the server's certificate):"
        )
        lines = ["hosts:", f"  {key}:", *(f"    {setting}" for setting in problem.fix)]
        if problem.waiver:
            lines += [f"    expires: {until}", f"    {_TODO_REASON}"]
        for line in lines:
            say(f"      {line}")
        if not problem.waiver and problem.waivable:
            say("    or, only while the server is being fixed, a waiver that ends:")
            for line in ("hosts:", f"  {key}:", "    verify: disabled"):
                say(f"      {line}")
            say(f"          expires: {until}")
            say(f"          {_TODO_REASON}")
    if problem.advice:
        say(f"    {problem.advice}")


def _policy_verdict(
    url: str,
    decision: Decision,
    strict: TLSSettings,
    kind: str,
    which: str,
    timeout: float,
    verify: Callable[[str, TLSSettings, tuple[str, ...], float], Verdict],
) -> str:
    """Whether the policy in force would connect anyway, and which weaker setting does it."""
    source = decision.sources["verify"]
    if decision.verify is Verify.WARN:
        return (
            f"{which} lets it through: verify=warn ({source}), report-only: it connects "
            "anyway, with a warning"
        )
    if decision.verify is Verify.DISABLED and kind != "pins":
        return f"{which} lets it through: verify=disabled ({source})"
    own = decision.tls
    if own != strict and verify(url, own, decision.pins, timeout).kind is None:
        return f"{which} lets it through: {_weakenings(decision)}"
    return f"{which} refuses it too: verify={decision.verify} ({source})"


def _host_key(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f'"{host}:{target.port}"' if target.port != 443 else f'"{host}"'


def _save_chain(path: str, chain: list[bytes]) -> None:
    if not chain:
        say(f"no certificate to save: {path} was not written", err=True)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        # An existing file keeps its mode on O_TRUNC: certificates are not secret, but the
        # file is the user's record of what a server presented, so it is theirs alone.
        os.fchmod(out.fileno(), 0o600)
        for der in chain:
            out.write(ssl.DER_cert_to_PEM_cert(der))
    say(f"saved {len(chain)} certificate(s) to {path}", err=True)

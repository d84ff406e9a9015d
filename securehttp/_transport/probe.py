"""What ``securehttp probe`` learns from a server: one look that verifies nothing, and the
verdict of strict verification - whatever the policy's level - with the kind of each failure.

Strict here means what a policy with no waiver would do for the host: the decision's own
trust, pins, TLS versions and client certificate, with every weakening (``verify`` below
strict, ``min_tls`` below 1.2, ``x509_strict: false``, a lowered ``@SECLEVEL``) put back to
its default.  The verdict comes from OpenSSL, in a handshake with the seam's sealed context;
no request byte is ever sent.
"""

from __future__ import annotations

import socket
import ssl
from typing import NamedTuple

from .._deadline import Timeout
from .._exceptions import CertificateError, URLError
from .._hosts import Target, split_url
from .._model import DEFAULTS, Decision, TLSSettings, is_weakening
from .._verification import contexts
from .._verification.checks import check_names
from .._verification.pins import pins_match, presented_pins
from .errors import translate
from .peek import ConnectTimedOut, Look, look

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "Handshake",
    "Verdict",
    "probe",
    "strict_settings",
    "verify",
]

DEFAULT_CONNECT_TIMEOUT = 10.0

# OpenSSL's X509_V_ERR_* codes, grouped by what would make them pass.
_ISSUER_CODES = frozenset({2, 18, 19, 20, 21, 27})
_NAME_CODES = frozenset({62, 64})
_VALIDITY_CODES = frozenset({9, 10})
_VERSION_MARKERS = (
    "UNSUPPORTED_PROTOCOL",
    "PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
)


class Handshake(NamedTuple):
    """What a server showed in a handshake that verified nothing (for ``securehttp probe``)."""

    target: Target
    version: str
    cipher: str
    chain: tuple[bytes, ...]
    #: False when only the leaf could be read (the rest needs Python 3.13+).
    whole_chain: bool = True


class Verdict(NamedTuple):
    """How one verifying handshake ended: ``kind`` is None when it passed, otherwise one
    of ``issuer``, ``names``, ``validity``, ``protocol``, ``x509``, ``no-san``, ``pins``,
    ``other``; ``reason`` is OpenSSL's or the check's own words."""

    kind: str | None
    reason: str = ""


def probe(url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Handshake:
    """Handshake with ``url``'s server to look at it; sends no request."""
    target = split_url(url)
    try:
        seen: Look = look(target, timeout)
    except (OSError, ssl.SSLError) as exc:
        raise translate(exc, url, target, limits=_limits(timeout)) from exc
    return Handshake(target, seen.version, seen.cipher, seen.chain, seen.whole_chain)


def strict_settings(decision: Decision) -> TLSSettings:
    """The decision's TLS settings with verification on and every weakening undone."""
    tls = decision.tls
    values: dict[str, object] = {name: getattr(tls, name) for name in TLSSettings._fields}
    values["verify"] = True
    for name in ("min_tls", "x509_strict", "ciphers"):
        if is_weakening(name, values[name]):
            values[name] = DEFAULTS[name]
    return TLSSettings(**values)  # type: ignore[arg-type]


def verify(
    url: str,
    settings: TLSSettings,
    pins: tuple[str, ...],
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Verdict:
    """Handshake with ``settings`` (which must verify) and run the seam's post-handshake
    checks; a network failure raises as a request's would."""
    target = split_url(url)
    verdict = _handshake(url, target, settings, pins, timeout)
    if verdict.kind == "other" and settings.x509_strict:
        # OpenSSL's strict X.509 checks have many codes; whether this was one of them is
        # simplest to learn by asking OpenSSL again without them.
        loose = {name: getattr(settings, name) for name in TLSSettings._fields}
        loose["x509_strict"] = False
        again = _handshake(url, target, TLSSettings(**loose), pins, timeout)
        if again.kind != "other" or again.reason != verdict.reason:
            return Verdict("x509", verdict.reason)
    return verdict


def _handshake(
    url: str, target: Target, settings: TLSSettings, pins: tuple[str, ...], timeout: float
) -> Verdict:
    assert settings.verify, "probe's verdict needs a verifying context"
    ctx = contexts.get(settings)
    try:
        try:
            raw = socket.create_connection((target.host, target.port), timeout=timeout)
        except TimeoutError as exc:
            raise ConnectTimedOut(str(exc)) from exc
        with raw, ctx.wrap_socket(raw, server_hostname=target.host) as sock:
            return _checked(sock, target, pins)
    except ssl.SSLCertVerificationError as exc:
        reason = (exc.verify_message or str(exc)).rstrip(".")
        code = exc.verify_code
        if code in _ISSUER_CODES:
            return Verdict("issuer", reason)
        if code in _NAME_CODES:
            return Verdict("names", reason)
        if code in _VALIDITY_CODES:
            return Verdict("validity", reason)
        return Verdict("other", reason)
    except ssl.SSLError as exc:
        if any(marker in str(exc) for marker in _VERSION_MARKERS):
            return Verdict("protocol", str(exc.reason or exc))
        raise translate(exc, url, target, limits=_limits(timeout)) from exc
    except OSError as exc:
        raise translate(exc, url, target, limits=_limits(timeout)) from exc


def _checked(sock: ssl.SSLSocket, target: Target, pins: tuple[str, ...]) -> Verdict:
    """The seam's checks after a verified handshake: the no-common-name rule and pins."""
    if not sock.getpeercert():
        return Verdict("other", "the server's certificate was not verified")
    try:
        check_names(sock, target.is_ip, _Refused)
    except _Refused as exc:
        return Verdict("no-san", exc.verify_reason)
    if pins:
        presented = presented_pins(sock, verified=True)
        if not pins_match(presented, pins):
            return Verdict(
                "pins",
                "no certificate matches the pinned keys; the server presented "
                + ", ".join(presented),
            )
    return Verdict(None)


class _Refused(CertificateError):
    """What check_names() raises here: only its reason is wanted, not a request's error."""

    def __init__(self, reason: str, hint: str) -> None:
        URLError.__init__(self, reason)
        self.verify_reason = reason
        self.hint = hint


def _limits(timeout: float) -> Timeout:
    return Timeout(connect=timeout, read=timeout, total=max(timeout, 300.0))

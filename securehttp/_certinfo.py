"""What a certificate says, read with ``cryptography``, for *reports* (``probe``, hints).

Nothing here decides whether a connection is trusted: OpenSSL does that, in the handshake,
with the policy's context.  These helpers say what a presented certificate contains and, for a
report that lists every problem at once, whether its dates and names look right.  All text is
returned as the certificate holds it: the caller escapes it (:func:`securehttp._text.escape`)
before showing it, because a server chose it.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import NamedTuple

__all__ = ["CertInfo", "covers", "read_certificate", "validity_problem"]


class CertInfo(NamedTuple):
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    uris: tuple[str, ...]
    has_san: bool
    self_issued: bool

    @property
    def names(self) -> tuple[str, ...]:
        """``DNS:...``, ``IP:...`` and ``URI:...`` entries of subjectAltName, in that order."""
        return (
            *(f"DNS:{n}" for n in self.dns_names),
            *(f"IP:{n}" for n in self.ip_addresses),
            *(f"URI:{n}" for n in self.uris),
        )


def read_certificate(der: bytes) -> CertInfo:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        dns: list[str] = []
        ips: list[str] = []
        uris: list[str] = []
        has_san = False
    else:
        dns = san.get_values_for_type(x509.DNSName)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        has_san = True
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        uris=tuple(uris),
        has_san=has_san,
        self_issued=cert.subject == cert.issuer,
    )


def validity_problem(info: CertInfo, now: datetime.datetime) -> str | None:
    """``"expired on ..."`` / ``"not valid before ..."`` against ``now``, or None."""
    if now < info.not_before:
        return f"not valid before {info.not_before:%Y-%m-%d %H:%M} UTC"
    if now > info.not_after:
        return f"expired on {info.not_after:%Y-%m-%d %H:%M} UTC"
    return None


def covers(info: CertInfo, host: str, is_ip: bool) -> bool:
    """Whether the certificate's subjectAltName names ``host`` - for a report only.

    A deliberately simple comparison (exact names, and a ``*`` as the whole left-most label);
    the common name is never consulted, as OpenSSL is told not to.  Verification never relies
    on it: when OpenSSL accepted the name, a report trusts OpenSSL over this.
    """
    if is_ip:
        try:
            wanted = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(_same_ip(wanted, have) for have in info.ip_addresses)
    host = host.lower().rstrip(".")
    for name in info.dns_names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, _, parent = host.partition(".")
            if label and parent == name[2:]:
                return True
    return False


def _same_ip(wanted: ipaddress.IPv4Address | ipaddress.IPv6Address, have: str) -> bool:
    try:
        return ipaddress.ip_address(have) == wanted
    except ValueError:
        return False

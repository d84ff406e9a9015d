"""What is checked on each new connection, right after the handshake and before any request
byte: pins, the no-common-name rule for a caller's context, and the report-only record."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from .._ciphers import forbidden_name
from .._exceptions import CertificateError, PinMismatchError
from .._model import Decision, Verify
from .contexts import check_unchanged, contexts
from .pins import pins_match, presented_pins
from .report import audit_disabled, audit_report_only, warn_insecure

__all__ = ["ConnectionCheck", "check_names"]

_NO_HINT = "run `securehttp probe URL` to see what the server presents"


class ConnectionCheck:
    """What is checked once per new connection, after the handshake and before any request
    byte: that our context is as built and really verified the peer, that the name was not
    matched through the common name, the pins, and the report-only record."""

    __slots__ = ("decision", "host", "is_ip", "port", "user_context")

    def __init__(
        self, host: str, port: int, decision: Decision, user_context: bool, is_ip: bool = False
    ) -> None:
        self.host, self.port, self.decision = host, port, decision
        self.user_context, self.is_ip = user_context, is_ip

    def __call__(self, sock: object, verified: bool, failure: str | None) -> None:
        """Check a connection just after its handshake: ``sock`` is its ``ssl.SSLSocket`` (or
        the ``ssl.SSLObject`` of TLS in memory),
        ``verified`` whether strict verification ran on it, ``failure`` why strict
        verification failed when the report-only fallback connected instead."""
        decision = self.decision
        if not isinstance(sock, (ssl.SSLSocket, ssl.SSLObject)):
            raise self._refuse("the connection has no TLS socket to check")
        if not self.user_context:
            try:
                check_unchanged(sock.context)
            except RuntimeError as exc:
                contexts.discard(sock.context)
                raise self._refuse(str(exc)) from None
            if failure is None and decision.verify is not Verify.DISABLED:
                # Evidence from the handshake itself, not from the context's settings: an
                # empty getpeercert() means OpenSSL did not validate the certificate.
                if not sock.getpeercert():
                    raise self._refuse("the server's certificate was not verified")
                verified = True
        suite = sock.cipher()
        if suite is not None and forbidden_name(suite[0]):
            raise self._refuse(f"the server chose the cipher suite {suite[0]}, which is never used")
        if failure is not None:
            warn_insecure(
                self.host,
                self.port,
                f"verification failed ({failure}); connected anyway because "
                f"verify=warn ({decision.sources['verify']}): the request, its headers, "
                "credentials and body go to a server that may not be who it claims",
            )
            audit_report_only(self.host, self.port, failure, decision)
        elif decision.verify is Verify.DISABLED and warn_insecure(
            self.host,
            self.port,
            f"certificate verification is disabled by {decision.sources['verify']}: the "
            "request, its headers, credentials and body go to a server that may not be "
            "who it claims",
        ):
            audit_disabled(self.host, self.port, decision)
        if verified and failure is None:
            check_names(sock, self.is_ip, self._refuse)
        if decision.pins and not self.user_context:
            presented = presented_pins(sock, verified=verified)
            if not pins_match(presented, decision.pins):
                if decision.verify is Verify.WARN:
                    reason = "no certificate matches the pinned keys; presented " + ", ".join(
                        presented
                    )
                    warn_insecure(
                        self.host, self.port, f"{reason}; connected anyway because verify=warn"
                    )
                    audit_report_only(self.host, self.port, reason, decision)
                else:
                    raise PinMismatchError(self.host, self.port, presented, decision)

    def _refuse(self, reason: str, hint: str = _NO_HINT) -> CertificateError:
        return CertificateError(self.host, self.port, reason, self.decision, hint)


def check_names(
    sock: ssl.SSLSocket | ssl.SSLObject, is_ip: bool, refuse: Callable[[str, str], CertificateError]
) -> None:
    """Refuse a certificate whose name could only have matched through its common name.

    OpenSSL falls back to the CN when a certificate has no subjectAltName entry of the
    kind being checked (no DNS entry for a host name) and the context allows it.  Our
    contexts never allow it, but a caller's ``context=`` may; the rule must hold for every
    context (SPEC §5), so it is checked on the certificate rather than on the context.
    """
    peer = sock.getpeercert() or {}
    names = peer.get("subjectAltName", ())
    wanted = "IP Address" if is_ip else "DNS"
    if any(entry[0] == wanted for entry in names):
        return
    what = "an IP address" if is_ip else "a DNS name"
    problem = (
        f"the certificate's subjectAltName holds no {what}"
        if names
        else "the certificate has no subjectAltName"
    )
    raise refuse(
        f"{problem} (names are never matched through the common name)",
        "reissue the certificate with the host's names in subjectAltName",
    )

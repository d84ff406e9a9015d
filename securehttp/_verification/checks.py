"""What is checked on each new connection, right after the handshake and before any request
byte: pins, the no-common-name rule for a caller's context, and the report-only record."""

from __future__ import annotations

import ssl

from .._exceptions import CertificateError, PinMismatchError
from .._model import Decision, Verify
from .pins import pins_match, presented_pins
from .report import audit_report_only, warn_insecure

__all__ = ["ConnectionCheck"]


class ConnectionCheck:
    """What is checked once per new connection: pins, warnings, the report-only audit."""

    __slots__ = ("decision", "host", "port", "user_context")

    def __init__(self, host: str, port: int, decision: Decision, user_context: bool) -> None:
        self.host, self.port, self.decision, self.user_context = host, port, decision, user_context

    def __call__(self, sock: object, verified: bool, failure: str | None) -> None:
        """Check a connection just after its handshake: ``sock`` is its ``ssl.SSLSocket``,
        ``verified`` whether strict verification ran on it, ``failure`` why strict
        verification failed when the report-only fallback connected instead."""
        decision = self.decision
        if failure is not None:
            warn_insecure(
                self.host,
                self.port,
                f"verification failed ({failure}); connected anyway because "
                f"verify=warn ({decision.sources['verify']})",
            )
            audit_report_only(self.host, self.port, failure, decision)
        elif decision.verify is Verify.DISABLED:
            warn_insecure(
                self.host,
                self.port,
                f"certificate verification is disabled by {decision.sources['verify']}",
            )
        if self.user_context and verified:
            # A caller's context is never modified, but a certificate without subjectAltName
            # is refused here too: names are never read from the common name (SPEC §5).
            peer = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
            if peer is not None and not peer.get("subjectAltName"):
                raise CertificateError(
                    self.host,
                    self.port,
                    "the certificate has no subjectAltName (the common name is never used)",
                    decision,
                    "reissue the certificate with the host's names in subjectAltName",
                )
        if decision.pins and not self.user_context:
            assert isinstance(sock, ssl.SSLSocket)
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

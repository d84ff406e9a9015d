"""Checks that ride inside the TLS handshake (part of the verification seam).

Every sealed context makes its sockets and in-memory TLS objects from the two classes here.
A connection that a policy context opened carries a :class:`HandshakeCheck`; its
``do_handshake()`` runs the check before returning, so pins are enforced by whichever client
drives the handshake - ``http.client``, urllib3, httpx (sync or anyio), asyncio - before
that client can send a request byte.  Without a check attached they behave exactly as
``ssl.SSLSocket`` and ``ssl.SSLObject``.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from .._exceptions import CertificateError
from .._model import Verify
from .report import audit_report_only
from .sessions import offer

if TYPE_CHECKING:
    from .checks import ConnectionCheck
    from .dispatch import Attempt

__all__ = ["CheckedObject", "CheckedSocket", "HandshakeCheck", "attach"]

TLSConnection = ssl.SSLSocket | ssl.SSLObject

_CHECK = "_securehttp_check"


class HandshakeCheck:
    """The seam's :class:`ConnectionCheck` for one connection, with what the handshake knew:
    whether strict verification ran, and why it failed when the report-only fallback ran."""

    __slots__ = ("attempt", "check", "failure", "reconnects", "verified")

    def __init__(
        self,
        check: ConnectionCheck,
        verified: bool,
        failure: str | None,
        reconnects: bool,
        attempt: Attempt | None = None,
    ) -> None:
        self.check, self.verified, self.failure = check, verified, failure
        self.reconnects = reconnects  # whether the caller runs the report-only fallback
        # The caller's published attempt, told why a strict handshake failed so that it
        # can connect again (TLS in memory fails after wrap_bio() has returned).
        self.attempt = attempt

    def passed(self, conn: TLSConnection) -> None:
        self.check(conn, self.verified, self.failure)

    def failed(self, exc: ssl.SSLCertVerificationError) -> None:
        """A strict handshake failed.  Report-only needs a second connection; where the caller
        cannot open one (TLS in memory, as asyncio and anyio do it, or a socket wrapped before
        it connected) the host fails closed - with the audit event, so that it is counted."""
        check = self.check
        reason = exc.verify_message or str(exc)
        if self.attempt is not None:
            self.attempt.failure = reason
        if self.reconnects or check.decision.verify is not Verify.WARN:
            return
        audit_report_only(
            check.host,
            check.port,
            reason,
            check.decision,
            action="refused: report-only cannot reconnect here",
        )
        raise CertificateError(
            check.host,
            check.port,
            reason,
            check.decision,
            "verify=warn reconnects without verification after a failure, which this client "
            "does not let securehttp do (TLS in memory, as asyncio and anyio do it, or a socket "
            "wrapped before it connected): the connection is refused instead. Use a blocking "
            "client such as urllib or http.client, or a securehttp integration",
        ) from exc


def attach(conn: TLSConnection, check: HandshakeCheck) -> None:
    conn.__dict__[_CHECK] = check


class CheckedSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose handshake ends with the seam's check, if one is attached."""

    def do_handshake(self, block: bool = False) -> None:
        offer(self)  # a kept TLS session, where the seam's rules allow one
        check: HandshakeCheck | None = self.__dict__.pop(_CHECK, None)
        if check is None:
            super().do_handshake(block)
            return
        try:
            super().do_handshake(block)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            attach(self, check)  # non-blocking: the handshake goes on later
            raise
        except ssl.SSLCertVerificationError as exc:
            check.failed(exc)
            raise
        try:
            check.passed(self)
        except BaseException:
            self.close()  # nothing may be sent on a connection that failed its check
            raise


class CheckedObject(ssl.SSLObject):
    """An ``SSLObject`` (TLS in memory, as asyncio and anyio use it) whose handshake ends with
    the seam's check, if one is attached."""

    def do_handshake(self) -> None:
        check: HandshakeCheck | None = self.__dict__.get(_CHECK)
        if check is None:
            super().do_handshake()
            return
        try:
            super().do_handshake()
        except ssl.SSLCertVerificationError as exc:
            del self.__dict__[_CHECK]
            check.failed(exc)
            raise
        # Called again after SSLWantReadError until it completes: the check runs once, then.
        del self.__dict__[_CHECK]
        check.passed(self)

"""urllib3's and ssl's errors mapped to securehttp's (SPEC §2), at this one boundary."""

from __future__ import annotations

import builtins
import http.client
import ssl

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from .._exceptions import CertificateError, SecureHTTPError, TimeoutError, URLError
from .._hosts import Target, redact_url
from .._model import Decision

__all__ = ["is_connection_error", "translate"]


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, NewConnectionError):
        return True
    if isinstance(exc, ProtocolError):
        # A connection the server closed while idle in the pool: safe for idempotent methods.
        cause = exc.args[1] if len(exc.args) > 1 else None
        return isinstance(
            cause, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)
        )
    return False


_VERSION_MISMATCH = (
    "UNSUPPORTED_PROTOCOL",
    "PROTOCOL_VERSION",
    "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
)


def translate(
    exc: BaseException, url: str, target: Target | None = None, decision: Decision | None = None
) -> Exception:
    """Map urllib3's and ssl's errors to securehttp's (SPEC §2), at this one boundary."""
    cause: BaseException | None = exc
    if (
        isinstance(exc, ProtocolError)
        and len(exc.args) > 1
        and isinstance(exc.args[1], BaseException)
    ):
        cause = exc.args[1]
    elif isinstance(exc, Urllib3SSLError) and exc.args and isinstance(exc.args[0], BaseException):
        cause = exc.args[0]
    if isinstance(cause, SecureHTTPError):
        return cause
    where = f"{target.host}:{target.port}" if target is not None else redact_url(url)
    # As urllib: `reason` is the underlying exception, so code that checks
    # isinstance(e.reason, ssl.SSLCertVerificationError) keeps working; str() is ours.
    underlying = cause if isinstance(cause, OSError) else None
    if (
        isinstance(cause, ssl.SSLCertVerificationError)
        and target is not None
        and decision is not None
    ):
        reason = cause.verify_message or str(cause)
        error = CertificateError(target.host, target.port, reason, decision, _hint(reason))
        error.reason = cause
        return error
    if isinstance(cause, ssl.SSLError):
        text = str(cause)
        if any(marker in text for marker in _VERSION_MISMATCH):
            tls = (
                f" (min_tls={decision.min_tls}, {decision.sources['min_tls']})" if decision else ""
            )
            return URLError(
                f"TLS version mismatch with {where}: the server and this client share no "
                f"protocol version{tls}: {cause.reason or text}",
                cause=cause,
            )
        return URLError(f"TLS handshake with {where} failed: {cause.reason or text}", cause=cause)
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x: test it first.
    if isinstance(exc, NewConnectionError):
        os_error = exc.__context__ or exc.__cause__
        return URLError(
            f"cannot connect to {where}: {_os_reason(exc)}",
            cause=os_error if isinstance(os_error, OSError) else None,
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, Urllib3TimeoutError)) or isinstance(
        cause, builtins.TimeoutError
    ):
        timed_out = cause if isinstance(cause, builtins.TimeoutError) else None
        return TimeoutError(
            f"timed out talking to {where}", cause=timed_out or builtins.TimeoutError("timed out")
        )
    if isinstance(exc, (ProtocolError, http.client.HTTPException, OSError)):
        return URLError(f"connection to {where} failed: {cause}", cause=underlying)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return URLError(f"request to {where} failed: {exc}")
    return exc if isinstance(exc, Exception) else URLError(str(exc))


def _os_reason(exc: NewConnectionError) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc).rpartition(": ")[2] or str(exc)


def _hint(reason: str) -> str:
    low = reason.lower()
    if (
        "local issuer" in low
        or "self-signed" in low
        or "self signed" in low
        or "unable to get issuer" in low
    ):
        return (
            "the server's CA is not trusted here. If it is your organisation's CA, add it for "
            "this host with `extra_ca: [ca.pem]` in a policy, or set "
            "SECUREHTTP_EXTRA_CA_CERTS=ca.pem; "
            "if the server omits its intermediate certificate, fix the server's chain"
        )
    if "hostname mismatch" in low or "ip address mismatch" in low:
        return (
            "the certificate was issued for another name: use the name it was issued for, "
            "or fix the certificate"
        )
    if "expired" in low or "not yet valid" in low:
        return "check the certificate's validity dates (and this machine's clock)"
    return "run `securehttp probe URL` to see the chain the server presents"

"""urllib3's and ssl's errors mapped to securehttp's (SPEC §2), at this one boundary.

Each message says what to do: a timeout names its phase and the limit that ran out, a TLS
error says when the server did not speak TLS at all, and a name mismatch says which names
the certificate does cover.
"""

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

from .._deadline import Timeout
from .._exceptions import CertificateError, SecureHTTPError, TimeoutError, URLError
from .._hosts import Target, redact_url
from .._model import Decision
from .._text import escape
from .peek import ConnectTimedOut, HandshakeTimedOut, NotTLS, leaf_names

__all__ = ["is_connection_error", "not_tls_message", "translate"]

# How long the second, unverified look at a certificate whose names did not match may take
# when the request's own connect timeout is not known.
_LOOK_TIMEOUT = 5.0
_SHOWN_NAMES = 8


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
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
)
# What OpenSSL says when the answer to a ClientHello is not a TLS record at all - almost
# always an HTTP server's "HTTP/1.1 400 Bad Request" (OpenSSL 3.2+ reports a record layer
# failure where 3.0 says wrong version number).  Lowering min_tls never helps here.
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST")
_NAME_MISMATCH_CODES = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def translate(
    exc: BaseException,
    url: str,
    target: Target | None = None,
    decision: Decision | None = None,
    *,
    limits: Timeout | None = None,
    remaining: float | None = None,
    reading_body: bool = False,
    look_again: bool = False,
) -> Exception:
    """Map urllib3's and ssl's errors to securehttp's (SPEC §2), at this one boundary.

    ``limits`` (and ``remaining``, what was left of the total deadline when the attempt
    began) let a timeout name the limit that ran out; ``reading_body`` says the error came
    while reading a body; ``look_again`` allows one unverified handshake with the server
    after a name mismatch, to say which names its certificate covers (only for a direct
    connection: through a proxy it would take another route).
    """
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
        names = None
        if look_again and cause.verify_code in _NAME_MISMATCH_CODES:
            budget = _LOOK_TIMEOUT if limits is None else limits.connect
            if remaining is not None:
                budget = min(budget, remaining)
            names = leaf_names(target, budget) if budget > 0 else None
        error = CertificateError(target.host, target.port, reason, decision, _hint(reason, names))
        error.reason = cause
        return error
    if isinstance(cause, NotTLS) or (
        isinstance(cause, ssl.SSLError) and any(m in str(cause) for m in _NOT_TLS)
    ):
        detail = getattr(cause, "reason", None) or "its first bytes were an HTTP status line"
        return URLError(not_tls_message(where, str(detail)), cause=underlying)
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
        message = _timed_out(exc, where, url, limits, remaining, reading_body)
        return TimeoutError(message, cause=timed_out or builtins.TimeoutError("timed out"))
    if isinstance(exc, (ProtocolError, http.client.HTTPException, OSError)):
        return URLError(f"connection to {where} failed: {cause}", cause=underlying)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return URLError(f"request to {where} failed: {exc}")
    return exc if isinstance(exc, Exception) else URLError(str(exc))


def not_tls_message(where: str, detail: str) -> str:
    return (
        f"{where}: the server did not answer with TLS: is this a plain-HTTP port? Use the "
        "port where it serves HTTPS; lowering min_tls does not help "
        f"(OpenSSL: {escape(detail)})"
    )


def _timed_out(
    exc: BaseException,
    where: str,
    url: str,
    limits: Timeout | None,
    remaining: float | None,
    reading_body: bool,
) -> str:
    """What timed out: the phase it happened in and the limit that ran out."""
    if isinstance(exc, (ConnectTimedOut, ConnectTimeoutError)):
        phase, limit = f"connecting to {where}: no TCP connection", "connect"
    elif isinstance(exc, HandshakeTimedOut) or _in_handshake(exc):
        phase = f"in the TLS handshake with {where}: it did not complete"
        limit = "connect"
    elif reading_body:
        phase, limit = f"reading the body of {redact_url(url)}: no data", "read"
    else:
        phase, limit = f"waiting for the response headers from {where}: nothing", "read"
    if limits is None:
        within = f"the {limit} timeout"
    else:
        seconds: float = getattr(limits, limit)
        if remaining is not None and remaining < seconds:
            within = f"what was left of the total deadline of {limits.total:g}s (Timeout.total)"
        else:
            within = f"the {limit} timeout of {seconds:g}s (Timeout.{limit})"
    if limit == "connect" and "handshake" in phase:
        within += ", which covers the TCP connection and the TLS handshake together"
    return f"timed out {phase} within {within}"


def _in_handshake(exc: BaseException) -> bool:
    """Whether a timeout happened inside a TLS handshake: urllib3 reports it as a read
    timeout, caused by CPython's "The handshake operation timed out"."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, builtins.TimeoutError) and "handshake" in str(current):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _os_reason(exc: NewConnectionError) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc).rpartition(": ")[2] or str(exc)


def _hint(reason: str, names: tuple[str, ...] | None = None) -> str:
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
        if names:
            shown = ", ".join(escape(name) for name in names[:_SHOWN_NAMES])
            if len(names) > _SHOWN_NAMES:
                shown += f" and {len(names) - _SHOWN_NAMES} more"
            return (
                f"the certificate covers {shown}: connect with one of those names, or have "
                "the certificate reissued with this host in its subjectAltName"
            )
        if names is not None:
            return (
                "the certificate names no DNS name or IP address: have it reissued with this "
                "host in its subjectAltName"
            )
        return (
            "the certificate was issued for other names (`securehttp probe URL` lists them): "
            "connect with one of those, or have it reissued with this host in its "
            "subjectAltName"
        )
    if "expired" in low or "not yet valid" in low:
        return "check the certificate's validity dates (and this machine's clock)"
    return "run `securehttp probe URL` to see the chain the server presents"

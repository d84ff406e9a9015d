"""One handshake that verifies nothing, to *look* at what a server presents.

Used by ``securehttp probe`` and, only after a name mismatch, to say which names the
certificate covers (OpenSSL's verification error does not carry the certificate).  It sends
no request byte.  The handshake runs over memory BIOs, so the bytes the server answered with
are seen as they arrived: a server that answers ``HTTP/1.1 400 ...`` is a plain-HTTP port,
whatever OpenSSL makes of it.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import NamedTuple

from .._hosts import Target
from .._verification.contexts import probe_context

__all__ = ["ConnectTimedOut", "HandshakeTimedOut", "Look", "NotTLS", "leaf_names", "look"]

_FIRST_BYTES = 16


class Look(NamedTuple):
    """What a server showed in a handshake that verified nothing."""

    version: str
    cipher: str
    chain: tuple[bytes, ...]
    #: False when only the leaf could be read (``get_unverified_chain`` is Python 3.13+).
    whole_chain: bool


class NotTLS(OSError):
    """The server answered, but not with TLS: its first bytes are an HTTP status line."""

    def __init__(self, first: bytes) -> None:
        super().__init__(f"the server answered {first!r}, not a TLS handshake")
        self.first = first


class ConnectTimedOut(TimeoutError):
    """No TCP connection within the time allowed."""


class HandshakeTimedOut(TimeoutError):
    """Connected, but the TLS handshake did not complete within the time allowed."""


def look(target: Target, timeout: float) -> Look:
    """Connect and handshake with ``target`` (``timeout`` bounds both together)."""
    deadline = time.monotonic() + timeout
    try:
        raw = socket.create_connection((target.host, target.port), timeout=timeout)
    except TimeoutError as exc:
        raise ConnectTimedOut(f"no connection within {timeout:g}s") from exc
    with raw:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = probe_context().wrap_bio(
            incoming, outgoing, server_hostname=None if target.is_ip else target.host
        )
        first = bytearray()
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                if _looks_like_http(bytes(first)):
                    raise NotTLS(bytes(first)) from exc
                raise
            raw.sendall(outgoing.read())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HandshakeTimedOut(f"the handshake did not complete within {timeout:g}s")
            raw.settimeout(remaining)
            try:
                data = raw.recv(65536)
            except TimeoutError as exc:
                raise HandshakeTimedOut(
                    f"the handshake did not complete within {timeout:g}s"
                ) from exc
            if len(first) < _FIRST_BYTES:
                first += data[: _FIRST_BYTES - len(first)]
            if not data:
                if _looks_like_http(bytes(first)):
                    raise NotTLS(bytes(first))
                incoming.write_eof()
            else:
                incoming.write(data)
        # The client's last handshake flight (TLS 1.3 Finished), so the server sees no error.
        pending = outgoing.read()
        if pending:
            raw.sendall(pending)
        return _seen(tls)


def _seen(tls: ssl.SSLObject) -> Look:
    get_chain = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    chain = [bytes(der) for der in get_chain()] if get_chain is not None else []
    whole = bool(chain)
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    cipher = tls.cipher()
    return Look(tls.version() or "?", cipher[0] if cipher else "?", tuple(chain), whole)


def _looks_like_http(first: bytes) -> bool:
    # A TLS record starts with a content type byte (20-24); an HTTP server's answer to bytes
    # it cannot parse starts with its status line.
    return first.startswith(b"HTTP/")


def leaf_names(target: Target, timeout: float) -> tuple[str, ...] | None:
    """The names the server's certificate covers (``DNS:...``, ``IP:...``), or None when
    they cannot be read (any error: this only improves a message)."""
    from .._certinfo import read_certificate

    try:
        chain = look(target, timeout).chain
        if not chain:
            return None
        info = read_certificate(chain[0])
    except Exception:
        return None
    return tuple(name for name in info.names if not name.startswith("URI:"))

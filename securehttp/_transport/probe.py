"""A handshake that verifies nothing, to *look* at a server (``securehttp probe``)."""

from __future__ import annotations

import socket
import ssl
from typing import NamedTuple

from .._hosts import Target, split_url
from .._verification.contexts import probe_context
from .errors import translate

__all__ = ["Handshake", "probe"]

DEFAULT_CONNECT_TIMEOUT = 10.0


class Handshake(NamedTuple):
    """What a server showed in a handshake that verified nothing (for ``securehttp probe``)."""

    target: Target
    version: str
    cipher: str
    chain: tuple[bytes, ...]


def probe(url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Handshake:
    """Handshake with ``url``'s server to look at it; sends no request."""
    target = split_url(url)
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as raw:
            name = None if target.is_ip else target.host
            with probe_context().wrap_socket(raw, server_hostname=name) as sock:
                get_chain = getattr(sock, "get_unverified_chain", None)  # Python 3.13+
                chain = [bytes(der) for der in get_chain()] if get_chain is not None else []
                if not chain:
                    leaf = sock.getpeercert(binary_form=True)
                    chain = [leaf] if leaf else []
                cipher = sock.cipher()
                return Handshake(
                    target, sock.version() or "?", cipher[0] if cipher else "?", tuple(chain)
                )
    except (OSError, ssl.SSLError) as exc:
        raise translate(exc, url, target) from exc

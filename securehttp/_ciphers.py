"""Cipher strings: what OpenSSL makes of a policy's ``ciphers`` (no sockets, no contexts kept)."""

from __future__ import annotations

import ssl

__all__ = ["check_ciphers"]


def check_ciphers(ciphers: str) -> None:
    """ValueError when OpenSSL selects no cipher from ``ciphers``."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.set_ciphers(ciphers)
    except ssl.SSLError:
        raise ValueError(f"OpenSSL accepts no cipher from {ciphers!r}") from None

"""SPKI pins: computed from DER certificates, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl

from .sessions import resumed_chain

__all__ = ["pins_match", "presented_pins", "spki_pin"]


def presented_pins(sock: ssl.SSLSocket | ssl.SSLObject, verified: bool) -> list[str]:
    """``sha256/...`` of each certificate's SubjectPublicKeyInfo: the verified chain where this
    Python exposes it (3.13+; for a resumed connection, the chain verified when its session
    was made), otherwise the leaf."""
    chain: list[bytes] = []
    get_chain = getattr(sock, "get_verified_chain", None)
    if verified and get_chain is not None:
        # A resumed handshake shows no chain: the one verified when the session was made.
        chain = list(resumed_chain(sock)) or [bytes(der) for der in get_chain()]
    if not chain:
        leaf = sock.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return [spki_pin(der) for der in chain]


def spki_pin(der: bytes) -> str:
    """``sha256/<base64>`` of a DER certificate's SubjectPublicKeyInfo."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public_key = x509.load_der_x509_certificate(der).public_key()
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def pins_match(presented: list[str], pinned: tuple[str, ...]) -> bool:
    matched = False
    for have in presented:
        for want in pinned:
            # Every pair is compared (no early exit), in constant time per pair.
            matched |= hmac.compare_digest(have.encode(), want.encode())
    return matched

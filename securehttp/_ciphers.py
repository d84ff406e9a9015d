"""Cipher strings: what a policy's ``ciphers`` may do (SPEC §5).

A cipher string can only *narrow* what OpenSSL offers for TLS 1.2 and below.  Whatever it
says, suites without authentication (``aNULL``: anonymous DH, which accepts a server with no
certificate at all) or without encryption (``eNULL``), and export, RC4, DES, 3DES, MD5, PSK
and SRP suites are removed by :data:`ALWAYS_EXCLUDED`, appended last so that nothing earlier
in the string can add them back.  ``@SECLEVEL`` below the interpreter's default lowers the
minimum key sizes and signature algorithms OpenSSL accepts: that is a weakening, which needs
``expires`` and ``reason`` like any other.  No sockets here; a throw-away context evaluates the
string.
"""

from __future__ import annotations

import re
import ssl

__all__ = [
    "ALWAYS_EXCLUDED",
    "DEFAULT_SECURITY_LEVEL",
    "check_ciphers",
    "effective_ciphers",
    "forbidden_name",
    "forbidden_suites",
    "lowers_security_level",
]

# Appended after the policy's string: "!" removes a suite for good in OpenSSL's syntax.
ALWAYS_EXCLUDED = "!aNULL:!eNULL:!EXPORT:!LOW:!RC4:!DES:!3DES:!MD5:!PSK:!SRP"

# CPython (3.10+) builds every context with a cipher string that starts "@SECLEVEL=2".
DEFAULT_SECURITY_LEVEL = 2
_SECLEVEL = re.compile(r"@SECLEVEL=(\d+)", re.IGNORECASE)


def lowers_security_level(ciphers: str) -> bool:
    """Whether ``ciphers`` sets ``@SECLEVEL`` below the interpreter's default anywhere (any
    occurrence counts: which one OpenSSL honours is not something a reviewer should need to
    know)."""
    return any(int(level) < DEFAULT_SECURITY_LEVEL for level in _SECLEVEL.findall(ciphers))


def effective_ciphers(ciphers: str) -> str:
    """The string handed to OpenSSL: the policy's, then the suites that are never allowed."""
    return f"{ciphers}:{ALWAYS_EXCLUDED}"


_FORBIDDEN_WORDS = ("NULL", "EXP", "RC4", "DES", "MD5", "PSK", "SRP", "ADH", "AECDH")


def forbidden_name(name: str) -> bool:
    """Whether an OpenSSL suite name is one no policy may allow (anonymous key exchange,
    no encryption, export, RC4, DES, MD5, PSK, SRP): checked on every negotiated suite."""
    upper = name.upper()
    return any(word in upper for word in _FORBIDDEN_WORDS)


def forbidden_suites(ctx: ssl.SSLContext) -> list[str]:
    """Names of the suites ``ctx`` would offer that no policy may allow (an empty list is the
    only acceptable answer; checked again on every built context, to fail closed)."""
    bad = []
    for suite in ctx.get_ciphers():
        name = suite["name"].upper()
        description = suite.get("description", "")
        if (
            suite.get("auth") == "auth-null"
            or suite.get("symmetric") in (None, "null")
            or "Enc=None" in description
            or "Au=None" in description
            or forbidden_name(name)
        ):
            bad.append(suite["name"])
    return bad


def check_ciphers(ciphers: str) -> None:
    """ValueError unless ``ciphers`` selects at least one acceptable TLS <= 1.2 suite once
    the never-allowed suites are removed."""
    if "\x00" in ciphers:
        raise ValueError("the cipher string contains a NUL character")
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.set_ciphers(effective_ciphers(ciphers))
    except ssl.SSLError:
        raise ValueError(
            f"OpenSSL accepts no cipher from {ciphers!r} once the never-allowed suites are "
            "removed (no authentication or encryption, export, RC4, DES, MD5, PSK, SRP)"
        ) from None
    usable = [s for s in probe.get_ciphers() if s.get("protocol") != "TLSv1.3"]
    if not usable:
        raise ValueError(
            f"{ciphers!r} selects no acceptable TLS 1.2 cipher (suites without authentication "
            "or encryption, export, RC4, DES, MD5, PSK and SRP are never used)"
        )
    bad = forbidden_suites(probe)
    if bad:  # pragma: no cover - ALWAYS_EXCLUDED removes them; this guards OpenSSL changes
        raise ValueError(f"{ciphers!r} would allow {', '.join(bad[:3])}")

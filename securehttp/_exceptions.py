"""Everything securehttp raises or warns on purpose.

Errors::

    SecureHTTPError                                  base of everything raised on purpose
    ├── PolicyError(SecureHTTPError, ValueError)     bad policy input: where, which key, why
    ├── TooManyRedirects(SecureHTTPError)
    ├── ResponseTooLarge(SecureHTTPError)
    └── URLError(SecureHTTPError, urllib.error.URLError)
        ├── HTTPError(URLError, urllib.error.HTTPError)
        ├── TimeoutError(URLError, builtins.TimeoutError)
        ├── ProxyError(URLError)                      the proxy refused, failed or is unsupported
        └── CertificateError(URLError)                verification failed
            ├── PinMismatchError(CertificateError)    chain valid, no certificate matches a pin
            └── ProxyCertificateError(CertificateError, ProxyError)   an https:// proxy's

Warnings::

    SecureHTTPWarning(UserWarning)
    ├── InsecureRequestWarning     a request went out with verification weakened
    └── PolicyWarning              a policy input was ignored, refused, has lapsed or is about to

Foreign errors (urllib3's, ssl's, yaml's) are translated where they enter: never leak through.
"""

from __future__ import annotations

import builtins
import urllib.error
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from email.message import Message

    from ._policy import Decision

__all__ = [
    "CertificateError",
    "HTTPError",
    "InsecureRequestWarning",
    "PinMismatchError",
    "PolicyError",
    "PolicyWarning",
    "ProxyCertificateError",
    "ProxyError",
    "ResponseTooLarge",
    "SecureHTTPError",
    "SecureHTTPWarning",
    "TimeoutError",
    "TooManyRedirects",
    "URLError",
]


class SecureHTTPError(Exception):
    """Base class of every error securehttp raises on purpose."""


class PolicyError(SecureHTTPError, ValueError):
    """A policy input is invalid: a file, a dict, or an environment variable.

    ``source`` names the layer (a file path, ``env NAME`` or ``<dict>``); ``line`` and
    ``column`` are 1-based when known; ``key_path`` is like ``hosts."a.example".pins[1]``.
    ``str()`` gives ``source:line:column: key_path: problem``.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str = "<policy>",
        line: int | None = None,
        column: int | None = None,
        key_path: str = "",
    ) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        self.column = column
        self.key_path = key_path
        where = source
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        text = f"{where}: {key_path}: {problem}" if key_path else f"{where}: {problem}"
        super().__init__(text)


class URLError(SecureHTTPError, urllib.error.URLError):
    """A request failed; existing ``except urllib.error.URLError`` handlers catch it.

    ``str()`` is securehttp's readable message.  ``reason`` is, as in urllib, the underlying
    exception where there is one (``ConnectionRefusedError``, ``ssl.SSLCertVerificationError``,
    ``TimeoutError`` ...; given as ``cause``), else the message.
    """

    def __init__(self, reason: str | BaseException, *, cause: BaseException | None = None) -> None:
        urllib.error.URLError.__init__(self, reason if cause is None else cause)
        self._message = str(reason)

    def __str__(self) -> str:
        return self._message


class TooManyRedirects(SecureHTTPError):
    """More redirects than allowed (10 by default)."""


class ResponseTooLarge(SecureHTTPError):
    """A body read whole was larger than ``max_body``."""


class HTTPError(URLError, urllib.error.HTTPError):
    """A non-2xx response from ``urlopen``; like urllib's, it is also a readable response."""

    def __init__(self, url: str, code: int, msg: str, hdrs: Message, fp: IO[bytes] | None) -> None:
        urllib.error.HTTPError.__init__(self, url, code, msg, hdrs, fp)

    def __str__(self) -> str:
        return f"HTTP Error {self.code}: {self.msg}"


class TimeoutError(URLError, builtins.TimeoutError):
    """A connect, read or total deadline passed."""


class ProxyError(URLError):
    """The proxy refused or failed, or the configured proxy cannot be used (SPEC §9).

    An unsupported proxy (``socks5://``, a malformed URL in a variable) is this error when a
    request would go through it: the request is never sent directly instead.  The message
    names where the proxy came from and never carries its credentials.
    """


class CertificateError(URLError):
    """Certificate verification failed.

    ``host`` and ``port`` say where, ``verify_reason`` is OpenSSL's reason, ``decision`` the
    :class:`~securehttp.Decision` that required verification (with its sources), ``hint``
    what would fix it.
    """

    def __init__(
        self, host: str, port: int, verify_reason: str, decision: Decision, hint: str
    ) -> None:
        self.host = host
        self.port = port
        self.verify_reason = verify_reason
        self.decision = decision
        self.hint = hint
        required = f"verify={decision.verify} ({decision.sources['verify']})"
        if _about_trust(verify_reason):
            # The trust matters only when the chain did not lead to a trusted CA; for a name
            # or a date it is noise (and may list every CA variable of the environment).
            required += f", trust=[{', '.join(decision.trust)}] ({decision.sources['trust']})"
            if decision.extra_ca:
                required += (
                    f", extra_ca=[{', '.join(decision.extra_ca)}] ({decision.sources['extra_ca']})"
                )
        # OpenSSL's messages end with a full stop of their own.
        reason = verify_reason.rstrip().rstrip(".")
        super().__init__(
            f"certificate verification failed for {host}:{port}: {reason}; "
            f"required by {required}. Hint: {hint}"
        )


class ProxyCertificateError(CertificateError, ProxyError):
    """An ``https://`` proxy's own certificate failed the Decision for the proxy's host.

    Both a :class:`CertificateError` (a verification failure is never buried) and a
    :class:`ProxyError` (it is the proxy that failed); ``host`` and ``port`` are the proxy's.
    """


def _about_trust(reason: str) -> bool:
    low = reason.lower()
    return any(
        marker in low
        for marker in ("issuer", "self-signed", "self signed", "untrusted", "chain", "trust")
    )


class PinMismatchError(CertificateError):
    """The chain is valid, but no certificate in it carries one of the host's pins."""

    def __init__(self, host: str, port: int, presented: Sequence[str], decision: Decision) -> None:
        self.presented = tuple(presented)
        reason = "no certificate matches the pinned keys; the server presented " + ", ".join(
            self.presented
        )
        hint = (
            f"if the server's key was rotated on purpose, update pins "
            f"({decision.sources['pins']}); otherwise do not trust this connection"
        )
        super().__init__(host, port, reason, decision, hint)


class SecureHTTPWarning(UserWarning):
    """Base class of securehttp's warnings."""


class InsecureRequestWarning(SecureHTTPWarning):
    """A request went out with verification weakened (once per host and reason)."""


class PolicyWarning(SecureHTTPWarning):
    """A policy input was refused or ignored, or a waiver has lapsed or is about to."""

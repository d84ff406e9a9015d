"""Everything securehttp raises or warns on purpose.

Errors::

    SecureHTTPError                                  base of everything raised on purpose
    ├── PolicyError(SecureHTTPError, ValueError)     bad policy input: where, which key, why
    ├── TooManyRedirects(SecureHTTPError)
    ├── ResponseTooLarge(SecureHTTPError)
    └── URLError(SecureHTTPError, urllib.error.URLError)
        ├── HTTPError(URLError, urllib.error.HTTPError)
        ├── TimeoutError(URLError, builtins.TimeoutError)
        └── CertificateError(URLError)                verification failed
            └── PinMismatchError(CertificateError)    chain valid, no certificate matches a pin

Warnings::

    SecureHTTPWarning(UserWarning)
    ├── InsecureRequestWarning     a request went out with verification weakened
    └── PolicyWarning              a policy input was ignored, refused, has lapsed or is about to

Foreign errors (urllib3's, ssl's, yaml's) are translated where they enter: never leak through.
"""

from __future__ import annotations

import builtins
import urllib.error

__all__ = [
    "InsecureRequestWarning",
    "PolicyError",
    "PolicyWarning",
    "SecureHTTPError",
    "SecureHTTPWarning",
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
    """A request failed; existing ``except urllib.error.URLError`` handlers catch it."""

    def __init__(self, reason: str | BaseException) -> None:
        urllib.error.URLError.__init__(self, reason)

    def __str__(self) -> str:
        return str(self.reason)


class TimeoutError(URLError, builtins.TimeoutError):
    """A connect, read or total deadline passed."""


class SecureHTTPWarning(UserWarning):
    """Base class of securehttp's warnings."""


class InsecureRequestWarning(SecureHTTPWarning):
    """A request went out with verification weakened (once per host and reason)."""


class PolicyWarning(SecureHTTPWarning):
    """A policy input was refused or ignored, or a waiver has lapsed or is about to."""

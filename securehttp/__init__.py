"""securehttp: an HTTPS client whose TLS verification is decided by an explicit policy.

Strict certificate verification (PEP 476) is the default; it is loosened only where a
policy file, an environment variable, the runtime switch or one explicit request says so.
"""

from __future__ import annotations

import typing as _typing

from ._client import Client
from ._deadline import Timeout
from ._exceptions import (
    CertificateError,
    HTTPError,
    InsecureRequestWarning,
    PinMismatchError,
    PolicyError,
    PolicyWarning,
    ProxyError,
    ResponseTooLarge,
    SecureHTTPError,
    SecureHTTPWarning,
    TimeoutError,
    TooManyRedirects,
    URLError,
)
from ._policy import ClientCert, Decision, Policy, Verify, load_policy
from ._process import explain, https_verify_certificates
from ._response import Response
from ._urlopen import urlopen
from ._verification import policy_context
from ._version import __version__ as __version__
from .integrations.install import install, installed, uninstall

_OPENER_NAMES = frozenset({"HTTPHandler", "HTTPSHandler", "build_opener", "install_opener"})


def __getattr__(name: str) -> _typing.Any:
    # `Request` and the opener machinery subclass urllib.request's classes, whose import
    # costs more than the rest of securehttp: they are loaded on first use (PEP 562).
    if name == "Request":
        from ._urlopen import _request_class

        return _request_class()
    if name in _OPENER_NAMES:
        from . import _handlers

        return getattr(_handlers, name)
    raise AttributeError(f"module 'securehttp' has no attribute {name!r}")


__all__ = [
    "CertificateError",
    "Client",
    "ClientCert",
    "Decision",
    "HTTPError",
    "HTTPHandler",
    "HTTPSHandler",
    "InsecureRequestWarning",
    "PinMismatchError",
    "Policy",
    "PolicyError",
    "PolicyWarning",
    "ProxyError",
    "Request",
    "Response",
    "ResponseTooLarge",
    "SecureHTTPError",
    "SecureHTTPWarning",
    "Timeout",
    "TimeoutError",
    "TooManyRedirects",
    "URLError",
    "Verify",
    "build_opener",
    "explain",
    "https_verify_certificates",
    "install",
    "install_opener",
    "installed",
    "load_policy",
    "policy_context",
    "uninstall",
    "urlopen",
]

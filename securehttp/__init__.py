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

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> _typing.Any:
    # `Request` is made on first use: see securehttp._urlopen.
    if name == "Request":
        from ._urlopen import _request_class

        return _request_class()
    raise AttributeError(f"module 'securehttp' has no attribute {name!r}")


__all__ = [
    "CertificateError",
    "Client",
    "ClientCert",
    "Decision",
    "HTTPError",
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
    "explain",
    "https_verify_certificates",
    "load_policy",
    "policy_context",
    "urlopen",
]

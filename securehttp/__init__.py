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

_OPENER_NAMES = frozenset({"HTTPHandler", "HTTPSHandler", "build_opener", "install_opener"})
_INSTALL_NAMES = frozenset({"install", "installed", "uninstall"})

if _typing.TYPE_CHECKING:
    import urllib.request

    from ._handlers import HTTPHandler as HTTPHandler
    from ._handlers import HTTPSHandler as HTTPSHandler
    from ._handlers import build_opener as build_opener
    from ._handlers import install_opener as install_opener
    from .integrations.install import install as install
    from .integrations.install import installed as installed
    from .integrations.install import uninstall as uninstall

    class Request(urllib.request.Request):
        """``urllib.request.Request`` under securehttp's name; either class is accepted."""

else:
    # At run time `Request` and the opener machinery are loaded on first use (PEP 562):
    # they subclass urllib.request's classes, whose import costs more than the rest of
    # securehttp (SPEC §12).  Type checkers see the names above and no module __getattr__,
    # so a misspelt name is an error for them, not an Any.
    def __getattr__(name: str) -> object:
        if name == "Request":
            from ._urlopen import _request_class

            return _request_class()
        if name in _OPENER_NAMES:
            from . import _handlers

            return getattr(_handlers, name)
        if name in _INSTALL_NAMES:  # patching the process is rare: kept off the import path
            from .integrations import install

            return getattr(install, name)
        raise AttributeError(f"module 'securehttp' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), "Request", *_OPENER_NAMES, *_INSTALL_NAMES})


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

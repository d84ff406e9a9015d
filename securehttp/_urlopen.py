"""The urllib2 / ``urllib.request`` drop-in: ``urlopen``, ``Request``, ``HTTPError``.

Existing call sites keep working: a ``urllib.request.Request`` is accepted, ``data`` makes a
POST, a non-2xx status raises :class:`HTTPError` (which is also a readable response), and
``except urllib.error.URLError`` catches every failure.  The difference is what decides TLS
verification: the process policy instead of whatever the interpreter happens to default to.
"""

from __future__ import annotations

import ssl
import threading
import warnings
from typing import TYPE_CHECKING, Any

from ._deadline import Timeout
from ._urllib_compat import open_with
from ._verification.contexts import legacy_context

if TYPE_CHECKING:
    import urllib.request

    from ._client import Client
    from ._policy import Policy
    from ._response import Response

__all__ = ["default_client", "urlopen"]  # and Request, made on first use


class _Default:
    def __repr__(self) -> str:
        return "<default timeout>"


_DEFAULT: Any = _Default()
_client: Client | None = None
_client_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # Request subclasses urllib.request.Request, whose import costs more than the rest of
    # securehttp; it is defined when first asked for (PEP 562).
    if name == "Request":
        return _request_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _request_class() -> type[urllib.request.Request]:
    global _Request
    if _Request is None:
        import urllib.request

        class Request(urllib.request.Request):
            """``urllib.request.Request`` under securehttp's name; either class is accepted."""

        Request.__module__ = "securehttp"
        _Request = Request
    return _Request


_Request: type[urllib.request.Request] | None = None


def default_client() -> Client:
    """The process-wide client behind :func:`urlopen`, created on first use."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                from ._client import Client

                _client = Client()
            client = _client
    return client


def urlopen(
    url: str | urllib.request.Request,
    data: bytes | None = None,
    timeout: float | Timeout | None = _DEFAULT,
    *,
    cafile: str | None = None,
    capath: str | None = None,
    cadefault: bool = False,
    context: ssl.SSLContext | None = None,
    policy: Policy | None = None,
) -> Response:
    """Open ``url`` like ``urllib.request.urlopen``, verified as the policy says.

    ``context=`` (an ``ssl.SSLContext``) is used exactly as given and wins over every policy,
    as in PEP 476; ``policy=`` replaces the process policy for this call.  The deprecated
    ``cafile``/``capath``/``cadefault`` build a verifying context, as urllib did.
    """
    if cafile or capath or cadefault:
        if context is not None:
            raise ValueError("You can't pass both context and any of cafile, capath, and cadefault")
        warnings.warn(
            "cafile, capath and cadefault are deprecated: trust a CA for a host with "
            "`extra_ca` in a securehttp policy, or pass context=",
            DeprecationWarning,
            stacklevel=2,
        )
        context = legacy_context(cafile or None, capath or None)
    return open_with(
        default_client(),
        url,
        data,
        None if timeout is _DEFAULT else timeout,
        context=context,
        policy=policy,
    )

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

from ._context import legacy_context
from ._deadline import Timeout
from ._exceptions import HTTPError

if TYPE_CHECKING:
    import urllib.request

    from ._client import Client, Response
    from ._policy import Policy

__all__ = ["default_client", "open_with", "urlopen"]  # and Request, made on first use


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


def open_with(
    client: Client,
    url: str | urllib.request.Request,
    data: bytes | None,
    timeout: float | Timeout | None,
    *,
    context: ssl.SSLContext | None,
    policy: Policy | None,
) -> Response:
    if not isinstance(url, str):
        import urllib.request

        if not isinstance(url, urllib.request.Request):
            raise TypeError(
                f"expected a URL string or a urllib.request.Request, not {type(url).__name__}"
            )
        if data is not None:
            url.data = data
        full_url, method, body = url.full_url, url.get_method(), url.data
        headers = dict(url.header_items())
    else:
        full_url, body, headers = url, data, {}
        method = "POST" if data is not None else "GET"
    if body is not None and not isinstance(body, (bytes, bytearray)):
        # urllib's rule: a str body is a programming error, not something to guess at.
        raise TypeError(
            "POST data should be bytes, an iterable of bytes, or a file object. "
            "It cannot be of type str."
        )
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = client.request(
        method,
        full_url,
        body=bytes(body) if body is not None else None,
        headers=headers,
        timeout=timeout,
        context=context,
        policy=policy,
    )
    if not 200 <= response.status < 300:
        raise HTTPError(response.url, response.status, response.reason, response.headers, response)  # type: ignore[arg-type]
    return response

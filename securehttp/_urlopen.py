"""The urllib2 / ``urllib.request`` drop-in: ``urlopen``, ``Request``, ``HTTPError``.

Existing call sites keep working: a ``urllib.request.Request`` is accepted, ``data`` makes a
POST, a non-2xx status raises :class:`HTTPError` (which is also a readable response), and
``except urllib.error.URLError`` catches every failure.  The difference is what decides TLS
verification: the process policy instead of whatever the interpreter happens to default to.
"""

from __future__ import annotations

import ssl
import sys
import warnings
from typing import TYPE_CHECKING, Any

from ._deadline import Timeout
from ._default_client import default_client
from ._urllib_compat import URLLIB_USER_AGENT, open_with
from ._verification.contexts import legacy_context

if TYPE_CHECKING:
    import urllib.request

    from ._policy import Policy
    from ._response import Response

__all__ = ["default_client", "urlopen"]  # and Request, made on first use

# Opened by urllib's own handlers, as urllib.request.urlopen opens them: no TLS is involved.
_OTHER_SCHEMES = frozenset({"file", "data", "ftp"})


class _Default:
    def __repr__(self) -> str:
        return "<default timeout>"


_DEFAULT: Any = _Default()


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
    if context is None and policy is None:
        # As urllib: an installed opener, unless this call brings its own context.
        opener = _opener_for(url)
        if opener is not None:
            if timeout is _DEFAULT:
                return opener.open(url, data)  # type: ignore[no-any-return]
            # securehttp's handlers take a Timeout too; urllib's (file, ftp) take seconds.
            return opener.open(url, data, timeout)  # type: ignore[arg-type,no-any-return]
    return open_with(
        default_client(),
        url,
        data,
        None if timeout is _DEFAULT else timeout,
        context=context,
        policy=policy,
        user_agent=URLLIB_USER_AGENT,
    )


def _opener_for(url: str | urllib.request.Request) -> urllib.request.OpenerDirector | None:
    """The opener for this call: an installed one (securehttp's, else urllib's with
    securehttp's handlers), or for ``file:``, ``data:`` and ``ftp:`` URLs securehttp's
    default opener, whose urllib handlers open them as urllib does.  None: the client."""
    handlers = sys.modules.get("securehttp._handlers")
    theirs = getattr(sys.modules.get("urllib.request"), "_opener", None)
    if handlers is not None or theirs is not None:
        from . import _handlers

        opener = _handlers.current_opener()
        if opener is not None:
            return opener
    if isinstance(url, str):
        scheme = url.partition(":")[0].strip().lower() if ":" in url else ""
    else:
        scheme = url.type
    if scheme in _OTHER_SCHEMES:
        from . import _handlers

        return _handlers.default_opener()
    return None

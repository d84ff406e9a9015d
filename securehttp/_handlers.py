"""urllib's opener machinery with policy-governed HTTP(S) handlers (SPEC §1, §7).

- :class:`HTTPSHandler` and :class:`HTTPHandler` carry a ``urllib.request.Request`` on a
  securehttp :class:`Client`: the policy per request, the pools, the proxy routes, the
  deadlines.  They send one hop (``redirect=False``) and hand every response back to the
  opener, so the program's cookie, auth and error handlers see each hop as in urllib.
- :class:`HTTPRedirectHandler` keeps urllib's redirect handling and adds securehttp's rules
  (SPEC §7): https to a cleartext scheme is refused unless the decision that governed the
  response allows it, and credentials (``Authorization``, ``Cookie``,
  ``Proxy-Authorization``) are dropped on a redirect to another scheme, host or port.  A
  program's own subclass of urllib's redirect handler gets the rules on top of its own.
- A request that the program's own ``urllib.request.ProxyHandler`` pointed at a proxy
  (``Request.set_proxy``) goes through that proxy, by securehttp's transport: an https origin
  through a CONNECT tunnel verified end to end (the proxy URL's scheme is ignored there, as
  urllib ignores it), an http origin in absolute form.
- :func:`build_opener` is ``urllib.request.build_opener`` with these handlers; unless the
  caller gives a ``ProxyHandler``, http and https follow securehttp's reading of the proxy
  variables (SPEC §9) and urllib's ``ProxyHandler`` keeps only the other schemes (``ftp``).
- :func:`current_opener`: what ``securehttp.urlopen`` opens with - the opener installed with
  :func:`install_opener`, else the one installed with ``urllib.request.install_opener``
  with its HTTP(S), redirect and default-error handlers replaced by securehttp's.
"""

from __future__ import annotations

import copy
import http.client
import socket
import ssl
import threading
import urllib.parse
import urllib.request
import weakref
from typing import IO, TYPE_CHECKING, Any

from ._default_client import default_client
from ._exceptions import HTTPError, URLError
from ._hosts import DEFAULT_PORTS, redact_url
from ._proxies import PROXY_SCHEMES, Proxies, ProxyConfig, Route, parse_proxy_url
from ._routes import Routing
from ._urllib_compat import request_body, request_headers

if TYPE_CHECKING:
    from ._client import Client
    from ._policy import Policy
    from ._response import Response

__all__ = [
    "HTTPDefaultErrorHandler",
    "HTTPHandler",
    "HTTPRedirectHandler",
    "HTTPSHandler",
    "build_opener",
    "current_opener",
    "default_opener",
    "install_opener",
]

PROXY_HANDLER_SOURCE = "urllib.request.ProxyHandler"
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})


class _SecureHandler:
    """What both handlers share: which client carries a request, and how."""

    _policy: Policy | None
    _context: ssl.SSLContext | None
    _proxies: Proxies
    _clients: dict[object, Client]
    _lock: threading.Lock

    def _setup(
        self, policy: Policy | None, context: ssl.SSLContext | None, proxies: Proxies
    ) -> None:
        self._policy, self._context, self._proxies = policy, context, proxies
        self._clients = {}
        self._lock = threading.Lock()
        # Checked now, as Client(proxies=...) checks it: never at the first request.
        Routing(proxies)

    def _client(self, key: object) -> Client:
        """The client for a route: ``None`` for this handler's own, or a proxy a urllib
        ``ProxyHandler`` chose."""
        if key is None and self._policy is None and self._proxies == "env":
            return default_client()
        client = self._clients.get(key)
        if client is None:
            from ._client import Client

            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    if isinstance(key, ProxyConfig):
                        client = Client(self._policy, proxies=None)
                        # The program's ProxyHandler chose this proxy: it is the route.
                        client._routing = Routing(key)
                    else:
                        client = Client(self._policy, proxies=self._proxies)
                    self._clients[key] = client
        return client

    def _send(self, req: urllib.request.Request) -> Response:
        url = req.full_url
        scheme = url.partition(":")[0].lower()
        route_key: object = None
        if req._tunnel_host or req.has_proxy():  # type: ignore[attr-defined]
            route_key = _proxy_route(req)
        elif scheme not in DEFAULT_PORTS:
            raise URLError(f"unknown url type: {scheme}")
        headers = request_headers(req)
        body = request_body(req.data, headers)
        timeout = None if req.timeout is socket._GLOBAL_DEFAULT_TIMEOUT else req.timeout  # type: ignore[attr-defined]
        client = self._client(route_key)
        return client.request(
            req.get_method(),
            url,
            body=body,
            headers=headers,
            timeout=timeout,
            context=self._context,
            redirect=False,
        )


def _proxy_route(req: urllib.request.Request) -> ProxyConfig:
    """The route a ``urllib.request.ProxyHandler`` gave ``req``: ``req.host`` is the proxy."""
    # urllib tunnels an https origin over plain http whatever the proxy URL said; it speaks
    # TLS to the proxy only when it made the request's type https for an http origin.
    tunnelled = bool(req._tunnel_host)  # type: ignore[attr-defined]
    scheme = "https" if not tunnelled and req.type == "https" else "http"
    proxy = parse_proxy_url(f"{scheme}://{req.host}", source=PROXY_HANDLER_SOURCE)
    route = Route(proxy=proxy, source=PROXY_HANDLER_SOURCE)
    return ProxyConfig(route, route)


class HTTPSHandler(_SecureHandler, urllib.request.HTTPSHandler):
    """``https:`` for urllib openers, verified as the policy says.

    ``policy=None`` follows the process policy; ``context=`` is used as given (PEP 476: a
    context in code wins over every policy); ``proxies`` as for :class:`Client`.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        context: ssl.SSLContext | None = None,
        proxies: Proxies = "env",
        debuglevel: int = 0,
    ) -> None:
        urllib.request.HTTPSHandler.__init__(self, debuglevel=debuglevel, context=context)
        self._setup(policy, context, proxies)

    def https_open(self, req: urllib.request.Request) -> Response:  # type: ignore[override]
        return self._send(req)


class HTTPHandler(_SecureHandler, urllib.request.HTTPHandler):
    """``http:`` for urllib openers, on securehttp's pools, proxies and deadlines.

    A plain-http origin follows a ``https:`` proxy when one is configured, and an https
    redirect from it is verified by the policy like any other request.
    """

    def __init__(
        self, policy: Policy | None = None, *, proxies: Proxies = "env", debuglevel: int = 0
    ) -> None:
        urllib.request.HTTPHandler.__init__(self, debuglevel=debuglevel)
        self._setup(policy, None, proxies)

    def http_open(self, req: urllib.request.Request) -> Any:
        if req.full_url.partition(":")[0].lower() not in DEFAULT_PORTS:
            # ftp:// through an http proxy (urllib's ftp_proxy): plain http to the proxy, no
            # TLS and so nothing for a policy to decide; urllib carries it as it always did.
            return urllib.request.HTTPHandler.http_open(self, req)
        return self._send(req)


class _RedirectRules:
    """SPEC §7's redirect rules, on top of whatever redirect handler they are mixed into."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new: urllib.request.Request | None = super().redirect_request(  # type: ignore[misc]
            req, fp, code, msg, headers, newurl
        )
        if new is None:
            return None
        old_url = urllib.parse.urlsplit(req.full_url)
        new_url = urllib.parse.urlsplit(new.full_url)
        if old_url.scheme.lower() == "https" and new_url.scheme.lower() != "https":
            decision = getattr(fp, "decision", None)
            if decision is None or not decision.allow_https_to_http_redirect:
                fp.close()
                raise URLError(
                    f"refused redirect from {redact_url(req.full_url)} to "
                    f"{redact_url(new.full_url)}: https to {new_url.scheme or 'a relative URL'} "
                    "would send the request in clear text (allow it per host with "
                    "allow_https_to_http_redirect: true)"
                )
        if _origin(old_url) != _origin(new_url):
            for table in (new.headers, new.unredirected_hdrs):
                for name in [n for n in table if n.lower() in _CREDENTIALS]:
                    del table[name]
        return new


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip("."), port or DEFAULT_PORTS.get(scheme)


class HTTPRedirectHandler(_RedirectRules, urllib.request.HTTPRedirectHandler):
    """urllib's redirect handler with securehttp's redirect rules (SPEC §7)."""


class HTTPDefaultErrorHandler(urllib.request.HTTPDefaultErrorHandler):
    """Raises :class:`securehttp.HTTPError` (a ``urllib.error.HTTPError``) for a non-2xx
    status no other handler took."""

    def http_error_default(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        hdrs: Any,
    ) -> Any:
        raise HTTPError(req.full_url, code, msg, hdrs, fp)


# --- openers ----------------------------------------------------------------------------------


def build_opener(*handlers: Any) -> urllib.request.OpenerDirector:
    """``urllib.request.build_opener`` with securehttp's HTTP(S), redirect and error handlers.

    urllib's own ``HTTPHandler``, ``HTTPSHandler`` (its ``context`` is kept, and wins as in
    urllib), ``HTTPRedirectHandler`` and ``HTTPDefaultErrorHandler`` among ``handlers`` are
    replaced; a subclass of urllib's redirect handler keeps its behaviour under securehttp's
    rules.  Every other handler is used as given.
    """
    given = [_secured(h() if isinstance(h, type) else h) for h in handlers]
    if not any(isinstance(h, urllib.request.ProxyHandler) for h in given):
        # http and https follow securehttp's reading of the variables; urllib's ProxyHandler
        # keeps the schemes securehttp does not carry (ftp_proxy ...).
        others = {k: v for k, v in urllib.request.getproxies().items() if k not in PROXY_SCHEMES}
        given.append(urllib.request.ProxyHandler(others))
    for default in (HTTPHandler, HTTPSHandler, HTTPRedirectHandler, HTTPDefaultErrorHandler):
        if not any(isinstance(h, default) for h in given):
            given.append(default())
    return urllib.request.build_opener(*given)


def _secured(handler: Any) -> Any:
    """``handler``, or securehttp's in place of urllib's HTTP(S), redirect or error handler."""
    if isinstance(handler, (_SecureHandler, _RedirectRules, HTTPDefaultErrorHandler)):
        return handler
    if isinstance(handler, urllib.request.HTTPSHandler):
        context = _explicit_context(handler._context)  # type: ignore[attr-defined]
        return HTTPSHandler(context=context, debuglevel=handler._debuglevel)  # type: ignore[attr-defined]
    if isinstance(handler, urllib.request.HTTPHandler):
        return HTTPHandler(debuglevel=handler._debuglevel)  # type: ignore[attr-defined]
    if isinstance(handler, urllib.request.HTTPRedirectHandler):
        secured = copy.copy(handler)
        secured.__class__ = _with_rules(type(handler))
        return secured
    if type(handler) is urllib.request.HTTPDefaultErrorHandler:
        return HTTPDefaultErrorHandler()
    return handler


def _explicit_context(context: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """The context a program gave urllib's ``HTTPSHandler``, or None where it holds the
    interpreter's default: urllib makes one itself from Python 3.12 on, and a default
    context (or ``PYTHONHTTPSVERIFY``'s unverified one) is not a choice made in code, so
    the policy decides there.  A context with its own trust, flags or levels is used as
    given (PEP 476: a context in code wins)."""
    # Compared with a fresh default (not a cached one): ssl._https_verify_certificates()
    # may have changed what the default is.
    if context is None or _settings(context) == _settings(ssl._create_default_https_context()):
        return None
    return context


def _settings(context: ssl.SSLContext) -> tuple[object, ...]:
    return (
        type(context),
        context.verify_mode,
        context.check_hostname,
        context.options,
        context.minimum_version,
        context.maximum_version,
        context.verify_flags,
        tuple(sorted(context.cert_store_stats().items())),
    )


_rule_classes: dict[type[Any], type[Any]] = {}


def _with_rules(cls: type[Any]) -> type[Any]:
    """``cls`` (a redirect handler) under securehttp's redirect rules."""
    if cls is urllib.request.HTTPRedirectHandler:
        return HTTPRedirectHandler
    made = _rule_classes.get(cls)
    if made is None:
        made = _rule_classes[cls] = type(cls.__name__, (_RedirectRules, cls), {})
        made.__module__ = cls.__module__
    return made


_installed: urllib.request.OpenerDirector | None = None
_adapted: weakref.WeakKeyDictionary[urllib.request.OpenerDirector, urllib.request.OpenerDirector]
_adapted = weakref.WeakKeyDictionary()
_default: urllib.request.OpenerDirector | None = None
_state_lock = threading.Lock()

# The handler classes urllib.request.build_opener() adds on its own: an opener made of these
# only is urllib's default (urllib.request.urlopen installs one on first use).
_URLLIB_DEFAULTS = frozenset(
    {
        urllib.request.ProxyHandler,
        urllib.request.UnknownHandler,
        urllib.request.HTTPHandler,
        urllib.request.HTTPSHandler,
        urllib.request.HTTPDefaultErrorHandler,
        urllib.request.HTTPRedirectHandler,
        urllib.request.FTPHandler,
        urllib.request.FileHandler,
        urllib.request.HTTPErrorProcessor,
        urllib.request.DataHandler,
    }
)


def install_opener(opener: urllib.request.OpenerDirector | None) -> None:
    """Make ``securehttp.urlopen`` open with ``opener`` (``None``: stop)."""
    global _installed
    if opener is not None and not isinstance(opener, urllib.request.OpenerDirector):
        raise TypeError(f"expected an OpenerDirector, got {type(opener).__name__}")
    _installed = opener


def current_opener() -> urllib.request.OpenerDirector | None:
    """The opener ``securehttp.urlopen`` uses, or None for securehttp's own default path."""
    if _installed is not None:
        return _installed
    theirs = urllib.request._opener  # type: ignore[attr-defined]
    if theirs is None or {type(h) for h in _handlers_of(theirs)} <= _URLLIB_DEFAULTS:
        return None
    adapted = _adapted.get(theirs)
    if adapted is None:
        with _state_lock:
            adapted = _adapted.get(theirs)
            if adapted is None:
                adapted = _adapted[theirs] = _adapt(theirs)
    return adapted


def _adapt(theirs: urllib.request.OpenerDirector) -> urllib.request.OpenerDirector:
    """A copy of a program's urllib opener with securehttp's HTTP(S), redirect and error
    handlers.  Its other handlers are shallow copies (their cookie jars and password
    managers are shared): adding a handler to an opener re-parents it, and the program's own
    opener must keep its handlers."""
    ours = urllib.request.OpenerDirector()
    ours.addheaders = list(theirs.addheaders)
    for handler in _handlers_of(theirs):
        secured = _secured(handler)
        ours.add_handler(copy.copy(handler) if secured is handler else secured)
    return ours


def _handlers_of(opener: urllib.request.OpenerDirector) -> list[Any]:
    handlers: list[Any] = getattr(opener, "handlers", [])
    return handlers


def default_opener() -> urllib.request.OpenerDirector:
    """securehttp's ``build_opener()``, made once: for ``file:``, ``data:`` and ``ftp:`` in
    ``urlopen``, which urllib's own handlers open as they always did."""
    global _default
    if _default is None:
        with _state_lock:
            if _default is None:
                _default = build_opener()
    return _default


def reset_openers() -> None:
    """Forget the installed opener and every adapted and default one (tests)."""
    global _installed, _default
    with _state_lock:
        _installed = _default = None
        _adapted.clear()

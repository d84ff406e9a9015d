"""The policy for programs written for httpx: :class:`PolicyTransport` and
:class:`AsyncPolicyTransport`.

::

    import httpx
    from securehttp.integrations.httpx import AsyncPolicyTransport, PolicyTransport

    with httpx.Client(transport=PolicyTransport()) as client:       # or PolicyTransport(policy)
        client.get("https://api.example.com/")
    async with httpx.AsyncClient(transport=AsyncPolicyTransport()) as client:
        await client.get("https://api.example.com/")

Each request is verified as the policy decides for its host and port, by the verification
seam: its connections handshake through a policy context bound to that request's Decision,
so pins and the no-common-name rule are checked inside the handshake, before any request
byte, and report-only warns and records its audit event.  Requests go through inner httpx
transports keyed by everything that decided their checks (the Decision, the proxy route with
its credentials, an ``https://`` proxy's own Decision), so a connection opened under one
setting never serves another.

httpx ignores the proxy variables once ``transport=`` is given (encode/httpx#1122), which
would silently bypass an egress proxy: these transports read them (``proxies="env"``, when
made) with securehttp's rules (SPEC §9: ``no_proxy`` as curl means it, ``socks`` refused
rather than bypassed); ``proxies={...}`` in ``urllib.request.getproxies()`` form or ``None``
(always direct) choose otherwise.  An ``https://`` proxy is verified by the Decision for the
proxy's own host.  HTTP/2 is not offered (the policy's contexts speak HTTP/1.1).

Errors stay httpx's (``ConnectError``, ``ProxyError``), with securehttp's
:class:`~securehttp.CertificateError` as their ``__cause__``.
"""

from __future__ import annotations

import collections
import contextvars
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, NamedTuple, TypeVar

import httpx

from .._exceptions import CertificateError
from .._exceptions import ProxyError as SecureProxyError
from .._hosts import Target, normalize_host, split_url
from .._model import Decision, Verify
from .._policy import Policy
from .._proxies import Proxies, ProxyURL, Route, proxy_config, route_for
from .._verification import PolicyContext, connection_target
from .._verification.dispatch import Attempt
from ._decide import Deciding, certificate_error

__all__ = ["AsyncPolicyTransport", "PolicyTransport"]

_INNER = 32
_PORTS = {"http": 80, "https": 443}
# httpx.HTTPTransport's own default.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Whether the connection being opened reached the origin's handshake: a TLS failure before
# it was the https:// proxy's (which httpx reports the same way).
_origin_reached: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "securehttp_origin_reached", default=None
)

_Inner = TypeVar("_Inner", httpx.HTTPTransport, httpx.AsyncHTTPTransport)


class _Plan(NamedTuple):
    target: Target
    decision: Decision | None  # None for plain http://
    route: Route
    proxy_target: Target | None
    proxy_decision: Decision | None
    key: tuple[object, ...]


class _Transports(Generic[_Inner]):
    """The inner httpx transports of one policy transport, and each request's plan."""

    def __init__(
        self,
        policy: Policy | None,
        proxies: Proxies,
        make: Callable[..., _Inner],
        options: dict[str, Any],
    ) -> None:
        self.deciding = Deciding(policy)
        self.proxies = proxy_config(proxies)
        self._make: Callable[..., _Inner] = make
        self._options = options
        self._inner: collections.OrderedDict[tuple[object, ...], _Inner] = collections.OrderedDict()
        self._lock = threading.Lock()
        deciding = self.deciding
        # For what has no Decision of its own (plain http:// through a policy transport): any
        # TLS it would do is still decided per server name.
        self._per_name = PolicyContext(lambda target: deciding.decide(target), deciding.label)

    def plan(self, request: httpx.Request) -> _Plan:
        url = request.url
        if url.scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(
                f"{url.scheme!r} URLs are not supported", request=request
            )
        host, is_ip = normalize_host(url.raw_host.decode("ascii"))
        target = Target(url.scheme, host, url.port or _PORTS[url.scheme], is_ip)
        decision = self.deciding.decide(target) if target.scheme == "https" else None
        route = route_for(target, self.proxies)
        proxy = route.require()
        proxy_target = proxy_decision = None
        if proxy is not None and proxy.scheme == "https":
            proxy_target = split_url(proxy.url)
            proxy_decision = self.deciding.decide(proxy_target)
        return _Plan(
            target,
            decision,
            route,
            proxy_target,
            proxy_decision,
            (decision, route, proxy_decision),
        )

    def inner(self, plan: _Plan) -> tuple[_Inner, _Inner | None]:
        """The inner transport for ``plan``, and one evicted to make room (to be closed)."""
        found = self._inner.get(plan.key)
        if found is not None:
            return found, None
        with self._lock:
            found = self._inner.get(plan.key)
            if found is not None:
                return found, None
            made = self._make(
                verify=self._context(plan.decision),
                proxy=self._proxy(plan.route.proxy, plan.proxy_decision),
                **self._options,
            )
            self._inner[plan.key] = made
            evicted = None
            if len(self._inner) > _INNER:
                evicted = self._inner.popitem(last=False)[1]
            return made, evicted

    def _context(self, decision: Decision | None) -> ssl.SSLContext:
        if decision is None:
            return self._per_name

        def resolve(target: Target) -> Decision:
            reached = _origin_reached.get()
            if reached is not None:
                reached[0] = True
            return decision

        return PolicyContext(resolve, self.deciding.label)

    def _proxy(self, proxy: ProxyURL | None, decision: Decision | None) -> httpx.Proxy | None:
        if proxy is None:
            return None
        auth = None if proxy.username is None else (proxy.username, proxy.password or "")
        ctx = None
        if decision is not None:
            ctx = PolicyContext(lambda target: decision, self.deciding.label)
        return httpx.Proxy(proxy.url, auth=auth, ssl_context=ctx)

    def take_all(self) -> list[_Inner]:
        with self._lock:
            inner = list(self._inner.values())
            self._inner.clear()
        return inner


def _options(
    limits: httpx.Limits,
    retries: int,
    local_address: str | None,
    socket_options: Iterable[Any] | None,
) -> dict[str, Any]:
    return {
        "limits": limits,
        "retries": retries,
        "local_address": local_address,
        "socket_options": socket_options,
        "http1": True,
        "http2": False,
        "trust_env": False,  # the policy reads the environment; httpx must not add to it
    }


def _report_only(attempt: Attempt, plan: _Plan) -> bool:
    """Whether a failed connection is report-only's to retry without verification: strict
    verification of the origin failed under ``verify=warn`` (the context said why)."""
    decision = plan.decision
    return attempt.failure is not None and decision is not None and decision.verify is Verify.WARN


def _mapped(
    exc: httpx.TransportError | CertificateError, plan: _Plan, request: httpx.Request
) -> Exception:
    """httpx's error, with securehttp's CertificateError as the cause when verification
    failed: the origin's, or the https:// proxy's when the origin was never reached."""
    reached = _origin_reached.get()
    proxy_failed = plan.proxy_decision is not None and not (reached and reached[0])
    if proxy_failed and plan.proxy_target is not None and plan.proxy_decision is not None:
        cause = certificate_error(exc, plan.proxy_target, plan.proxy_decision)
    elif plan.decision is not None:
        cause = certificate_error(exc, plan.target, plan.decision)
    else:
        cause = None
    if cause is None:
        return exc
    # Raised inside anyio's handshake, a securehttp error is not httpx's yet.
    kind = type(exc) if isinstance(exc, httpx.TransportError) else httpx.ConnectError
    error = kind(str(cause), request=request)
    error.__cause__ = cause
    return error


def _refused_route(exc: SecureProxyError, request: httpx.Request) -> httpx.ProxyError:
    error = httpx.ProxyError(str(exc), request=request)
    error.__cause__ = exc
    return error


class PolicyTransport(httpx.BaseTransport):
    """An httpx transport whose TLS verification is decided by ``policy`` per host.

    ``policy=None`` follows the process default (files, environment, the runtime switch,
    read again at each request); a :class:`~securehttp.Policy` is taken as written.
    ``proxies``: ``"env"`` (the proxy variables, read now), a mapping in
    ``urllib.request.getproxies()`` form, or ``None`` (always direct).  ``limits`` apply to
    each set of connections that share a Decision and a route.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        proxies: Proxies = "env",
        limits: httpx.Limits = DEFAULT_LIMITS,
        retries: int = 0,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> None:
        self._transports = _Transports[httpx.HTTPTransport](
            policy,
            proxies,
            httpx.HTTPTransport,
            _options(limits, retries, local_address, socket_options),
        )

    def __repr__(self) -> str:
        return f"<securehttp PolicyTransport deciding by {self._transports.deciding.label}>"

    def decide(self, url: str) -> Decision:
        """The decision a request to ``url`` would be verified by (no I/O)."""
        return self._transports.deciding.decide(split_url(url))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            plan = self._transports.plan(request)
        except SecureProxyError as exc:
            raise _refused_route(exc, request) from exc
        inner, evicted = self._transports.inner(plan)
        if evicted is not None:
            evicted.close()
        token = _origin_reached.set([False])
        try:
            with connection_target(plan.target.host, plan.target.port) as attempt:
                try:
                    return inner.handle_request(request)
                except httpx.ConnectError:
                    if not _report_only(attempt, plan):
                        raise
                # Report-only: strict verification failed before anything was sent; the
                # policy context connects again without it, warns and records the failure.
                attempt.unverified = True
                return inner.handle_request(request)
        except (httpx.TransportError, CertificateError) as exc:
            error = _mapped(exc, plan, request)
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            _origin_reached.reset(token)

    def close(self) -> None:
        for inner in self._transports.take_all():
            inner.close()


class AsyncPolicyTransport(httpx.AsyncBaseTransport):
    """:class:`PolicyTransport` for ``httpx.AsyncClient`` (asyncio or trio, through anyio)."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        proxies: Proxies = "env",
        limits: httpx.Limits = DEFAULT_LIMITS,
        retries: int = 0,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> None:
        self._transports = _Transports[httpx.AsyncHTTPTransport](
            policy,
            proxies,
            httpx.AsyncHTTPTransport,
            _options(limits, retries, local_address, socket_options),
        )

    def __repr__(self) -> str:
        return f"<securehttp AsyncPolicyTransport deciding by {self._transports.deciding.label}>"

    def decide(self, url: str) -> Decision:
        """The decision a request to ``url`` would be verified by (no I/O)."""
        return self._transports.deciding.decide(split_url(url))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            plan = self._transports.plan(request)
        except SecureProxyError as exc:
            raise _refused_route(exc, request) from exc
        inner, evicted = self._transports.inner(plan)
        if evicted is not None:
            await evicted.aclose()
        token = _origin_reached.set([False])
        try:
            with connection_target(plan.target.host, plan.target.port) as attempt:
                try:
                    return await inner.handle_async_request(request)
                except httpx.ConnectError:
                    if not _report_only(attempt, plan):
                        raise
                attempt.unverified = True  # as in PolicyTransport.handle_request
                return await inner.handle_async_request(request)
        except (httpx.TransportError, CertificateError) as exc:
            error = _mapped(exc, plan, request)
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            _origin_reached.reset(token)

    async def aclose(self) -> None:
        for inner in self._transports.take_all():
            await inner.aclose()

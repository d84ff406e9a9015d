"""The client: resolves a :class:`Decision` per request and per redirect hop, and follows
redirects by SPEC §7's rules.

Each request resolves its decision (per request ``context=`` > ``policy=`` >
``Client(policy=...)`` > the process default); the transport (:mod:`._transport`) sends it
on a pool keyed by everything that decided how its connections were checked, and the
verification seam (:mod:`._verification`) supplies the contexts and the checks.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ._deadline import Timeout, Watch, watchdog
from ._exceptions import TooManyRedirects, URLError
from ._hosts import Target, redact_url, split_url, strip_userinfo
from ._model import Decision
from ._policy import Policy
from ._process import process_resolver
from ._proxies import Proxies, Route
from ._resolve import Resolver
from ._response import DEFAULT_MAX_BODY, Response
from ._routes import Routing, proxy_target
from ._transport import DEFAULT_RETRIES, Transport, discard_body
from ._verification import decision_for_context
from ._version import __version__

__all__ = ["Client"]

USER_AGENT = f"securehttp/{__version__}"
MAX_REDIRECTS = 10
MAX_ENCODINGS = 3
_POOLS = 64
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS = ("authorization", "cookie", "proxy-authorization")
_FORBIDDEN = re.compile(r"[\x00\r\n]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class Client:
    """An HTTPS client whose verification is decided by a policy.

    ``policy=None`` uses the process default (SPEC §4: files, environment, runtime switch);
    an explicit policy is taken as written.  ``timeout`` is a :class:`Timeout` or seconds
    (connect and read; the total deadline, 300 s by default, also bounds the body);
    ``retries`` is how often an idempotent request is retried after a connection error
    (never after a verification failure); ``headers`` are sent with every request;
    ``max_body`` caps a body read whole; ``tls_resumption=False`` makes every new connection
    a full handshake (a resumed TLS 1.3 session lets a server link this client's
    connections: RFC 8446 §C.4).  ``proxies`` (SPEC §9): ``"env"`` reads the proxy
    variables now, as urllib does; a mapping in ``urllib.request.getproxies()`` form
    (``{"https": url, "http": url, "no": "host,..."}``) wins over the variables and every
    policy; ``None`` always connects directly.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        timeout: float | Timeout | None = None,
        retries: int | None = None,
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
        pools: int = _POOLS,
        tls_resumption: bool = True,
        proxies: Proxies = "env",
    ) -> None:
        self._resolver: Resolver | None = policy.resolver() if policy is not None else None
        self._routing = Routing(proxies)
        self._timeout = Timeout.coerce(timeout)
        self._headers = _merge_headers({"User-Agent": USER_AGENT}, headers)
        _check_headers(self._headers)
        self._max_body = DEFAULT_MAX_BODY if max_body is None else max_body
        self._transport = Transport(
            self._timeout,
            DEFAULT_RETRIES if retries is None else retries,
            pools,
            tls_resumption=tls_resumption,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self._transport.close()

    def __repr__(self) -> str:
        return f"<securehttp.Client pools={len(self._transport)}>"

    # convenience verbs
    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, body: bytes | str | None = None, **kwargs: Any) -> Response:
        return self.request("POST", url, body=body, **kwargs)

    def put(self, url: str, body: bytes | str | None = None, **kwargs: Any) -> Response:
        return self.request("PUT", url, body=body, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def urlopen(
        self,
        url: Any,
        data: bytes | None = None,
        timeout: float | Timeout | None = None,
        *,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
    ) -> Response:
        """urllib's ``urlopen`` on this client: non-2xx raises :class:`HTTPError`."""
        from ._urllib_compat import open_with

        return open_with(self, url, data, timeout, context=context, policy=policy)

    def decide(
        self, url: str, *, policy: Policy | None = None, context: ssl.SSLContext | None = None
    ) -> Decision:
        """The decision a request to ``url`` would use, its ``proxy`` the route (no I/O)."""
        return self._route(split_url(url), policy, context)[0]

    def request(
        self,
        method: str,
        url: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """Send one request (following redirects, each hop resolved again) and return the
        response, whatever its status.  ``timeout``'s total covers every hop and the body."""
        method = method.upper()
        if not _TOKEN.match(method):
            raise ValueError(f"invalid HTTP method {method!r}")
        merged = _merge_headers(self._headers, headers)
        _check_headers(merged)
        data = body.encode("utf-8") if isinstance(body, str) else body
        limits = Timeout.coerce(timeout, self._timeout)
        watch = watchdog.start(limits.total)
        try:
            return self._follow(method, url, data, merged, limits, watch, context, policy, redirect)
        except BaseException:
            watchdog.cancel(watch)
            raise

    def _follow(
        self,
        method: str,
        url: str,
        data: bytes | None,
        merged: dict[str, str],
        limits: Timeout,
        watch: Watch,
        context: ssl.SSLContext | None,
        policy: Policy | None,
        redirect: bool,
    ) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            if _FORBIDDEN.search(url):
                raise ValueError("URL contains CR, LF or NUL")
            target = split_url(url)
            decision, route, proxy_decision = self._route(target, policy, context)
            raw = self._transport.send(
                target,
                url,
                method,
                data,
                merged,
                limits,
                watch,
                decision,
                context,
                route,
                proxy_decision,
            )
            encodings = raw.headers.get("Content-Encoding", "")
            if encodings.count(",") >= MAX_ENCODINGS:
                # Each layer can multiply the size: refuse deep stacks before decoding any.
                raw.close()
                raw.release_conn()
                raise URLError(
                    f"{redact_url(url)}: more than {MAX_ENCODINGS} stacked Content-Encodings"
                )
            location = raw.headers.get("Location")
            if not (redirect and raw.status in _REDIRECTS and location):
                return Response(raw, strip_userinfo(url), decision, self._max_body, watch)
            discard_body(raw)
            next_url, next_target = _redirect_target(url, location)
            if (
                target.scheme == "https"
                and next_target.scheme == "http"
                and not decision.allow_https_to_http_redirect
            ):
                raise URLError(
                    f"refused redirect from {redact_url(url)} to {redact_url(next_url)}: "
                    "https to http would send the "
                    "request in clear text (allow it per host with "
                    "allow_https_to_http_redirect: true)"
                )
            if (next_target.scheme, next_target.host, next_target.port) != (
                target.scheme,
                target.host,
                target.port,
            ):
                merged = {k: v for k, v in merged.items() if k.lower() not in _CREDENTIALS}
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, data = ("GET" if method != "HEAD" else "HEAD"), None
                merged = {
                    k: v
                    for k, v in merged.items()
                    if k.lower() not in ("content-length", "content-type")
                }
            url = next_url
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects, last to {redact_url(url)}")

    # internals ------------------------------------------------------------------------------

    def _route(
        self, target: Target, policy: Policy | None, context: ssl.SSLContext | None
    ) -> tuple[Decision, Route, Decision | None]:
        """The decision (showing the route), the route, and the decision that verifies an
        ``https://`` proxy - resolved by the same policy as the origin."""
        resolver = self._resolver_for(policy)
        policy_decision = resolver.resolve_target(target)
        decision = policy_decision if context is None else decision_for_context(context)
        decision, route = self._routing.apply(
            target,
            decision,
            policy_decision,
            from_code=policy is not None or self._resolver is not None,
        )
        proxy = route.proxy
        proxy_decision = None
        if proxy is not None and proxy.scheme == "https":
            proxy_decision = resolver.resolve_target(proxy_target(proxy))
        return decision, route, proxy_decision

    def _resolver_for(self, policy: Policy | None) -> Resolver:
        if policy is not None:
            return policy.resolver()
        return self._resolver if self._resolver is not None else process_resolver()


def _merge_headers(base: dict[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    """``base`` with ``extra`` over it; names compare without case (one ``User-Agent``)."""
    if not extra:
        return dict(base)
    given = {name.lower() for name in extra}
    merged = {name: value for name, value in base.items() if name.lower() not in given}
    merged.update(extra)
    return merged


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if _FORBIDDEN.search(value):
            # The value itself is not shown: it may be a credential.
            raise ValueError(f"header {name!r} contains CR, LF or NUL")


def _redirect_target(url: str, location: str) -> tuple[str, Target]:
    """Where a redirect leads.  The server chose this URL, not the caller: anything that
    cannot be followed (a malformed IPv6 literal, a control character, an unsupported
    scheme, a bad port or name) is a refused redirect, and nothing is sent."""
    try:
        if _FORBIDDEN.search(location):
            raise ValueError("the Location contains CR, LF or NUL")
        next_url = urllib.parse.urljoin(url, location)
        return next_url, split_url(next_url)
    except (ValueError, UnicodeError) as exc:
        raise URLError(f"refused redirect from {redact_url(url)}: {exc}") from None

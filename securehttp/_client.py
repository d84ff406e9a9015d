"""The client: resolves a :class:`Decision` per request and per redirect hop, and follows
redirects by SPEC §7's rules.

Each request resolves its decision (per request ``context=`` > ``policy=`` >
``Client(policy=...)`` > the process default); the transport (:mod:`._transport`) sends it
on a pool keyed by everything that decided how its connections were checked, and the
verification seam (:mod:`._verification`) supplies the contexts and the checks.  What one
call sends (its keywords made into a method, URL, headers and body) is :mod:`._request`'s.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._cookies import Cookies, Hop, cookie_jar
from ._deadline import Timeout, Watch, watchdog
from ._exceptions import TooManyRedirects, URLError
from ._hosts import Target, redact_url, split_url, strip_userinfo
from ._model import Decision
from ._policy import Policy
from ._process import process_resolver
from ._proxies import Proxies, Route
from ._request import (
    FORBIDDEN,
    JSON,
    Auth,
    Body,
    Outgoing,
    Params,
    Stream,
    check_auth,
    check_headers,
    prepare,
)
from ._resolve import Resolver
from ._response import DEFAULT_MAX_BODY, Response
from ._routes import Routing, proxy_target
from ._transport import DEFAULT_RETRIES, Transport, discard_body
from ._verbs import Verbs
from ._verification import decision_for_context

if TYPE_CHECKING:
    import http.cookiejar

__all__ = ["Client"]

MAX_REDIRECTS = 10
MAX_ENCODINGS = 3
_POOLS = 64
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS = ("authorization", "cookie", "proxy-authorization")
_BODY_HEADERS = ("content-length", "content-type", "transfer-encoding")


class Client(Verbs):
    """An HTTPS client whose verification is decided by a policy.

    ``policy=None`` uses the process default (SPEC §4: files, environment, runtime switch);
    an explicit policy is taken as written.  ``timeout`` is a :class:`Timeout` or seconds
    (connect and read; the total deadline, 300 s by default, also bounds the body);
    ``retries`` is how often an idempotent request is retried after a connection error
    (never after a verification failure, never once a one-shot body was partly sent);
    ``headers`` are sent with every request (``User-Agent`` is ``securehttp/<version>``
    unless they say otherwise); ``max_body`` caps a body read whole.  ``proxies``
    (SPEC §9): ``"env"`` reads the proxy variables now, as urllib does; a mapping in
    ``urllib.request.getproxies()`` form (``{"https": url, "http": url, "no": "host,..."}``)
    wins over the variables and every policy; ``None`` always connects directly.
    ``auth=(user, password)`` is Basic authentication for every request, sent to the origin
    each request names and never across a redirect to another scheme, host or port;
    ``cookies=True`` (or an ``http.cookiejar.CookieJar``) keeps cookies by the jar's rules.
    ``pool_size`` is how many connections each pool keeps; ``pools`` how many pools.
    ``tls_resumption=False`` makes every new connection a full handshake (a resumed TLS 1.3
    session lets a server link this client's connections: RFC 8446 §C.4).
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        timeout: float | Timeout | None = None,
        retries: int | None = None,
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
        proxies: Proxies = "env",
        auth: Auth | None = None,
        cookies: bool | http.cookiejar.CookieJar | None = None,
        pool_size: int = 10,
        pools: int = _POOLS,
        tls_resumption: bool = True,
    ) -> None:
        _check_policy(policy, "Client(policy=...)")
        _check_timeout(timeout, "Client(timeout=...)")
        _check_count(retries, "retries", 0, allow_none=True)
        _check_count(max_body, "max_body", 0, allow_none=True)
        _check_count(pool_size, "pool_size", 1)
        _check_count(pools, "pools", 1)
        if headers is not None:
            check_headers(headers, "Client(headers=...)")
        if auth is not None:
            check_auth(auth)
        if not isinstance(tls_resumption, bool):
            raise TypeError("Client(tls_resumption=...) takes True or False")
        jar = cookie_jar(cookies)
        self._resolver: Resolver | None = policy.resolver() if policy is not None else None
        self._routing = Routing(proxies)
        self._timeout = Timeout.coerce(timeout)
        self._headers = dict(headers or {})
        self._auth: Auth | None = (auth[0], auth[1]) if auth is not None else None
        self._cookies = Cookies(jar) if jar is not None else None
        self._max_body = DEFAULT_MAX_BODY if max_body is None else max_body
        self._transport = Transport(
            self._timeout,
            DEFAULT_RETRIES if retries is None else retries,
            pools,
            pool_size,
            tls_resumption=tls_resumption,
        )

    @property
    def cookies(self) -> http.cookiejar.CookieJar | None:
        """The cookie jar (``None`` unless ``cookies=`` asked for one)."""
        return self._cookies.jar if self._cookies is not None else None

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
        *,
        params: Params | None = None,
        body: Body | None = None,
        json: JSON = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """Send one request (following redirects, each hop resolved again) and return the
        response, whatever its status.

        ``params`` (a mapping or pairs) are added to the URL's query; ``body`` is bytes, str
        (sent as UTF-8), a binary file or an iterable of bytes (streamed; chunked unless its
        length is known); ``json`` is serialised with ``Content-Type: application/json``;
        ``auth=(user, password)`` is Basic, as is the URL's userinfo.  ``timeout``'s total
        covers every hop and the body.
        """
        _check_timeout(timeout, "timeout")
        _check_policy(policy, "policy")
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise TypeError(f"context= takes an ssl.SSLContext, not {type(context).__name__}")
        outgoing = prepare(
            method,
            url,
            params=params,
            body=body,
            json=json,
            headers=headers,
            auth=auth,
            client_headers=self._headers,
            client_auth=self._auth,
        )
        limits = Timeout.coerce(timeout, self._timeout)
        watch = watchdog.start(limits.total)
        try:
            return self._follow(outgoing, limits, watch, context, policy, redirect)
        except BaseException:
            watchdog.cancel(watch)
            raise

    def _follow(
        self,
        outgoing: Outgoing,
        limits: Timeout,
        watch: Watch,
        context: ssl.SSLContext | None,
        policy: Policy | None,
        redirect: bool,
    ) -> Response:
        method, url, target = outgoing.method, outgoing.url, outgoing.target
        headers, body = outgoing.headers, outgoing.body
        first: Hop | None = None
        for _ in range(MAX_REDIRECTS + 1):
            decision, route, proxy_decision = self._route(target, policy, context)
            sent, hop = headers, None
            if self._cookies is not None:
                # The jar's cookies are asked for on every hop, by its own rules; the
                # carried headers hold only what the caller set by hand.
                hop = self._cookies.hop(url, headers, first)
                sent = {**headers, **self._cookies.add(hop)}
                first = first or hop
            try:
                raw = self._transport.send(
                    target,
                    url,
                    method,
                    body,
                    sent,
                    limits,
                    watch,
                    decision,
                    context,
                    route,
                    proxy_decision,
                )
            except Exception:
                if isinstance(body, Stream) and body.failure is not None:
                    raise body.failure from None  # the caller's own file or generator failed
                raise
            if hop is not None and self._cookies is not None:
                self._cookies.extract(
                    hop,
                    {name: raw.headers.getlist(name) for name in ("Set-Cookie", "Set-Cookie2")},
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
                return Response(raw, url, decision, self._max_body, watch)
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
                # Credentials belong to the origin they were given for; once the chain
                # leaves it they are gone for good (a redirect back does not restore them).
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = ("GET" if method != "HEAD" else "HEAD"), None
                headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
            elif isinstance(body, Stream) and not body.rewind():
                raise URLError(
                    f"cannot follow the {raw.status} redirect from {redact_url(url)} to "
                    f"{redact_url(next_url)}: it asks for the request body again, and the "
                    "body was a one-shot stream (a generator or pipe) already sent; pass "
                    "bytes, a seekable file or a list to allow it"
                )
            url, target = next_url, next_target
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


def _check_policy(policy: object, where: str) -> None:
    if policy is not None and not isinstance(policy, Policy):
        raise TypeError(
            f"{where} takes a securehttp.Policy (securehttp.load_policy(path) reads a file), "
            f"not {type(policy).__name__}"
        )


def _check_timeout(timeout: object, where: str) -> None:
    if timeout is None or isinstance(timeout, Timeout):
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"{where} takes seconds or a securehttp.Timeout, not {type(timeout).__name__}"
        )
    Timeout(connect=timeout, read=timeout)  # finite and above 0, or a ValueError


def _check_count(value: object, name: str, least: int, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Client({name}=...) takes a whole number, not {type(value).__name__}")
    if value < least:
        raise ValueError(f"Client({name}=...) must be {least} or more, not {value}")


def _redirect_target(url: str, location: str) -> tuple[str, Target]:
    """Where a redirect leads.  The server chose this URL, not the caller: anything that
    cannot be followed (a malformed IPv6 literal, a control character, an unsupported
    scheme, a bad port or name) is a refused redirect, and nothing is sent."""
    try:
        if FORBIDDEN.search(location):
            raise ValueError("the Location contains CR, LF or NUL")
        # Userinfo in a Location is the server's choice, never sent as credentials.
        next_url = strip_userinfo(urllib.parse.urljoin(url, location))
        return next_url, split_url(next_url)
    except (ValueError, UnicodeError) as exc:
        raise URLError(f"refused redirect from {redact_url(url)}: {exc}") from None

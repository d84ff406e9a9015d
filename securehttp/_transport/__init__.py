"""The transport: the only code that imports urllib3.

It hands urllib3 only ``ssl_context=`` per pool, and keys pools by everything that decided
how their connections were checked - host, port, the context object, the report-only fallback
context, the pins, the level and the proxy route (:mod:`.proxy`) - so a request never rides
on a connection opened or checked under other settings (requests' CVE-2024-35195).
Verification itself (contexts, pins, the report-only record) comes from
:mod:`securehttp._verification`, the one seam.
"""

from __future__ import annotations

import functools
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Protocol

import urllib3
from urllib3.connectionpool import HTTPConnectionPool

from .._deadline import Timeout, Watch
from .._exceptions import CertificateError, TimeoutError, URLError
from .._hosts import Target, redact_url
from .._model import Decision
from .._proxies import ProxyURL, Route
from .._verification import ConnectionCheck, contexts_for
from .errors import is_connection_error, translate
from .pools import HTTPPool, HTTPSPool, Pools, current_watch
from .proxy import forwarding_url, proxy_failure, proxy_pool, split_proxy_authorization

__all__ = ["DEFAULT_RETRIES", "Transport", "discard_body"]

DEFAULT_RETRIES = 2
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class Streamed(Protocol):
    """A request body sent as it is read (``securehttp._request.Stream``)."""

    def __iter__(self) -> Iterator[bytes]: ...

    def rewind(self) -> bool:
        """Make it ready to be sent again; False when it cannot be (a generator once
        started): the request is then never retried."""


class Transport:
    """Pools and the sending of one request (with retries of idempotent methods)."""

    def __init__(
        self,
        timeout: Timeout,
        retries: int,
        pools: int,
        pool_size: int = 10,
        *,
        tls_resumption: bool = True,
    ) -> None:
        self._timeout = timeout
        self._retries = retries
        self._pools = Pools(pools)
        self._pool_size = pool_size
        self._resume = tls_resumption

    def __len__(self) -> int:
        return len(self._pools)

    def close(self) -> None:
        self._pools.close()

    def pool(
        self,
        target: Target,
        decision: Decision,
        context: ssl.SSLContext | None,
        proxy: ProxyURL | None = None,
        proxy_decision: Decision | None = None,
        authorization: str | None = None,
    ) -> HTTPConnectionPool:
        host = target.host
        # Each request passes its own timeouts; the pool's default is only a fallback.
        timeout = _plain_timeout(self._timeout.connect, self._timeout.read)
        if proxy is not None:
            return proxy_pool(
                self._pools,
                target,
                decision,
                context,
                proxy,
                proxy_decision,
                authorization,
                resume=self._resume,
                timeout=timeout,
                maxsize=self._pool_size,
                retries=False,
            )
        if target.scheme == "http":
            return self._pools.get(
                ("http", host, target.port),
                lambda: HTTPPool(
                    host, target.port, timeout=timeout, maxsize=self._pool_size, retries=False
                ),
            )
        ctx, fallback = contexts_for(decision, context)
        key = ("https", host, target.port, ctx, fallback, decision.pins, decision.verify)
        return self._pools.get(
            key,
            lambda: HTTPSPool(
                host,
                target.port,
                check=ConnectionCheck(
                    host,
                    target.port,
                    decision,
                    user_context=context is not None,
                    is_ip=target.is_ip,
                ),
                timeout=timeout,
                maxsize=self._pool_size,
                retries=False,
                ssl_context=ctx,
                securehttp_fallback=fallback,
                securehttp_resume=self._resume,
            ),
        )

    def send(
        self,
        target: Target,
        url: str,
        method: str,
        data: bytes | Streamed | None,
        headers: dict[str, str],
        limits: Timeout,
        watch: Watch,
        decision: Decision,
        context: ssl.SSLContext | None,
        route: Route | None = None,
        proxy_decision: Decision | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; ``route`` says whether through a proxy (None: direct), and
        ``proxy_decision`` verifies an ``https://`` proxy."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        proxy = None if route is None else route.require()
        authorization = None
        if proxy is not None or "proxy-authorization" in map(str.lower, headers):
            # Proxy-Authorization goes to a proxy only: never to an origin, in or out of a tunnel.
            headers, authorization = split_proxy_authorization(headers)
        if proxy is not None:
            authorization = authorization or proxy.authorization()
            if target.scheme == "http":
                path = forwarding_url(url, path)
                if authorization:
                    headers["Proxy-Authorization"] = authorization
                authorization = None
        attempts = 1 + (self._retries if method in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            remaining = watch.remaining()
            if remaining <= 0:
                raise TimeoutError(
                    f"{redact_url(url)}: the total deadline of {limits.total:g}s passed"
                )
            request_timeout = _urllib3_timeout(limits, remaining)
            pool = self.pool(target, decision, context, proxy, proxy_decision, authorization)
            current_watch.watch = watch
            watch.limits = limits  # so that a timeout reading the body can name its limit
            try:
                return pool.urlopen(
                    method,
                    path,
                    body=data,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=True,
                    timeout=request_timeout,
                )
            except Exception as exc:
                if watch.fired:
                    raise TimeoutError(
                        f"{redact_url(url)}: the total deadline of {limits.total:g}s passed"
                    ) from exc
                if proxy is None:
                    # Direct: a name mismatch may take a second, unverified look at the
                    # certificate to name what it covers (through a proxy it would not).
                    error = translate(
                        exc,
                        url,
                        target,
                        decision,
                        limits=limits,
                        remaining=remaining,
                        look_again=True,
                    )
                else:
                    error = proxy_failure(exc, url, target, decision, proxy, proxy_decision)
                if isinstance(error, TimeoutError) and watch.expired():
                    # A socket timeout cut to what was left of the total deadline can beat the
                    # watchdog to it: the deadline is still what ran out.
                    raise TimeoutError(
                        f"{redact_url(url)}: the total deadline of {limits.total:g}s passed"
                    ) from exc
                retryable = (
                    isinstance(error, URLError)
                    and not isinstance(error, (CertificateError, TimeoutError))
                    and is_connection_error(exc)
                )
                if not retryable or attempt + 1 == attempts or not _rewound(data):
                    raise error from exc
            finally:
                current_watch.watch = None
        raise AssertionError("unreachable")  # pragma: no cover


def _rewound(data: bytes | Streamed | None) -> bool:
    return data is None or isinstance(data, bytes) or data.rewind()


@functools.lru_cache(maxsize=64)
def _plain_timeout(connect: float, read: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=connect, read=read)


def _urllib3_timeout(limits: Timeout, remaining: float) -> urllib3.Timeout:
    """Per-operation timeouts, never beyond what is left of the total deadline."""
    if remaining >= limits.connect and remaining >= limits.read:
        return _plain_timeout(limits.connect, limits.read)  # the common case, built once
    return urllib3.Timeout(connect=min(limits.connect, remaining), read=min(limits.read, remaining))


def discard_body(raw: urllib3.BaseHTTPResponse) -> None:
    """Free a redirect's connection without decoding its body (CVE-2026-21441: a compressed
    bomb in a 3xx body must not be inflated); a large or unknown body closes the connection."""
    length = raw.headers.get("Content-Length", "")
    # Not chunked: beside Transfer-Encoding: chunked, a Content-Length bounds nothing.
    if raw.length_remaining is not None and length.isdigit() and int(length) <= 65536:
        try:
            raw.read(decode_content=False)  # bounded by the small announced length
        except Exception:  # unreadable: close it instead of returning it to the pool
            raw.close()
    else:
        raw.close()
    raw.release_conn()

"""The proxy path (SPEC §9): CONNECT tunnels and absolute-form requests on securehttp's pools.

- ``https://`` origins go through a CONNECT tunnel; the origin's TLS runs end to end inside
  it, verified by the origin's own Decision exactly as without a proxy (the pool's context,
  pins and report-only record are the origin's).
- ``http://`` origins are sent to the proxy in absolute form, on a pool to the proxy.
- An ``https://`` proxy is itself verified by the Decision resolved for its host and port:
  its sealed context, its pins and its report-only fallback, checked right after the proxy
  handshake and before the CONNECT line (which may carry credentials) is sent.
- ``Proxy-Authorization`` goes to the proxy only: in the CONNECT request for a tunnel, on
  the request itself when the proxy forwards it, and nowhere on a direct connection.

Pool keys carry the proxy (credentials included), the credentials sent and the proxy's
verification, beside everything the origin's key has: a direct and a proxied connection, or
connections through two proxies or as two proxy users, never share a pool.
"""

from __future__ import annotations

import builtins
import re
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from urllib3._base_connection import ProxyConfig as Urllib3ProxyConfig
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.util.url import Url

from .._exceptions import (
    CertificateError,
    ProxyCertificateError,
    ProxyError,
    SecureHTTPError,
    TimeoutError,
    URLError,
)
from .._hosts import Target
from .._model import Decision
from .._proxies import ProxyURL
from .._routes import proxy_target
from .._verification import ConnectionCheck, contexts_for
from .errors import translate
from .pools import Connection, HTTPPool, HTTPSPool, Pools

__all__ = ["proxy_failure", "proxy_pool", "split_proxy_authorization"]

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class ProxyConnection(Connection):
    """A connection through a CONNECT tunnel: an ``https://`` proxy's own TLS is checked
    before the CONNECT line is sent, and a refused CONNECT is a :class:`ProxyError`."""

    def __init__(
        self,
        *args: Any,
        securehttp_proxy_check: ConnectionCheck | None = None,
        securehttp_proxy_fallback: ssl.SSLContext | None = None,
        securehttp_proxy_shown: str = "the proxy",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._proxy_check = securehttp_proxy_check
        self._proxy_fallback = securehttp_proxy_fallback
        self._proxy_shown = securehttp_proxy_shown

    def _connect_tls_proxy(self, hostname: str, sock: socket.socket) -> ssl.SSLSocket:
        check = self._proxy_check
        if check is None:  # pragma: no cover - every https:// proxy pool is given its check
            raise ProxyError(f"{self._proxy_shown}: no verification for the proxy")
        failure: str | None = None
        try:
            tls = super()._connect_tls_proxy(hostname, sock)
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            if self._proxy_fallback is None:
                raise _certificate_error(check, reason, _PROXY_HINT, exc) from None
            # Report-only for the proxy's host: the failed handshake used up the connection.
            sock.close()
            config = self.proxy_config
            assert config is not None
            self.proxy_config = config._replace(ssl_context=self._proxy_fallback)
            try:
                tls = super()._connect_tls_proxy(hostname, self._new_conn())
            finally:
                self.proxy_config = config
            failure = reason
        try:
            check(tls, bool(self.proxy_is_verified), failure)
        except CertificateError as exc:
            tls.close()
            raise _certificate_error(check, exc.verify_reason, exc.hint) from None
        return tls

    def _tunnel(self) -> None:
        # http.client closes the connection before it raises, which forgets the tunnel.
        where = f"{self._tunnel_host}:{self._tunnel_port}"
        try:
            super()._tunnel()
        except (builtins.TimeoutError, SecureHTTPError):
            raise
        except OSError as exc:
            # "Tunnel connection failed: 407 Proxy Authentication Required": the status line is
            # the proxy's text, shown printable and short.
            said = _UNPRINTABLE.sub("?", str(exc))[:200]
            raise ProxyError(
                f"{self._proxy_shown} refused the tunnel to {where}: {said}", cause=exc
            ) from None


class TunnelPool(HTTPSPool):
    ConnectionCls = ProxyConnection


_PROXY_HINT = (
    "an https:// proxy is verified by the policy for its own host and port: trust its CA "
    "there (extra_ca) or fix its certificate"
)


def _certificate_error(
    check: ConnectionCheck | CertificateError,
    reason: str,
    hint: str,
    cause: BaseException | None = None,
) -> ProxyCertificateError:
    error = ProxyCertificateError(
        check.host, check.port, f"the https:// proxy's certificate: {reason}", check.decision, hint
    )
    if cause is not None:
        error.reason = cause
    return error


def proxy_pool(
    pools: Pools,
    target: Target,
    decision: Decision,
    context: ssl.SSLContext | None,
    proxy: ProxyURL,
    proxy_decision: Decision | None,
    authorization: str | None,
    *,
    resume: bool,
    **pool_kwargs: Any,
) -> HTTPConnectionPool:
    """The pool for a request to ``target`` through ``proxy``.

    ``proxy_decision`` verifies an ``https://`` proxy; ``authorization`` is the
    ``Proxy-Authorization`` a tunnel's CONNECT carries (it keys the pool: a tunnel opened as
    one proxy user never serves another).
    """
    proxy_tls: tuple[object, ...] = ()
    proxy_context = proxy_fallback = None
    proxy_check = None
    if proxy.scheme == "https":
        if proxy_decision is None:
            raise ProxyError(f"the proxy {proxy.display}: no decision to verify it by")
        proxy_context, proxy_fallback = contexts_for(proxy_decision)
        proxy_check = ConnectionCheck(
            proxy.host,
            proxy.port,
            proxy_decision,
            user_context=False,
            is_ip=proxy_target(proxy).is_ip,
        )
        proxy_tls = (proxy_context, proxy_fallback, proxy_decision.pins, proxy_decision.verify)
    if target.scheme == "http":
        # Absolute form on a pool to the proxy: the proxy is the only peer of this pool.
        key = ("forward", proxy, *proxy_tls)
        if proxy_check is None:
            return pools.get(key, lambda: HTTPPool(proxy.host, proxy.port, **pool_kwargs))
        return pools.get(
            key,
            lambda: HTTPSPool(
                proxy.host,
                proxy.port,
                check=proxy_check,
                ssl_context=proxy_context,
                securehttp_fallback=proxy_fallback,
                securehttp_resume=resume,
                **pool_kwargs,
            ),
        )
    ctx, fallback = contexts_for(decision, context)
    key = (
        "tunnel",
        proxy,
        authorization,
        *proxy_tls,
        target.host,
        target.port,
        ctx,
        fallback,
        decision.pins,
        decision.verify,
    )
    headers = {"Proxy-Authorization": authorization} if authorization else {}
    return pools.get(
        key,
        lambda: TunnelPool(
            target.host,
            target.port,
            check=ConnectionCheck(
                target.host,
                target.port,
                decision,
                user_context=context is not None,
                is_ip=target.is_ip,
            ),
            ssl_context=ctx,
            securehttp_fallback=fallback,
            securehttp_resume=resume,
            _proxy=Url(scheme=proxy.scheme, host=proxy.host, port=proxy.port),
            _proxy_headers=headers,
            _proxy_config=Urllib3ProxyConfig(proxy_context, False, None, None),
            # urllib3 turns Nagle's algorithm on for proxies; the direct path keeps it off,
            # and so does this one (small writes would otherwise wait for delayed ACKs).
            socket_options=HTTPConnection.default_socket_options,
            securehttp_proxy_check=proxy_check,
            securehttp_proxy_fallback=proxy_fallback,
            securehttp_proxy_shown=f"the proxy {proxy.display}",
            **pool_kwargs,
        ),
    )


def split_proxy_authorization(headers: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The headers without ``Proxy-Authorization`` (in any case), and its value."""
    found: str | None = None
    rest: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() == "proxy-authorization":
            found = value
        else:
            rest[name] = value
    return rest, found


def forwarding_url(url: str, path: str) -> str:
    """The absolute-form request target for a proxy: the URL without userinfo or fragment."""
    scheme, _, rest = url.partition("://")
    authority = re.split("[/?#]", rest, maxsplit=1)[0]
    return f"{scheme.lower()}://{authority.rpartition('@')[2]}{path}"


def proxy_failure(
    exc: BaseException,
    url: str,
    target: Target,
    decision: Decision,
    proxy: ProxyURL,
    proxy_decision: Decision | None,
) -> Exception:
    """securehttp's error for a request through ``proxy`` that failed with ``exc``."""
    shown = f"the proxy {proxy.display}"
    if isinstance(exc, Urllib3ProxyError):
        # urllib3's word for "before the tunnel was up": the proxy itself failed.
        inner = exc.original_error
        if isinstance(inner, SecureHTTPError) and isinstance(inner, Exception):
            return inner
        return _as_proxy_error(translate(inner, url, proxy_target(proxy), proxy_decision), shown)
    if target.scheme == "http":
        # Forwarded: every connection of this request is to the proxy.
        return _as_proxy_error(translate(exc, url, proxy_target(proxy), proxy_decision), shown)
    return translate(exc, url, target, decision)


def _as_proxy_error(error: Exception, shown: str) -> Exception:
    if isinstance(error, (ProxyError, TimeoutError)):
        return error
    if isinstance(error, CertificateError):
        return _certificate_error(error, error.verify_reason, error.hint, _underlying(error))
    if isinstance(error, URLError):
        return ProxyError(f"{shown}: {error}", cause=_underlying(error))
    return error


def _underlying(error: URLError) -> BaseException | None:
    reason = error.reason
    return reason if isinstance(reason, BaseException) else None

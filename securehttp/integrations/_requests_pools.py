"""urllib3 pools for :mod:`securehttp.integrations.requests`: keyed and checked by the policy.

requests hands urllib3 a pool key built from ``verify``/``cert`` only, and writes CA and
client-certificate files on the pool, which urllib3 then loads *into the context it was
given* (finding 0.1 of the migration research: one private CA became 145 after a request).
Here a pool is keyed by everything that decided how its connections are checked - the
sealed context, the report-only fallback, the whole Decision (pins, level, sources) and an
``https://`` proxy's own Decision - and its connections are checked by the verification
seam's :class:`~securehttp._verification.ConnectionCheck` after the handshake and before the
first request byte, as the client's own pools are.
"""

from __future__ import annotations

import collections
import functools
import ssl
from typing import Any, NamedTuple

from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.poolmanager import PoolKey, PoolManager, _default_key_normalizer

from .._hosts import normalize_host
from .._model import Decision
from .._transport.pools import Connection
from .._verification import ConnectionCheck

__all__ = ["Governance", "govern"]


class Governance(NamedTuple):
    """What decided a pool's checks; the ``securehttp`` part of its pool key.

    ``decision`` is None for a pool whose only TLS is to an ``https://`` proxy (a plain
    ``http://`` request forwarded through it): the proxy's context checks that handshake.
    """

    decision: Decision | None
    fallback: ssl.SSLContext | None
    proxy_decision: Decision | None


# urllib3's pool key, plus what decided the pool's checks (urllib3 builds keys by field name).
GovernedPoolKey = collections.namedtuple(  # type: ignore[misc]
    "GovernedPoolKey", [*PoolKey._fields, "key_securehttp"]
)


class GovernedConnection(Connection):
    """The client's connection (report-only fallback), plus an ``https://`` proxy leg that is
    always verified: urllib3 hands the proxy's context the *origin's* ``cert_reqs``, so a
    request's ``verify=False`` would otherwise try to switch the proxy's check off too."""

    def _connect_tls_proxy(self, hostname: str, sock: Any) -> Any:
        origin = self.cert_reqs
        self.cert_reqs = ssl.CERT_REQUIRED
        try:
            return super()._connect_tls_proxy(hostname, sock)
        finally:
            self.cert_reqs = origin


class GovernedPool(HTTPSConnectionPool):
    ConnectionCls = GovernedConnection

    def __init__(self, host: str, port: int, *, securehttp: Governance, **kwargs: Any) -> None:
        super().__init__(host, port, securehttp_fallback=securehttp.fallback, **kwargs)
        decision = securehttp.decision
        self._check: ConnectionCheck | None = None
        if decision is not None:
            name, is_ip = normalize_host(host)
            self._check = ConnectionCheck(name, port or 443, decision, False, is_ip)

    def _validate_conn(self, conn: Any) -> None:
        # Replaces urllib3's (which warns on every unverified request): the seam warns once
        # per host and reason, naming the setting's source, and checks pins - after the
        # handshake, before the first request byte.
        if conn.is_closed:
            conn.connect()
        if self._check is not None and not conn.securehttp_checked:
            # Inside an https:// proxy's TLS the origin's TLS is urllib3's SSLTransport,
            # whose SSLObject is what the check reads.
            sock = getattr(conn.sock, "sslobj", conn.sock)
            self._check(sock, conn.is_verified, conn.securehttp_failure)
            conn.securehttp_checked = True


_key: Any = functools.partial(_default_key_normalizer, GovernedPoolKey)  # type: ignore[arg-type]


def govern(manager: PoolManager) -> PoolManager:
    """Make ``manager`` (a PoolManager, ProxyManager or SOCKSProxyManager) key its HTTPS pools
    by a :class:`Governance` and build :class:`GovernedPool` s."""
    pool = GovernedPool
    if type(manager).__name__ == "SOCKSProxyManager":
        pool = _socks_pool()  # requests' SOCKS support (PySocks): the origin's TLS is ours
    manager.key_fn_by_scheme = {**manager.key_fn_by_scheme, "https": _key}
    manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": pool}
    return manager


@functools.cache
def _socks_pool() -> type[GovernedPool]:
    from urllib3.contrib.socks import SOCKSConnection  # needs PySocks: only when in use

    class GovernedSOCKSConnection(SOCKSConnection, GovernedConnection):
        pass

    class GovernedSOCKSPool(GovernedPool):
        ConnectionCls = GovernedSOCKSConnection  # type: ignore[assignment]

    return GovernedSOCKSPool

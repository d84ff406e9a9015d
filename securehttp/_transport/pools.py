"""urllib3 connection pools: report-only fallback on the connection, the verification seam's
check before the first request byte, deadlines attached, and a bounded set of pools."""

from __future__ import annotations

import collections
import ssl
import threading
from collections.abc import Callable
from typing import Any

from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .._deadline import Watch, watchdog
from .._exceptions import TimeoutError
from .._verification.checks import ConnectionCheck
from .._verification.sessions import keep, resumption

__all__ = ["HTTPPool", "HTTPSPool", "Pools", "current_watch"]


class Connection(HTTPSConnection):
    """An HTTPS connection that, in report-only mode, falls back to an unverified handshake
    when strict verification fails, and remembers why."""

    def __init__(
        self,
        *args: Any,
        securehttp_fallback: ssl.SSLContext | None = None,
        securehttp_resume: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._fallback = securehttp_fallback
        self._resume = securehttp_resume
        self.securehttp_failure: str | None = None
        self.securehttp_checked = False

    def connect(self) -> None:
        resumption.enabled = self._resume
        try:
            self._connect()
        finally:
            resumption.enabled = True

    def getresponse(self) -> Any:
        # http.client lets go of the socket when the server says "Connection: close": take
        # it first.  A TLS 1.3 ticket arrives after the handshake, so the session is
        # complete only once the response headers are in.
        sock = self.sock
        response = super().getresponse()
        if self._resume:
            keep(sock)
        return response

    def _connect(self) -> None:
        self.securehttp_checked = False
        self.securehttp_failure = None
        if self._fallback is None:
            super().connect()
            return
        try:
            super().connect()
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            tunnel = (self._tunnel_host, self._tunnel_port, getattr(self, "_tunnel_headers", None))
            scheme = self._tunnel_scheme or "http"
            self.close()
            if tunnel[0] is not None:
                # close() forgets the CONNECT tunnel: the fallback must take the same route.
                self.set_tunnel(tunnel[0], tunnel[1], tunnel[2], scheme=scheme)
            strict = (self.ssl_context, self.cert_reqs)
            # cert_reqs must follow the context, or urllib3 would set CERT_REQUIRED on it.
            self.ssl_context, self.cert_reqs = self._fallback, ssl.CERT_NONE
            try:
                super().connect()
            finally:
                self.ssl_context, self.cert_reqs = strict
            self.securehttp_failure = reason


current_watch = threading.local()


def _watched(conn: Any) -> Any:
    """Attach the calling request's deadline to the connection it is about to use."""
    watch: Watch | None = getattr(current_watch, "watch", None)
    if watch is not None:
        if watch.expired():
            raise TimeoutError(f"the total deadline of {watch.total:g}s passed")
        watchdog.attach(watch, conn)
    return conn


class HTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = Connection

    def __init__(self, host: str, port: int, *, check: ConnectionCheck, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._check = check

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))

    def _validate_conn(self, conn: Any) -> None:
        # Replaces urllib3's, which warns on every unverified request: securehttp warns once
        # per host and reason, naming the setting's source, and checks pins here - after the
        # handshake, before the first request byte.
        if conn.is_closed:
            conn.connect()
        if not conn.securehttp_checked:
            # Through an https:// proxy the origin's TLS runs inside the proxy's: urllib3's
            # SSLTransport, whose SSLObject is what the check reads.
            sock = getattr(conn.sock, "sslobj", conn.sock)
            self._check(sock, conn.is_verified, conn.securehttp_failure)
            conn.securehttp_checked = True


class Pools:
    """Connection pools, the oldest created dropped (and closed) first when there are too
    many.  A hit is one dict look-up without the lock: it is on every request's path."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._pools: collections.OrderedDict[tuple[object, ...], HTTPConnectionPool] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def get(
        self, key: tuple[object, ...], make: Callable[[], HTTPConnectionPool]
    ) -> HTTPConnectionPool:
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                return pool
            pool = make()
            self._pools[key] = pool
            while len(self._pools) > self._size:
                _, old = self._pools.popitem(last=False)
                old.close()
            return pool

    def __len__(self) -> int:
        return len(self._pools)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()

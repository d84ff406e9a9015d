"""The client: the only module that talks to urllib3.

Each request resolves its :class:`Decision` (per request ``context=`` > ``policy=`` >
``Client(policy=...)`` > the process default), gets the sealed context for that decision's
TLS settings from :mod:`securehttp._context`, and uses a connection pool keyed by everything
that decided how its connections were checked: host, port, the context object, the
report-only fallback context, the pins and the level.  A request can therefore never ride on
a connection that was opened or checked under other settings (requests' CVE-2024-35195).

urllib3's errors are translated here, and only here (SPEC §2).
"""

from __future__ import annotations

import base64
import builtins
import collections
import functools
import hashlib
import hmac
import http.client
import logging
import re
import socket
import ssl
import threading
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, NamedTuple

import urllib3
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from ._context import contexts
from ._deadline import Timeout, Watch, watchdog
from ._exceptions import (
    CertificateError,
    InsecureRequestWarning,
    PinMismatchError,
    ResponseTooLarge,
    SecureHTTPError,
    TimeoutError,
    TooManyRedirects,
    URLError,
)
from ._frozen import FrozenDict
from ._hosts import Target, split_url
from ._policy import DEFAULTS, SETTINGS, Decision, Policy, Verify
from ._resolve import Resolver, process_resolver

__all__ = ["Client", "Handshake", "Response", "probe", "spki_pin"]

audit_log = logging.getLogger("securehttp.audit")

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
MAX_REDIRECTS = 10
MAX_ENCODINGS = 3
DEFAULT_MAX_BODY = 256 * 1024 * 1024
_POOLS = 64
_ONE_READ = 256 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS = ("authorization", "cookie", "proxy-authorization")
_FORBIDDEN = re.compile(r"[\x00\r\n]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


# --- warnings, once per host and reason -----------------------------------------------------

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_insecure(host: str, port: int, reason: str) -> None:
    key = (f"{host}:{port}", reason)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(InsecureRequestWarning(f"{host}:{port}: {reason}"), stacklevel=2)


def reset_warnings() -> None:
    """Forget which insecure-request warnings were shown (for tests and long-lived shells)."""
    with _warned_lock:
        _warned.clear()


def _audit(host: str, port: int, reason: str, decision: Decision) -> None:
    event = {
        "event": "tls_verification_failed",
        "host": host,
        "port": port,
        "reason": reason,
        "rule": decision.rule,
        "verify": str(decision.verify),
        "source": decision.sources["verify"],
        "action": "connected without verification (report-only)",
    }
    audit_log.warning(
        "%s:%s would fail strict verification: %s (report-only: %s)",
        host,
        port,
        reason,
        decision.sources["verify"],
        extra={"securehttp_audit": event},
    )


# --- pins -----------------------------------------------------------------------------------


def _presented_pins(sock: ssl.SSLSocket, verified: bool) -> list[str]:
    """``sha256/...`` of each certificate's SubjectPublicKeyInfo: the verified chain where this
    Python exposes it (3.13+), otherwise the leaf."""
    chain: list[bytes] = []
    get_chain = getattr(sock, "get_verified_chain", None)
    if verified and get_chain is not None:
        chain = [bytes(der) for der in get_chain()]
    if not chain:
        leaf = sock.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return [spki_pin(der) for der in chain]


def spki_pin(der: bytes) -> str:
    """``sha256/<base64>`` of a DER certificate's SubjectPublicKeyInfo."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public_key = x509.load_der_x509_certificate(der).public_key()
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _pins_match(presented: list[str], pinned: tuple[str, ...]) -> bool:
    matched = False
    for have in presented:
        for want in pinned:
            # Every pair is compared (no early exit), in constant time per pair.
            matched |= hmac.compare_digest(have.encode(), want.encode())
    return matched


# --- probing --------------------------------------------------------------------------------


class Handshake(NamedTuple):
    """What a server showed in a handshake that verified nothing (for ``securehttp probe``)."""

    target: Target
    version: str
    cipher: str
    chain: tuple[bytes, ...]


def probe(url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Handshake:
    """Handshake with ``url``'s server to look at it; sends no request."""
    from ._context import probe_context

    target = split_url(url)
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as raw:
            name = None if target.is_ip else target.host
            with probe_context().wrap_socket(raw, server_hostname=name) as sock:
                get_chain = getattr(sock, "get_unverified_chain", None)  # Python 3.13+
                chain = [bytes(der) for der in get_chain()] if get_chain is not None else []
                if not chain:
                    leaf = sock.getpeercert(binary_form=True)
                    chain = [leaf] if leaf else []
                cipher = sock.cipher()
                return Handshake(
                    target, sock.version() or "?", cipher[0] if cipher else "?", tuple(chain)
                )
    except (OSError, ssl.SSLError) as exc:
        raise _translate(exc, url, target) from exc


# --- connections and pools ------------------------------------------------------------------


class _Connection(HTTPSConnection):
    """An HTTPS connection that, in report-only mode, falls back to an unverified handshake
    when strict verification fails, and remembers why."""

    def __init__(
        self, *args: Any, securehttp_fallback: ssl.SSLContext | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._fallback = securehttp_fallback
        self.securehttp_failure: str | None = None
        self.securehttp_checked = False

    def connect(self) -> None:
        self.securehttp_checked = False
        self.securehttp_failure = None
        if self._fallback is None:
            super().connect()
            return
        try:
            super().connect()
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            self.close()
            strict = (self.ssl_context, self.cert_reqs)
            # cert_reqs must follow the context, or urllib3 would set CERT_REQUIRED on it.
            self.ssl_context, self.cert_reqs = self._fallback, ssl.CERT_NONE
            try:
                super().connect()
            finally:
                self.ssl_context, self.cert_reqs = strict
            self.securehttp_failure = reason


_local = threading.local()


def _watched(conn: Any) -> Any:
    """Attach the calling request's deadline to the connection it is about to use."""
    watch: Watch | None = getattr(_local, "watch", None)
    if watch is not None:
        if watch.expired():
            raise TimeoutError(f"the total deadline of {watch.total:g}s passed")
        watchdog.attach(watch, conn)
    return conn


class _HTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _Connection

    def __init__(self, host: str, port: int, *, check: _Check, **kwargs: Any) -> None:
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
            self._check(conn)
            conn.securehttp_checked = True


class _Check:
    """What is checked once per new connection: pins, warnings, the report-only audit."""

    __slots__ = ("decision", "host", "port", "user_context")

    def __init__(self, host: str, port: int, decision: Decision, user_context: bool) -> None:
        self.host, self.port, self.decision, self.user_context = host, port, decision, user_context

    def __call__(self, conn: _Connection) -> None:
        decision = self.decision
        failure = conn.securehttp_failure
        if failure is not None:
            _warn_insecure(
                self.host,
                self.port,
                f"verification failed ({failure}); connected anyway because "
                f"verify=warn ({decision.sources['verify']})",
            )
            _audit(self.host, self.port, failure, decision)
        elif decision.verify is Verify.DISABLED:
            _warn_insecure(
                self.host,
                self.port,
                f"certificate verification is disabled by {decision.sources['verify']}",
            )
        if self.user_context and conn.is_verified:
            # A caller's context is never modified, but a certificate without subjectAltName
            # is refused here too: names are never read from the common name (SPEC §5).
            sock = conn.sock
            peer = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
            if peer is not None and not peer.get("subjectAltName"):
                raise CertificateError(
                    self.host,
                    self.port,
                    "the certificate has no subjectAltName (the common name is never used)",
                    decision,
                    "reissue the certificate with the host's names in subjectAltName",
                )
        if decision.pins and not self.user_context:
            sock = conn.sock
            assert isinstance(sock, ssl.SSLSocket)
            presented = _presented_pins(sock, verified=conn.is_verified)
            if not _pins_match(presented, decision.pins):
                if decision.verify is Verify.WARN:
                    reason = "no certificate matches the pinned keys; presented " + ", ".join(
                        presented
                    )
                    _warn_insecure(
                        self.host, self.port, f"{reason}; connected anyway because verify=warn"
                    )
                    _audit(self.host, self.port, reason, decision)
                else:
                    raise PinMismatchError(self.host, self.port, presented, decision)


class _Pools:
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


# --- responses ------------------------------------------------------------------------------


class Response:
    """A response: ``status``, ``reason``, ``headers`` (an ``http.client.HTTPMessage``),
    ``url``, ``decision``, file-like reading, and urllib's ``getcode()``/``geturl()``/``info()``.

    Close it (or use it as a context manager) to give the connection back to the pool.
    """

    def __init__(
        self,
        raw: urllib3.BaseHTTPResponse,
        url: str,
        decision: Decision,
        max_body: int,
        watch: Watch | None = None,
    ) -> None:
        self._raw = raw
        self._watch = watch
        self.status: int = raw.status
        self.reason: str = raw.reason or http.client.responses.get(raw.status, "")
        self.url = url
        self.decision = decision
        self._max_body = max_body
        self._headers: http.client.HTTPMessage | None = None
        self._buffer = b""
        self._done = False

    @property
    def headers(self) -> http.client.HTTPMessage:
        """The response headers, case-insensitive (built on first use)."""
        if self._headers is None:
            # http.client already parsed the wire headers into an HTTPMessage; urllib3 keeps
            # it on the original response.  Copying into a new one costs tens of µs.
            original = getattr(self._raw, "_original_response", None)
            parsed = getattr(original, "msg", None)
            if isinstance(parsed, http.client.HTTPMessage):
                self._headers = parsed
            else:
                message = http.client.HTTPMessage()
                for name, value in self._raw.headers.items():
                    message[name] = value
                self._headers = message
        return self._headers

    # urllib / http.client names
    @property
    def code(self) -> int:
        return self.status

    @property
    def msg(self) -> http.client.HTTPMessage:
        return self.headers

    def getcode(self) -> int:
        return self.status

    def geturl(self) -> str:
        return self.url

    def info(self) -> http.client.HTTPMessage:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get_all(name)
        return ", ".join(values) if values else default

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self.headers.items())

    # reading
    def _chunk(self, size: int | None) -> bytes:
        """Up to ``size`` decoded bytes (all, for None) from the buffer or the wire; b"" at
        the end."""
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        if self._done:
            return b""
        watch = self._watch
        if watch is not None and watch.expired():
            self.close()
            raise TimeoutError(
                f"reading {_redact(self.url)}: the total deadline of {watch.total:g}s passed"
            )
        try:
            data = self._raw.read(size)
        except SecureHTTPError:
            raise
        except Exception as exc:
            self.close()
            if watch is not None and watch.fired:
                raise TimeoutError(
                    f"reading {_redact(self.url)}: the total deadline of {watch.total:g}s passed"
                ) from exc
            raise _translate(exc, self.url) from exc
        if not data:
            self._finish()
        return data

    def read(self, amt: int | None = None) -> bytes:
        if self._done and not self._buffer:
            return b""
        if amt is not None and amt >= 0:
            out = bytearray()
            while len(out) < amt and (chunk := self._chunk(amt - len(out))):
                out += chunk
            return bytes(out)
        length = self._raw.headers.get("Content-Length", "")
        plain = not self._raw.headers.get("Content-Encoding")
        if plain and length.isdigit() and int(length) > self._max_body:
            self.close()
            raise ResponseTooLarge(
                f"{_redact(self.url)} announces {length} bytes, more than max_body={self._max_body}"
            )
        if plain and not self._buffer and length.isdigit() and int(length) <= _ONE_READ:
            # One read for a small announced body; http.client allocates what is asked for, so
            # only a small Content-Length may size it (a large one never drives an allocation).
            data = self._chunk(None)  # read() with no amount: urllib3's cheapest path
            self._finish()
            return data
        chunks: list[bytes] = []
        size = 0
        while chunk := self._chunk(65536):
            size += len(chunk)
            if size > self._max_body:
                self.close()
                raise ResponseTooLarge(
                    f"the body of {_redact(self.url)} is larger than "
                    f"max_body={self._max_body} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def readline(self, limit: int = -1) -> bytes:
        line = bytearray()
        while limit < 0 or len(line) < limit:
            want = 8192 if limit < 0 else min(8192, limit - len(line))
            chunk = self._chunk(want)
            if not chunk:
                break
            end = chunk.find(b"\n")
            if end >= 0:
                line += chunk[: end + 1]
                self._buffer = chunk[end + 1 :] + self._buffer
                break
            line += chunk
        return bytes(line)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._done

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._stop_watch()
            self._raw.release_conn()

    def _stop_watch(self) -> None:
        if self._watch is not None:
            watchdog.cancel(self._watch)

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._stop_watch()
            # Unread body: the connection cannot be reused, so close it, then free the slot.
            self._raw.close()
            self._raw.release_conn()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status}] {_redact(self.url)}>"


# --- the client -----------------------------------------------------------------------------


class Client:
    """An HTTPS client whose verification is decided by a policy.

    ``policy=None`` uses the process default (SPEC §4: files, environment, runtime switch);
    an explicit policy is taken as written.  ``timeout`` is a :class:`Timeout` or seconds
    (connect and read; the total deadline, 300 s by default, also bounds the body);
    ``retries`` is how often an idempotent request is retried after a connection error
    (never after a verification failure); ``headers`` are sent with every request;
    ``max_body`` caps a body read whole.
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
    ) -> None:
        self._resolver: Resolver | None = policy.resolver() if policy is not None else None
        self._timeout = Timeout.coerce(timeout)
        self._retries = DEFAULT_RETRIES if retries is None else retries
        self._headers = dict(headers or {})
        _check_headers(self._headers)
        self._max_body = DEFAULT_MAX_BODY if max_body is None else max_body
        self._pools = _Pools(pools)

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
        self._pools.close()

    def __repr__(self) -> str:
        return f"<securehttp.Client pools={len(self._pools)}>"

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
        from ._urlopen import open_with

        return open_with(self, url, data, timeout, context=context, policy=policy)

    def decide(
        self, url: str, *, policy: Policy | None = None, context: ssl.SSLContext | None = None
    ) -> Decision:
        """The decision a request to ``url`` would use (no I/O)."""
        return self._decide(split_url(url), policy, context)

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
        merged = {**self._headers, **(headers or {})}
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
            decision = self._decide(target, policy, context)
            raw = self._send(target, url, method, data, merged, limits, watch, decision, context)
            encodings = raw.headers.get("Content-Encoding", "")
            if encodings.count(",") >= MAX_ENCODINGS:
                # Each layer can multiply the size: refuse deep stacks before decoding any.
                raw.close()
                raw.release_conn()
                raise URLError(
                    f"{_redact(url)}: more than {MAX_ENCODINGS} stacked Content-Encodings"
                )
            location = raw.headers.get("Location")
            if not (redirect and raw.status in _REDIRECTS and location):
                return Response(raw, url, decision, self._max_body, watch)
            _discard_body(raw)
            next_url = urllib.parse.urljoin(url, location)
            try:
                next_target = split_url(next_url)
            except ValueError as exc:
                # The server chose this URL, not the caller: a refused redirect, not bad input.
                raise URLError(f"refused redirect from {_redact(url)}: {exc}") from None
            if (
                target.scheme == "https"
                and next_target.scheme == "http"
                and not decision.allow_https_to_http_redirect
            ):
                raise URLError(
                    f"refused redirect from {_redact(url)} to {_redact(next_url)}: https to http "
                    "would send the "
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
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects, last to {_redact(url)}")

    # internals ------------------------------------------------------------------------------

    def _decide(
        self, target: Target, policy: Policy | None, context: ssl.SSLContext | None
    ) -> Decision:
        if context is not None:
            return _context_decision(context)
        if policy is not None:
            return policy.resolver().resolve_target(target)
        if self._resolver is not None:
            return self._resolver.resolve_target(target)
        return process_resolver().resolve_target(target)

    def _pool(
        self, target: Target, decision: Decision, context: ssl.SSLContext | None
    ) -> HTTPConnectionPool:
        host = target.host
        # Each request passes its own timeouts; the pool's default is only a fallback.
        timeout = _plain_timeout(self._timeout.connect, self._timeout.read)
        if target.scheme == "http":
            return self._pools.get(
                ("http", host, target.port),
                lambda: _HTTPPool(host, target.port, timeout=timeout, maxsize=10, retries=False),
            )
        fallback = None
        if context is not None:
            ctx = context
        else:
            tls = decision.tls
            ctx = contexts.get(tls)
            if decision.verify is Verify.WARN:
                fallback = contexts.get(tls.unverified())
        key = ("https", host, target.port, ctx, fallback, decision.pins, decision.verify)
        return self._pools.get(
            key,
            lambda: _HTTPSPool(
                host,
                target.port,
                check=_Check(host, target.port, decision, user_context=context is not None),
                timeout=timeout,
                maxsize=10,
                retries=False,
                ssl_context=ctx,
                securehttp_fallback=fallback,
            ),
        )

    def _send(
        self,
        target: Target,
        url: str,
        method: str,
        data: bytes | None,
        headers: dict[str, str],
        limits: Timeout,
        watch: Watch,
        decision: Decision,
        context: ssl.SSLContext | None,
    ) -> urllib3.BaseHTTPResponse:
        parts = urllib.parse.urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        attempts = 1 + (self._retries if method in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            remaining = watch.remaining()
            if remaining <= 0:
                raise TimeoutError(
                    f"{_redact(url)}: the total deadline of {limits.total:g}s passed"
                )
            request_timeout = _urllib3_timeout(limits, remaining)
            pool = self._pool(target, decision, context)
            _local.watch = watch
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
                        f"{_redact(url)}: the total deadline of {limits.total:g}s passed"
                    ) from exc
                error = _translate(exc, url, target, decision)
                retryable = (
                    isinstance(error, URLError)
                    and not isinstance(error, (CertificateError, TimeoutError))
                    and _is_connection_error(exc)
                )
                if not retryable or attempt + 1 == attempts:
                    raise error from exc
            finally:
                _local.watch = None
        raise AssertionError("unreachable")  # pragma: no cover


@functools.lru_cache(maxsize=64)
def _plain_timeout(connect: float, read: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=connect, read=read)


def _urllib3_timeout(limits: Timeout, remaining: float) -> urllib3.Timeout:
    """Per-operation timeouts, never beyond what is left of the total deadline."""
    if remaining >= limits.connect and remaining >= limits.read:
        return _plain_timeout(limits.connect, limits.read)  # the common case, built once
    return urllib3.Timeout(connect=min(limits.connect, remaining), read=min(limits.read, remaining))


def _discard_body(raw: urllib3.BaseHTTPResponse) -> None:
    """Free a redirect's connection without decoding its body (CVE-2026-21441: a compressed
    bomb in a 3xx body must not be inflated); a large or unknown body closes the connection."""
    length = raw.headers.get("Content-Length", "")
    if length.isdigit() and int(length) <= 65536:
        try:
            raw.read(decode_content=False)  # bounded by the small announced length
        except Exception:  # unreadable: close it instead of returning it to the pool
            raw.close()
    else:
        raw.close()
    raw.release_conn()


def _redact(url: str) -> str:
    """The URL without userinfo: credentials never appear in messages or reprs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{tail}"


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, NewConnectionError):
        return True
    if isinstance(exc, ProtocolError):
        # A connection the server closed while idle in the pool: safe for idempotent methods.
        cause = exc.args[1] if len(exc.args) > 1 else None
        return isinstance(
            cause, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)
        )
    return False


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if _FORBIDDEN.search(value):
            # The value itself is not shown: it may be a credential.
            raise ValueError(f"header {name!r} contains CR, LF or NUL")


def _context_decision(context: ssl.SSLContext) -> Decision:
    verified = context.verify_mode != ssl.CERT_NONE and context.check_hostname
    values = dict(DEFAULTS.items())
    values["verify"] = Verify.STRICT if verified else Verify.DISABLED
    return Decision(
        **values,  # type: ignore[arg-type]
        expires=None,
        reason=None,
        rule=None,
        sources=FrozenDict(dict.fromkeys(SETTINGS, "request context=")),
    )


_VERSION_MISMATCH = (
    "UNSUPPORTED_PROTOCOL",
    "PROTOCOL_VERSION",
    "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
)


def _translate(
    exc: BaseException, url: str, target: Target | None = None, decision: Decision | None = None
) -> Exception:
    """Map urllib3's and ssl's errors to securehttp's (SPEC §2), at this one boundary."""
    cause: BaseException | None = exc
    if (
        isinstance(exc, ProtocolError)
        and len(exc.args) > 1
        and isinstance(exc.args[1], BaseException)
    ):
        cause = exc.args[1]
    elif isinstance(exc, Urllib3SSLError) and exc.args and isinstance(exc.args[0], BaseException):
        cause = exc.args[0]
    if isinstance(cause, SecureHTTPError):
        return cause
    where = f"{target.host}:{target.port}" if target is not None else _redact(url)
    if (
        isinstance(cause, ssl.SSLCertVerificationError)
        and target is not None
        and decision is not None
    ):
        reason = cause.verify_message or str(cause)
        return CertificateError(target.host, target.port, reason, decision, _hint(reason))
    if isinstance(cause, ssl.SSLError):
        text = str(cause)
        if any(marker in text for marker in _VERSION_MISMATCH):
            tls = (
                f" (min_tls={decision.min_tls}, {decision.sources['min_tls']})" if decision else ""
            )
            return URLError(
                f"TLS version mismatch with {where}: the server and this client share no "
                f"protocol version{tls}: {cause.reason or text}"
            )
        return URLError(f"TLS handshake with {where} failed: {cause.reason or text}")
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x: test it first.
    if isinstance(exc, NewConnectionError):
        return URLError(f"cannot connect to {where}: {_os_reason(exc)}")
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, Urllib3TimeoutError)) or isinstance(
        cause, builtins.TimeoutError
    ):
        return TimeoutError(f"timed out talking to {where}")
    if isinstance(exc, (ProtocolError, http.client.HTTPException, OSError)):
        return URLError(f"connection to {where} failed: {cause}")
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return URLError(f"request to {where} failed: {exc}")
    return exc if isinstance(exc, Exception) else URLError(str(exc))


def _os_reason(exc: NewConnectionError) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc).rpartition(": ")[2] or str(exc)


def _hint(reason: str) -> str:
    low = reason.lower()
    if (
        "local issuer" in low
        or "self-signed" in low
        or "self signed" in low
        or "unable to get issuer" in low
    ):
        return (
            "the server's CA is not trusted here. If it is your organisation's CA, add it for "
            "this host with `extra_ca: [ca.pem]` in a policy, or set "
            "SECUREHTTP_EXTRA_CA_CERTS=ca.pem; "
            "if the server omits its intermediate certificate, fix the server's chain"
        )
    if "hostname mismatch" in low or "ip address mismatch" in low:
        return (
            "the certificate was issued for another name: use the name it was issued for, "
            "or fix the certificate"
        )
    if "expired" in low or "not yet valid" in low:
        return "check the certificate's validity dates (and this machine's clock)"
    return "run `securehttp probe URL` to see the chain the server presents"

"""Policy contexts: an ``ssl.SSLContext`` that decides per connection (part of the seam).

A :class:`PolicyContext` has no TLS settings of its own.  Each ``wrap_socket()`` or
``wrap_bio()`` resolves the Decision for the server name it is given (and the port, where it
can be known), and hands the connection to the cached sealed context for that Decision with
the seam's check attached to the handshake (:mod:`.handshake`): pins, warnings and the
report-only record run before the client can send a byte.  So one object passed as
``context=`` (urllib, http.client, xmlrpc), ``ssl=`` (asyncio) or ``verify=`` (httpx) follows
the policy per host, and a change of the policy or of the runtime switch applies to the next
connection.

What clients write on the context they are given (http.client sets ALPN and post-handshake
authentication) lands on this throw-away object and changes nothing; a write that would
choose the trust or weaken verification is refused, because the policy decides those.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from .._hosts import Target, normalize_host
from .._model import Decision, Verify
from .checks import ConnectionCheck
from .contexts import contexts_for
from .handshake import HandshakeCheck, attach

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = ["STDLIB_CONTEXT", "PolicyContext", "connection_target", "policy_context", "target_for"]

Resolve = Callable[[Target], Decision]

# The standard library's class, even when a patcher (truststore's inject_into_ssl) has put
# its own subclass in ``ssl.SSLContext``: a policy context must never inherit a patcher's
# verification.
STDLIB_CONTEXT: type[ssl.SSLContext] = next(
    c for c in ssl.SSLContext.__mro__ if c.__module__ == "ssl" and c.__name__ == "SSLContext"
)
DEFAULT_PORT = 443


class Attempt:
    """One connection a caller is opening to ``host:port``, published for this thread or
    asyncio task."""

    __slots__ = ("failure", "host", "port", "unverified")

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.failure: str | None = None  # why strict verification failed (verify=warn)
        self.unverified = False  # the caller's second try: use the report-only fallback


# A context variable rather than a thread-local: each thread has its own, and so has each
# asyncio task, whose TLS (anyio, asyncio) runs in memory through wrap_bio() in that task.
_published: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "securehttp_connection_target", default=None
)


@contextlib.contextmanager
def connection_target(host: str, port: int) -> Iterator[Attempt]:
    """Tell policy contexts the port that ``host`` is reached on by connections this thread
    or task opens meanwhile (a proxy tunnel hides it from the socket, TLS in memory has no
    socket), and let the caller run the report-only fallback: when a strict handshake fails
    under ``verify=warn``, the context sets ``attempt.failure`` and the failure is raised;
    the caller closes the connection, sets ``attempt.unverified`` and connects again (it can
    reopen a tunnel; a context cannot)."""
    attempt = Attempt(host, port)
    token = _published.set(attempt)
    try:
        yield attempt
    finally:
        _published.reset(token)


def _published_for(name: str) -> Attempt | None:
    attempt = _published.get()
    return attempt if attempt is not None and attempt.host == name else None


class PolicyContext(STDLIB_CONTEXT):  # type: ignore[misc, valid-type]
    """An ``ssl.SSLContext`` whose connections are each verified as the policy decides for
    the server name they are opened to.  Make one with :func:`policy_context`."""

    label: str
    _resolve: Resolve

    def __new__(cls, resolve: Resolve, label: str) -> PolicyContext:
        self: PolicyContext = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        # Set around __setattr__, which refuses writes: these are the object's identity.
        self.__dict__["_resolve"] = resolve
        self.__dict__["label"] = label
        return self

    def __init__(self, resolve: Resolve, label: str) -> None:
        pass  # everything was set by __new__ (SSLContext takes its arguments there)

    def __repr__(self) -> str:
        return f"<securehttp.PolicyContext deciding by {self.label}>"

    def decide(self, server_hostname: str, port: int = DEFAULT_PORT) -> Decision:
        """The decision a connection to ``server_hostname:port`` would get now (no I/O)."""
        return self._resolve(target_for(server_hostname, port))

    # --- the two ways a client hands over a connection ------------------------------------

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        if server_side:
            raise ValueError("a securehttp policy context is for the client side only")
        name = _name(server_hostname)
        peer = _peer(sock)
        attempt = _published_for(name)
        if attempt is not None:
            port = attempt.port
        elif isinstance(peer, tuple):
            port = peer[1]
        else:
            port = DEFAULT_PORT
        target = target_for(name, port)
        decision = self._resolve(target)
        strict, fallback = contexts_for(decision)
        check = ConnectionCheck(target.host, target.port, decision, False, target.is_ip)
        handshake_now = do_handshake_on_connect and peer is not None
        if handshake_now and sock.gettimeout() == 0.0:
            raise ValueError("do_handshake_on_connect is for blocking sockets only")
        opening = _Opening(name, do_handshake_on_connect, suppress_ragged_eofs, handshake_now)
        if fallback is not None and attempt is not None and attempt.unverified:
            unverified = HandshakeCheck(check, False, attempt.failure, reconnects=True)
            return opening.open(fallback, sock, unverified, session)
        # Only what a reconnection needs, read before wrap_socket detaches the socket.
        again = _Reconnect(sock, peer) if fallback is not None and attempt is None else None
        verified = decision.verify is not Verify.DISABLED
        first = HandshakeCheck(check, verified, None, reconnects=handshake_now)
        try:
            return opening.open(strict, sock, first, session)
        except ssl.SSLCertVerificationError as exc:
            if fallback is None:
                raise
            reason = exc.verify_message or str(exc)
            if attempt is not None:
                attempt.failure = reason  # the caller reconnects (through its tunnel)
                raise
            assert again is not None
            retry = again.connect()
        # A session from the failed strict handshake must not be resumed unverified.
        return opening.open(fallback, retry, HandshakeCheck(check, False, reason, True), None)

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if server_side:
            raise ValueError("a securehttp policy context is for the client side only")
        name = _name(server_hostname)
        attempt = _published_for(name)
        # TLS in memory tells no port: unless the caller published it, name rules apply, as
        # for the HTTPS default port.
        target = target_for(name, DEFAULT_PORT if attempt is None else attempt.port)
        decision = self._resolve(target)
        strict, fallback = contexts_for(decision)
        check = ConnectionCheck(target.host, target.port, decision, False, target.is_ip)
        if fallback is not None and attempt is not None and attempt.unverified:
            # The caller's second try after a strict failure (report-only); never resuming
            # a session, which the failed handshake did not verify.
            conn = fallback.wrap_bio(incoming, outgoing, server_hostname=name)
            attach(conn, HandshakeCheck(check, False, attempt.failure, reconnects=True))
            return conn
        conn = strict.wrap_bio(incoming, outgoing, server_hostname=name, session=session)
        verified = decision.verify is not Verify.DISABLED
        # With a published attempt under report-only, the caller reconnects after a failure.
        retry = attempt if fallback is not None else None
        attach(conn, HandshakeCheck(check, verified, None, retry is not None, retry))
        return conn

    # --- writes: the policy decides verification ------------------------------------------

    def _refuse(self, what: str) -> NoReturn:
        raise RuntimeError(
            f"{what}: a securehttp policy context takes its TLS settings from the policy, "
            f"per server name ({self.label}); pass an ssl.SSLContext of your own to choose "
            "them yourself"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "post_handshake_auth":
            super().__setattr__(name, value)  # http.client sets it; no client cert is sent
        elif (
            (name == "verify_mode" and value == ssl.CERT_REQUIRED)
            or (name == "check_hostname" and value)
            or (name == "hostname_checks_common_name" and not value)
        ):
            pass  # what every policy context already does: nothing to change
        else:
            self._refuse(f"setting {name}")

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        # http.client and httpcore set ALPN on every context; connections offer HTTP/1.1.
        super().set_alpn_protocols(alpn_protocols)

    def load_verify_locations(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_verify_locations()")

    def load_cert_chain(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_cert_chain() (give client_cert in the policy)")

    def load_default_certs(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_default_certs()")

    def set_default_verify_paths(self) -> None:
        self._refuse("set_default_verify_paths()")

    def set_ciphers(self, cipherlist: str, /) -> None:
        self._refuse("set_ciphers()")


def policy_context(policy: Policy | None = None) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` that decides per connection from the server name it is given.

    ``policy=None`` follows the process default (files, environment and the runtime switch,
    read at each new connection); a :class:`~securehttp.Policy` is taken as written.  Use it
    as ``context=`` for ``urllib.request``, ``http.client`` and ``xmlrpc.client``, as ``ssl=``
    for asyncio and as ``verify=`` for httpx.  Pins are checked inside the handshake, before
    any request byte; ``verify=warn`` reconnects without verification after a failure where
    the client hands over a connected socket (asyncio and anyio do not: there such a host
    fails closed, with its audit event).  Without a port (TLS in memory), a host's
    ``host:port`` rules for other ports than 443 do not apply.
    """
    if policy is None:
        from .._process import process_resolver

        def resolve(target: Target) -> Decision:
            return process_resolver().resolve_target(target)

        return PolicyContext(resolve, "the process default policy")
    return PolicyContext(policy.resolver().resolve_target, policy.source)


# --- helpers ----------------------------------------------------------------------------------


def _name(server_hostname: str | bytes | None) -> str:
    if isinstance(server_hostname, bytes):
        server_hostname = server_hostname.decode("ascii")
    if not server_hostname:
        raise ValueError(
            "a securehttp policy context decides by server name: pass server_hostname="
        )
    return server_hostname


def target_for(name: str, port: int) -> Target:
    host, is_ip = normalize_host(name)
    return Target("https", host, port, is_ip)


def _peer(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return None  # not connected yet: the handshake will run in connect()


class _Reconnect:
    """How to open the same TCP connection again for the report-only fallback."""

    __slots__ = ("family", "nodelay", "peer", "proto", "timeout", "type")

    def __init__(self, sock: socket.socket, peer: Any) -> None:
        self.family, self.type, self.proto = sock.family, sock.type, sock.proto
        self.timeout, self.peer = sock.gettimeout(), peer
        self.nodelay = sock.family in (socket.AF_INET, socket.AF_INET6) and bool(
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        )

    def connect(self) -> socket.socket:
        # To the same address: behind a plain proxy tunnel this reaches the proxy, which
        # does not speak TLS, so the retry fails - closed, never somewhere unverified-else.
        sock = socket.socket(self.family, self.type, self.proto)
        try:
            sock.settimeout(self.timeout)
            if self.nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(self.peer)
        except BaseException:
            sock.close()
            raise
        return sock


class _Opening:
    """What every try at one ``wrap_socket()`` call shares."""

    __slots__ = ("handshake_now", "name", "on_connect", "ragged_eofs")

    def __init__(self, name: str, on_connect: bool, ragged_eofs: bool, now: bool) -> None:
        self.name, self.on_connect, self.ragged_eofs = name, on_connect, ragged_eofs
        self.handshake_now = now

    def open(
        self,
        ctx: ssl.SSLContext,
        sock: socket.socket,
        check: HandshakeCheck,
        session: ssl.SSLSession | None,
    ) -> ssl.SSLSocket:
        # The handshake is held back until the check is attached, then run as
        # wrap_socket would have run it.
        conn = ctx.wrap_socket(
            sock,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=self.ragged_eofs,
            server_hostname=self.name,
            session=session,
        )
        attach(conn, check)
        conn.do_handshake_on_connect = self.on_connect  # type: ignore[attr-defined]
        if self.handshake_now:
            try:
                conn.do_handshake()
            except BaseException:
                conn.close()
                raise
        return conn

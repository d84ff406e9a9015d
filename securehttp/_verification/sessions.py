"""TLS session resumption, owned by the verification seam (SPEC §12).

A resumed handshake skips the certificate exchange and the key agreement's costliest part,
so a session is only ever offered where the full handshake that made it would have been
accepted by the same rules:

- the key is the server name, the port *and* the sealed context (one per TLS setting):
  OpenSSL does not re-check the host name when it resumes, so a session made for one name
  is never offered to another, and a policy change (a new context) never resumes an old one;
- only contexts that verify keep sessions: nothing is stored from the report-only fallback
  or from a connection whose verification is disabled;
- pins and the no-common-name rule still run after a resumed handshake (the certificate
  comes with the session), in the same check as ever;
- only sockets resume: TLS in memory (a proxy's TLS-in-TLS leg, asyncio) is left alone;
- ``Client(tls_resumption=False)`` turns it off for that client's connections.

Reading ``SSLSocket.session`` or passing one copies it (a few hundred µs), so a session is
captured once per key, and again only when the server declined the one offered.  A server
that keeps declining stops being asked.  A TLS 1.3 ticket arrives after the handshake,
which is why the transport calls :func:`keep` once the response headers are in.
"""

from __future__ import annotations

import ssl
import threading

__all__ = ["SessionStore", "keep", "offer", "resumed_chain", "resumption", "sessions"]

_KEY = "_securehttp_session_key"
_CHAIN = "_securehttp_session_chain"
_SIZE = 1024
_GIVE_UP = 3  # declines in a row after which a server is no longer offered sessions

Key = tuple[str, int, ssl.SSLContext]
# A session and the chain verified in the full handshake that made it: a resumed handshake
# exchanges no certificates, and pins on a CA must still match (Python 3.13+ exposes chains).
Kept = tuple[ssl.SSLSession, tuple[bytes, ...]]

# Per thread: whether the connection being opened may resume (Client(tls_resumption=...)).
resumption = threading.local()


class SessionStore:
    """Sessions by (server name, port, context): bounded, thread-safe."""

    def __init__(self, size: int = _SIZE) -> None:
        self._size = size
        self._sessions: dict[Key, Kept] = {}
        self._declines: dict[Key, int] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> Kept | None:
        return self._sessions.get(key)

    def wants(self, key: Key, reused: bool) -> bool:
        """Whether a new connection for ``key`` should hand its session over: none is stored,
        or the one offered was declined.  A server that declines too often is no longer
        offered anything (each offer and capture costs a copy of the session)."""
        with self._lock:
            if reused:
                self._declines.pop(key, None)
                return False
            if key not in self._sessions:
                return self._declines.get(key, 0) < _GIVE_UP
            declines = self._declines[key] = self._declines.get(key, 0) + 1
            if declines >= _GIVE_UP:
                del self._sessions[key]
                return False
            return True

    def put(self, key: Key, session: ssl.SSLSession, chain: tuple[bytes, ...]) -> None:
        with self._lock:
            if key not in self._sessions and len(self._sessions) >= self._size:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[key] = (session, chain)

    def forget(self, context: ssl.SSLContext | None = None) -> None:
        """Drop every session (or those of one context)."""
        with self._lock:
            for key in [k for k in self._sessions if context is None or k[2] is context]:
                del self._sessions[key]
            self._declines.clear()

    def __len__(self) -> int:
        return len(self._sessions)


sessions = SessionStore()


def offer(sock: ssl.SSLSocket) -> None:
    """Before ``sock``'s handshake: offer the session kept for its key, if any, and remember
    the key for :func:`keep`.  Only verifying contexts, and only when resumption is on."""
    if _KEY in sock.__dict__ or not getattr(resumption, "enabled", True):
        return
    context = sock.context
    name = sock.server_hostname
    if not name or context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        return
    try:
        port = int(sock.getpeername()[1])
    except (OSError, IndexError, TypeError, ValueError):
        return
    key: Key = (name, port, context)
    sock.__dict__[_KEY] = key
    kept = sessions.get(key)
    if kept is not None:
        try:
            sock.session = kept[0]
        except (ValueError, ssl.SSLError):
            sessions.forget(context)
        else:
            sock.__dict__[_CHAIN] = kept[1]


def keep(sock: object) -> None:
    """After a response's headers: keep ``sock``'s session for its key, when one is wanted."""
    if not isinstance(sock, ssl.SSLSocket):
        return
    key: Key | None = sock.__dict__.pop(_KEY, None)  # once per connection
    if key is None or not sessions.wants(key, bool(sock.session_reused)):
        return
    try:
        session = sock.session
    except (OSError, ValueError):  # closed under us: nothing to keep
        return
    if session is not None and (session.has_ticket or session.id):
        get_chain = getattr(sock, "get_verified_chain", None)  # Python 3.13+
        chain = tuple(bytes(der) for der in get_chain()) if get_chain is not None else ()
        sessions.put(key, session, chain)


def resumed_chain(sock: ssl.SSLSocket | ssl.SSLObject) -> tuple[bytes, ...]:
    """For a resumed connection, the chain verified when its session was made (empty when
    the connection was not resumed, or this Python exposes no chains)."""
    if not isinstance(sock, ssl.SSLSocket) or not sock.session_reused:
        return ()
    chain: tuple[bytes, ...] = sock.__dict__.get(_CHAIN, ())
    return chain

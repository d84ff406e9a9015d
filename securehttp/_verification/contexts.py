"""The one place that creates ``ssl.SSLContext`` objects (part of the verification seam).

One context per distinct :class:`TLSSettings`, built once (loading a CA bundle costs tens of
milliseconds) and cached.  Cached contexts are shared by every connection and thread, so
they are *sealed* after they are built: urllib3 re-assigns ``verify_mode`` and calls
``set_alpn_protocols`` on every connection it opens, which on a shared context would write
to a live ``SSL_CTX`` while other threads handshake with it.  A sealed context accepts such
a write only when it changes nothing (and then does not touch OpenSSL at all); any real
change raises.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from .._ciphers import effective_ciphers, forbidden_suites
from .._exceptions import PolicyError
from .._frozen import FrozenDict
from .._model import DEFAULTS, SETTINGS, Decision, TLSSettings, Verify
from .handshake import CheckedObject, CheckedSocket

__all__ = [
    "ContextCache",
    "SealedContext",
    "build_context",
    "check_unchanged",
    "contexts",
    "contexts_for",
    "decision_for_context",
    "legacy_context",
    "probe_context",
]

_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
ALPN = ["http/1.1"]
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.\d+\Z")
_CACHE_SIZE = 128


class SealedContext(ssl.SSLContext):
    """An ``SSLContext`` that never changes: every setter and every ``set_*``/``load_*``
    method refuses, except a write of the value already there (urllib3 re-assigns
    ``verify_mode`` and ALPN on each connection), which never reaches OpenSSL.

    There is no "sealed" flag to flip: a context is configured as a plain ``SSLContext``
    by :func:`build_context` and only then becomes a ``SealedContext``.  As a second line,
    :func:`check_unchanged` compares the context's real (C-level) state with what was
    recorded when it was built, on every new connection, so a write that bypasses these
    methods (``object.__setattr__``, unbound base-class calls, ``__class__`` assignment)
    fails the connection before any request byte instead of weakening it.
    """

    __slots__ = ()
    # A policy context attaches its checks to the connections these make (.handshake).
    sslsocket_class = CheckedSocket
    sslobject_class = CheckedObject

    def _refuse(self, what: str) -> NoReturn:
        raise RuntimeError(
            f"securehttp's cached SSLContexts are shared and never modified ({what}); "
            "pass your own context with context= instead"
        )

    def __setattr__(self, name: str, value: object) -> None:
        descriptor = getattr(ssl.SSLContext, name, None)
        settable = isinstance(descriptor, property) or hasattr(descriptor, "__set__")
        if settable and getattr(self, name) == value:
            return  # the same value: nothing to do, and nothing reaches OpenSSL
        self._refuse(name)

    def __delattr__(self, name: str) -> None:
        self._refuse(f"del {name}")

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        if list(alpn_protocols) != ALPN:
            self._refuse("set_alpn_protocols")

    def load_verify_locations(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_verify_locations")

    def load_cert_chain(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_cert_chain")

    def load_default_certs(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_default_certs")

    def load_dh_params(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("load_dh_params")

    def set_default_verify_paths(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_default_verify_paths")

    def set_ciphers(self, cipherlist: str, /) -> None:
        self._refuse("set_ciphers")

    def set_ecdh_curve(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_ecdh_curve")

    def set_npn_protocols(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_npn_protocols")

    def set_servername_callback(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_servername_callback")

    def set_psk_client_callback(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_psk_client_callback")

    def set_psk_server_callback(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("set_psk_server_callback")


# What a built context looked like, read through the base class (the C state), kept beside
# the context rather than on it.  Compared on every new connection by check_unchanged().
_built: weakref.WeakKeyDictionary[ssl.SSLContext, tuple[object, ...]] = weakref.WeakKeyDictionary()
_built_lock = threading.Lock()


def _state(ctx: ssl.SSLContext, with_store: bool) -> tuple[object, ...]:
    base = ssl.SSLContext
    return (
        type(ctx),
        base.verify_mode.__get__(ctx),  # type: ignore[attr-defined]
        base.check_hostname.__get__(ctx),  # type: ignore[attr-defined]
        base.hostname_checks_common_name.__get__(ctx),  # type: ignore[attr-defined]
        base.verify_flags.__get__(ctx),  # type: ignore[attr-defined]
        base.options.__get__(ctx),  # type: ignore[attr-defined]
        base.minimum_version.__get__(ctx),  # type: ignore[attr-defined]
        base.maximum_version.__get__(ctx),  # type: ignore[attr-defined]
        base.sni_callback.__get__(ctx),  # type: ignore[union-attr]
        ctx.sslsocket_class,
        ctx.sslobject_class,
        tuple(sorted(vars(ctx).items())) if hasattr(ctx, "__dict__") else (),
        # A hashed directory loads certificates on demand, so its store grows by design.
        tuple(sorted(ctx.cert_store_stats().items())) if with_store else None,
        # Cheap where the cipher list is not (get_ciphers() costs ~40 µs): a lowered
        # @SECLEVEL shows here, and the negotiated suite itself is checked on each connection.
        getattr(ctx, "security_level", None),
    )


def _seal(ctx: ssl.SSLContext, with_store: bool = True) -> SealedContext:
    ctx.__class__ = SealedContext
    assert isinstance(ctx, SealedContext)
    with _built_lock:
        _built[ctx] = _state(ctx, with_store)
    return ctx


def check_unchanged(ctx: ssl.SSLContext) -> None:
    """RuntimeError unless ``ctx`` (one of ours) is exactly as it was built."""
    with _built_lock:
        expected = _built.get(ctx)
    if expected is None or _state(ctx, expected[-2] is not None) != expected:
        raise RuntimeError(
            "a cached securehttp SSLContext was modified after it was built; "
            "refusing to use it (pass your own context with context= instead)"
        )


def build_context(settings: TLSSettings) -> SealedContext:
    """A new sealed context for ``settings``; PolicyError when a trust source is unusable."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Set explicitly so that a policy means the same on every Python version (3.13 changed
    # create_default_context's flags) and never depends on OpenSSL's configuration file.
    flags = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_PARTIAL_CHAIN
    if settings.x509_strict:
        flags |= ssl.VERIFY_X509_STRICT
    ctx.verify_flags = flags
    ctx.hostname_checks_common_name = False
    with warnings.catch_warnings():
        # TLS 1.0/1.1 are deprecated in ssl; here they come from a reviewed waiver with an
        # end date, which already warns in securehttp's own words.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _TLS_VERSIONS[settings.min_tls]
        if settings.max_tls is not None:
            ctx.maximum_version = _TLS_VERSIONS[settings.max_tls]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    if settings.ciphers is not None:
        try:
            ctx.set_ciphers(effective_ciphers(settings.ciphers))
        except ssl.SSLError:
            raise PolicyError(
                f"no acceptable cipher in {settings.ciphers!r}", source="ciphers"
            ) from None
    bad = forbidden_suites(ctx)
    if bad:
        raise PolicyError(f"refusing cipher suites {', '.join(bad[:3])}", source="ciphers")
    if settings.verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    _load_trust(ctx, settings.trust, settings.extra_ca)
    if settings.client_cert is not None:
        _load_client_cert(ctx, settings)
    ctx.set_alpn_protocols(ALPN)
    return _seal(ctx, with_store=not _has_directory(settings))


def _has_directory(settings: TLSSettings) -> bool:
    sources = (*settings.trust, *settings.extra_ca)
    return "system" in sources or any(os.path.isdir(s) for s in sources if s != "certifi")


def _load_trust(ctx: ssl.SSLContext, trust: tuple[str, ...], extra: tuple[str, ...]) -> None:
    # OpenSSL treats cafile=None/"" as "nothing" and load_default_certs() honours
    # SSL_CERT_FILE behind our back: every source is loaded explicitly, by path.
    for source in (*trust, *extra):
        if source == "certifi":
            import certifi

            _load_file(ctx, certifi.where(), "certifi")
        elif source == "system":
            paths = ssl.get_default_verify_paths()
            loaded = False
            if paths.openssl_cafile and os.path.isfile(paths.openssl_cafile):
                _load_file(ctx, paths.openssl_cafile, "system")
                loaded = True
            if paths.openssl_capath and _has_hashed_certs(paths.openssl_capath):
                ctx.load_verify_locations(capath=paths.openssl_capath)
                loaded = True
            if not loaded:
                raise PolicyError(
                    "trust: system: OpenSSL has no default CA file or directory here",
                    source="system",
                )
        elif os.path.isdir(source):
            if not _has_hashed_certs(source):
                raise PolicyError(
                    "trust directory holds no hashed certificates (run `openssl rehash` on it)",
                    source=source,
                )
            ctx.load_verify_locations(capath=source)
        else:
            _load_file(ctx, source, source)


def _load_file(ctx: ssl.SSLContext, path: str, label: str) -> None:
    try:
        ctx.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise PolicyError(
            f"cannot load CA certificates from {path}: {reason}", source=label
        ) from None


def _has_hashed_certs(directory: str) -> bool:
    try:
        return any(_HASHED_NAME.match(name) for name in os.listdir(directory))
    except OSError:
        return False


def _load_client_cert(ctx: ssl.SSLContext, settings: TLSSettings) -> None:
    cert = settings.client_cert
    assert cert is not None
    password: Callable[[], str] | None = None
    if cert.password_env is not None:
        name = cert.password_env

        def password() -> str:
            value = os.environ.get(name)
            if value is None:
                raise PolicyError(
                    f"{name} is not set (client_cert password_env)", source=f"env {name}"
                )
            return value

    try:
        ctx.load_cert_chain(cert.cert, cert.key, password=password)
    except ssl.SSLError as exc:
        # OpenSSL's reason never includes the password; the message names files only.
        raise PolicyError(
            f"cannot load the client certificate {cert.cert}"
            f"{' with key ' + cert.key if cert.key else ''}: {exc.reason or exc}",
            source=cert.cert,
        ) from None


def probe_context() -> SealedContext:
    """A context that completes any handshake, for ``securehttp probe`` to *look* at a
    server; it verifies nothing and is never used to send a request."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.set_alpn_protocols(ALPN)
    return _seal(ctx)


class ContextCache:
    """Sealed contexts keyed by their settings: bounded, thread-safe, built once each."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._contexts: dict[TLSSettings, SealedContext] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def get(self, settings: TLSSettings) -> SealedContext:
        ctx = self._contexts.get(settings)
        if ctx is not None:
            return ctx
        with self._lock:
            ctx = self._contexts.get(settings)
            if ctx is None:
                ctx = build_context(settings)
                self.builds += 1
                if len(self._contexts) >= self._size:
                    self._contexts.pop(next(iter(self._contexts)))
                self._contexts[settings] = ctx
        return ctx

    def discard(self, ctx: ssl.SSLContext) -> None:
        """Forget ``ctx`` (found modified): the next request for its settings builds anew."""
        with self._lock:
            for settings, cached in list(self._contexts.items()):
                if cached is ctx:
                    del self._contexts[settings]

    def __len__(self) -> int:
        return len(self._contexts)

    def clear(self) -> None:
        with self._lock:
            self._contexts.clear()


contexts = ContextCache()


def contexts_for(
    decision: Decision, context: ssl.SSLContext | None = None
) -> tuple[ssl.SSLContext, ssl.SSLContext | None]:
    """The context a connection governed by ``decision`` handshakes with, and its report-only
    fallback (``None`` unless ``verify=warn``).  A caller's ``context=`` is used as given."""
    if context is not None:
        return context, None
    tls = decision.tls
    ctx = contexts.get(tls)
    fallback = contexts.get(tls.unverified()) if decision.verify is Verify.WARN else None
    return ctx, fallback


def legacy_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """What urllib built for ``cafile=``/``capath=``: a verifying context trusting only those,
    without the common-name fallback (as every securehttp context)."""
    ctx = ssl.create_default_context(cafile=cafile, capath=capath)
    ctx.hostname_checks_common_name = False
    return ctx


def decision_for_context(context: ssl.SSLContext) -> Decision:
    """The decision a caller's own ``context=`` stands for (it is used as given)."""
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

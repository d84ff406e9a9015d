"""The policy's records: levels, settings, blocks, TLS settings and decisions.

Frozen, hashable and free of I/O: everything above resolution builds on these, and a
:class:`Decision` keys caches and connection pools.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping

from ._ciphers import lowers_security_level
from ._frozen import FrozenDict, Record
from ._hosts import HostPattern

__all__ = [
    "DEFAULTS",
    "DEFAULT_MIN_TLS",
    "EMPTY_BLOCK",
    "SETTINGS",
    "TLS_VERSIONS",
    "Block",
    "ClientCert",
    "Decision",
    "Setting",
    "TLSSettings",
    "Verify",
    "is_weakening",
    "show_value",
    "weakens",
]


class Verify(str, enum.Enum):
    """Verification levels: ``strict`` (PEP 476), ``warn`` (report-only), ``disabled``."""

    STRICT = "strict"
    WARN = "warn"
    DISABLED = "disabled"

    def __str__(self) -> str:
        return self.value


_VERIFY_RANK = {Verify.DISABLED: 0, Verify.WARN: 1, Verify.STRICT: 2}
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
DEFAULT_MIN_TLS = "1.2"


class ClientCert(Record):
    """A client certificate; the key password is only ever read from ``password_env``."""

    __slots__ = ("cert", "key", "password_env")
    _fields = __slots__
    cert: str
    key: str | None
    password_env: str | None

    def __init__(self, cert: str, key: str | None = None, password_env: str | None = None) -> None:
        self._init(cert=cert, key=key, password_env=password_env)


SETTINGS = (
    "verify",
    "trust",
    "extra_ca",
    "min_tls",
    "max_tls",
    "ciphers",
    "x509_strict",
    "client_cert",
    "pins",
    "allow_https_to_http_redirect",
    "proxy",
)

DEFAULTS: Mapping[str, object] = FrozenDict(
    {
        "verify": Verify.STRICT,
        "trust": ("certifi",),
        "extra_ca": (),
        "min_tls": DEFAULT_MIN_TLS,
        "max_tls": None,
        "ciphers": None,
        "x509_strict": True,
        "client_cert": None,
        "pins": (),
        "allow_https_to_http_redirect": False,
        # null: the proxy variables decide (SPEC §9); "direct"; or http(s)://host:port.
        "proxy": None,
    }
)


def is_weakening(name: str, value: object) -> bool:
    """True for the settings that loosen verification and so need ``expires`` and ``reason``."""
    if name == "verify":
        return value != Verify.STRICT
    if name == "min_tls":
        return isinstance(value, str) and value < DEFAULT_MIN_TLS
    if name == "x509_strict":
        return value is False
    if name == "ciphers":
        return isinstance(value, str) and lowers_security_level(value)
    return False


def weakens(name: str, old: object, new: object) -> bool:
    """Whether replacing ``old`` by ``new`` could accept a connection ``old`` refused."""
    if name == "verify":
        return _VERIFY_RANK[Verify(str(new))] < _VERIFY_RANK[Verify(str(old))]
    if name == "min_tls":
        return str(new) < str(old)
    if name == "x509_strict":
        return old is True and new is False
    if name in ("trust", "ciphers"):
        return new != old
    if name == "extra_ca":
        return bool(set(new) - set(old))  # type: ignore[call-overload]
    if name == "pins":
        return bool(old) and new != old
    if name == "allow_https_to_http_redirect":
        return new is True and old is False
    return False


class Setting(Record):
    """One setting's value and where it came from."""

    __slots__ = ("source", "value")
    _fields = ("value", "source")
    value: object
    source: str

    def __init__(self, value: object, source: str) -> None:
        self._init(value=value, source=source)


class Block(Record):
    """The settings of ``defaults`` or of one host rule, each with its source."""

    __slots__ = ("expires", "path", "pattern", "reason", "settings", "source", "weakenings")
    _fields = ("path", "settings", "pattern", "expires", "reason", "source")
    path: str
    settings: FrozenDict[str, Setting]
    pattern: HostPattern | None
    expires: datetime.date | None
    reason: str | None
    source: str
    weakenings: tuple[str, ...]

    def __init__(
        self,
        path: str,
        settings: FrozenDict[str, Setting],
        pattern: HostPattern | None = None,
        expires: datetime.date | None = None,
        reason: str | None = None,
        source: str = "",
    ) -> None:
        weakenings = tuple(n for n, s in settings.items() if is_weakening(n, s.value))
        self._init(
            path=path,
            settings=settings,
            pattern=pattern,
            expires=expires,
            reason=reason,
            source=source,
            weakenings=weakenings,
        )


EMPTY_BLOCK = Block("defaults", FrozenDict())


class TLSSettings(Record):
    """Everything that shapes an ``ssl.SSLContext``: the key of the context cache."""

    _fields = (
        "verify",
        "trust",
        "extra_ca",
        "min_tls",
        "max_tls",
        "ciphers",
        "x509_strict",
        "client_cert",
    )
    __slots__ = _fields
    verify: bool
    trust: tuple[str, ...]
    extra_ca: tuple[str, ...]
    min_tls: str
    max_tls: str | None
    ciphers: str | None
    x509_strict: bool
    client_cert: ClientCert | None

    def __init__(
        self,
        *,
        verify: bool,
        trust: tuple[str, ...],
        extra_ca: tuple[str, ...],
        min_tls: str,
        max_tls: str | None,
        ciphers: str | None,
        x509_strict: bool,
        client_cert: ClientCert | None,
    ) -> None:
        self._init(
            verify=verify,
            trust=trust,
            extra_ca=extra_ca,
            min_tls=min_tls,
            max_tls=max_tls,
            ciphers=ciphers,
            x509_strict=x509_strict,
            client_cert=client_cert,
        )

    def unverified(self) -> TLSSettings:
        """The same settings without verification (report-only mode's fallback)."""
        values = {name: getattr(self, name) for name in self._fields}
        values["verify"] = False
        return TLSSettings(**values)


# Equal settings share one object, so that the context cache's look-up is an identity hit
# rather than a field-by-field comparison (two Clients with equal policies make equal but
# distinct decisions).  Bounded: settings come from policies, so there are few.
_TLS_INTERNED: dict[TLSSettings, TLSSettings] = {}


def _interned(tls: TLSSettings) -> TLSSettings:
    found = _TLS_INTERNED.get(tls)
    if found is not None:
        return found
    if len(_TLS_INTERNED) >= 4096:
        _TLS_INTERNED.clear()
    return _TLS_INTERNED.setdefault(tls, tls)


class Decision(Record):
    """How connections are verified, and where each setting came from.

    Hosts that resolve through the same rules get equal decisions (the host is not part of
    a decision), so a decision can key caches and connection pools.

    ``proxy`` is the policy's setting in a decision a policy resolved (``None``: the proxy
    variables decide; ``"direct"``; or a proxy URL), and the route taken in the decision a
    request used or :func:`securehttp.explain` shows (``"direct"`` or the proxy URL, any
    credentials shown as ``***``), with ``sources["proxy"]`` saying where it came from.
    """

    __slots__ = (*SETTINGS, "expires", "reason", "rule", "sources", "_tls")
    _fields = (*SETTINGS, "expires", "reason", "rule", "sources")
    verify: Verify
    trust: tuple[str, ...]
    extra_ca: tuple[str, ...]
    min_tls: str
    max_tls: str | None
    ciphers: str | None
    x509_strict: bool
    client_cert: ClientCert | None
    pins: tuple[str, ...]
    allow_https_to_http_redirect: bool
    proxy: str | None
    expires: datetime.date | None
    reason: str | None
    rule: str | None
    sources: FrozenDict[str, str]
    _tls: TLSSettings

    def __init__(
        self,
        *,
        verify: Verify,
        trust: tuple[str, ...],
        extra_ca: tuple[str, ...],
        min_tls: str,
        max_tls: str | None,
        ciphers: str | None,
        x509_strict: bool,
        client_cert: ClientCert | None,
        pins: tuple[str, ...],
        allow_https_to_http_redirect: bool,
        proxy: str | None = None,
        expires: datetime.date | None,
        reason: str | None,
        rule: str | None,
        sources: FrozenDict[str, str],
    ) -> None:
        self._init(
            verify=verify,
            trust=trust,
            extra_ca=extra_ca,
            min_tls=min_tls,
            max_tls=max_tls,
            ciphers=ciphers,
            x509_strict=x509_strict,
            client_cert=client_cert,
            pins=pins,
            allow_https_to_http_redirect=allow_https_to_http_redirect,
            proxy=proxy,
            expires=expires,
            reason=reason,
            rule=rule,
            sources=sources,
        )

    @property
    def tls(self) -> TLSSettings:
        """The context-shaping part; a ``warn`` decision verifies first, so it is ``True`` here."""
        try:
            return self._tls
        except AttributeError:
            values = {name: getattr(self, name) for name in TLSSettings._fields}
            values["verify"] = self.verify != Verify.DISABLED
            tls = _interned(TLSSettings(**values))
            object.__setattr__(self, "_tls", tls)
            return tls

    def __str__(self) -> str:
        lines = [f"rule={self.rule or '(defaults)'}"]
        for name in SETTINGS:
            lines.append(f"  {name}={show_value(getattr(self, name))}  ({self.sources[name]})")
        if self.expires is not None:
            lines.append(f"  expires={self.expires.isoformat()}  reason={self.reason!r}")
        return "\n".join(lines)


def show_value(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, ClientCert):
        return f"{{cert: {value.cert}, key: {value.key}, password_env: {value.password_env}}}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
